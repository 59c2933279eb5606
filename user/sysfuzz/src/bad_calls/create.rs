//! Bad `create` arguments checked before the fields (no such kind, the
//! wrong struct size, the struct at a bad address), and bad SCPU and SMACH
//! fields.

use sk_abi::{Call, Kind, ScpuCreateArgs, SmachCreateArgs, SysError};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{word, Expect, Fuzzer, SELF};
use crate::objects::SYSFUZZ;

impl Fuzzer<'_> {
    /// `create` on handle 0 with these argument bytes at `ptr`/`len`,
    /// wanting `want`; a success is tracked (and closed later).
    pub(super) fn create_raw(
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

    /// `create` with no such kind, the wrong struct size, or the struct at a
    /// bad address (`draw` 0 to 2).
    pub(super) fn bad_create_header(&mut self, draw: u64) {
        match draw {
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
            // 2
            _ => {
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
        }
    }

    /// An SCPU `create` with a bad entry point or stack.
    pub(super) fn bad_scpu_create(&mut self) {
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

    /// An SMACH `create` of a missing program, or with bad flags (`draw` 23
    /// or 24).
    pub(super) fn bad_smach_create(&mut self, draw: u64) {
        match draw {
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
            // 24
            _ => {
                let path = SYSFUZZ;
                // Bit 0 is SUSPENDED, bit 1 LINUX: bit 2 is undefined.
                let (flags, pad) = if self.rng.percent(50) { (4, 0) } else { (0, 1) };
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
        }
    }
}
