//! Bad arguments on live objects, and calls that name no live object.
//!
//! Every case here knows the error it must get: the kernel checks each
//! argument once, in a fixed order (the call word, then per call the
//! selector or kind, the handle, the struct's size, its address, its
//! fields, then what the object says).

use sk_abi::{
    Call, CallWord, Kind, OpenFlags, Prot, QuerySelector, ScpuCreateArgs, SioCreateArgs,
    SmachCreateArgs, SmemCreateArgs, SmemCreateFlags, SysError, PAGE_SIZE, USER_END,
};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer, Obj, FAR_HANDLE, SELF};
use crate::objects::SYSFUZZ;

/// A path that is not UTF-8.
static NOT_UTF8: [u8; 6] = [b'/', b't', b'm', b'p', b'/', 0xff];

/// A path longer than `PATH_MAX`.
static TOO_LONG: [u8; 4100] = [b'a'; 4100];

impl Fuzzer<'_> {
    /// `create` on handle 0 with these argument bytes at `ptr`/`len`,
    /// wanting `want`; a success is tracked (and closed later).
    fn create_raw(
        &mut self,
        kind: u64,
        ptr: u64,
        len: u64,
        extra: (u64, u64),
        what: &str,
        want: Expect,
    ) {
        let column = Kind::try_from(kind).ok();
        let got = self.sys(
            word(SELF, Call::Create),
            &[kind, ptr, len],
            [(ptr, ptr.saturating_add(len)), extra],
            Cell::new(Call::Create, column, true),
            what,
            want,
        );
        self.stray(got);
    }

    /// An SIO `create` with a path and flags, wanting `want`.
    fn open_bad(
        &mut self,
        path: &[u8],
        path_len: u64,
        flags: u32,
        pad: u32,
        what: &str,
        want: Expect,
    ) {
        let args = SioCreateArgs {
            path_ptr: path.as_ptr() as u64,
            path_len,
            flags,
            _pad: pad,
        }
        .to_bytes();
        let ptr = args.as_ptr() as u64;
        let path_range = (
            path.as_ptr() as u64,
            path.as_ptr() as u64 + path.len() as u64,
        );
        self.create_raw(u64::from(Kind::Sio), ptr, 24, path_range, what, want);
    }

    /// One call with a bad argument on a live object.
    pub(crate) fn bad_args_op(&mut self) {
        let rw = (OpenFlags::READ | OpenFlags::WRITE).bits();
        let read = OpenFlags::READ.bits();
        let file_name = *b"/tmp/fz-bad/none";
        match self.rng.below(30) {
            0 => {
                let kind = self.rng.pick(&[4, 5, 7, 1 << 32, u64::MAX]);
                let ptr = self.arena.source_addr(0);
                self.create_raw(
                    kind,
                    ptr,
                    24,
                    (0, 0),
                    "create of no kind",
                    Expect::Err(SysError::WrongKind),
                );
            }
            1 => {
                let kind = self.rng.below(4);
                let ptr = self.arena.source_addr(0);
                let len = self.rng.pick(&[0, 1, 23, 25, 31, 33, 4096, u64::MAX]);
                let right = if kind < 2 { 32 } else { 24 };
                let len = if len == right { 0 } else { len };
                self.create_raw(
                    kind,
                    ptr,
                    len,
                    (0, 0),
                    "create, wrong struct size",
                    Expect::Err(SysError::BadLength),
                );
            }
            2 => {
                let kind = self.rng.below(4);
                let ptr = if self.rng.percent(50) {
                    self.unmapped_addr()
                } else {
                    self.non_user_addr()
                };
                let len = if kind < 2 { 32 } else { 24 };
                self.create_raw(
                    kind,
                    ptr,
                    len,
                    (0, 0),
                    "create, struct at a bad address",
                    Expect::Err(SysError::BadAddress),
                );
            }
            3 => self.open_bad(
                b"/dev/null",
                0,
                rw,
                0,
                "open, empty path",
                Expect::Err(SysError::BadPath),
            ),
            4 => self.open_bad(
                &TOO_LONG,
                4097,
                rw,
                0,
                "open, path too long",
                Expect::Err(SysError::NameTooLong),
            ),
            5 => {
                let addr = self.unmapped_addr();
                let args = SioCreateArgs {
                    path_ptr: addr,
                    path_len: 9,
                    flags: read,
                    _pad: 0,
                }
                .to_bytes();
                let ptr = args.as_ptr() as u64;
                self.create_raw(
                    3,
                    ptr,
                    24,
                    (addr, addr + 9),
                    "open, path at a bad address",
                    Expect::Err(SysError::BadAddress),
                );
            }
            6 => self.open_bad(
                &NOT_UTF8,
                6,
                read,
                0,
                "open, path not UTF-8",
                Expect::Err(SysError::BadPath),
            ),
            7 => self.open_bad(
                b"relative/path",
                13,
                read,
                0,
                "open, relative path",
                Expect::AnyErr,
            ),
            8 => self.open_bad(
                b"/nonexistent/dir/file",
                21,
                read,
                0,
                "open, missing directory",
                Expect::Err(SysError::NotFound),
            ),
            9 => self.open_bad(
                &file_name,
                16,
                read,
                0,
                "open, missing file",
                Expect::Err(SysError::NotFound),
            ),
            10 => self.open_bad(
                b"/tmp",
                4,
                rw,
                0,
                "open a directory for writing",
                Expect::Err(SysError::IsDir),
            ),
            11 => self.open_bad(
                b"/dev/mem",
                8,
                rw,
                0,
                "open /dev/mem for writing",
                Expect::Err(SysError::NotPermitted),
            ),
            12 => {
                let flags = self.rng.pick_u32(&[
                    0,
                    1 << 6,
                    1 << 31,
                    (OpenFlags::READ | OpenFlags::EXCLUSIVE).bits(),
                    (OpenFlags::READ | OpenFlags::TRUNCATE).bits(),
                    (OpenFlags::READ | OpenFlags::APPEND).bits(),
                ]);
                self.open_bad(
                    b"/dev/zero",
                    9,
                    flags,
                    0,
                    "open, bad flags",
                    Expect::Err(SysError::BadFlags),
                );
            }
            13 => {
                let pad = 1 + self.rng.below_u32(9);
                self.open_bad(
                    b"/dev/zero",
                    9,
                    read,
                    pad,
                    "open, pad not zero",
                    Expect::Err(SysError::BadFlags),
                );
            }
            14 => {
                // A path through a file.
                let name = self.files.first().map(|f| f.name(0)).unwrap_or("/tmp/fz");
                let mut path = [0_u8; 48];
                let len = crate::sio::format_into(&mut path, format_args!("{name}/sub"));
                let want = match self.files.first().and_then(|f| f.exists_a()) {
                    Some(true) => Expect::Err(SysError::NotDir),
                    Some(false) => Expect::Err(SysError::NotFound),
                    None => Expect::AnyErr,
                };
                self.open_bad(
                    &path,
                    len as u64,
                    read,
                    0,
                    "open, a file as a directory",
                    want,
                );
            }
            15 => self.smem_bad(
                SmemCreateArgs {
                    addr_hint: 0,
                    len: 0,
                    prot: 3,
                    flags: 0,
                },
                "SMEM of 0 bytes",
                SysError::BadLength,
            ),
            16 => {
                let prot = self
                    .rng
                    .pick_u32(&[(Prot::WRITE | Prot::EXEC).bits(), 8, 1 << 20]);
                self.smem_bad(
                    SmemCreateArgs {
                        addr_hint: 0,
                        len: 4096,
                        prot,
                        flags: 0,
                    },
                    "SMEM, bad protection",
                    SysError::BadFlags,
                );
            }
            17 => self.smem_bad(
                SmemCreateArgs {
                    addr_hint: 0,
                    len: 4096,
                    prot: 3,
                    flags: SmemCreateFlags::FIXED.bits(),
                },
                "FIXED SMEM at 0",
                SysError::BadAddress,
            ),
            18 => {
                let addr = self.arena.zone().smem_slot(0) + 1 + self.rng.below(PAGE_SIZE - 1);
                self.smem_bad(
                    SmemCreateArgs {
                        addr_hint: addr,
                        len: 4096,
                        prot: 3,
                        flags: 0,
                    },
                    "SMEM, misaligned address",
                    SysError::BadAddress,
                );
            }
            19 => {
                let addr = self.arena.zone().data();
                self.smem_bad(
                    SmemCreateArgs {
                        addr_hint: addr,
                        len: 4096,
                        prot: 3,
                        flags: SmemCreateFlags::FIXED.bits(),
                    },
                    "FIXED SMEM over the arena",
                    SysError::Exists,
                );
            }
            20 => {
                let len = self.rng.pick(&[(256 << 20) + 4096, 1 << 40]);
                self.smem_bad(
                    SmemCreateArgs {
                        addr_hint: 0,
                        len,
                        prot: 3,
                        flags: 0,
                    },
                    "SMEM too large",
                    SysError::NoMemory,
                );
            }
            21 => self.smem_bad(
                SmemCreateArgs {
                    addr_hint: 0,
                    len: USER_END + 4096,
                    prot: 3,
                    flags: 0,
                },
                "SMEM past user space",
                SysError::BadLength,
            ),
            22 => {
                let (entry, stack_top) = match self.rng.below(4) {
                    0 => (0, self.spin_stack_top),
                    1 => (0xffff_ffff_8010_0000, self.spin_stack_top),
                    2 => (0x20_0000, self.spin_stack_top + 8),
                    _ => (0x20_0000, 0),
                };
                let args = ScpuCreateArgs {
                    entry,
                    stack_top,
                    arg: 0,
                    priority: 0,
                    quantum_us: 0,
                }
                .to_bytes();
                let ptr = args.as_ptr() as u64;
                self.create_raw(
                    1,
                    ptr,
                    32,
                    (0, 0),
                    "SCPU, bad entry or stack",
                    Expect::Err(SysError::BadAddress),
                );
            }
            23 => {
                let (path, want): (&str, SysError) = match self.rng.below(3) {
                    0 => ("/bin/nonexistent", SysError::NotFound),
                    1 => ("/dev/zero", SysError::NotFound),
                    _ => ("/bin/nonexistent2", SysError::NotFound),
                };
                let args = SmachCreateArgs {
                    path_ptr: path.as_ptr() as u64,
                    path_len: path.len() as u64,
                    arg: 0,
                    flags: 0,
                    _pad: 0,
                }
                .to_bytes();
                let ptr = args.as_ptr() as u64;
                self.create_raw(
                    0,
                    ptr,
                    32,
                    (
                        path.as_ptr() as u64,
                        path.as_ptr() as u64 + path.len() as u64,
                    ),
                    "SMACH of a missing program",
                    Expect::Err(want),
                );
            }
            24 => {
                let path = SYSFUZZ;
                let (flags, pad) = if self.rng.percent(50) { (1, 0) } else { (0, 1) };
                let args = SmachCreateArgs {
                    path_ptr: path.as_ptr() as u64,
                    path_len: path.len() as u64,
                    arg: 0,
                    flags,
                    _pad: pad,
                }
                .to_bytes();
                let ptr = args.as_ptr() as u64;
                self.create_raw(
                    0,
                    ptr,
                    32,
                    (
                        path.as_ptr() as u64,
                        path.as_ptr() as u64 + path.len() as u64,
                    ),
                    "SMACH, bad flags",
                    Expect::Err(SysError::BadFlags),
                );
            }
            25 => {
                // Query: unknown selector, short buffer, bad buffer.
                let Some(handle) = self.live_handle() else {
                    return;
                };
                let mut out = [0_u8; 64];
                let ptr = out.as_mut_ptr() as u64;
                let cell = self.cell_of(handle, Call::Query);
                let (args, want) = match self.rng.below(4) {
                    0 => ([3 + self.rng.below(100), ptr, 64], SysError::BadSelector),
                    1 => ([0, ptr, self.rng.below(24)], SysError::BadLength),
                    2 => ([0, self.non_user_addr(), 64], SysError::BadAddress),
                    _ => ([0, self.unmapped_addr(), 64], SysError::BadAddress),
                };
                let _ = self.sys(
                    word(handle, Call::Query),
                    &args,
                    [(ptr, ptr + 64), (args[1], args[1].saturating_add(64))],
                    cell,
                    "query, bad arguments",
                    Expect::Err(want),
                );
            }
            26 => {
                // Routines and LastTrace where they do not apply.
                let Some(handle) = self.live_handle_where(|o| {
                    !matches!(o, Obj::TwinHalf | Obj::Sio | Obj::Stray | Obj::Smach(_))
                }) else {
                    return;
                };
                let mut out = [0_u8; 64];
                let ptr = out.as_mut_ptr() as u64;
                let selector = if self.rng.percent(50) {
                    QuerySelector::Routines
                } else {
                    QuerySelector::LastTrace
                };
                let cell = self.cell_of(handle, Call::Query);
                let _ = self.sys(
                    word(handle, Call::Query),
                    &[u64::from(selector), ptr, 64],
                    [(ptr, ptr + 64), (0, 0)],
                    cell,
                    "query, selector of another kind",
                    Expect::Err(SysError::WrongKind),
                );
            }
            27 => {
                // Reconfigure: unknown selector, bad values.
                let Some(handle) = self.live_handle() else {
                    return;
                };
                let kind = self.kind_of(handle);
                let cell = self.cell_of(handle, Call::Reconfigure);
                let (args, want) = match (kind, self.rng.below(3)) {
                    (_, 0) => (
                        [5 + self.rng.below(1000), 0, 0],
                        Expect::Err(SysError::BadSelector),
                    ),
                    (Some(Kind::Sio), 1) => (
                        [0, 3 + self.rng.below(100), 0],
                        Expect::Err(SysError::BadValue),
                    ),
                    (Some(Kind::Sio), _) if handle != crate::fuzzer::CONSOLE => {
                        ([1, 0, 0], Expect::Err(SysError::WrongKind))
                    }
                    (Some(Kind::Sio), _) => ([0, 7, 0], Expect::Err(SysError::BadValue)),
                    (Some(Kind::Smem), _) => (
                        [0, 8 | self.rng.below(1 << 20) << 3, 0],
                        Expect::Err(SysError::BadFlags),
                    ),
                    (Some(Kind::Scpu), _) => ([3, 0, 0], Expect::Err(SysError::BadValue)),
                    _ => ([2, 1 << 32, 0], Expect::Err(SysError::BadValue)),
                };
                let _ = self.sys(
                    word(handle, Call::Reconfigure),
                    &args,
                    [(0, 0); 2],
                    cell,
                    "reconfigure, bad arguments",
                    want,
                );
            }
            28 => {
                // A directory is read as nothing but an error; a file is not a tty.
                let Some(handle) = self.live_handle_where(|o| matches!(o, Obj::TwinHalf)) else {
                    return;
                };
                let cell = self.cell_of(handle, Call::Reconfigure);
                let _ = self.sys(
                    word(handle, Call::Reconfigure),
                    &[1, 1, 0],
                    [(0, 0); 2],
                    cell,
                    "tty mode on a non-tty",
                    Expect::Err(SysError::WrongKind),
                );
            }
            _ => {
                // Create on an object that is not this SMACH: an SIO, SMEM
                // or SCPU handle is the wrong kind (counted as not live).
                let Some(handle) =
                    self.live_handle_where(|o| !matches!(o, Obj::Smach(_) | Obj::Stray))
                else {
                    return;
                };
                let args = SmemCreateArgs {
                    addr_hint: 0,
                    len: 4096,
                    prot: 3,
                    flags: 0,
                }
                .to_bytes();
                let ptr = args.as_ptr() as u64;
                let kind = self.kind_of(handle);
                let got = self.sys(
                    word(handle, Call::Create),
                    &[2, ptr, 24],
                    [(ptr, ptr + 24), (0, 0)],
                    Cell::new(Call::Create, kind, false),
                    "create on a non-SMACH",
                    Expect::Err(SysError::WrongKind),
                );
                self.stray(got);
            }
        }
    }

    /// An SMEM `create` that must fail with `want`.
    fn smem_bad(&mut self, args: SmemCreateArgs, what: &str, want: SysError) {
        let bytes = args.to_bytes();
        let ptr = bytes.as_ptr() as u64;
        self.create_raw(2, ptr, 24, (0, 0), what, Expect::Err(want));
    }

    /// A random live handle of this fuzzer (any kind but its arena), or
    /// handle 0 or 1.
    fn live_handle(&mut self) -> Option<u32> {
        if self.rng.percent(20) {
            return Some(self.rng.below_u32(2));
        }
        self.live_handle_where(|o| !matches!(o, Obj::Arena | Obj::Stray))
    }

    /// A random live handle `pick` says yes to.
    fn live_handle_where(&mut self, pick: impl Fn(&Obj) -> bool) -> Option<u32> {
        let (handles, n) = self.objects.handles_where(pick);
        if n == 0 {
            return None;
        }
        handles.get(self.rng.index(n)).copied()
    }

    /// A call that names no live object of the right kind.
    pub(crate) fn garbage_op(&mut self) {
        let buf = self.arena.zone().buf_a();
        let path_bit = if self.rng.percent(50) {
            CallWord::FORCE_GENERIC
        } else {
            0
        };
        match self.rng.below(6) {
            0 => {
                // Call number 7 on any handle.
                let handle = self.rng.below_u32(80);
                let w = word(handle, Call::Null) | 7 | path_bit;
                let _ = self.sys(
                    w,
                    &[buf, 8, 0],
                    [(buf, buf + 8), (0, 0)],
                    Cell::garbage(),
                    "call 7",
                    Expect::Err(SysError::BadCall),
                );
            }
            1 => {
                // A handle no table reaches.
                let handle = FAR_HANDLE + self.rng.below_u32(1 << 20);
                let call = Call::from_number(self.rng.below(6)).unwrap_or(Call::Query);
                let args = match call {
                    Call::Create => [3, buf, 24],
                    Call::Query => [0, buf, 24],
                    _ => [buf, 8, 0],
                };
                let _ = self.sys(
                    word(handle, call) | path_bit,
                    &args,
                    [(buf, buf + 24), (0, 0)],
                    Cell::new(call, None, false),
                    "far handle",
                    Expect::Err(SysError::BadHandle),
                );
            }
            2 => {
                // A handle past 32 bits.
                let call = self.rng.below(7);
                let w = ((1 + self.rng.below(1 << 20)) << 35) | call | path_bit;
                let want = SysError::BadHandle;
                let cell =
                    Call::from_number(call).map_or(Cell::garbage(), |c| Cell::new(c, None, false));
                let args = if call == 3 {
                    [0, buf, 24]
                } else if call == 0 {
                    [3, buf, 24]
                } else {
                    [buf, 8, 0]
                };
                let _ = self.sys(
                    w,
                    &args,
                    [(buf, buf + 24), (0, 0)],
                    cell,
                    "handle past 32 bits",
                    Expect::Err(want),
                );
            }
            3 => {
                // A random word.
                let w = self.rng.next_u64();
                let plain = w & !CallWord::FORCE_GENERIC;
                let want = if plain & 7 == 7 {
                    SysError::BadCall
                } else {
                    SysError::BadHandle
                };
                if plain >> 3 <= u64::from(u32::MAX) {
                    return;
                }
                let _ = self.sys(
                    w,
                    &[0, buf, 24],
                    [(buf, buf + 24), (0, 0)],
                    Cell::garbage(),
                    "random word",
                    Expect::Err(want),
                );
            }
            4 => {
                // Read or write on a live object that is not an SIO.
                let Some(handle) = self.live_handle_where(|o| {
                    matches!(o, Obj::Smem(_) | Obj::Scpu(_) | Obj::Smach(_) | Obj::Arena)
                }) else {
                    let _ = self.sys(
                        word(SELF, Call::Read) | path_bit,
                        &[buf, 8],
                        [(buf, buf + 8), (0, 0)],
                        self.cell_of(SELF, Call::Read),
                        "read on an SMACH",
                        Expect::Err(SysError::WrongKind),
                    );
                    return;
                };
                let call = if self.rng.percent(50) {
                    Call::Read
                } else {
                    Call::Write
                };
                let cell = self.cell_of(handle, call);
                let _ = self.sys(
                    word(handle, call) | path_bit,
                    &[buf, 8],
                    [(buf, buf + 8), (0, 0)],
                    cell,
                    "read/write on a non-SIO",
                    Expect::Err(SysError::WrongKind),
                );
            }
            _ => {
                // The null call on another handle: the same answer on both
                // paths.
                let handle = 1 + self.rng.below_u32(100);
                let cell = Cell::new(Call::Null, self.kind_of(handle), false);
                let a = self.sys(
                    word(handle, Call::Null),
                    &[],
                    [(0, 0); 2],
                    cell,
                    "null on another handle",
                    Expect::Is(Ok(0)),
                );
                let b = self.sys(
                    generic(word(handle, Call::Null)),
                    &[],
                    [(0, 0); 2],
                    cell,
                    "null on another handle (FORCE_GENERIC)",
                    Expect::Is(Ok(0)),
                );
                if a != b {
                    self.fail(
                        "twin null",
                        format_args!("handle {handle}: normal {a:?}, generic {b:?}"),
                    );
                }
            }
        }
    }
}
