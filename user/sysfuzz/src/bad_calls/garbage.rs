//! Calls that name no live object of the right kind: an unknown call
//! number, a handle no table reaches or past 32 bits, a random call word,
//! read or write on a non-SIO, the null call on another handle (the same
//! answer on both paths).

use sk_abi::{Call, CallWord, SysError};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer, Obj, FAR_HANDLE, SELF};

impl Fuzzer<'_> {
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
