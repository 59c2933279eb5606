//! Exception-table emulation: resume a faulting access at its fixup.
//!
//! Owns [`Fixup`] and the child-only `SIGSEGV`/`SIGBUS` handler. The kernel's
//! page-fault handler looks the faulting `rip` up in the fault points of the
//! installed routines and resumes at the fixup; this does the same with
//! `ucontext_t` so host tests exercise the templates' fixup paths.
//! Neighbours: [`crate::Sandbox::call`] installs it in the fork child only.

use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

/// One exception-table entry: an instruction that may fault on user memory
/// and where execution resumes if it does (absolute addresses).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fixup {
    /// Address of the instruction that touches user memory.
    pub access: u64,
    /// Address to resume at when it faults.
    pub fixup: u64,
}

static TABLE: AtomicPtr<Fixup> = AtomicPtr::new(core::ptr::null_mut());
static TABLE_LEN: AtomicUsize = AtomicUsize::new(0);

/// Installs the handler for `fixups`. Call only in a single-threaded fork
/// child; `fixups` must outlive every fault (the child `_exit`s first).
pub(crate) fn install(fixups: &[Fixup]) {
    TABLE.store(fixups.as_ptr().cast_mut(), Ordering::SeqCst);
    TABLE_LEN.store(fixups.len(), Ordering::SeqCst);
    for signal in [libc::SIGSEGV, libc::SIGBUS] {
        // SAFETY: a zeroed `sigaction` is a valid "no flags, empty mask"
        // value; we then set the handler and SA_SIGINFO as the ABI requires.
        let mut action: libc::sigaction = unsafe { core::mem::zeroed() };
        action.sa_sigaction = on_fault as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO;
        // SAFETY: `action` is fully initialised and `on_fault` has the
        // three-argument SA_SIGINFO signature; the old action is not needed.
        unsafe { libc::sigaction(signal, &action, core::ptr::null_mut()) };
    }
}

extern "C" fn on_fault(
    signal: libc::c_int,
    _info: *mut libc::siginfo_t,
    context: *mut libc::c_void,
) {
    let table = TABLE.load(Ordering::SeqCst);
    let len = TABLE_LEN.load(Ordering::SeqCst);
    let context = context.cast::<libc::ucontext_t>();
    let rip_index = libc::REG_RIP as usize;
    // SAFETY: the kernel passes a valid `ucontext_t` to an SA_SIGINFO handler,
    // and the child is single-threaded, so nothing else touches it.
    let rip = unsafe { (*context).uc_mcontext.gregs[rip_index] } as u64;
    let entries = if table.is_null() {
        &[][..]
    } else {
        // SAFETY: `install` stored a pointer/length pair of a slice that
        // outlives the child's run (see `install`'s contract).
        unsafe { core::slice::from_raw_parts(table, len) }
    };
    match entries.iter().find(|entry| entry.access == rip) {
        Some(entry) => {
            // SAFETY: as above; writing `rip` makes the return from the
            // handler resume at the fixup, exactly like the kernel's handler.
            unsafe { (*context).uc_mcontext.gregs[rip_index] = entry.fixup as i64 };
        }
        None => {
            // No fixup: restore the default action so the re-executed
            // instruction kills the child with this signal.
            // SAFETY: resetting a signal to SIG_DFL is async-signal-safe.
            unsafe { libc::signal(signal, libc::SIG_DFL) };
        }
    }
}
