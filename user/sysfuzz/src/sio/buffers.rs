//! Where a twin I/O's bytes are: the lengths drawn, and buffers placed so
//! the kernel reaches all of them, a known prefix (the buffer ends before
//! unmapped pages), or nothing (unmapped or non-user addresses).
//!
//! Owns [`Bufs`].

use sk_user_sysfuzz::model::{Buf, CHUNK};

use crate::fuzzer::Fuzzer;
use crate::memory::{BUF_BYTES, SOURCE_BYTES};

/// Where a twin I/O's buffers are, and what the kernel can reach of them.
#[derive(Clone, Copy, Debug)]
pub(super) struct Bufs {
    pub(super) a: u64,
    pub(super) b: u64,
    pub(super) reach: Buf,
    /// For writes: the source offset of the bytes written.
    pub(super) source: u64,
}

impl Fuzzer<'_> {
    /// A draw of I/O length.
    pub(super) fn io_len(&mut self) -> u64 {
        match self.rng.below(100) {
            0..=4 => 0,
            5..=34 => self.rng.range(1, 16),
            35..=59 => self.rng.range(17, 512),
            60..=84 => self.rng.range(513, 8192),
            85..=94 => self.rng.range(8193, CHUNK + 32768),
            95..=97 => (1 << 40) + self.rng.below(4096),
            _ => u64::MAX - self.rng.below(4096),
        }
    }

    /// Read buffers for a twin read of `len` bytes.
    pub(super) fn read_bufs(&mut self, len: u64) -> Bufs {
        let zone = self.arena.zone();
        let (a_end, b_end) = (zone.buf_a() + BUF_BYTES, zone.buf_b() + BUF_BYTES);
        match self.rng.below(100) {
            0..=79 => {
                let room = BUF_BYTES.saturating_sub(len.min(BUF_BYTES));
                let offset = self.rng.below(room + 1);
                let reach = BUF_BYTES - offset;
                Bufs {
                    a: zone.buf_a() + offset,
                    b: zone.buf_b() + offset,
                    reach: if len <= reach {
                        Buf::Good
                    } else {
                        Buf::Prefix(reach)
                    },
                    source: 0,
                }
            }
            80..=89 => {
                let reach = self.rng.below(len.min(BUF_BYTES));
                Bufs {
                    a: a_end - reach,
                    b: b_end - reach,
                    reach: Buf::Prefix(reach),
                    source: 0,
                }
            }
            90..=94 => {
                let addr = self.unmapped_addr();
                Bufs {
                    a: addr,
                    b: addr,
                    reach: Buf::Prefix(0),
                    source: 0,
                }
            }
            _ => {
                let addr = self.non_user_addr();
                Bufs {
                    a: addr,
                    b: addr,
                    reach: Buf::Prefix(0),
                    source: 0,
                }
            }
        }
    }

    /// Write buffers for a twin write of `len` bytes, of which at most
    /// `room` may reach the file.
    pub(super) fn write_bufs(&mut self, len: u64, room: u64) -> Bufs {
        let zone = self.arena.zone();
        let draw = self.rng.below(100);
        if draw < 80 && len <= room.min(SOURCE_BYTES) {
            let source = self.rng.below(SOURCE_BYTES - len + 1);
            let addr = self.arena.source_addr(source);
            return Bufs {
                a: addr,
                b: addr,
                reach: Buf::Good,
                source,
            };
        }
        if draw < 92 {
            // The first `reach` bytes are copies of the source, placed at the
            // ends of BUF_A and BUF_B.
            let reach = self
                .rng
                .below(len.min(room).min(BUF_BYTES).min(SOURCE_BYTES) + 1);
            let reach = if reach >= len {
                len.saturating_sub(1)
            } else {
                reach
            };
            let source = self.rng.below(SOURCE_BYTES - reach + 1);
            let from = self.arena.source_addr(source);
            let a = zone.buf_a() + BUF_BYTES - reach;
            let b = zone.buf_b() + BUF_BYTES - reach;
            let bytes = self.arena.buffer(from, reach);
            self.arena.buffer(a, reach).copy_from_slice(bytes);
            self.arena.buffer(b, reach).copy_from_slice(bytes);
            return Bufs {
                a,
                b,
                reach: Buf::Prefix(reach),
                source,
            };
        }
        let addr = if draw < 96 {
            self.unmapped_addr()
        } else {
            self.non_user_addr()
        };
        Bufs {
            a: addr,
            b: addr,
            reach: Buf::Prefix(0),
            source: 0,
        }
    }
}
