//! Bad SMEM `create` arguments: no length, bad protection, a FIXED region
//! at 0 or over the arena, a misaligned address, too large, past user
//! space.

use sk_abi::{Prot, SmemCreateArgs, SmemCreateFlags, SysError, PAGE_SIZE, USER_END};

use crate::fuzzer::{Expect, Fuzzer};

impl Fuzzer<'_> {
    /// An SMEM `create` that must fail with `want`.
    fn smem_bad(&mut self, args: SmemCreateArgs, what: &str, want: SysError) {
        let bytes = args.to_bytes();
        let ptr = bytes.as_ptr() as u64;
        self.create_raw(2, ptr, 24, (0, 0), what, Expect::Err(want));
    }

    /// An SMEM `create` with a bad argument (`draw` 15 to 21).
    pub(super) fn bad_smem_create(&mut self, draw: u64) {
        match draw {
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
            // 21
            _ => self.smem_bad(
                SmemCreateArgs {
                    addr_hint: 0,
                    len: USER_END + 4096,
                    prot: 3,
                    flags: 0,
                },
                "SMEM past user space",
                SysError::BadLength,
            ),
        }
    }
}
