//! The victim mode: a child that holds objects and is always busy in (or
//! blocked in) a call, so that its parent's `terminate` lands mid-call.
//!
//! Owns [`run`]. Kinds (the plan's `calls` field): busy (maps 128 KiB,
//! opens `/dev/zero`, `/dev/null` and a file, then moves 128 KiB at a time
//! between them, two chunks per call with a preemption point between);
//! waits (starts a busy grandchild, then waits for it: killed while
//! blocked, its grandchild with it).
//!
//! No victim blocks reading the console: the kernel keeps a killed
//! reader's thread id in the console's reader list for good (a leak the
//! leak check sees; reported).

use sk_user::{OpenFlags, Prot, Sio, Smach, Smem};
use sk_user_sysfuzz::plan::{Mode, Plan};

use crate::children::{VICTIM_BUSY, VICTIM_WAITS};
use crate::format::format_into;
use crate::objects::SYSFUZZ;

/// Runs the victim; never returns while its parent lives.
pub(crate) fn run(plan: Plan) -> i32 {
    match plan.calls {
        VICTIM_WAITS => {
            let grandchild = Plan {
                mode: Mode::Victim,
                seed: plan.seed ^ 2,
                calls: VICTIM_BUSY,
            };
            if let Ok(child) = Smach::spawn_with_arg(SYSFUZZ, grandchild.to_arg()) {
                loop {
                    let _ = child.wait();
                }
            }
            busy(plan.seed)
        }
        _ => busy(plan.seed),
    }
}

/// Nothing to do but wait to be killed (spinning without `pause`, which
/// QEMU's TCG emulates slowly).
fn idle() -> i32 {
    loop {
        let _ = sk_user::null_call();
    }
}

/// Moves data forever.
fn busy(seed: u64) -> i32 {
    let Ok(mut region) = Smem::create(128 << 10, Prot::READ | Prot::WRITE) else {
        return idle();
    };
    // SAFETY: nothing else in this program terminates or re-protects the
    // region, which was made READ | WRITE.
    let bytes = unsafe { region.as_mut_slice() };
    let (Ok(zero), Ok(null)) = (
        Sio::open("/dev/zero", OpenFlags::READ),
        Sio::open("/dev/null", OpenFlags::WRITE),
    ) else {
        return idle();
    };
    let mut path = [0_u8; 48];
    let len = format_into(&mut path, format_args!("/tmp/fz-victim-{seed:06x}"));
    let path =
        core::str::from_utf8(path.get(..len).unwrap_or_default()).unwrap_or("/tmp/fz-victim");
    let file = Sio::open(path, OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE).ok();
    loop {
        let _ = zero.read(bytes);
        let _ = null.write(bytes);
        if let Some(file) = &file {
            let _ = file.seek(sk_user::Whence::Set, 0);
            let _ = file.write(bytes);
        }
    }
}
