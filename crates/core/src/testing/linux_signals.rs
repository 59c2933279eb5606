//! Test support for Linux signals: post a signal to a program as `kill`
//! would, see whether it installed a handler, and type Ctrl-C.

use crate::state;
use sk_unix::siginfo::SigInfo;
use sk_unix::signal_actions::Handler;
use sk_unix::signal_set::Signal;

/// Posts signal `sig` to Linux program `id` (process-directed, as `kill`
/// from the kernel); the errno on failure.
pub fn linux_post_signal(id: crate::ProgramId, sig: u8) -> Result<(), i32> {
    let signal = Signal::new(u64::from(sig)).ok_or(22)?;
    state::with(|core| {
        crate::linux_signals::post_to_process(core, id.0, SigInfo::user(signal, 0, 0))
            .map_err(|e| i32::from(e.0))
    })
}

/// Whether Linux program `id` has a handler function for `sig`.
pub fn linux_has_handler(id: crate::ProgramId, sig: u8) -> bool {
    let Some(signal) = Signal::new(u64::from(sig)) else {
        return false;
    };
    state::with(|core| {
        core.linux.get(&id.0).is_some_and(|p| {
            matches!(
                p.signals.process.actions().get(signal).handler,
                Handler::Function(_)
            )
        })
    })
}

/// Ctrl-C typed on the console (what the timer's console poll does with
/// VINTR): true if a Linux foreground process got `SIGINT`.
pub fn console_ctrl_c() -> bool {
    state::with(|core| crate::linux_sleep::console_interrupt(core, 0x03))
}
