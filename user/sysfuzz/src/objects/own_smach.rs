//! Calls a fuzzer makes on its own SMACH (handle 0): null, query, priority
//! (which sets every SCPU of the SMACH, other fuzzers' spinners too:
//! counted on the [`PRIORITY_CLOCK`]), and the requests an SMACH may not
//! make of itself.

use sk_abi::{Call, Kind, QuerySelector, SmachInfo, SmachReconfigure, SmachState, SysError};
use sk_user_sysfuzz::priority::ScpuPriority;
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{word, Expect, Fuzzer, Obj, SELF};

use super::PRIORITY_CLOCK;

impl Fuzzer<'_> {
    /// Calls on the fuzzer's own SMACH: null, query, priority, and the
    /// requests an SMACH may not make of itself.
    pub(crate) fn self_op(&mut self) {
        let cell = |call| Cell::new(call, Some(Kind::Smach), true);
        let mut out = [0_u8; 64];
        let ptr = out.as_mut_ptr() as u64;
        let path_bit = if self.rng.percent(40) {
            sk_abi::CallWord::FORCE_GENERIC
        } else {
            0
        };
        match self.rng.below(10) {
            0..=3 => {
                let _ = self.sys(
                    word(SELF, Call::Null) | path_bit,
                    &[],
                    [(0, 0); 2],
                    cell(Call::Null),
                    "null",
                    Expect::Is(Ok(0)),
                );
            }
            4 | 5 => {
                let len = [32, 33, 64][self.rng.index(3)];
                if self
                    .sys(
                        word(SELF, Call::Query) | path_bit,
                        &[0, ptr, len],
                        [(ptr, ptr + len), (0, 0)],
                        cell(Call::Query),
                        "query self",
                        Expect::Is(Ok(32)),
                    )
                    .is_ok()
                {
                    let info = SmachInfo::from_bytes(out.get(..32).unwrap_or_default()).ok();
                    if info
                        .is_none_or(|i| i.state() != Ok(SmachState::Running) || i.handle_count < 2)
                    {
                        self.fail("query self", format_args!("{info:?}"));
                    }
                }
            }
            6 => {
                // Sets the priority of every SCPU of the SMACH, the other
                // fuzzers' spinners too: counted (see `priority`).
                let p = self.rng.below_u32(8);
                PRIORITY_CLOCK.start();
                let got = self.sys(
                    word(SELF, Call::Reconfigure) | path_bit,
                    &SmachReconfigure::Priority(p).to_registers(),
                    [(0, 0); 2],
                    cell(Call::Reconfigure),
                    "priority self",
                    Expect::Is(Ok(0)),
                );
                PRIORITY_CLOCK.finish();
                if self.solo && got == Ok(0) {
                    // No other SCPU of the SMACH makes calls: this call
                    // was the last to set the priorities, exactly.
                    let since = PRIORITY_CLOCK.finished();
                    let in_child = self.in_child();
                    let (handles, n) = self.objects.handles_where(|o| matches!(o, Obj::Scpu(_)));
                    for &handle in handles.iter().take(n) {
                        if let Some(Obj::Scpu(o)) = self.objects.get_mut(handle) {
                            o.priority = ScpuPriority::asked(p, since, in_child);
                        }
                    }
                }
            }
            7 => {
                let request = [
                    SmachReconfigure::Suspend,
                    SmachReconfigure::Resume,
                    SmachReconfigure::Wait,
                ][self.rng.index(3)];
                let _ = self.sys(
                    word(SELF, Call::Reconfigure) | path_bit,
                    &request.to_registers(),
                    [(0, 0); 2],
                    cell(Call::Reconfigure),
                    "suspend/resume/wait self",
                    Expect::Err(SysError::Busy),
                );
            }
            8 => {
                let _ = self.sys(
                    word(SELF, Call::Query) | path_bit,
                    &[u64::from(QuerySelector::LastTrace), 0, 0],
                    [(0, 0); 2],
                    cell(Call::Query),
                    "query last trace",
                    Expect::Ok,
                );
            }
            _ => {
                let priority = 8 + self.rng.below_u32(100);
                let _ = self.sys(
                    word(SELF, Call::Reconfigure) | path_bit,
                    &SmachReconfigure::Priority(priority).to_registers(),
                    [(0, 0); 2],
                    cell(Call::Reconfigure),
                    "priority self too high",
                    Expect::Err(SysError::BadValue),
                );
            }
        }
    }
}
