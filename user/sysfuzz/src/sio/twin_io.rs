//! Twin reads, writes and seeks: each made on A by the normal path and on
//! B with `FORCE_GENERIC`, judged against the model and against each
//! other, with the bytes read compared and the file's model updated.
//!
//! Owns [`Fuzzer::twin_op`], [`Fuzzer::twin_read`],
//! [`Fuzzer::twin_write`], [`Fuzzer::twin_seek`].

use sk_abi::{Call, Kind, SioReconfigure, SysError, Whence};
use sk_user_sysfuzz::model::{self, Buf, Io, Target, MAX_FILE_BYTES};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer};
use crate::memory::{BUF_BYTES, MODEL_BYTES};

use super::Twin;

impl Fuzzer<'_> {
    /// Under memory pressure, a twin call that ran out of memory may have
    /// done part of its work on one side only: drop the twin (its files
    /// are truncated by the next twin on the slot). Returns true if so.
    fn dropped_after_oom(&mut self, index: usize, results: [Result<u64, SysError>; 2]) -> bool {
        let is_oom =
            |r: &Result<u64, SysError>| matches!(r, Err(SysError::NoMemory | SysError::NoSpace));
        if !self.pressure || !results.iter().any(is_oom) {
            return false;
        }
        self.drop_twin(index);
        true
    }

    /// One drawn operation on a random twin.
    pub(crate) fn twin_op(&mut self) {
        let Some(index) = self.any_twin() else {
            self.open_twin_op();
            return;
        };
        match self.rng.below(100) {
            0..=34 => {
                let len = self.io_len();
                self.twin_read(index, len);
            }
            35..=69 => {
                let len = self.io_len();
                self.twin_write(index, len);
            }
            70..=87 => self.twin_seek_drawn(index),
            _ => self.twin_query(index),
        }
    }

    /// Reads `len` bytes through both handles of twin `index`.
    pub(crate) fn twin_read(&mut self, index: usize, len: u64) {
        let Some(mut twin) = self.twin(index) else {
            return;
        };
        let bufs = self.read_bufs(len);
        let io = self.io_of(&twin);
        let want = model::read(&io, bufs.a, len, bufs.reach);
        let buffers = |addr: u64| [(addr, addr.saturating_add(len)), (0, 0)];
        let cell = Cell::new(Call::Read, Some(Kind::Sio), true);
        let got_a = self.sys(
            word(twin.a, Call::Read),
            &[bufs.a, len],
            buffers(bufs.a),
            cell,
            "read (normal)",
            Expect::Any,
        );
        let got_b = self.sys(
            generic(word(twin.b, Call::Read)),
            &[bufs.b, len],
            buffers(bufs.b),
            cell,
            "read (FORCE_GENERIC)",
            Expect::Any,
        );
        self.stats.twins += 1;
        if self.dropped_after_oom(index, [got_a, got_b]) {
            return;
        }
        self.check_io("read", &io, len, bufs.reach, want.result, got_a, got_b);
        if let (Ok(n), Ok(m), true) = (got_a, got_b, bufs.a != bufs.b) {
            let n = n.min(m).min(BUF_BYTES);
            self.compare_read(&twin, bufs.a, bufs.b, want.from, n);
        }
        if got_a == want.result && got_b == want.result {
            twin.io.pos = want.pos;
            self.set_twin(index, Some(twin));
            if self.rng.percent(20) {
                self.twin_query(index);
            }
        } else {
            self.resync(index);
        }
    }

    /// Checks a twin I/O's results against the model and each other.
    #[allow(
        clippy::too_many_arguments,
        reason = "the one place every I/O result is judged"
    )]
    fn check_io(
        &mut self,
        op: &str,
        io: &Io,
        len: u64,
        reach: Buf,
        want: Result<u64, SysError>,
        got_a: Result<u64, SysError>,
        got_b: Result<u64, SysError>,
    ) {
        if got_a != got_b {
            self.fail(
                "twin",
                format_args!(
                    "{op} {:?} len {len} {reach:?} at {}: normal {got_a:?}, generic {got_b:?}",
                    io.target, io.pos
                ),
            );
        } else if got_a != want {
            self.fail(
                "model",
                format_args!(
                    "{op} {:?} len {len} {reach:?} at {} (size {}): both {got_a:?}, model {want:?}",
                    io.target, io.pos, io.size
                ),
            );
        }
    }

    /// Compares `n` bytes read into `a` and `b` with each other and with
    /// what the target holds from offset `from`.
    pub(super) fn compare_read(&mut self, twin: &Twin, a: u64, b: u64, from: u64, n: u64) {
        if n == 0 {
            return;
        }
        let (bytes_a, bytes_b) = (self.arena.buffer(a, n), self.arena.buffer(b, n));
        if bytes_a.len() as u64 != n || bytes_b.len() as u64 != n {
            return;
        }
        if bytes_a != bytes_b {
            let at = bytes_a
                .iter()
                .zip(bytes_b.iter())
                .position(|(x, y)| x != y)
                .unwrap_or(0);
            self.fail(
                "twin read bytes",
                format_args!(
                    "{:?}: normal and generic differ at byte {at} of {n}",
                    twin.io.target
                ),
            );
            return;
        }
        let expected_ok = match twin.io.target {
            Target::Zero => bytes_a.iter().all(|&b| b == 0),
            Target::Mem => model::is_dev_mem(bytes_a, from),
            Target::File => {
                let slot = twin.slot.unwrap_or(0);
                let content = self.arena.model(slot);
                let start = usize::try_from(from).unwrap_or(usize::MAX);
                let end = start.saturating_add(bytes_a.len());
                content.get(start..end).is_some_and(|want| want == bytes_a)
            }
            Target::Null | Target::Dir => n == 0,
        };
        if !expected_ok {
            self.fail(
                "read bytes",
                format_args!(
                    "{:?}: {n} bytes from {from} differ from the model",
                    twin.io.target
                ),
            );
        }
    }

    /// Writes `len` bytes through both handles of twin `index`.
    pub(crate) fn twin_write(&mut self, index: usize, len: u64) {
        let Some(mut twin) = self.twin(index) else {
            return;
        };
        let io = self.io_of(&twin);
        let is_file = io.target == Target::File && io.can_write;
        let start = if io.append { io.size } else { io.pos };
        let mut len = len;
        let mut room = u64::MAX;
        if is_file {
            if start >= MAX_FILE_BYTES {
                len = len.min(4096); // past the size limit: FileTooLarge
            } else if start > MODEL_BYTES {
                let to = self.rng.below(MODEL_BYTES) as i64;
                self.twin_seek(index, Whence::Set, to);
                return;
            } else {
                room = MODEL_BYTES - start;
                if len > room && self.rng.percent(70) {
                    len = self.rng.below(room + 1);
                }
            }
        }
        let bufs = self.write_bufs(len, room);
        if is_file && start < MAX_FILE_BYTES {
            let reach = match bufs.reach {
                Buf::Good => len,
                Buf::Prefix(k) => k.min(len),
            };
            if reach > room {
                // The model cannot hold it: make it a zero-length write.
                len = 0;
            }
        }
        let want_a = model::write(&io, bufs.a, len, bufs.reach);
        let io_b = if twin.same_file {
            Io {
                size: want_a.size,
                ..io
            }
        } else {
            io
        };
        let want_b = model::write(&io_b, bufs.b, len, bufs.reach);
        let buffers = |addr: u64| [(addr, addr.saturating_add(len)), (0, 0)];
        let cell = Cell::new(Call::Write, Some(Kind::Sio), true);
        let got_a = self.sys(
            word(twin.a, Call::Write),
            &[bufs.a, len],
            buffers(bufs.a),
            cell,
            "write (normal)",
            Expect::Any,
        );
        let got_b = self.sys(
            generic(word(twin.b, Call::Write)),
            &[bufs.b, len],
            buffers(bufs.b),
            cell,
            "write (FORCE_GENERIC)",
            Expect::Any,
        );
        self.stats.twins += 1;
        if self.dropped_after_oom(index, [got_a, got_b]) {
            return;
        }
        self.check_io("write", &io, len, bufs.reach, want_a.result, got_a, got_b);
        if got_a != want_a.result || got_b != want_b.result {
            // The files may differ now: start them again.
            self.drop_twin(index);
            return;
        }
        let faulted =
            want_a.result == Err(SysError::BadAddress) || want_a.result.is_ok_and(|n| n < len);
        if io.target == Target::File && faulted {
            // A write that failed or stopped at a fault must have done
            // exactly what the model says (the bytes before a fault,
            // nothing for a bad range).
            let seen = [self.query_sio(twin.a, false), self.query_sio(twin.b, true)];
            let wants = [(want_a.pos, want_b.size), (want_b.pos, want_b.size)];
            let off = seen.iter().zip(wants).any(|(info, (pos, size))| {
                info.is_some_and(|i| i.position != pos || i.size != size)
            });
            if off {
                self.fail(
                    "write side effects",
                    format_args!("write len {len} {:?} at {start}: both {got_a:?}, then {seen:?}, model pos {} size {}", bufs.reach, want_a.pos, want_b.size),
                );
                self.drop_twin(index);
                return;
            }
        }
        if let Some(slot) = twin.slot {
            if want_b.written.1 > 0 {
                let data = self
                    .arena
                    .buffer(self.arena.source_addr(bufs.source), want_b.written.1);
                let content = self.arena.model(slot);
                if !model::apply_write(content, io.size, want_a.written, data) {
                    self.fail(
                        "model",
                        format_args!("write of {:?} does not fit the model", want_a.written),
                    );
                }
            }
            if let Some(file) = self.files.get_mut(slot) {
                file.size = want_b.size;
            }
        }
        twin.io.pos = want_a.pos;
        self.set_twin(index, Some(twin));
        if self.rng.percent(20) {
            self.twin_query(index);
        }
    }

    /// Seeks both handles of twin `index`.
    pub(crate) fn twin_seek(&mut self, index: usize, whence: Whence, offset: i64) {
        let Some(mut twin) = self.twin(index) else {
            return;
        };
        let io = self.io_of(&twin);
        let want = model::seek(&io, whence, offset);
        let registers = SioReconfigure::Seek { whence, offset }.to_registers();
        let cell = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
        let got_a = self.sys(
            word(twin.a, Call::Reconfigure),
            &registers,
            [(0, 0); 2],
            cell,
            "seek (normal)",
            Expect::Is(want),
        );
        let got_b = self.sys(
            generic(word(twin.b, Call::Reconfigure)),
            &registers,
            [(0, 0); 2],
            cell,
            "seek (FORCE_GENERIC)",
            Expect::Is(want),
        );
        self.stats.twins += 1;
        if self.dropped_after_oom(index, [got_a, got_b]) {
            return;
        }
        if got_a != got_b {
            self.fail(
                "twin seek",
                format_args!("{whence:?} {offset}: normal {got_a:?}, generic {got_b:?}"),
            );
        }
        if let Ok(pos) = want {
            if !matches!(io.target, Target::Null | Target::Zero) {
                twin.io.pos = pos;
            }
        }
        self.set_twin(index, Some(twin));
        if got_a != want || got_b != want {
            self.resync(index);
        }
    }

    /// A drawn seek.
    fn twin_seek_drawn(&mut self, index: usize) {
        let Some(twin) = self.twin(index) else {
            return;
        };
        let io = self.io_of(&twin);
        let size = io.size as i64;
        let pos = io.pos as i64;
        let (whence, offset) = match self.rng.below(100) {
            0..=49 => (Whence::Set, self.rng.below(io.size + 4097) as i64),
            50..=69 => (Whence::Current, self.rng.below(8192) as i64 - 4096),
            // A directory's size changes as other fuzzers make files.
            70..=84 if io.target == Target::Dir => (Whence::Set, 0),
            70..=84 => (
                Whence::End,
                self.rng.below(io.size.min(1 << 20) + 4097) as i64 - size,
            ),
            85..=89 => (Whence::Set, -(1 + self.rng.below(1000) as i64)),
            90..=93 => (Whence::Current, -pos - 1 - self.rng.below(100) as i64),
            94..=96 => (
                Whence::Set,
                (MAX_FILE_BYTES + self.rng.below(1 << 40)) as i64,
            ),
            _ => (Whence::Current, i64::MAX - self.rng.below(8) as i64),
        };
        self.twin_seek(index, whence, offset);
    }
}
