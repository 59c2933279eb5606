//! Child SMACHs a fuzzer makes: quick children (`sysfuzz` in its echo
//! mode, or `/bin/worker`) that end with a known status, child fuzzers,
//! victims and `hostile` children; each is queried, suspended, resumed,
//! waited for or killed, and must end with the status its role predicts.
//!
//! Owns [`SmachObj`], [`Role`] and the child operations and lifecycle.

use sk_abi::{
    Call, ExitStatus, Kind, SmachCreateArgs, SmachInfo, SmachReconfigure, SmachState, SysError,
};
use sk_user_sysfuzz::plan::{Mode, Plan};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{word, Expect, Fuzzer, Obj, SELF};

/// Most quick children a fuzzer keeps at once.
const MAX_CHILDREN: usize = 2;

/// The program of echo children (and of every `sysfuzz`).
pub(crate) const SYSFUZZ: &str = "/bin/sysfuzz";

/// A program that counts primes and exits with the count mod 200.
const WORKER: &str = "/bin/worker";

/// A child SMACH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SmachObj {
    /// The exit status it must end with (`None`: not predictable, e.g. a
    /// fuzzer child whose status the parent reads otherwise).
    pub(crate) status: Option<i32>,
    pub(crate) suspended: bool,
    /// What it is, for the parent's bookkeeping.
    pub(crate) role: Role,
}

/// What a child SMACH is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `sysfuzz` echo or `/bin/worker`: ends at once with a known status.
    Quick,
    /// A child fuzzer (its seed names its statistics file).
    Fuzzer(u64),
    /// A victim, to be killed.
    Victim,
    /// A `/bin/hostile` child and the status it must end with.
    Hostile(sk_user_sysfuzz::entries::Want),
}

impl Fuzzer<'_> {
    /// Starts `path` with `arg` as a child with `role`; returns its handle.
    pub(crate) fn spawn(
        &mut self,
        path: &str,
        arg: u64,
        role: Role,
        status: Option<i32>,
    ) -> Option<u32> {
        if !self.objects.has_room(1) {
            return None;
        }
        let args = SmachCreateArgs {
            path_ptr: path.as_ptr() as u64,
            path_len: path.len() as u64,
            arg,
            flags: 0,
            _pad: 0,
        }
        .to_bytes();
        let ptr = args.as_ptr() as u64;
        let predicted = self.next_handle();
        let got = self.sys(
            word(SELF, Call::Create),
            &[u64::from(Kind::Smach), ptr, 32],
            [
                (ptr, ptr + 32),
                (
                    path.as_ptr() as u64,
                    path.as_ptr() as u64 + path.len() as u64,
                ),
            ],
            Cell::new(Call::Create, Some(Kind::Smach), true),
            "create SMACH",
            Expect::Ok,
        );
        let handle = self.check_new_handle("create SMACH", predicted, got.ok()?)?;
        let obj = SmachObj {
            status,
            suspended: false,
            role,
        };
        if !self.objects.insert(handle, Obj::Smach(obj)) {
            self.close_untracked(handle, Kind::Smach);
            return None;
        }
        Some(handle)
    }

    /// A quick child: `sysfuzz` echoing a status, or `/bin/worker`.
    fn spawn_quick(&mut self) -> Option<u32> {
        if self.rng.percent(90) {
            let status = self.rng.below_u32(201);
            let plan = Plan {
                mode: Mode::Echo,
                seed: u64::from(status),
                calls: 1,
            };
            let want = i32::try_from(status).ok();
            self.spawn(SYSFUZZ, plan.to_arg(), Role::Quick, want)
        } else {
            let n = self.rng.below(64);
            self.spawn(WORKER, n, Role::Quick, Some(sk_user_worker::status(n)))
        }
    }

    /// `query(Info)` on a child; checks state and status.
    fn query_child(&mut self, handle: u32) -> Option<SmachInfo> {
        let Some(Obj::Smach(obj)) = self.objects.get(handle) else {
            return None;
        };
        let mut out = [0_u8; 32];
        let ptr = out.as_mut_ptr() as u64;
        let cell = self.cell_of(handle, Call::Query);
        self.sys(
            word(handle, Call::Query),
            &[0, ptr, 32],
            [(ptr, ptr + 32), (0, 0)],
            cell,
            "query SMACH",
            Expect::Is(Ok(32)),
        )
        .ok()?;
        let info = SmachInfo::from_bytes(&out).ok()?;
        let state = info.state();
        let ok = match state {
            Ok(SmachState::Exited) => obj
                .status
                .is_none_or(|s| info.exit_status().map(ExitStatus::get) == Some(s)),
            Ok(SmachState::Suspended) => obj.suspended,
            Ok(SmachState::Running) => !obj.suspended,
            Err(_) => false,
        };
        if !ok {
            self.fail("query SMACH", format_args!("{info:?}, model {obj:?}"));
        }
        Some(info)
    }

    /// `reconfigure` on a child.
    fn reconfigure_child(
        &mut self,
        handle: u32,
        request: SmachReconfigure,
    ) -> Result<u64, SysError> {
        let Some(Obj::Smach(obj)) = self.objects.get(handle) else {
            return Err(SysError::BadHandle);
        };
        let want = match request {
            SmachReconfigure::Priority(p) if p > 7 => Expect::Err(SysError::BadValue),
            SmachReconfigure::Wait => match obj.status {
                Some(status) => Expect::Is(Ok(ExitStatus::new(status).to_register())),
                None => Expect::Ok,
            },
            _ => Expect::Is(Ok(0)),
        };
        let cell = self.cell_of(handle, Call::Reconfigure);
        let got = self.sys(
            word(handle, Call::Reconfigure),
            &request.to_registers(),
            [(0, 0); 2],
            cell,
            "reconfigure SMACH",
            want,
        );
        if got.is_ok() {
            if let Some(Obj::Smach(o)) = self.objects.get_mut(handle) {
                match request {
                    SmachReconfigure::Suspend => o.suspended = true,
                    SmachReconfigure::Resume => o.suspended = false,
                    _ => {}
                }
            }
        }
        got
    }

    /// Waits for a child (resuming it first) and releases its handle.
    pub(crate) fn end_child(&mut self, handle: u32, child: SmachObj) {
        match child.role {
            Role::Quick | Role::Hostile(_) | Role::Fuzzer(_) => {
                if child.suspended {
                    let _ = self.reconfigure_child(handle, SmachReconfigure::Resume);
                }
                let status = self.reconfigure_child(handle, SmachReconfigure::Wait);
                if let (Role::Hostile(want), Ok(status)) = (child.role, status) {
                    let status = ExitStatus::from_register(status).get();
                    if !want.accepts(status) {
                        self.fail(
                            "hostile entry",
                            format_args!("child status {status}, want {want:?}"),
                        );
                    }
                }
            }
            Role::Victim => {}
        }
        let cell = self.cell_of(handle, Call::Terminate);
        let _ = self.sys(
            word(handle, Call::Terminate),
            &[0],
            [(0, 0); 2],
            cell,
            "terminate SMACH",
            Expect::Is(Ok(0)),
        );
        self.objects.remove(handle);
    }

    /// One drawn SMACH operation (on a quick child, or on itself).
    pub(crate) fn smach_op(&mut self) {
        let quick = |o: &Obj| matches!(o, Obj::Smach(c) if c.role == Role::Quick);
        let count = self.handles_of(quick).1;
        let draw = self.rng.below(100);
        if count == 0 || (draw < 20 && count < MAX_CHILDREN) {
            self.spawn_quick();
            return;
        }
        let Some(handle) = self.pick_handle(quick) else {
            return;
        };
        match draw {
            20..=39 => {
                self.query_child(handle);
            }
            40..=69 => {
                let request = match self.rng.below(4) {
                    0 => SmachReconfigure::Suspend,
                    1 => SmachReconfigure::Resume,
                    _ => SmachReconfigure::Priority(self.rng.below_u32(9)),
                };
                let _ = self.reconfigure_child(handle, request);
            }
            70..=84 => {
                if let Some(Obj::Smach(child)) = self.objects.get(handle) {
                    self.end_child(handle, child);
                }
            }
            _ => {
                // Kill it, whatever it is doing.
                let cell = self.cell_of(handle, Call::Terminate);
                let _ = self.sys(
                    word(handle, Call::Terminate),
                    &[0],
                    [(0, 0); 2],
                    cell,
                    "kill SMACH",
                    Expect::Is(Ok(0)),
                );
                self.objects.remove(handle);
            }
        }
    }

    /// The child lifecycle: start, query, suspend, resume, priority, wait,
    /// release.
    pub(crate) fn smach_sequence(&mut self) {
        let Some(handle) = self.spawn_quick() else {
            return;
        };
        self.query_child(handle);
        let _ = self.reconfigure_child(handle, SmachReconfigure::Suspend);
        self.query_child(handle);
        let _ = self.reconfigure_child(handle, SmachReconfigure::Resume);
        let priority = self.rng.below_u32(8);
        let _ = self.reconfigure_child(handle, SmachReconfigure::Priority(priority));
        if let Some(Obj::Smach(child)) = self.objects.get(handle) {
            self.end_child(handle, child);
        }
    }
}
