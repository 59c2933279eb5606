//! Linux signal delivery (docs/unix.md, "Signals"): on every return to
//! user mode of a Linux thread, from a call (the Linux generic entry; the
//! generic `syscall` entry with synthesis off) or a trap (the timer, a
//! fault), the next deliverable signal runs its handler, terminates the
//! process, or restarts the interrupted call.
//!
//! Owns [`after_call`], [`sigreturn`], the user-return hook
//! ([`on_user_return`]), the fault translation ([`on_fault`]) and
//! [`terminate_by_signal`], the one way a signal ends a process. The frame
//! is `sk_unix`'s `rt_sigframe` (encoder, placement, sanitizing decoder),
//! the restart rules `sk_unix::syscall_restart`; registers go in and out
//! through `sk_machine::user_regs`, which checks every state a return may
//! load. The FPU state is kept in the kernel, not in the frame
//! (docs/unix.md).

use crate::linux_signals::{current_parts, FaultNote};
use crate::state;
use crate::user_memory::{write_bytes, KernelUserMemory};
use sk_machine::linux_entry::LinuxCallFrame;
use sk_machine::syscall::SyscallFrame;
use sk_machine::traps::TrapFrame;
use sk_machine::user_regs::{NotUserState, TrapCause, UserRegisters};
use sk_sio::UserMemory;
use sk_unix::siginfo::{code, SigInfo};
use sk_unix::signal_actions::{Handler, SigAction};
use sk_unix::signal_frame::{
    self, FrameContents, FramePlacement, TrapDetails, UserRegs, UserSelectors, FRAME_SIZE,
};
use sk_unix::signal_set::{Signal, SignalSet};
use sk_unix::signal_state::Delivery;
use sk_unix::syscall_restart::{self, Interrupted, Resume, RESTART_SYSCALL_NR, SYSCALL_INSN_LEN};
use sk_unix::{nr, Errno};

/// An entry path's saved user state, as delivery reads and replaces it.
pub(crate) trait CallFrame {
    /// The caller's registers if the call returned `rax` now.
    fn registers(&self, rax: u64) -> UserRegisters;
    /// Returns to `regs` instead.
    fn replace(&mut self, regs: &UserRegisters) -> Result<(), NotUserState>;
}

impl CallFrame for LinuxCallFrame {
    fn registers(&self, rax: u64) -> UserRegisters {
        self.user_registers(rax)
    }
    fn replace(&mut self, regs: &UserRegisters) -> Result<(), NotUserState> {
        self.set_user_registers(regs)
    }
}

impl CallFrame for SyscallFrame {
    fn registers(&self, rax: u64) -> UserRegisters {
        UserRegisters {
            rax,
            ..self.user_registers()
        }
    }
    fn replace(&mut self, regs: &UserRegisters) -> Result<(), NotUserState> {
        self.set_user_registers(regs)
    }
}

fn selectors() -> Option<UserSelectors> {
    let (cs, ss) = sk_machine::user_regs::user_selectors();
    UserSelectors::new(cs, ss)
}

fn to_unix(r: &UserRegisters, sel: UserSelectors) -> UserRegs {
    UserRegs {
        r8: r.r8,
        r9: r.r9,
        r10: r.r10,
        r11: r.r11,
        r12: r.r12,
        r13: r.r13,
        r14: r.r14,
        r15: r.r15,
        rdi: r.rdi,
        rsi: r.rsi,
        rbp: r.rbp,
        rbx: r.rbx,
        rdx: r.rdx,
        rax: r.rax,
        rcx: r.rcx,
        rsp: r.rsp,
        rip: r.rip,
        rflags: r.rflags,
        cs: sel.cs(),
        ss: sel.ss(),
    }
}

fn from_unix(r: &UserRegs) -> UserRegisters {
    UserRegisters {
        rax: r.rax,
        rbx: r.rbx,
        rcx: r.rcx,
        rdx: r.rdx,
        rsi: r.rsi,
        rdi: r.rdi,
        rbp: r.rbp,
        rsp: r.rsp,
        r8: r.r8,
        r9: r.r9,
        r10: r.r10,
        r11: r.r11,
        r12: r.r12,
        r13: r.r13,
        r14: r.r14,
        r15: r.r15,
        rip: r.rip,
        rflags: r.rflags,
    }
}

/// Calls whose `EPIPE` also raises `SIGPIPE` (pipe(7)).
fn is_write(number: u64) -> bool {
    matches!(
        number,
        nr::WRITE | nr::WRITEV | nr::PWRITE64 | nr::PWRITEV | nr::PWRITEV2 | nr::SENDFILE
    )
}

/// Ends the current Linux call (`number`, result `rax`): raises `SIGPIPE`
/// for an `EPIPE` write, then delivers. Returns what `rax` gets if the
/// return is the ordinary one; a delivery replaced the whole state.
pub(crate) fn after_call(number: u64, rax: i64, frame: &mut impl CallFrame) -> i64 {
    if rax as u64 == Errno::EPIPE.to_return() && is_write(number) {
        raise(SigInfo::kernel(Signal::SIGPIPE));
    }
    let mut regs = frame.registers(rax as u64);
    if deliver(&mut regs, Some(number)) {
        replace_or_die(frame, &regs);
        return regs.rax as i64;
    }
    rax
}

fn replace_or_die(frame: &mut impl CallFrame, regs: &UserRegisters) {
    if frame.replace(regs).is_err() {
        terminate_by_signal(Signal::SIGSEGV);
    }
}

/// Posts `info` to the current thread (`SIGPIPE`, a fault).
fn raise(info: SigInfo) {
    state::with(|core| {
        let (Some(pid), tid) = (core.current_smach, core.current) else {
            return;
        };
        let _ = crate::linux_signals::post_to_thread(core, pid, tid, info);
    });
}

/// What the lock's look decided.
enum Decided {
    /// Nothing to deliver; the interrupted call's kind, if any.
    Nothing(Option<Interrupted>),
    Terminate(Signal),
    Handler {
        info: SigInfo,
        action: SigAction,
        frame_mask: SignalSet,
        placement: FramePlacement,
        interrupted: Option<Interrupted>,
        trap: TrapDetails,
    },
}

/// Delivers the current thread's next signal into `regs` (the state the
/// thread returns to user mode with; `syscall`: the call it is returning
/// from, `regs.rax` its result). Returns true if `regs` changed. Does not
/// return if the signal terminates the process or no frame can be pushed
/// (`SIGSEGV`).
#[inline(never)]
fn deliver(regs: &mut UserRegisters, syscall: Option<u64>) -> bool {
    let rsp = regs.rsp;
    // Only a call that failed with EINTR was cut short: one that moved
    // some bytes before the signal returns their count, never restarts.
    let failed_eintr = regs.rax == Errno::EINTR.to_return();
    let decided = state::with(|core| {
        let decided = decide(core, syscall, failed_eintr, rsp);
        // The other half of `linux_signals::on_signal_posted`'s replug: with
        // nothing left to deliver, the synthesized read/write slots come
        // back (under the same lock: a signal posted after this finds them
        // and swaps them out again).
        // One load while no thread's slots are swapped out (the usual case).
        if crate::linux_fast::any_thread_slowed() {
            let tid = core.current;
            let fast = !crate::linux_signals::pending_in(core);
            crate::linux_fast::set_thread_fast(core, tid, fast);
        }
        decided
    });
    let Some(decided) = decided else {
        return false;
    };
    finish(regs, syscall, decided)
}

/// The lock's look of [`deliver`].
fn decide(
    core: &mut crate::state::Core,
    syscall: Option<u64>,
    failed_eintr: bool,
    rsp: u64,
) -> Option<Decided> {
    {
        let (_, process, thread) = current_parts(core)?;
        let noted = thread.interrupted.take();
        let interrupted = if syscall.is_some() && failed_eintr {
            noted
        } else {
            None
        };
        if !process.has_deliverable(&thread.signals) {
            if let Some(mask) = thread.saved_mask.take() {
                thread.signals.set_mask(mask);
            }
            return Some(Decided::Nothing(interrupted));
        }
        // The mask the frame restores: rt_sigsuspend's old one, if any.
        let frame_mask = thread
            .saved_mask
            .take()
            .unwrap_or_else(|| thread.signals.mask());
        let trap = core::mem::take(&mut thread.trap);
        Some(match process.next_delivery(&mut thread.signals) {
            None | Some(Delivery::Stop { .. }) => {
                // Stop is not implemented: the signal is dropped.
                thread.signals.set_mask(frame_mask);
                Decided::Nothing(interrupted)
            }
            Some(Delivery::Terminate { info, .. }) => Decided::Terminate(info.signal),
            Some(Delivery::Handler {
                info,
                action,
                mask_after,
            }) => match signal_frame::place_frame(rsp, &action, &thread.signals.altstack, 0) {
                Ok(placement) => {
                    thread.signals.set_mask(mask_after);
                    if placement.disarm {
                        thread.signals.altstack.disarm();
                    }
                    Decided::Handler {
                        info,
                        action,
                        frame_mask,
                        placement,
                        interrupted,
                        trap,
                    }
                }
                Err(_) => {
                    note_bad_frame(thread, info.signal, rsp, "no room for");
                    Decided::Terminate(Signal::SIGSEGV)
                }
            },
        })
    }
}

/// [`deliver`] after the lock: applies what [`decide`] chose to `regs`.
fn finish(regs: &mut UserRegisters, syscall: Option<u64>, decided: Decided) -> bool {
    match decided {
        Decided::Nothing(None) => false,
        Decided::Nothing(Some(kind)) => {
            let Some(number) = syscall else {
                return false;
            };
            resume(regs, number, syscall_restart::without_handler(kind));
            true
        }
        Decided::Terminate(signal) => terminate_by_signal(signal),
        Decided::Handler {
            info,
            action,
            frame_mask,
            placement,
            interrupted,
            trap,
        } => {
            if let (Some(kind), Some(number)) = (interrupted, syscall) {
                resume(
                    regs,
                    number,
                    syscall_restart::with_handler(kind, action.flags),
                );
            }
            push_frame(regs, info, action, frame_mask, placement, trap);
            true
        }
    }
}

/// Applies a restart decision to the registers of call `number`.
fn resume(regs: &mut UserRegisters, number: u64, how: Resume) {
    match how {
        Resume::Restart => {
            regs.rax = number;
            regs.rip = regs.rip.wrapping_sub(SYSCALL_INSN_LEN);
        }
        Resume::RestartBlock => {
            regs.rax = RESTART_SYSCALL_NR;
            regs.rip = regs.rip.wrapping_sub(SYSCALL_INSN_LEN);
        }
        Resume::Fail(e) => regs.rax = e.to_return(),
    }
}

/// Writes the handler's frame and points `regs` at the handler; a frame
/// that cannot be written kills with `SIGSEGV`.
fn push_frame(
    regs: &mut UserRegisters,
    info: SigInfo,
    action: SigAction,
    mask: SignalSet,
    placement: FramePlacement,
    trap: TrapDetails,
) {
    let (Some(sel), Handler::Function(handler)) = (selectors(), action.handler) else {
        terminate_by_signal(Signal::SIGSEGV);
    };
    // A handler in the kernel half could never run: the return to it
    // would be refused and the signal lost (with its mask in force);
    // Linux's would fault in user mode. Either way the process dies.
    if handler >= sk_machine::layout::USER_END {
        terminate_by_signal(Signal::SIGSEGV);
    }
    let interrupted = to_unix(regs, sel);
    let contents = FrameContents {
        regs: interrupted,
        mask,
        uc_stack: placement.uc_stack,
        fpstate: 0,
        trap,
        info,
        restorer: action.restorer,
    };
    let bytes = signal_frame::encode_frame(&contents);
    save_fp_state();
    if write_bytes(placement.frame, &bytes).is_err() {
        state::with(|core| {
            if let Some((_, _, t)) = current_parts(core) {
                note_bad_frame(t, info.signal, placement.frame, "cannot write");
            }
        });
        terminate_by_signal(Signal::SIGSEGV);
    }
    let entry = signal_frame::handler_entry(&interrupted, placement.frame, handler, &info, sel);
    *regs = from_unix(&entry);
}

/// Keeps the interrupted code's FP state for `rt_sigreturn` (the handler
/// runs with the same registers, as Linux's does before it resets them).
/// Interrupts are masked on every delivery path, so the registers stay
/// the current thread's between the look and the save.
fn save_fp_state() {
    let live = state::with(|core| {
        let current = core.current;
        core.threads.get(&current).is_some_and(|t| t.fp.uses_fp())
    }) && !sk_machine::fpu::ts_is_set();
    let copy = if live {
        sk_machine::fpu::FpArea::new().ok().map(|mut area| {
            // Not xsaveopt: the copy was never restored.
            sk_machine::fpu::save(&mut area, crate::fp::save_instruction_for(false));
            area
        })
    } else {
        None
    };
    state::with(|core| {
        if let Some((_, _, t)) = current_parts(core) {
            if t.fp_saved.len() >= crate::linux_signals::FP_SAVES {
                t.fp_saved.pop_front();
            }
            t.fp_saved.push_back(copy);
        }
    });
}

/// `rt_sigreturn`'s half of [`save_fp_state`]: the interrupted code's FP
/// registers come back (the thread's own area gets them at its next
/// switch out).
fn restore_fp_state() {
    let saved = state::with(|core| current_parts(core).and_then(|(_, _, t)| t.fp_saved.pop_back()));
    if let Some(Some(mut area)) = saved {
        if !sk_machine::fpu::ts_is_set() {
            sk_machine::fpu::restore(&mut area);
        }
    }
}

/// Says on the console why a frame could not be pushed (`what`: "no
/// room for", "cannot write").
fn note_bad_frame(
    thread: &mut crate::linux_signals::LinuxThread,
    signal: Signal,
    at: u64,
    what: &str,
) {
    sk_machine::println!(
        "linux: {what} signal {}'s frame at {at:#x}: SIGSEGV",
        signal.number()
    );
    thread.fault_note = None;
}

/// `rt_sigreturn`: the frame at `rsp - 8` (the handler's `ret` popped
/// `pretcode`) becomes every register, sanitized by `sk_unix`; a bad one
/// kills with `SIGSEGV`. Signals the restored mask unblocks are delivered
/// on the same return.
pub(crate) fn sigreturn(frame: &mut impl CallFrame) -> i64 {
    let now = frame.registers(0);
    let mut bytes = [0u8; FRAME_SIZE];
    let at = now.rsp.wrapping_sub(8);
    let Some(sel) = selectors() else {
        terminate_by_signal(Signal::SIGSEGV);
    };
    let restored = KernelUserMemory
        .read(&mut bytes, at)
        .ok()
        .and_then(|()| signal_frame::decode_frame(&bytes, sel).ok());
    let Some(restored) = restored else {
        sk_machine::println!("linux: rt_sigreturn: bad frame at {at:#x}: SIGSEGV");
        terminate_by_signal(Signal::SIGSEGV);
    };
    restore_fp_state();
    state::with(|core| {
        if let Some((_, _, t)) = current_parts(core) {
            t.signals.set_mask(restored.mask);
            let _ = t
                .signals
                .altstack
                .sigaltstack(Some(restored.uc_stack), restored.regs.rsp);
        }
    });
    let mut regs = from_unix(&restored.regs);
    deliver(&mut regs, None);
    replace_or_die(frame, &regs);
    regs.rax as i64
}

/// The user-return hook (`sk_machine::user_regs`): a timer interrupt or a
/// fault is returning to a Linux thread's user mode.
pub(crate) fn on_user_return(regs: &mut UserRegisters, _cause: &TrapCause) {
    if !crate::linux_calls::current_is_linux() {
        return;
    }
    deliver(regs, None);
}

/// The signal and `si_code` a fault of user code raises (Linux's
/// `arch/x86/kernel/traps.c`).
fn fault_signal(vector: u64, error_code: u64) -> (Signal, i32) {
    match vector {
        0 => (Signal::SIGFPE, code::FPE_INTDIV),
        1 | 3 => (Signal::SIGTRAP, code::TRAP_BRKPT),
        6 => (Signal::SIGILL, code::ILL_ILLOPN),
        16 | 19 => (Signal::SIGFPE, code::SI_KERNEL),
        17 => (Signal::SIGBUS, code::BUS_ADRERR),
        14 if error_code & 1 != 0 => (Signal::SIGSEGV, code::SEGV_ACCERR),
        14 => (Signal::SIGSEGV, code::SEGV_MAPERR),
        _ => (Signal::SIGSEGV, code::SI_KERNEL),
    }
}

/// A fault of a Linux thread's user code: posts its signal (forced:
/// blocked or ignored, it is reset to `SIG_DFL` and kills) for the
/// user-return hook to deliver. False for a native thread (it dies as
/// before).
#[inline(never)]
pub(crate) fn on_fault(frame: &TrapFrame, cr2: u64) -> bool {
    if !crate::linux_calls::current_is_linux() {
        return false;
    }
    // A fault on a kernel address reads as "present, protection" whatever
    // the page tables hold (Linux's `sanitize_error_code`), so a handler
    // cannot map the kernel half by probing.
    let error_code = if frame.vector == 14 && cr2 >= sk_machine::layout::USER_END {
        frame.error_code | 0b101
    } else {
        frame.error_code
    };
    let (signal, si_code) = fault_signal(frame.vector, error_code);
    let addr = match frame.vector {
        14 => cr2,
        0 | 6 | 16 | 19 => frame.rip,
        _ => 0,
    };
    let info = SigInfo::fault(signal, si_code, addr);
    state::with(|core| {
        let Some((_, process, thread)) = current_parts(core) else {
            return false;
        };
        thread.trap = TrapDetails {
            err: error_code,
            trapno: frame.vector,
            cr2,
        };
        thread.fault_note = Some(FaultNote {
            vector: frame.vector,
            rip: frame.rip,
            cr2,
            error_code: frame.error_code,
        });
        process.force(&mut thread.signals, info);
        true
    })
}

/// Ends the current Linux process killed by `signal`: the console says
/// why, every thread of the process stops, and its parent's `wait4` sees
/// `WaitStatus::Signaled` (the kernel's `wait_program`: 128 + the signal,
/// the shell's `$?`). **The one place** a signal ends a process.
pub(crate) fn terminate_by_signal(signal: Signal) -> ! {
    let note = state::with(|core| current_parts(core).and_then(|(_, _, t)| t.fault_note.take()));
    let number = signal.number();
    let why = |out: &dyn Fn(core::fmt::Arguments<'_>)| match note {
        Some(n) => out(format_args!(
            "signal {number} ({}): {} at rip {:#x} (error code {:#x}, address {:#x})",
            signal_name(signal),
            sk_machine::traps::vector_name(n.vector),
            n.rip,
            n.error_code,
            n.cr2
        )),
        None => out(format_args!("signal {number} ({})", signal_name(signal))),
    };
    let status = sk_unix::wait_status::WaitStatus::Signaled {
        signal,
        core: sk_unix::signal_actions::default_action(signal)
            == sk_unix::signal_actions::DefaultAction::Core,
    };
    state::with(|core| {
        let current = core.current;
        let id = core.current_smach;
        let name = id
            .and_then(|s| core.smachs.get(&s))
            .map_or("", |s| s.name());
        why(&|args| {
            sk_machine::println!(
                "kernel: smach {} ({name}) thread {current} killed: {args}",
                id.unwrap_or(0)
            );
        });
        if let Some(id) = id {
            crate::linux_wait::exit_process(core, id, status);
        }
    });
    crate::scheduler::exit_current()
}

/// A signal's name for the console.
fn signal_name(signal: Signal) -> &'static str {
    const NAMES: [&str; 32] = [
        "?",
        "SIGHUP",
        "SIGINT",
        "SIGQUIT",
        "SIGILL",
        "SIGTRAP",
        "SIGABRT",
        "SIGBUS",
        "SIGFPE",
        "SIGKILL",
        "SIGUSR1",
        "SIGSEGV",
        "SIGUSR2",
        "SIGPIPE",
        "SIGALRM",
        "SIGTERM",
        "SIGSTKFLT",
        "SIGCHLD",
        "SIGCONT",
        "SIGSTOP",
        "SIGTSTP",
        "SIGTTIN",
        "SIGTTOU",
        "SIGURG",
        "SIGXCPU",
        "SIGXFSZ",
        "SIGVTALRM",
        "SIGPROF",
        "SIGWINCH",
        "SIGIO",
        "SIGPWR",
        "SIGSYS",
    ];
    NAMES
        .get(usize::from(signal.number()))
        .copied()
        .unwrap_or("real-time signal")
}
