//! Each fuzzer's own memory: where it keeps its file models and the data
//! it writes, the two buffers its twin reads land in, and addresses that
//! are never mapped.
//!
//! Owns [`Zone`] and [`Arena`]. Every fuzzer (every SCPU) of an SMACH has
//! a zone of its own, [`ZONE_BYTES`] apart from [`ZONES`]: nothing else of
//! the program ever lies in a zone (the image sits at 2 MiB, stacks in
//! `.bss` or near the top of user space, SMEMs the kernel places from
//! 0x1000_0000_0000 up). In its zone a fuzzer maps, with FIXED SMEMs:
//!
//! - `DATA` at the zone's start: [`SOURCE_BYTES`] of random bytes that
//!   writes copy from, then one model of [`MODEL_BYTES`] per file slot;
//! - `BUF_A` and `BUF_B` at 64 and 128 MiB: where reads of the normal and
//!   the forced-generic twin land. Each is followed by unmapped pages, so a
//!   buffer that ends `k` bytes before the end reaches exactly `k` bytes.
//!
//! Its own SMEMs go at [`Zone::smem_slot`]; [`Zone::unmapped`] is never
//! mapped. Kernel writes (reads, queries) only ever target `BUF_A`,
//! `BUF_B`, the fuzzer's SMEMs, unmapped addresses or non-user addresses:
//! never a model, never another fuzzer's memory, never Rust's.

/// The first zone.
pub(crate) const ZONES: u64 = 0x0000_4000_0000_0000;

/// Bytes between zones.
pub(crate) const ZONE_BYTES: u64 = 1 << 32;

/// Bytes of random data writes copy from.
pub(crate) const SOURCE_BYTES: u64 = 128 << 10;

/// The largest file a fuzzer keeps a model of (files grow 4 KiB, 8 KiB,
/// ... 256 KiB: seven capacity steps).
pub(crate) const MODEL_BYTES: u64 = 256 << 10;

/// File slots per fuzzer.
pub(crate) const FILE_SLOTS: usize = 3;

/// Bytes of each read buffer: room for reads that cross a chunk boundary.
pub(crate) const BUF_BYTES: u64 = 160 << 10;

const DATA_OFFSET: u64 = 0;
const BUF_A_OFFSET: u64 = 64 << 20;
const BUF_B_OFFSET: u64 = 128 << 20;
const UNMAPPED_OFFSET: u64 = 192 << 20;
const SMEM_OFFSET: u64 = 1 << 30;
/// Bytes between the fuzzer's own FIXED SMEM slots.
pub(crate) const SMEM_SLOT_BYTES: u64 = 64 << 20;

/// Bytes of `DATA`.
pub(crate) const DATA_BYTES: u64 = SOURCE_BYTES + MODEL_BYTES * FILE_SLOTS as u64;

/// One fuzzer's address range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Zone {
    base: u64,
}

impl Zone {
    /// The zone of fuzzer `index` of its SMACH.
    pub(crate) const fn new(index: u64) -> Self {
        Self {
            base: ZONES + index * ZONE_BYTES,
        }
    }

    /// Where `DATA` is mapped.
    pub(crate) const fn data(self) -> u64 {
        self.base + DATA_OFFSET
    }

    /// Where `BUF_A` is mapped.
    pub(crate) const fn buf_a(self) -> u64 {
        self.base + BUF_A_OFFSET
    }

    /// Where `BUF_B` is mapped.
    pub(crate) const fn buf_b(self) -> u64 {
        self.base + BUF_B_OFFSET
    }

    /// An address no one maps (`offset` below 64 MiB).
    pub(crate) const fn unmapped(self, offset: u64) -> u64 {
        self.base + UNMAPPED_OFFSET + (offset % (64 << 20))
    }

    /// Where the fuzzer's FIXED SMEM number `slot` goes.
    pub(crate) const fn smem_slot(self, slot: u64) -> u64 {
        self.base + SMEM_OFFSET + slot * SMEM_SLOT_BYTES
    }
}

/// Raw access to a fuzzer's mapped memory. All of it is plain bytes only
/// this fuzzer touches (see the module docs).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Arena {
    zone: Zone,
}

impl Arena {
    /// The arena in `zone` (mapped by the caller).
    pub(crate) const fn new(zone: Zone) -> Self {
        Self { zone }
    }

    /// The zone.
    pub(crate) const fn zone(self) -> Zone {
        self.zone
    }

    /// `len` bytes at `addr`, which must lie in `DATA`, `BUF_A` or `BUF_B`.
    fn bytes(self, addr: u64, len: u64) -> &'static mut [u8] {
        let valid = [
            (self.zone.data(), DATA_BYTES),
            (self.zone.buf_a(), BUF_BYTES),
            (self.zone.buf_b(), BUF_BYTES),
        ]
        .iter()
        .any(|&(start, size)| addr >= start && addr.saturating_add(len) <= start + size);
        if !valid {
            return &mut [];
        }
        let ptr = core::ptr::with_exposed_provenance_mut::<u8>(usize::try_from(addr).unwrap_or(0));
        // SAFETY: the range lies inside one of this fuzzer's mapped,
        // writable regions (checked above), which only this fuzzer uses and
        // which stay mapped for its lifetime; callers never hold two
        // overlapping slices (each use is a short copy or compare).
        unsafe { core::slice::from_raw_parts_mut(ptr, usize::try_from(len).unwrap_or(0)) }
    }

    /// The random source bytes.
    pub(crate) fn source(self) -> &'static mut [u8] {
        self.bytes(self.zone.data(), SOURCE_BYTES)
    }

    /// Address of source byte `offset`.
    pub(crate) const fn source_addr(self, offset: u64) -> u64 {
        self.zone.data() + offset
    }

    /// The model of file slot `slot`.
    pub(crate) fn model(self, slot: usize) -> &'static mut [u8] {
        let start = self.zone.data() + SOURCE_BYTES + MODEL_BYTES * slot as u64;
        self.bytes(start, MODEL_BYTES)
    }

    /// `len` bytes of `BUF_A` (`which` false) or `BUF_B` at `addr`.
    pub(crate) fn buffer(self, addr: u64, len: u64) -> &'static mut [u8] {
        self.bytes(addr, len)
    }
}
