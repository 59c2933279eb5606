//! Linux `ioctl` (docs/unix.md, phase 2): the terminal requests on the
//! console, and `FIONREAD` on the console, pipes and files.
//!
//! Owns the console's Linux settings: `TCGETS` reports the last
//! `TCSETS*`'s 36 bytes (at first `sk_unix::Termios::CONSOLE`) with
//! `ICANON` and `ECHO` always the console's real mode; `TCSETS`,
//! `TCSETSW` and `TCSETSF` keep them and set the native line discipline
//! (`SioReconfigure::TtyMode`: raw when `ICANON` is off, echo when `ECHO`
//! is on), so busybox's line editing really gets bytes as they are typed.
//! The other flags (`ISIG`, output processing, control characters) are
//! kept and reported back; the console's output is the same whatever they
//! say. `TCSETSW` need not drain (console writes are synchronous);
//! `TCSETSF` does not discard pending input (a deviation). `TIOCGPGRP`
//! and `TIOCSPGRP` are the signal helper's (linux2-sig).

use crate::state::{self, Core, SmachId};
use crate::user_memory::{write_bytes, KernelUserMemory};
use core::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use sk_abi::{Handle, SioKind, SioReconfigure, SysError, TtyMode};
use sk_sio::UserMemory;
use sk_unix::linux_flags::ioctl;
use sk_unix::termios::{lflag, TERMIOS_BYTES};
use sk_unix::{Errno, Termios};

type Answer = Result<u64, Errno>;

fn sys(e: SysError) -> Errno {
    Errno::from_sys_error(e)
}

/// The console's last `TCSETS*` bytes (written under the kernel lock).
static SETTINGS: [AtomicU8; TERMIOS_BYTES] = [const { AtomicU8::new(0) }; TERMIOS_BYTES];
/// Whether [`SETTINGS`] holds anything yet.
static IS_SET: AtomicBool = AtomicBool::new(false);

/// Whether Ctrl-C on the console raises SIGINT: the `ISIG` a Linux
/// program last set (on until one turns it off, as on a fresh tty).
pub(crate) fn console_signals_on(core: &Core) -> bool {
    current(core).is_signals()
}

/// The console's settings as `TCGETS` reports them.
fn current(core: &Core) -> Termios {
    let mut termios = if IS_SET.load(Ordering::Relaxed) {
        let mut bytes = [0u8; TERMIOS_BYTES];
        for (b, s) in bytes.iter_mut().zip(&SETTINGS) {
            *b = s.load(Ordering::Relaxed);
        }
        Termios::from_bytes(&bytes)
    } else {
        Termios::CONSOLE
    };
    let tty = &core.devices.tty;
    termios.lflag &= !(lflag::ICANON | lflag::ECHO);
    if tty.mode() == sk_tty::Mode::Cooked {
        termios.lflag |= lflag::ICANON;
    }
    if tty.is_echo_on() {
        termios.lflag |= lflag::ECHO;
    }
    termios
}

fn me(core: &mut Core) -> Result<SmachId, Errno> {
    let id = core.current_smach_id().map_err(sys)?;
    if core.linux.contains_key(&id) {
        Ok(id)
    } else {
        Err(Errno::ENOSYS)
    }
}

/// The handle and kind `fd` names.
fn target(fd: u32) -> Result<(Handle, SioKind), Errno> {
    state::with(|core| {
        let id = me(core)?;
        let handle = core
            .linux
            .get(&id)
            .and_then(|p| p.files.handle(fd))
            .ok_or(Errno::EBADF)?;
        let sio =
            crate::share::sio_mut(core, id, handle, crate::share::Access::Other).map_err(sys)?;
        Ok((handle, sio.kind()))
    })
}

/// `ioctl(fd, request, arg)`.
pub(crate) fn ioctl(fd: u32, request: u32, arg: u64) -> Answer {
    let (handle, kind) = target(fd)?;
    if request == ioctl::FIONREAD {
        return fionread(handle, kind, arg);
    }
    if kind != SioKind::Tty {
        return Err(Errno::ENOTTY);
    }
    match request {
        ioctl::TCGETS => {
            let termios = state::with(|core| current(core));
            write_bytes(arg, &termios.to_bytes()).map_err(sys)?;
            Ok(0)
        }
        ioctl::TCSETS | ioctl::TCSETSW | ioctl::TCSETSF => {
            let mut bytes = [0u8; TERMIOS_BYTES];
            KernelUserMemory.read(&mut bytes, arg).map_err(sys)?;
            let termios = Termios::from_bytes(&bytes);
            let mut mode = TtyMode::empty();
            if !termios.is_canonical() {
                mode |= TtyMode::RAW;
            }
            if termios.is_echo() {
                mode |= TtyMode::ECHO;
            }
            state::with(|core| {
                crate::sio_calls::reconfigure(core, handle, SioReconfigure::TtyMode(mode))
                    .map_err(sys)?;
                for (s, b) in SETTINGS.iter().zip(bytes) {
                    s.store(b, Ordering::Relaxed);
                }
                IS_SET.store(true, Ordering::Relaxed);
                Ok(0)
            })
        }
        ioctl::TIOCGWINSZ => {
            write_bytes(arg, &sk_unix::system_info::winsize(24, 80)).map_err(sys)?;
            Ok(0)
        }
        ioctl::TIOCGPGRP | ioctl::TIOCSPGRP => crate::linux_sleep::pgrp_ioctl(request, arg),
        _ => Err(Errno::ENOTTY),
    }
}

/// `FIONREAD`: bytes a read would get now (the console's queue, a pipe's
/// ring, a file's rest); `ENOTTY` for what has no such count (Linux's
/// answer for a directory).
fn fionread(handle: Handle, kind: SioKind, arg: u64) -> Answer {
    let count = state::with(|core| -> Result<u64, Errno> {
        let id = me(core)?;
        if kind == SioKind::Tty {
            return Ok(core.devices.tty.queued() as u64);
        }
        let sio =
            crate::share::sio_mut(core, id, handle, crate::share::Access::Other).map_err(sys)?;
        match kind {
            SioKind::PipeRead => Ok(sio.pipe_end().map_or(0, |e| e.len() as u64)),
            SioKind::File => {
                let position = sio.position();
                let node = sio.node().ok_or(Errno::ENOTTY)?;
                let size = core.fs.stat(node).map_or(0, |s| s.size_bytes);
                Ok(size.saturating_sub(position))
            }
            _ => Err(Errno::ENOTTY),
        }
    })?;
    let value = i32::try_from(count).unwrap_or(i32::MAX);
    write_bytes(arg, &value.to_le_bytes()).map_err(sys)?;
    Ok(0)
}
