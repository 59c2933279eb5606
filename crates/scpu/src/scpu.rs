//! One SCPU: state, scheduling parameters, and its calls' semantics.
//!
//! Owns [`Scpu`], [`UserStart`] and [`Transition`].

use sk_abi::{ScpuCreate, ScpuInfo, ScpuReconfigure, ScpuState, SysError};
use sk_sched::{clamp_quantum_us, DEFAULT_PRIORITY, DEFAULT_QUANTUM_US, MAX_PRIORITY};

/// Most SCPUs one SMACH may have.
pub const MAX_SCPUS_PER_SMACH: usize = 64;

/// Where a user SCPU starts: entry point, stack top, argument (`rdi`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserStart {
    /// First instruction.
    pub entry: u64,
    /// Initial stack pointer.
    pub stack_top: u64,
    /// Argument in `rdi`.
    pub arg: u64,
}

/// What the scheduler must do after a call changed an SCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    /// Nothing.
    None,
    /// Take it off the ready queue (suspended).
    Unready,
    /// Put it on the ready queue (resumed).
    Ready,
}

/// An SCPU as its calls see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scpu {
    id: u64,
    smach: Option<u64>,
    state: ScpuState,
    priority: u32,
    quantum_us: u32,
    start: Option<UserStart>,
}

impl Scpu {
    /// A user SCPU of `smach` as `args` asks (the generic `create`).
    ///
    /// # Errors
    /// [`SysError::BadValue`] for a priority above 7.
    pub fn new_user(id: u64, smach: u64, args: &ScpuCreate) -> Result<Self, SysError> {
        if args.priority > MAX_PRIORITY {
            return Err(SysError::BadValue);
        }
        Ok(Self {
            id,
            smach: Some(smach),
            state: ScpuState::Ready,
            priority: args.priority,
            quantum_us: clamp_quantum_us(args.quantum_us),
            start: Some(UserStart {
                entry: args.entry,
                stack_top: args.stack_top,
                arg: args.arg,
            }),
        })
    }

    /// A kernel thread (no SMACH, no user start), in `state`.
    pub fn new_kernel(id: u64, state: ScpuState, priority: u32) -> Self {
        Self {
            id,
            smach: None,
            state,
            priority: priority.min(MAX_PRIORITY),
            quantum_us: DEFAULT_QUANTUM_US,
            start: None,
        }
    }

    /// The main SCPU of a new SMACH.
    pub fn new_main(id: u64, smach: u64, start: UserStart) -> Self {
        Self {
            id,
            smach: Some(smach),
            state: ScpuState::Ready,
            priority: DEFAULT_PRIORITY,
            quantum_us: DEFAULT_QUANTUM_US,
            start: Some(start),
        }
    }

    /// Its id.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The SMACH it belongs to (None: a kernel thread).
    pub fn smach(&self) -> Option<u64> {
        self.smach
    }

    /// Attaches a kernel thread to a SMACH (kernel tests call on its
    /// behalf), or detaches it.
    pub fn set_smach(&mut self, smach: Option<u64>) {
        self.smach = smach;
    }

    /// Its state.
    pub fn state(&self) -> ScpuState {
        self.state
    }

    /// Sets its state (the scheduler's transitions).
    pub fn set_state(&mut self, state: ScpuState) {
        self.state = state;
    }

    /// Its priority.
    pub fn priority(&self) -> u32 {
        self.priority
    }

    /// Its quantum in force, in microseconds.
    pub fn quantum_us(&self) -> u32 {
        self.quantum_us
    }

    /// Where it starts in user mode.
    pub fn user_start(&self) -> Option<UserStart> {
        self.start
    }

    /// The generic `reconfigure`; `is_current` if the caller is this SCPU.
    ///
    /// # Errors
    /// [`SysError::BadValue`] for a priority above 7;
    /// [`SysError::Busy`] for suspending oneself;
    /// [`SysError::NotPermitted`] for yield or sleep on another SCPU.
    pub fn reconfigure(
        &mut self,
        request: ScpuReconfigure,
        is_current: bool,
    ) -> Result<Transition, SysError> {
        match request {
            ScpuReconfigure::Priority(p) if p <= MAX_PRIORITY => {
                self.priority = p;
                Ok(Transition::None)
            }
            ScpuReconfigure::Priority(_) => Err(SysError::BadValue),
            ScpuReconfigure::Quantum { quantum_us } => {
                self.quantum_us = clamp_quantum_us(quantum_us);
                Ok(Transition::None)
            }
            ScpuReconfigure::Suspend if is_current => Err(SysError::Busy),
            ScpuReconfigure::Suspend => {
                if self.state == ScpuState::Exited {
                    return Ok(Transition::None);
                }
                self.state = ScpuState::Suspended;
                Ok(Transition::Unready)
            }
            ScpuReconfigure::Resume if self.state == ScpuState::Suspended => {
                self.state = ScpuState::Ready;
                Ok(Transition::Ready)
            }
            ScpuReconfigure::Resume => Ok(Transition::None),
            // The scheduler does the waiting (the kernel's
            // `scpu_calls::yield_or_sleep`); here only the rule.
            ScpuReconfigure::Yield | ScpuReconfigure::Sleep { .. } if is_current => {
                Ok(Transition::None)
            }
            ScpuReconfigure::Yield | ScpuReconfigure::Sleep { .. } => Err(SysError::NotPermitted),
        }
    }

    /// What `query` reports.
    pub fn info(&self) -> ScpuInfo {
        ScpuInfo {
            state: self.state.number(),
            priority: self.priority,
            quantum_us: self.quantum_us,
            _pad: 0,
            id: self.id,
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use sk_sched::MAX_QUANTUM_US;

    fn args(priority: u32, quantum_us: u32) -> ScpuCreate {
        ScpuCreate {
            entry: 0x40_0000,
            stack_top: 0x50_0000,
            arg: 9,
            priority,
            quantum_us,
        }
    }

    #[test]
    fn create_validates_and_clamps() {
        assert_eq!(Scpu::new_user(1, 2, &args(8, 0)), Err(SysError::BadValue));
        let s = Scpu::new_user(1, 2, &args(7, u32::MAX)).unwrap();
        assert_eq!(
            s.quantum_us(),
            MAX_QUANTUM_US,
            "an unbounded quantum is clamped"
        );
        assert_eq!(s.info().quantum_us, MAX_QUANTUM_US);
        assert_eq!(
            Scpu::new_user(1, 2, &args(0, 0)).unwrap().quantum_us(),
            DEFAULT_QUANTUM_US
        );
        assert_eq!(s.user_start().map(|u| u.arg), Some(9));
    }

    #[test]
    fn reconfigure_follows_the_state_machine() {
        let mut s = Scpu::new_user(1, 2, &args(3, 1000)).unwrap();
        assert_eq!(
            s.reconfigure(ScpuReconfigure::Suspend, true),
            Err(SysError::Busy)
        );
        assert_eq!(
            s.reconfigure(ScpuReconfigure::Suspend, false),
            Ok(Transition::Unready)
        );
        assert_eq!(s.state(), ScpuState::Suspended);
        assert_eq!(
            s.reconfigure(ScpuReconfigure::Resume, false),
            Ok(Transition::Ready)
        );
        assert_eq!(
            s.reconfigure(ScpuReconfigure::Resume, false),
            Ok(Transition::None)
        );
        assert_eq!(
            s.reconfigure(ScpuReconfigure::Priority(9), false),
            Err(SysError::BadValue)
        );
        assert_eq!(
            s.reconfigure(
                ScpuReconfigure::Quantum {
                    quantum_us: u32::MAX
                },
                false
            ),
            Ok(Transition::None)
        );
        assert_eq!(s.quantum_us(), MAX_QUANTUM_US);
        s.set_state(ScpuState::Exited);
        assert_eq!(
            s.reconfigure(ScpuReconfigure::Suspend, false),
            Ok(Transition::None)
        );
        assert_eq!(s.state(), ScpuState::Exited);
    }
}
