//! SIOs, made in twins: every read, write and seek is made on handle A by
//! the normal path (the routine the kernel synthesized for this thread)
//! and on handle B with `CallWord::FORCE_GENERIC`, and both are checked
//! against the model and against each other (result, bytes, position, and
//! the file's contents).
//!
//! Owns [`Twin`] and [`FileSlot`]. A twin is one of:
//!
//! - two files with the same contents (`fz-<tag>-<fuzzer>-<slot>a` and
//!   `...b`): A on the first, B on the second; every write goes to both;
//! - one file opened twice: A and B on the same file, kept at the same
//!   position; B's write repeats A's bytes at the same place (the file is
//!   A's, B's write must change nothing but B's position);
//! - a device opened twice: `/dev/null`, `/dev/zero`, `/dev/mem`, or the
//!   directory `/tmp`.
//!
//! Each file slot has one model ([`crate::memory::MODEL_BYTES`]) and at most
//! one twin open at a time.

use core::fmt::Write as _;

use sk_abi::{
    Call, Kind, OpenFlags, QuerySelector, SioCreateArgs, SioInfo, SioKind, SioReconfigure,
    SysError, TtyMode, Whence, DEV_MEM_BYTES,
};
use sk_user::routine_of;
use sk_user_sysfuzz::model::{self, Buf, Io, Target, CHUNK, MAX_FILE_BYTES};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer, Obj, CONSOLE, MAX_TWINS, SELF};
use crate::memory::{BUF_BYTES, FILE_SLOTS, MODEL_BYTES, SOURCE_BYTES};

/// A pair of SIO handles the fuzzer keeps in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Twin {
    /// Called by the normal path.
    pub(crate) a: u32,
    /// Called with `FORCE_GENERIC`.
    pub(crate) b: u32,
    /// The model (for a file, its size is the slot's).
    pub(crate) io: Io,
    /// How both were opened.
    pub(crate) flags: OpenFlags,
    /// The file slot, for a file.
    pub(crate) slot: Option<usize>,
    /// A and B name the same file.
    pub(crate) same_file: bool,
}

/// One file slot of a fuzzer: two files and their model.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileSlot {
    index: usize,
    /// The model's size (both files' when they agree).
    pub(crate) size: u64,
    /// Which of the two files exist.
    exists: [bool; 2],
    /// The `b` file may differ from `a` (a same-file twin wrote `a` only).
    b_stale: bool,
    /// A twin is open on it.
    busy: bool,
    /// The contents are not known (a write failed for lack of memory):
    /// the next twin truncates.
    unknown: bool,
    names: [[u8; 40]; 2],
    name_len: usize,
}

impl FileSlot {
    /// Slot `index` (names are set by [`Fuzzer::name_files`]).
    pub(crate) const fn new(index: usize) -> Self {
        Self {
            index,
            size: 0,
            exists: [false; 2],
            b_stale: false,
            busy: false,
            unknown: false,
            names: [[0; 40]; 2],
            name_len: 0,
        }
    }

    /// Whether file `a` exists (`None`: not known).
    pub(crate) fn exists_a(&self) -> Option<bool> {
        (!self.unknown).then(|| self.exists.first().copied().unwrap_or(false))
    }

    /// The path of file `which` (0: a, 1: b).
    pub(crate) fn name(&self, which: usize) -> &str {
        let bytes = self.names.get(which).map_or(&[][..], |name| {
            name.get(..self.name_len).unwrap_or_default()
        });
        core::str::from_utf8(bytes).unwrap_or("/tmp/fz")
    }
}

/// A fixed buffer `fmt::Write` fills.
struct Cursor<'a> {
    out: &'a mut [u8],
    len: usize,
}

impl core::fmt::Write for Cursor<'_> {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        for &byte in text.as_bytes() {
            let slot = self.out.get_mut(self.len).ok_or(core::fmt::Error)?;
            *slot = byte;
            self.len += 1;
        }
        Ok(())
    }
}

/// Formats `args` into `out`; returns the length.
pub(crate) fn format_into(out: &mut [u8], args: core::fmt::Arguments<'_>) -> usize {
    let mut cursor = Cursor { out, len: 0 };
    let _ = cursor.write_fmt(args);
    cursor.len
}

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

/// Where a twin I/O's buffers are, and what the kernel can reach of them.
#[derive(Clone, Copy, Debug)]
struct Bufs {
    a: u64,
    b: u64,
    reach: Buf,
    /// For writes: the source offset of the bytes written.
    source: u64,
}

impl Fuzzer<'_> {
    /// Gives the file slots their names (call once the tag is known).
    pub(crate) fn name_files(&mut self) {
        let (tag, index) = (self.tag, self.index);
        for slot in &mut self.files {
            for (which, suffix) in ["a", "b"].iter().enumerate() {
                if let Some(name) = slot.names.get_mut(which) {
                    let len = format_into(
                        name,
                        format_args!("/tmp/fz-{tag:06x}-{index}-{}{suffix}", slot.index),
                    );
                    slot.name_len = len;
                }
            }
        }
    }

    /// The twin at `index`.
    fn twin(&self, index: usize) -> Option<Twin> {
        self.twins.get(index).copied().flatten()
    }

    /// Stores the twin at `index`.
    fn set_twin(&mut self, index: usize, twin: Option<Twin>) {
        if let Some(slot) = self.twins.get_mut(index) {
            *slot = twin;
        }
    }

    /// A random open twin.
    fn any_twin(&mut self) -> Option<usize> {
        let open = self.twins.iter().filter(|t| t.is_some()).count();
        if open == 0 {
            return None;
        }
        let pick = self.rng.index(open);
        self.twins
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_some())
            .nth(pick)
            .map(|(i, _)| i)
    }

    /// The twin's model with the file's current size.
    fn io_of(&self, twin: &Twin) -> Io {
        let mut io = twin.io;
        if let Some(slot) = twin.slot.and_then(|s| self.files.get(s)) {
            io.size = slot.size;
        }
        io
    }

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
    fn open_twin(
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
            if got == Some(true) && want {
                self.stats.synthesized += 1;
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

    /// A draw of I/O length.
    fn io_len(&mut self) -> u64 {
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
    fn read_bufs(&mut self, len: u64) -> Bufs {
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
    fn write_bufs(&mut self, len: u64, room: u64) -> Bufs {
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

    /// Closes a twin whose two sides may now differ (a result off the
    /// model, or memory ran out): its files are truncated by the next twin
    /// on the slot.
    fn drop_twin(&mut self, index: usize) {
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

    /// Compares `n` bytes read into `a` and `b` with each other and with
    /// what the target holds from offset `from`.
    fn compare_read(&mut self, twin: &Twin, a: u64, b: u64, from: u64, n: u64) {
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
    fn resync(&mut self, index: usize) {
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

    /// The file lifecycle: open a fresh twin, write across capacity steps
    /// (4 KiB, then doubling), seek, read, check, close, and open again on
    /// the handle numbers just freed (alone: they must be reused, and the
    /// new SIO's routines must be its own).
    pub(crate) fn file_sequence(&mut self) {
        let free = (0..FILE_SLOTS).find(|&s| self.files.get(s).is_some_and(|f| !f.busy));
        let Some(slot) = free else {
            self.twin_op();
            return;
        };
        let rw = OpenFlags::READ | OpenFlags::WRITE;
        let same_file = self.rng.percent(25);
        let Some(index) = self.open_twin(
            Target::File,
            Some(slot),
            same_file,
            rw | OpenFlags::CREATE | OpenFlags::TRUNCATE,
        ) else {
            return;
        };
        let steps = 1 + self.rng.below(7);
        let target = (4096_u64 << steps).min(MODEL_BYTES - 4096) + 1;
        let mut guard = 0;
        while self.files.get(slot).map_or(0, |f| f.size) < target && guard < 64 {
            guard += 1;
            let len = self.rng.range(1, 12_000);
            self.twin_write(index, len);
            if self.rng.percent(15) {
                let back = self.rng.below(4096) as i64;
                self.twin_seek(
                    index,
                    Whence::Current,
                    -back.min(self.twin(index).map_or(0, |t| t.io.pos) as i64),
                );
            }
        }
        for _ in 0..4 {
            let size = self.files.get(slot).map_or(0, |f| f.size);
            let at = self.rng.below(size + 1) as i64;
            self.twin_seek(index, Whence::Set, at);
            let len = self.rng.range(1, 20_000);
            self.twin_read(index, len);
        }
        let back = -(self.rng.below(100) as i64);
        self.twin_seek(index, Whence::End, back);
        self.twin_read(index, 200);
        self.twin_query(index);
        let Some(twin) = self.twin(index) else {
            return;
        };
        self.close_twin(index);
        // The numbers just freed: a new open gets the lowest (when alone).
        let (target, flags) = match self.rng.below(3) {
            0 => (Target::Zero, OpenFlags::READ),
            1 => (Target::Mem, OpenFlags::READ),
            _ => (Target::Null, OpenFlags::WRITE),
        };
        let lowest = twin.a.min(twin.b);
        let Some(index) = self.open_twin(target, None, false, flags) else {
            return;
        };
        if let Some(new) = self.twin(index) {
            if self.solo && new.a > lowest {
                self.fail(
                    "handle reuse",
                    format_args!("closed {} and {}, reopened as {}", twin.a, twin.b, new.a),
                );
            }
            self.check_routines(&new);
            if flags.contains(OpenFlags::READ) {
                self.twin_read(index, 64);
            } else {
                self.twin_write(index, 64);
            }
        }
        self.close_twin(index);
    }

    /// The console (handle 1): query, seek (not supported), a mode change
    /// (raw, which synthesizes the console write) and back, empty writes.
    pub(crate) fn console_op(&mut self) {
        let cell = Cell::new(Call::Query, Some(Kind::Sio), true);
        match self.rng.below(4) {
            0 | 1 => {
                let generic_path = self.rng.percent(50);
                if let Some(info) = self.query_sio(CONSOLE, generic_path) {
                    if info.kind != SioKind::Tty.number() {
                        self.fail("console", format_args!("query: {info:?}"));
                    }
                }
            }
            2 => {
                let registers = SioReconfigure::Seek {
                    whence: Whence::Set,
                    offset: 0,
                }
                .to_registers();
                let cell = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
                let _ = self.sys(
                    word(CONSOLE, Call::Reconfigure),
                    &registers,
                    [(0, 0); 2],
                    cell,
                    "console seek",
                    Expect::Err(SysError::NotSupported),
                );
            }
            _ => {
                let raw = TtyMode::RAW
                    | if self.rng.percent(50) {
                        TtyMode::ECHO
                    } else {
                        TtyMode::empty()
                    };
                let cell_re = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
                let cell_wr = Cell::new(Call::Write, Some(Kind::Sio), true);
                let to_raw = SioReconfigure::TtyMode(raw).to_registers();
                let _ = self.sys(
                    word(CONSOLE, Call::Reconfigure),
                    &to_raw,
                    [(0, 0); 2],
                    cell_re,
                    "console raw",
                    Expect::Is(Ok(0)),
                );
                let buf = self.arena.source_addr(0);
                let _ = self.sys(
                    word(CONSOLE, Call::Write),
                    &[buf, 0],
                    [(buf, buf), (0, 0)],
                    cell_wr,
                    "console write 0 (raw)",
                    Expect::Is(Ok(0)),
                );
                let _ = self.sys(
                    generic(word(CONSOLE, Call::Write)),
                    &[buf, 0],
                    [(buf, buf), (0, 0)],
                    cell_wr,
                    "console write 0 (raw, FORCE_GENERIC)",
                    Expect::Is(Ok(0)),
                );
                let back = SioReconfigure::TtyMode(TtyMode::DEFAULT).to_registers();
                let _ = self.sys(
                    word(CONSOLE, Call::Reconfigure),
                    &back,
                    [(0, 0); 2],
                    cell_re,
                    "console cooked",
                    Expect::Is(Ok(0)),
                );
                let _ = cell;
            }
        }
    }
}
