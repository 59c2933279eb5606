//! Test support for the Linux personality's synthesized `read`/`write`
//! (`linux_fast.rs`): a Linux program started with its `read` and `write`
//! slots on the generic entry, what an fd's entries hold, the count of
//! calls that reached the generic entry.

use crate::state;
use sk_abi::SysError;
use sk_synth::policy::Op;

/// Starts the Linux program at `path` like `spawn_linux_program`; with
/// `generic`, its thread's `read` and `write` slots are put on the Linux
/// generic entry before it runs, for good (`linux_fast::pin_thread_generic`).
///
/// # Errors
/// As `spawn_linux_program`.
pub fn spawn_linux_program_on(
    path: &str,
    argv: &[&str],
    generic: bool,
) -> Result<crate::ProgramId, SysError> {
    state::with(|core| {
        let id = crate::smach::create_as(core, None, path, 0, Some(argv))?;
        if generic {
            let threads = core.smachs.get(&id).map(|s| s.threads.clone());
            for tid in threads.unwrap_or_default() {
                crate::linux_fast::pin_thread_generic(core, tid);
            }
        }
        Ok(crate::ProgramId(id))
    })
}

/// What fd `fd` of program `id`'s first thread holds for read and write:
/// `Some(true)` a synthesized routine, `Some(false)` the slow path; `None`
/// without per-fd arrays (synth=off, a native program).
pub fn linux_fd_has_routine(id: crate::ProgramId, fd: usize) -> Option<(bool, bool)> {
    state::with(|core| {
        let smach = core.smachs.get(&id.0)?;
        let thread = core.threads.get(smach.threads.first()?)?;
        let fds = thread.synth.as_ref()?.linux_fds()?;
        let routine = |op: Op| fds.entry(fd, op).map(|e| e != fds.slow_path(op));
        Some((routine(Op::Read)?, routine(Op::Write)?))
    })
}

/// Linux `read` and `write` calls that reached the Linux generic entry so
/// far (kernel-wide).
pub fn linux_generic_read_write_calls() -> u64 {
    crate::linux_fast::generic_read_write_calls()
}

/// Synthesis is on (not `synth=off`).
pub fn synthesis_enabled() -> bool {
    crate::synthesis::config().enabled
}

/// Ids handed out so far (SMACHs, threads, ...): changes whenever a test
/// started a program, whose synthesized console writes reach the UART
/// without the kernel's write count (the ktest runner's header repeat).
pub fn ids_handed_out() -> u64 {
    state::with(|core| core.next_id)
}
