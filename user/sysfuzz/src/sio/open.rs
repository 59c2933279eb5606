//! Opening and closing twins: both halves opened with the flags drawn,
//! each open checked against what the model says exists (`EXCLUSIVE`,
//! `TRUNCATE`, `CREATE`), handle numbers checked, and both halves closed
//! together (alone, the closed handle must answer `BadHandle`).
//!
//! Owns the twin lifecycle on [`Fuzzer`]: [`Fuzzer::open_twin_op`],
//! [`Fuzzer::close_twin_op`], [`Fuzzer::close_twin`], and dropping a twin
//! whose two sides may differ.

use sk_abi::{Call, Kind, OpenFlags, SioCreateArgs, SysError, DEV_MEM_BYTES};
use sk_user_sysfuzz::model::{Io, Target};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer, Obj, SELF};
use crate::memory::FILE_SLOTS;

use super::Twin;

/// Paths of the devices, by target.
const fn device_path(target: Target) -> &'static str {
    match target {
        Target::Null => "/dev/null",
        Target::Zero => "/dev/zero",
        Target::Mem => "/dev/mem",
        Target::Dir => "/tmp",
        Target::File => "/tmp/fz",
    }
}

impl Fuzzer<'_> {
    /// Opens `path` with `flags` (`generic`: with `FORCE_GENERIC`), wanting
    /// `want`; tracks the handle as a twin half. Returns the handle.
    fn open_half(
        &mut self,
        path: &str,
        flags: OpenFlags,
        generic_path: bool,
        want: Result<(), SysError>,
    ) -> Option<u32> {
        let args = SioCreateArgs {
            path_ptr: path.as_ptr() as u64,
            path_len: path.len() as u64,
            flags: flags.bits(),
            _pad: 0,
        }
        .to_bytes();
        let predicted = self.next_handle();
        let mut call = word(SELF, Call::Create);
        if generic_path {
            call = generic(call);
        }
        let args_addr = args.as_ptr() as u64;
        let expect = match want {
            Ok(()) => Expect::Ok,
            Err(error) => Expect::Err(error),
        };
        let got = self.sys(
            call,
            &[u64::from(Kind::Sio), args_addr, args.len() as u64],
            [
                (args_addr, args_addr + args.len() as u64),
                (
                    path.as_ptr() as u64,
                    path.as_ptr() as u64 + path.len() as u64,
                ),
            ],
            Cell::new(Call::Create, Some(Kind::Sio), true),
            "open (twin half)",
            expect,
        );
        // `sys` excuses running out of memory under pressure: so does this.
        let out_of_memory =
            self.pressure && matches!(got, Err(SysError::NoMemory | SysError::NoSpace));
        if !expect.accepts(got) && !out_of_memory {
            self.fail(
                "open",
                format_args!(
                    "{path} with {flags:?} (generic: {generic_path}): {got:?}, want {want:?}"
                ),
            );
        }
        match (want, got) {
            (Ok(()), Ok(value)) => {
                let handle = self.check_new_handle("open", predicted, value)?;
                if self.objects.insert(handle, Obj::TwinHalf) {
                    Some(handle)
                } else {
                    self.close_untracked(handle, Kind::Sio);
                    None
                }
            }
            (Err(_), Ok(_)) => {
                self.stray(got);
                None
            }
            _ => None,
        }
    }

    /// Opens a twin of `target` (for a file, on `slot`, `same_file` or not)
    /// with `flags`; returns its index. Both opens must agree with the
    /// model (what exists, `EXCLUSIVE`, `TRUNCATE`).
    pub(super) fn open_twin(
        &mut self,
        target: Target,
        slot: Option<usize>,
        same_file: bool,
        flags: OpenFlags,
    ) -> Option<usize> {
        let index = self.twins.iter().position(|t| t.is_none())?;
        if !self.objects.has_room(2) {
            return None;
        }
        let mut paths = [[0_u8; 40]; 2];
        let mut lens = [0_usize; 2];
        let mut wants = [Ok(()); 2];
        let mut creates = [false; 2];
        for which in 0..2 {
            let path = match slot.and_then(|s| self.files.get(s)) {
                Some(file) => file.name(if same_file { 0 } else { which }),
                None => device_path(target),
            };
            let len = path.len().min(40);
            if let (Some(out), Some(bytes)) = (paths.get_mut(which), path.as_bytes().get(..len)) {
                if let Some(dst) = out.get_mut(..len) {
                    dst.copy_from_slice(bytes);
                }
            }
            if let Some(l) = lens.get_mut(which) {
                *l = len;
            }
            if let Some(file) = slot.and_then(|s| self.files.get(s)) {
                let file_index = if same_file { 0 } else { which };
                let exists = file.exists.get(file_index).copied().unwrap_or(false)
                    || (same_file && which == 1 && creates.first().copied().unwrap_or(false));
                let want = if !flags.contains(OpenFlags::CREATE) && !exists {
                    Err(SysError::NotFound)
                } else if flags.contains(OpenFlags::EXCLUSIVE) && exists {
                    Err(SysError::Exists)
                } else {
                    Ok(())
                };
                if let Some(w) = wants.get_mut(which) {
                    *w = want;
                }
                if let Some(c) = creates.get_mut(which) {
                    *c = want.is_ok() && !exists;
                }
            }
        }
        let mut handles = [None; 2];
        for which in 0..2 {
            let len = lens.get(which).copied().unwrap_or(0);
            let bytes = paths
                .get(which)
                .map_or(&[][..], |p| p.get(..len).unwrap_or_default());
            let path = core::str::from_utf8(bytes).unwrap_or("/tmp");
            let want = wants.get(which).copied().unwrap_or(Ok(()));
            let handle = self.open_half(path, flags, which == 1, want);
            if let Some(h) = handles.get_mut(which) {
                *h = handle;
            }
            if let (Some(s), true, Some(_)) =
                (slot, creates.get(which).copied().unwrap_or(false), handle)
            {
                if let Some(file) = self.files.get_mut(s) {
                    if let Some(e) = file.exists.get_mut(if same_file { 0 } else { which }) {
                        *e = true;
                    }
                }
            }
        }
        if self.pressure && handles.iter().any(Option::is_none) {
            if let Some(file) = slot.and_then(|s| self.files.get_mut(s)) {
                file.unknown = true;
            }
        }
        let [Some(a), Some(b)] = handles else {
            // One failed (as predicted or not): close what opened.
            for handle in handles.into_iter().flatten() {
                self.close_raw(handle);
                self.objects.remove(handle);
            }
            return None;
        };
        let truncated = flags.contains(OpenFlags::TRUNCATE) || creates.iter().all(|&c| c);
        if let Some(file) = slot.and_then(|s| self.files.get_mut(s)) {
            file.busy = true;
            if truncated {
                file.size = 0;
                file.unknown = false;
                if !same_file {
                    file.b_stale = false;
                }
            }
        }
        let size = match target {
            Target::Mem => DEV_MEM_BYTES,
            Target::File => slot.and_then(|s| self.files.get(s)).map_or(0, |f| f.size),
            _ => 0,
        };
        let twin = Twin {
            a,
            b,
            io: Io {
                target,
                can_read: flags.contains(OpenFlags::READ),
                can_write: flags.contains(OpenFlags::WRITE),
                append: flags.contains(OpenFlags::APPEND),
                pos: 0,
                size,
            },
            flags,
            slot,
            same_file,
        };
        self.set_twin(index, Some(twin));
        if self.rng.percent(40) {
            self.check_routines(&twin);
        }
        Some(index)
    }

    /// Draws a twin to open (a file on a free slot, or a device).
    pub(crate) fn open_twin_op(&mut self) {
        if self.twins.iter().all(|t| t.is_some()) || !self.objects.has_room(2) {
            if self.rng.percent(50) {
                self.close_twin_op();
            } else {
                self.twin_op();
            }
            return;
        }
        let draw = self.rng.below(100);
        if draw < 60 {
            let free = (0..FILE_SLOTS).filter(|&s| self.files.get(s).is_some_and(|f| !f.busy));
            let free_count = free.clone().count();
            let Some(slot) = free.clone().nth(self.rng.index(free_count)) else {
                self.twin_op();
                return;
            };
            let same_file = self.rng.percent(30);
            let stale = self.files.get(slot).is_some_and(|f| f.b_stale || f.unknown);
            let rw = OpenFlags::READ | OpenFlags::WRITE;
            let choices = [
                rw | OpenFlags::CREATE,
                rw | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                OpenFlags::READ,
                OpenFlags::WRITE | OpenFlags::CREATE,
                rw | OpenFlags::CREATE | OpenFlags::APPEND,
                rw | OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                rw,
            ];
            let mut flags = choices[self.rng.index(choices.len())];
            if self.files.get(slot).is_some_and(|f| f.unknown) {
                flags = rw | OpenFlags::CREATE | OpenFlags::TRUNCATE;
            } else if same_file {
                // Appends and exclusive creates do not repeat on one file.
                flags.remove(OpenFlags::APPEND | OpenFlags::EXCLUSIVE);
            } else if stale {
                // The two files differ: make them equal (empty) again.
                flags = rw | OpenFlags::CREATE | OpenFlags::TRUNCATE;
            }
            self.open_twin(Target::File, Some(slot), same_file, flags);
        } else {
            let (target, flags) = match draw {
                60..=71 => (
                    Target::Zero,
                    [
                        OpenFlags::READ,
                        OpenFlags::WRITE,
                        OpenFlags::READ | OpenFlags::WRITE,
                    ][self.rng.index(3)],
                ),
                72..=83 => (Target::Mem, OpenFlags::READ),
                84..=93 => (
                    Target::Null,
                    [
                        OpenFlags::READ,
                        OpenFlags::WRITE,
                        OpenFlags::READ | OpenFlags::WRITE,
                    ][self.rng.index(3)],
                ),
                _ => (Target::Dir, OpenFlags::READ),
            };
            self.open_twin(target, None, false, flags);
        }
    }

    /// Closes a random twin.
    pub(crate) fn close_twin_op(&mut self) {
        match self.any_twin() {
            Some(index) => self.close_twin(index),
            None => self.open_twin_op(),
        }
    }

    /// Checks a twin's files against the model, closes both handles, and
    /// (alone) checks that the handles are closed.
    pub(crate) fn close_twin(&mut self, index: usize) {
        let Some(twin) = self.twin(index) else {
            return;
        };
        self.check_contents(&twin);
        for (handle, generic_path) in [(twin.a, false), (twin.b, true)] {
            let mut call = word(handle, Call::Terminate);
            if generic_path {
                call = generic(call);
            }
            let cell = self.cell_of(handle, Call::Terminate);
            let value = self.rng.next_u64();
            let _ = self.sys(
                call,
                &[value],
                [(0, 0); 2],
                cell,
                "close",
                Expect::Is(Ok(0)),
            );
            self.objects.remove(handle);
        }
        if let Some(file) = twin.slot.and_then(|s| self.files.get_mut(s)) {
            file.busy = false;
            if twin.same_file && twin.io.can_write {
                file.b_stale = true;
            }
        }
        self.set_twin(index, None);
        if self.solo {
            // A closed handle answers BadHandle, on either path, to any call.
            let buf = self.arena.zone().buf_a();
            let (call, args) = match self.rng.below(5) {
                0 => (Call::Read, [buf, 16, 0]),
                1 => (Call::Write, [buf, 16, 0]),
                2 => (Call::Query, [0, buf, 24]),
                3 => (Call::Terminate, [0, 0, 0]),
                _ => (Call::Reconfigure, [0, 0, 0]),
            };
            let mut w = word(twin.a, call);
            if self.rng.percent(50) {
                w = generic(w);
            }
            let cell = self.cell_of(twin.a, call);
            let _ = self.sys(
                w,
                &args,
                [(buf, buf + 24), (0, 0)],
                cell,
                "closed handle",
                Expect::Err(SysError::BadHandle),
            );
        }
    }

    /// Closes a twin whose two sides may now differ (a result off the
    /// model, or memory ran out): its files are truncated by the next twin
    /// on the slot.
    pub(super) fn drop_twin(&mut self, index: usize) {
        let Some(twin) = self.twin(index) else {
            return;
        };
        for handle in [twin.a, twin.b] {
            let cell = self.cell_of(handle, Call::Terminate);
            let _ = self.sys(
                word(handle, Call::Terminate),
                &[0],
                [(0, 0); 2],
                cell,
                "close a diverged twin",
                Expect::Is(Ok(0)),
            );
            self.objects.remove(handle);
        }
        if let Some(file) = twin.slot.and_then(|s| self.files.get_mut(s)) {
            file.busy = false;
            file.unknown = true;
        }
        self.set_twin(index, None);
    }
}
