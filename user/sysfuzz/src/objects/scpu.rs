//! SCPUs a fuzzer makes: threads that spin on a stack they never touch,
//! suspended at once (mostly), then reconfigured, queried and killed. The
//! model keeps each one's state, priority (exact unless another fuzzer of
//! the SMACH may have set every SCPU's: [`sk_user_sysfuzz::priority`]) and
//! quantum (as the kernel clamped it).
//!
//! Owns [`ScpuObj`] and the SCPU operations and lifecycle.

use sk_abi::{Call, Kind, ScpuCreateArgs, ScpuInfo, ScpuReconfigure, ScpuState, SysError};
use sk_user_sysfuzz::priority::{self, ScpuPriority};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer, Obj, SELF};

use super::PRIORITY_CLOCK;

/// Most spinning SCPUs a fuzzer keeps at once.
const MAX_SCPUS: usize = 2;

/// A spinning SCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScpuObj {
    pub(crate) suspended: bool,
    pub(crate) priority: ScpuPriority,
    /// `None` until the kernel says (it clamps what was asked).
    pub(crate) quantum: Option<u32>,
}

/// A thread that spins and touches no memory: the SCPUs the fuzzer makes.
/// (No `pause`: QEMU's TCG leaves its execution loop on every one.)
#[unsafe(naked)]
extern "C" fn spin(_arg: u64) -> ! {
    core::arch::naked_asm!("2:", "jmp 2b")
}

impl Fuzzer<'_> {
    /// Starts a spinning SCPU (suspended at once, mostly).
    fn create_scpu(&mut self) -> Option<u32> {
        let priority = self.rng.below_u32(8);
        let quantum = [0, 100, 1000, 100_000][self.rng.index(4)];
        let args = ScpuCreateArgs {
            entry: spin as *const () as u64,
            stack_top: self.spin_stack_top,
            arg: self.rng.next_u64(),
            priority,
            quantum_us: quantum,
        }
        .to_bytes();
        let ptr = args.as_ptr() as u64;
        let predicted = self.next_handle();
        let since = PRIORITY_CLOCK.finished();
        let got = self.sys(
            word(SELF, Call::Create),
            &[u64::from(Kind::Scpu), ptr, 32],
            [(ptr, ptr + 32), (0, 0)],
            Cell::new(Call::Create, Some(Kind::Scpu), true),
            "create SCPU",
            Expect::Ok,
        );
        let handle = self.check_new_handle("create SCPU", predicted, got.ok()?)?;
        let obj = ScpuObj {
            suspended: false,
            // 0 is the lowest priority, not a default.
            priority: ScpuPriority::asked(priority, since, self.in_child()),
            quantum: None,
        };
        if !self.objects.insert(handle, Obj::Scpu(obj)) {
            self.close_untracked(handle, Kind::Scpu);
            return None;
        }
        // A spinner that runs takes CPU time from every fuzzer: suspended
        // at once (it runs only if this thread is preempted before that).
        self.scpu_reconfigure(handle, ScpuReconfigure::Suspend);
        Some(handle)
    }

    /// Reconfigures an SCPU and updates its model.
    fn scpu_reconfigure(&mut self, handle: u32, request: ScpuReconfigure) {
        let want = match request {
            ScpuReconfigure::Priority(p) if p > 7 => Err(SysError::BadValue),
            ScpuReconfigure::Quantum { quantum_us: 0 } => Err(SysError::BadValue),
            // Every SCPU the fuzzer holds a handle to is another thread:
            // yield and sleep act on the caller only.
            ScpuReconfigure::Yield | ScpuReconfigure::Sleep { .. } => Err(SysError::NotPermitted),
            _ => Ok(0),
        };
        let mut w = word(handle, Call::Reconfigure);
        if self.rng.percent(30) {
            w = generic(w);
        }
        let cell = self.cell_of(handle, Call::Reconfigure);
        let since = PRIORITY_CLOCK.finished();
        let got = self.sys(
            w,
            &request.to_registers(),
            [(0, 0); 2],
            cell,
            "reconfigure SCPU",
            Expect::Is(want),
        );
        let in_child = self.in_child();
        if got.is_ok() {
            if let Some(Obj::Scpu(o)) = self.objects.get_mut(handle) {
                match request {
                    ScpuReconfigure::Suspend => o.suspended = true,
                    ScpuReconfigure::Resume => o.suspended = false,
                    ScpuReconfigure::Priority(value) => {
                        o.priority = ScpuPriority::asked(value, since, in_child);
                    }
                    ScpuReconfigure::Quantum { .. } => o.quantum = None,
                    ScpuReconfigure::Yield | ScpuReconfigure::Sleep { .. } => {}
                }
            }
        }
    }

    /// Queries an SCPU and checks its state, priority and quantum.
    fn query_scpu(&mut self, handle: u32) {
        let Some(Obj::Scpu(obj)) = self.objects.get(handle) else {
            return;
        };
        let mut out = [0_u8; 24];
        let ptr = out.as_mut_ptr() as u64;
        let cell = self.cell_of(handle, Call::Query);
        let finished_before = PRIORITY_CLOCK.finished();
        let got = self.sys(
            word(handle, Call::Query),
            &[0, ptr, 24],
            [(ptr, ptr + 24), (0, 0)],
            cell,
            "query SCPU",
            Expect::Is(Ok(24)),
        );
        let started_after = PRIORITY_CLOCK.started();
        if got.is_err() {
            return;
        }
        let Ok(info) = ScpuInfo::from_bytes(&out) else {
            return;
        };
        let priority =
            priority::check_query(obj.priority, info.priority, finished_before, started_after);
        let state = info.state();
        let state_ok = if obj.suspended {
            state == Ok(ScpuState::Suspended)
        } else {
            matches!(state, Ok(ScpuState::Ready | ScpuState::Running))
        };
        let quantum_ok = obj.quantum.is_none_or(|q| q == info.quantum_us)
            && (100..=100_000).contains(&info.quantum_us);
        if !state_ok || priority.is_none() || !quantum_ok {
            self.fail(
                "query SCPU",
                format_args!(
                    "{info:?}, model {obj:?} (priority-self calls: {started_after} started)"
                ),
            );
        }
        if let Some(Obj::Scpu(o)) = self.objects.get_mut(handle) {
            o.quantum = Some(info.quantum_us);
            if let Some(priority) = priority {
                o.priority = priority;
            }
        }
    }

    /// One drawn SCPU operation.
    pub(crate) fn scpu_op(&mut self) {
        let count = self.handles_of(|o| matches!(o, Obj::Scpu(_))).1;
        let draw = self.rng.below(100);
        if count == 0 || (draw < 15 && count < MAX_SCPUS && self.objects.has_room(1)) {
            self.create_scpu();
            return;
        }
        let Some(handle) = self.pick_handle(|o| matches!(o, Obj::Scpu(_))) else {
            return;
        };
        match draw {
            0..=39 => self.query_scpu(handle),
            40..=79 => {
                let request = match self.rng.below(8) {
                    0 => ScpuReconfigure::Suspend,
                    1 => ScpuReconfigure::Resume,
                    2 => ScpuReconfigure::Priority(self.rng.below_u32(10)),
                    3 => ScpuReconfigure::Quantum {
                        quantum_us: self.rng.pick_u32(&[0, 1, 100, 5000, 200_000]),
                    },
                    4 => ScpuReconfigure::Yield,
                    5 => ScpuReconfigure::Sleep {
                        ns: self.rng.below(1_000_000),
                    },
                    _ => ScpuReconfigure::Suspend,
                };
                self.scpu_reconfigure(handle, request);
                // A running spinner takes CPU from the fuzzers: not for long.
                if request == ScpuReconfigure::Resume {
                    self.query_scpu(handle);
                    self.scpu_reconfigure(handle, ScpuReconfigure::Suspend);
                }
            }
            _ => self.end_scpu(handle),
        }
    }

    /// Terminates a spinning SCPU.
    pub(crate) fn end_scpu(&mut self, handle: u32) {
        let cell = self.cell_of(handle, Call::Terminate);
        let value = self.rng.next_u64();
        let _ = self.sys(
            word(handle, Call::Terminate),
            &[value],
            [(0, 0); 2],
            cell,
            "terminate SCPU",
            Expect::Is(Ok(0)),
        );
        self.objects.remove(handle);
    }

    /// The SCPU lifecycle: start, suspend, query, resume, priority, query,
    /// kill.
    pub(crate) fn scpu_sequence(&mut self) {
        if self.handles_of(|o| matches!(o, Obj::Scpu(_))).1 >= MAX_SCPUS
            || !self.objects.has_room(1)
        {
            self.scpu_op();
            return;
        }
        let Some(handle) = self.create_scpu() else {
            return;
        };
        self.scpu_reconfigure(handle, ScpuReconfigure::Suspend);
        self.query_scpu(handle);
        self.scpu_reconfigure(handle, ScpuReconfigure::Resume);
        let priority = self.rng.below_u32(8);
        self.scpu_reconfigure(handle, ScpuReconfigure::Priority(priority));
        self.scpu_reconfigure(handle, ScpuReconfigure::Quantum { quantum_us: 100 });
        self.query_scpu(handle);
        self.scpu_reconfigure(handle, ScpuReconfigure::Suspend);
        self.end_scpu(handle);
    }
}
