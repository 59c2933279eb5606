//! Bad arguments to calls on live handles: `query` with an unknown
//! selector, a short or bad buffer, or a selector of another kind;
//! `reconfigure` with an unknown selector or bad values; a tty mode on a
//! non-tty; `create` on an object that is not an SMACH.

use sk_abi::{Call, Kind, QuerySelector, SmemCreateArgs, SysError};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{word, Expect, Fuzzer, Obj};

impl Fuzzer<'_> {
    /// A call on a live handle with a bad argument (`draw` 25 to 29).
    pub(super) fn bad_call_on_live_object(&mut self, draw: u64) {
        match draw {
            25 => {
                // Query: unknown selector, short buffer, bad buffer.
                let Some(handle) = self.live_handle() else {
                    return;
                };
                let mut out = [0_u8; 64];
                let ptr = out.as_mut_ptr() as u64;
                let cell = self.cell_of(handle, Call::Query);
                let (args, want) = match self.rng.below(4) {
                    // (Selectors up to 7 are taken or pre-assigned.)
                    0 => ([8 + self.rng.below(100), ptr, 64], SysError::BadSelector),
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
                // Routines and LastTrace where they do not apply (Routines
                // applies to SIOs and SCPUs, LastTrace to the own SMACH).
                let Some(handle) = self.live_handle_where(|o| {
                    !matches!(o, Obj::TwinHalf | Obj::Sio | Obj::Stray | Obj::Smach(_))
                }) else {
                    return;
                };
                let mut out = [0_u8; 64];
                let ptr = out.as_mut_ptr() as u64;
                // Routines applies to SCPUs too (their switch code).
                let routines = self.rng.percent(50);
                let selector = if routines && self.kind_of(handle) != Some(Kind::Scpu) {
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
                if kind == Some(Kind::Sio) && self.rng.percent(30) {
                    self.bad_share_or_revoke(handle);
                    return;
                }
                let cell = self.cell_of(handle, Call::Reconfigure);
                let (args, want) = match (kind, self.rng.below(3)) {
                    (_, 0) => (
                        // Past every selector assigned (SioSelector 13 is the
                        // highest: a directory's Remove).
                        [14 + self.rng.below(1000), 0, 0],
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
            // 29
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

    /// `Share` with bad arguments on this fuzzer's own SIO at `handle`,
    /// or `Revoke` of one never shared (sharing and revocation, issue 11):
    /// each has its one error, or revokes nothing.
    fn bad_share_or_revoke(&mut self, handle: u32) {
        const SHARE: u64 = 2;
        const REVOKE: u64 = 3;
        let (args, want) = match self.rng.below(5) {
            // With itself (handle 0): never.
            0 => (
                [SHARE, 0, 1 + self.rng.below(3)],
                Expect::Err(SysError::NotPermitted),
            ),
            // No rights, or bits other than READ | WRITE.
            1 => {
                let rights = if self.rng.percent(30) {
                    0
                } else {
                    self.rng.below(4) | (4 << self.rng.below(60))
                };
                ([SHARE, 0, rights], Expect::Err(SysError::BadFlags))
            }
            // An SMACH handle past 32 bits.
            2 => (
                [SHARE, (1 << 32) | self.rng.below(1 << 20), 1],
                Expect::Err(SysError::BadHandle),
            ),
            // An SIO (this one) where the SMACH belongs.
            3 => (
                [SHARE, u64::from(handle), 1],
                Expect::Err(SysError::WrongKind),
            ),
            // Nothing was ever shared: nothing to revoke.
            _ => ([REVOKE, self.rng.next_u64(), 0], Expect::Is(Ok(0))),
        };
        let cell = self.cell_of(handle, Call::Reconfigure);
        let _ = self.sys(
            word(handle, Call::Reconfigure),
            &args,
            [(0, 0); 2],
            cell,
            "share or revoke, bad arguments",
            want,
        );
    }
}
