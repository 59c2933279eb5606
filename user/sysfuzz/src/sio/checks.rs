//! Checks of a twin beyond one call's result: `query` against the model,
//! a file's whole contents through both handles, which routines the kernel
//! synthesized for A; and, after a result the model did not predict, the
//! resync that takes the position and contents back from the kernel.
//!
//! Owns [`Fuzzer::twin_query`], [`Fuzzer::query_sio`],
//! [`Fuzzer::check_contents`], [`Fuzzer::full_check`],
//! [`Fuzzer::check_routines`].

use sk_abi::{Call, Kind, QuerySelector, SioInfo, SioKind, SioReconfigure, Whence};
use sk_user::routine_of;
use sk_user_sysfuzz::model::Target;
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer, MAX_TWINS};
use crate::memory::{BUF_BYTES, MODEL_BYTES};

use super::Twin;

/// The kind `query` reports for `target`.
const fn sio_kind(target: Target) -> SioKind {
    match target {
        Target::Null => SioKind::Null,
        Target::Zero => SioKind::Zero,
        Target::Mem => SioKind::Mem,
        Target::File => SioKind::File,
        Target::Dir => SioKind::Dir,
    }
}

impl Fuzzer<'_> {
    /// A's routines must be synthesized where the kernel synthesizes
    /// (the thread opened it, its handle is in the table, no other thread
    /// used it): read for `/dev/zero`, `/dev/mem` and readable files;
    /// write for `/dev/null` and writable, non-append files.
    pub(crate) fn check_routines(&mut self, twin: &Twin) {
        if twin.a >= 64 {
            return;
        }
        let io = twin.io;
        let want_read =
            io.can_read && matches!(io.target, Target::Zero | Target::Mem | Target::File);
        let want_write = io.can_write
            && (io.target == Target::Null || (io.target == Target::File && !io.append));
        let Some(text) = self.routines_text(twin.a) else {
            return;
        };
        for (op, want) in [("read", want_read), ("write", want_write)] {
            let got = routine_of(text, op).map(|r| r.is_synthesized());
            // Lazy synthesis: generic until the op's K-th generic call.
            let is_pending = sk_user::pending_of(text, op).is_some_and(|(calls, k)| calls < k);
            if got == Some(true) && want {
                self.stats.synthesized += 1;
            } else if got == Some(false) && want && is_pending {
                // Not yet: the twin's calls will cross K.
            } else if got != Some(want) {
                self.fail(
                    "synthesized routines",
                    format_args!(
                        "handle {} ({:?}, {:?}): {op} synthesized {got:?}, want {want}",
                        twin.a, io.target, twin.flags
                    ),
                );
            }
        }
    }

    /// `query(Routines)` on `handle` into `BUF_A`; the text.
    pub(crate) fn routines_text(&mut self, handle: u32) -> Option<&'static [u8]> {
        let buf = self.arena.zone().buf_a();
        let len = 512;
        let cell = self.cell_of(handle, Call::Query);
        let got = self.sys(
            word(handle, Call::Query),
            &[u64::from(QuerySelector::Routines), buf, len],
            [(buf, buf + len), (0, 0)],
            cell,
            "query routines",
            Expect::Ok,
        );
        let n = got.ok()?;
        Some(self.arena.buffer(buf, n.min(len)))
    }

    /// Queries both handles of twin `index` and checks kind, flags, size
    /// and position against the model.
    pub(crate) fn twin_query(&mut self, index: usize) {
        let Some(twin) = self.twin(index) else {
            return;
        };
        let io = self.io_of(&twin);
        for (handle, generic_path) in [(twin.a, false), (twin.b, true)] {
            let Some(info) = self.query_sio(handle, generic_path) else {
                continue;
            };
            let size_ok = io.target == Target::Dir || info.size == io.size;
            let ok = info.kind == sio_kind(io.target).number()
                && info.flags == twin.flags.bits()
                && size_ok
                && (info.position == io.pos || matches!(io.target, Target::Null | Target::Zero));
            if !ok {
                self.fail(
                    "query",
                    format_args!(
                        "handle {handle} ({:?}): {info:?}, model pos {} size {}",
                        io.target, io.pos, io.size
                    ),
                );
            }
        }
    }

    /// `query(Info)` of an SIO handle; the info.
    pub(crate) fn query_sio(&mut self, handle: u32, generic_path: bool) -> Option<SioInfo> {
        let zone = self.arena.zone();
        let buf = if generic_path {
            zone.buf_b()
        } else {
            zone.buf_a()
        };
        let len = [24, 32, 4096][self.rng.index(3)];
        let mut call = word(handle, Call::Query);
        if generic_path {
            call = generic(call);
        }
        let cell = self.cell_of(handle, Call::Query);
        let got = self.sys(
            call,
            &[u64::from(QuerySelector::Info), buf, len],
            [(buf, buf + len), (0, 0)],
            cell,
            "query",
            Expect::Is(Ok(24)),
        );
        got.ok()?;
        SioInfo::from_bytes(self.arena.buffer(buf, 24)).ok()
    }

    /// After a result the model did not predict: takes the position (and
    /// a file's size) from the kernel, so later checks test later calls.
    pub(super) fn resync(&mut self, index: usize) {
        let Some(mut twin) = self.twin(index) else {
            return;
        };
        twin.io.pos = self.resync_pos(&twin);
        self.set_twin(index, Some(twin));
        if let Some(info) = self.query_sio(twin.b, true) {
            if let Some(file) = twin.slot.and_then(|s| self.files.get_mut(s)) {
                file.size = info.size;
            }
        }
        // Both handles at one position again.
        let pos = twin.io.pos as i64;
        let registers = SioReconfigure::Seek {
            whence: Whence::Set,
            offset: pos,
        }
        .to_registers();
        for handle in [twin.a, twin.b] {
            let cell = self.cell_of(handle, Call::Reconfigure);
            let _ = self.sys(
                generic(word(handle, Call::Reconfigure)),
                &registers,
                [(0, 0); 2],
                cell,
                "resync seek",
                Expect::Any,
            );
        }
        self.reload_model(&twin);
    }

    /// The kernel's position of A.
    fn resync_pos(&mut self, twin: &Twin) -> u64 {
        self.query_sio(twin.a, false)
            .map_or(twin.io.pos, |info| info.position)
    }

    /// Rereads a file into its model (after a mismatch) through B.
    fn reload_model(&mut self, twin: &Twin) {
        let (Some(slot), true) = (twin.slot, twin.io.can_read) else {
            return;
        };
        let size = self.files.get(slot).map_or(0, |f| f.size).min(MODEL_BYTES);
        let buf = self.arena.zone().buf_b();
        let registers = SioReconfigure::Seek {
            whence: Whence::Set,
            offset: 0,
        }
        .to_registers();
        let cell = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
        let _ = self.sys(
            generic(word(twin.b, Call::Reconfigure)),
            &registers,
            [(0, 0); 2],
            cell,
            "reload seek",
            Expect::Any,
        );
        let mut done = 0;
        while done < size {
            let want = (size - done).min(BUF_BYTES);
            let cell = Cell::new(Call::Read, Some(Kind::Sio), true);
            let Ok(n) = self.sys(
                generic(word(twin.b, Call::Read)),
                &[buf, want],
                [(buf, buf + want), (0, 0)],
                cell,
                "reload read",
                Expect::Any,
            ) else {
                break;
            };
            if n == 0 {
                break;
            }
            let bytes = self.arena.buffer(buf, n);
            let content = self.arena.model(slot);
            let (Ok(from), Ok(to)) = (usize::try_from(done), usize::try_from(done + n)) else {
                break;
            };
            if let Some(dst) = content.get_mut(from..to) {
                dst.copy_from_slice(bytes);
            }
            done += n;
        }
        let registers = SioReconfigure::Seek {
            whence: Whence::Set,
            offset: twin.io.pos as i64,
        }
        .to_registers();
        let _ = self.sys(
            generic(word(twin.b, Call::Reconfigure)),
            &registers,
            [(0, 0); 2],
            cell,
            "reload seek back",
            Expect::Any,
        );
    }

    /// Reads a twin's whole file(s) through both handles and compares them
    /// with the model, then puts both positions back.
    pub(crate) fn check_contents(&mut self, twin: &Twin) {
        let Some(slot) = twin.slot else {
            return;
        };
        if !twin.io.can_read {
            return;
        }
        let size = self.files.get(slot).map_or(0, |f| f.size);
        let zone = self.arena.zone();
        let seek0 = SioReconfigure::Seek {
            whence: Whence::Set,
            offset: 0,
        }
        .to_registers();
        let cell_seek = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
        let cell_read = Cell::new(Call::Read, Some(Kind::Sio), true);
        let _ = self.sys(
            word(twin.a, Call::Reconfigure),
            &seek0,
            [(0, 0); 2],
            cell_seek,
            "check seek (normal)",
            Expect::Is(Ok(0)),
        );
        let _ = self.sys(
            generic(word(twin.b, Call::Reconfigure)),
            &seek0,
            [(0, 0); 2],
            cell_seek,
            "check seek (FORCE_GENERIC)",
            Expect::Is(Ok(0)),
        );
        let mut done = 0_u64;
        loop {
            let want = (size.saturating_sub(done)).min(BUF_BYTES);
            let (a, b) = (zone.buf_a(), zone.buf_b());
            let got_a = self.sys(
                word(twin.a, Call::Read),
                &[a, BUF_BYTES],
                [(a, a + BUF_BYTES), (0, 0)],
                cell_read,
                "check read (normal)",
                Expect::Is(Ok(want)),
            );
            let got_b = self.sys(
                generic(word(twin.b, Call::Read)),
                &[b, BUF_BYTES],
                [(b, b + BUF_BYTES), (0, 0)],
                cell_read,
                "check read (FORCE_GENERIC)",
                Expect::Is(Ok(want)),
            );
            self.stats.twins += 1;
            let (Ok(n), Ok(m)) = (got_a, got_b) else {
                break;
            };
            if n != m {
                self.fail(
                    "twin contents",
                    format_args!("file slot {slot}: normal read {n}, generic read {m} at {done}"),
                );
                break;
            }
            self.compare_read(twin, a, b, done, n);
            done += n;
            if n == 0 || done >= size {
                break;
            }
        }
        if done != size {
            self.fail(
                "contents",
                format_args!("file slot {slot}: read {done} bytes of {size}"),
            );
        }
        let back = SioReconfigure::Seek {
            whence: Whence::Set,
            offset: twin.io.pos as i64,
        }
        .to_registers();
        let _ = self.sys(
            word(twin.a, Call::Reconfigure),
            &back,
            [(0, 0); 2],
            cell_seek,
            "check seek back (normal)",
            Expect::Is(Ok(twin.io.pos)),
        );
        let _ = self.sys(
            generic(word(twin.b, Call::Reconfigure)),
            &back,
            [(0, 0); 2],
            cell_seek,
            "check seek back (FORCE_GENERIC)",
            Expect::Is(Ok(twin.io.pos)),
        );
    }

    /// Every open file twin's contents against the model.
    pub(crate) fn full_check(&mut self) {
        for index in 0..MAX_TWINS {
            if let Some(twin) = self.twin(index) {
                self.check_contents(&twin);
                if self.rng.percent(30) {
                    self.check_routines(&twin);
                }
            }
        }
    }
}
