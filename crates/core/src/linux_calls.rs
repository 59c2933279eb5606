//! The Linux generic entry (docs/unix.md, phase 1): one Linux call on
//! behalf of the current thread, on the kernel's objects.
//!
//! Owns [`handle`], what every slot of a Linux thread's table reaches
//! (through `sk_machine::linux_entry`): `sk_unix::decode`, perform, and
//! every native error mapped by the one `Errno::from_sys_error`. Files are
//! the SMACH's SIOs (descriptors name handles, `linux_process.rs`);
//! memory calls are `linux_memory.rs`. Unknown calls return `ENOSYS` and
//! are logged once per number (kernel-wide). Bad user pointers are `EFAULT` (the user
//! copy's `BadAddress`), never a panic.

use crate::linux_memory;
use crate::linux_signal_delivery::CallFrame;
use crate::state::{self, Core, Object, SmachId};
use crate::user_memory::{write_bytes, KernelUserMemory};
use core::sync::atomic::{AtomicU64, Ordering};
use sk_abi::{Handle, OpenFlags, SioKind, SioReconfigure, SysError, Whence};
use sk_sio::UserMemory;
use sk_unix::linux_flags::{arch_prctl, o};
use sk_unix::{Errno, FileStat, Request};

/// The most one `getrandom` returns (Linux's `MAX_RW_COUNT`-like cap).
const GETRANDOM_MAX: u64 = (1 << 25) - 1;

/// A Linux call's result: a value, or an errno.
type Answer = Result<u64, Errno>;

fn sys(e: SysError) -> Errno {
    Errno::from_sys_error(e)
}

/// Whether the current thread belongs to a Linux process, as noted at the
/// last change of the current thread ([`note_current`]): the generic
/// `syscall` entry asks at every call with synthesis off, so a native
/// call must not pay a lock and a lookup for it.
static CURRENT_IS_LINUX: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

/// Whether the current thread belongs to a Linux process.
pub(crate) fn current_is_linux() -> bool {
    CURRENT_IS_LINUX.load(core::sync::atomic::Ordering::Relaxed)
}

/// Notes whether the current thread (`core.current_smach`) is Linux; called
/// whenever the current thread or its SMACH changes. A SMACH's
/// personality is fixed at its creation, before its first thread runs.
pub(crate) fn note_current(core: &crate::state::Core) {
    let is_linux = core
        .current_smach
        .is_some_and(|id| core.linux.contains_key(&id));
    CURRENT_IS_LINUX.store(is_linux, core::sync::atomic::Ordering::Relaxed);
}

/// The Linux generic entry: `rax` for Linux call `number` from `frame`
/// (arguments `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`); signals are
/// delivered on the way out (`linux_signal_delivery`). `fork` copies the
/// frame's registers, `execve` replaces them.
pub(crate) fn handle(number: u64, frame: &mut sk_machine::linux_entry::LinuxCallFrame) -> i64 {
    #[cfg(feature = "ktest")]
    crate::linux_fast::note_generic_call(number);
    if number == sk_unix::nr::RT_SIGRETURN {
        return crate::linux_signal_delivery::sigreturn(frame);
    }
    #[cfg(feature = "ktest")]
    if let Some(answer) = crate::linux_fast::ktest_prctl(number, frame.args()) {
        return answer;
    }
    let rax = answer(number, frame.args(), frame);
    crate::linux_signal_delivery::after_call(number, rax, frame)
}

/// The same on the generic `syscall` entry's frame (synthesis off). Never
/// inlined: its frame (signal frames are hundreds of bytes) must not
/// grow every native call's stack in `dispatch::syscall_entry`.
#[inline(never)]
pub(crate) fn handle_generic(frame: &mut sk_machine::syscall::SyscallFrame) {
    let number = frame.rax;
    let rax = if number == sk_unix::nr::RT_SIGRETURN {
        crate::linux_signal_delivery::sigreturn(frame)
    } else {
        let args = [
            frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8, frame.r9,
        ];
        let rax = answer(number, args, frame);
        crate::linux_signal_delivery::after_call(number, rax, frame)
    };
    frame.rax = rax as u64;
}

/// `rax` for Linux call `number` with `args`, the caller's state `frame`.
fn answer(number: u64, args: [u64; 6], frame: &mut dyn CallFrame) -> i64 {
    let rsp = frame.registers(0).rsp;
    let answer = match crate::linux_sleep::answer_unlisted(number, args, rsp) {
        Some(answer) => answer,
        None => match sk_unix::decode(number, args) {
            Ok(request) => perform(number, request, frame),
            Err(e) => Err(e),
        },
    };
    if answer == Err(Errno::ENOSYS) {
        log_unknown(number);
    }
    match answer {
        Ok(value) => value as i64,
        Err(e) => e.to_return() as i64,
    }
}

/// Call numbers already said to be unknown (one bit each; numbers past
/// 511 share the last bit: they are not Linux calls).
static LOGGED: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

/// Says once per call number (kernel-wide) that it is not implemented.
fn log_unknown(number: u64) {
    let number_bit = number.min(511);
    let (word, bit) = ((number_bit / 64) as usize, number_bit % 64);
    let Some(word) = LOGGED.get(word) else {
        return;
    };
    // Logged at `info` (the kernel's default level), so a shell session
    // with `log=warn` shows the programs' output alone.
    if word.fetch_or(1 << bit, Ordering::Relaxed) & (1 << bit) == 0 {
        log::info!(
            "linux: call {number} ({}) not implemented: ENOSYS",
            sk_unix::call_name(number).unwrap_or("?")
        );
    }
}

fn me(core: &mut Core) -> Result<SmachId, Errno> {
    let id = core.current_smach_id().map_err(sys)?;
    if core.linux.contains_key(&id) {
        Ok(id)
    } else {
        Err(Errno::ENOSYS)
    }
}

/// The handle descriptor `fd` names (`EBADF` if none).
pub(crate) fn fd_handle(fd: u32) -> Result<Handle, Errno> {
    state::with(|core| {
        let id = me(core)?;
        core.linux
            .get(&id)
            .and_then(|p| p.handle(fd))
            .ok_or(Errno::EBADF)
    })
}

fn perform(number: u64, request: Request, frame: &mut dyn CallFrame) -> Answer {
    match request {
        request @ (Request::Read { .. }
        | Request::Write { .. }
        | Request::Lseek { .. }
        | Request::Open { .. }
        | Request::Close { .. }
        | Request::Stat { .. }
        | Request::Statx { .. }
        | Request::Access { .. }
        | Request::Getdents64 { .. }
        | Request::Mkdir { .. }
        | Request::Unlink { .. }
        | Request::Rename { .. }
        | Request::Readlink { .. }
        | Request::Truncate { .. }
        | Request::Ftruncate { .. }
        | Request::Getcwd { .. }
        | Request::Chdir { .. }
        | Request::Fchdir { .. }
        | Request::Umask { .. }
        | Request::Dup { .. }
        | Request::Dup2 { .. }
        | Request::Dup3 { .. }
        | Request::Fcntl { .. }
        | Request::Pipe { .. }
        | Request::Ioctl { .. }
        | Request::Poll { .. }
        | Request::Select { .. }
        | Request::Sysinfo { .. }) => crate::linux_file_calls::perform(request),
        Request::Readv { fd, iov, iovcnt } => vectored(fd, iov, iovcnt, false),
        Request::Writev { fd, iov, iovcnt } => vectored(fd, iov, iovcnt, true),
        Request::Pread {
            fd,
            buf,
            count,
            offset,
        } => positioned(fd, buf, count, offset, false),
        Request::Pwrite {
            fd,
            buf,
            count,
            offset,
        } => positioned(fd, buf, count, offset, true),
        Request::Fstat { fd, statbuf } => {
            let stat = crate::linux_files::stat_handle(fd_handle(fd)?)?;
            write_bytes(statbuf, &stat.to_stat()).map_err(sys)?;
            Ok(0)
        }
        Request::Exit { status } => crate::linux_threads::exit_thread(status),
        Request::ExitGroup { status } => crate::linux_wait::exit_group(status),
        Request::Clone {
            kind,
            flags,
            stack,
            parent_tid,
            child_tid,
            tls,
        } => crate::linux_fork::clone(
            frame,
            crate::linux_fork::CloneArgs {
                kind,
                flags,
                stack,
                parent_tid,
                child_tid,
                tls,
            },
        ),
        Request::Execve { path, argv, envp } => crate::linux_exec::execve(frame, path, argv, envp),
        Request::Wait4 {
            pid,
            wstatus,
            options,
            rusage,
        } => crate::linux_wait::wait4(pid, wstatus, options, rusage),
        Request::Waitid {
            idtype,
            id,
            infop,
            options,
        } => crate::linux_wait::waitid(idtype, id, infop, options),
        Request::Futex {
            uaddr,
            op,
            val,
            timeout,
            val3,
            ..
        } => crate::linux_threads::futex(uaddr, op, val, timeout, val3),
        Request::Getpgid { pid } => crate::linux_wait::getpgid(pid),
        Request::Setpgid { pid, pgid } => crate::linux_wait::setpgid(pid, pgid),
        Request::Getsid { pid } => crate::linux_wait::getsid(pid),
        Request::Setsid => crate::linux_wait::setsid(),
        Request::ArchPrctl { code, addr } => arch(code, addr),
        Request::SetTidAddress { tidptr } => crate::linux_threads::set_tid_address(tidptr),
        Request::Brk { addr } => state::with(|core| {
            let id = me(core)?;
            linux_memory::brk(core, id, addr)
        }),
        Request::Mmap {
            addr,
            length,
            prot,
            flags,
            fd,
            offset,
        } if u64::from(flags) & sk_unix::vma::map::ANONYMOUS == 0 => {
            crate::linux_file_map::mmap_file(addr, length, prot, flags, fd, offset)
        }
        Request::Mremap {
            old_address,
            old_size,
            new_size,
            flags,
            new_address,
        } => crate::linux_file_map::mremap(old_address, old_size, new_size, flags, new_address),
        Request::Mmap {
            addr,
            length,
            prot,
            flags,
            fd: _,
            offset,
        } => state::with(|core| {
            let id = me(core)?;
            linux_memory::mmap(core, id, addr, length, prot, flags, offset)
        }),
        Request::Munmap { addr, length } => state::with(|core| {
            let id = me(core)?;
            linux_memory::munmap(core, id, addr, length)
        }),
        Request::Mprotect { addr, length, prot } => state::with(|core| {
            let id = me(core)?;
            linux_memory::mprotect(core, id, addr, length, prot)
        }),
        Request::Uname { buf } => {
            let uname = sk_unix::Uname {
                sysname: "Linux",
                nodename: "synthesis",
                release: "6.1.0-synthesis",
                version: "#1 Synthesis",
                machine: "x86_64",
                domainname: "(none)",
            };
            write_bytes(buf, &uname.to_bytes()).map_err(sys)?;
            Ok(0)
        }
        Request::Getpid => crate::linux_threads::getpid(),
        Request::Gettid => crate::linux_threads::gettid(),
        Request::Getppid => crate::linux_wait::getppid(),
        Request::Getuid | Request::Geteuid | Request::Getgid | Request::Getegid => Ok(0),
        Request::ClockGettime { clock: _, tp } => {
            let now = sk_unix::TimeSpec::from_nanos(sk_machine::tsc::now_ns());
            write_bytes(tp, &now.to_bytes()).map_err(sys)?;
            Ok(0)
        }
        Request::Gettimeofday { tv, tz: _ } => {
            if tv != 0 {
                let ns = sk_machine::tsc::now_ns();
                let mut bytes = [0u8; 16];
                bytes[..8].copy_from_slice(&(ns / 1_000_000_000).to_le_bytes());
                bytes[8..].copy_from_slice(&((ns % 1_000_000_000) / 1000).to_le_bytes());
                write_bytes(tv, &bytes).map_err(sys)?;
            }
            Ok(0)
        }
        Request::Getrandom { buf, buflen, .. } => {
            // Linux hands out at most 32 MiB - 1 per call; a fault after
            // some bytes returns their count.
            let want = buflen.min(GETRANDOM_MAX);
            let mut chunk = [0u8; 256];
            let mut done = 0u64;
            while done < want {
                let n = (want - done).min(chunk.len() as u64);
                let piece = &mut chunk[..n as usize];
                crate::linux_process::random_bytes(piece);
                if let Err(e) = write_bytes(buf.wrapping_add(done), piece) {
                    return if done == 0 { Err(sys(e)) } else { Ok(done) };
                }
                done += n;
                // Up to 32 MiB: let others run between pieces (interrupts
                // are masked in a call, docs/caveats.md).
                crate::scheduler::preemption_point();
            }
            Ok(want)
        }
        Request::RtSigaction {
            sig,
            act,
            oldact,
            sigsetsize,
        } => crate::linux_signals::sigaction(sig, act, oldact, sigsetsize),
        Request::RtSigprocmask {
            how,
            set,
            oldset,
            sigsetsize,
        } => crate::linux_signals::sigprocmask(how, set, oldset, sigsetsize),
        Request::Kill { pid, sig } => crate::linux_signals::kill(pid, sig),
        Request::Tgkill { tgid, tid, sig } => crate::linux_signals::tgkill(tgid, tid, sig),
        Request::Nanosleep {
            absolute,
            request,
            remain,
            ..
        } => crate::linux_sleep::nanosleep(absolute, request, remain),
        Request::SchedYield => {
            crate::scheduler::yield_now();
            Ok(0)
        }
        Request::Prlimit {
            pid,
            resource,
            new_limit: _,
            old_limit,
        } => crate::linux_files::prlimit(pid, resource, old_limit),
        _ => {
            let _ = number;
            Err(Errno::ENOSYS)
        }
    }
}

/// `arch_prctl`: the FS base (TLS); GS is phase 2.
fn arch(code: u32, addr: u64) -> Answer {
    match code {
        arch_prctl::SET_FS => sk_machine::user_fs::set(addr)
            .map(|()| 0)
            .map_err(|_| Errno::EPERM),
        arch_prctl::GET_FS => {
            write_bytes(addr, &sk_machine::user_fs::get().to_le_bytes()).map_err(sys)?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// The kind of SIO `handle` names.
fn kind_of(handle: Handle) -> Result<SioKind, Errno> {
    state::with(|core| -> Result<SioKind, Errno> {
        let id = me(core)?;
        // A forked process's descriptors name shares (linux_fork.rs).
        let (owner, handle) = crate::share::locate(core, id, handle, crate::share::Access::Other)
            .map_err(|_| Errno::EBADF)?;
        let smach = core.smachs.get(&owner).ok_or(Errno::EBADF)?;
        match smach.handles.get(handle).map_err(sys)? {
            Object::Sio(sio) => sio.info(&core.fs).kind().map_err(sys),
            _ => Err(Errno::EBADF),
        }
    })
}

/// `lseek` on a handle: `ESPIPE` on what has no position (Linux's answer
/// for a terminal, a pipe; checked before the native seek, whose error
/// means something else).
pub(crate) fn lseek(handle: Handle, offset: i64, whence: u32) -> Answer {
    let whence = match whence {
        0 => Whence::Set,
        1 => Whence::Current,
        2 => Whence::End,
        _ => return Err(Errno::EINVAL),
    };
    if !matches!(
        kind_of(handle)?,
        SioKind::File | SioKind::Dir | SioKind::Zero | SioKind::Null | SioKind::Mem
    ) {
        return Err(Errno::ESPIPE);
    }
    let request = SioReconfigure::Seek { whence, offset };
    state::with(|core| crate::sio_calls::reconfigure(core, handle, request)).map_err(sys)
}

/// `pread64`/`pwrite64`: seek, transfer, seek back (not atomic against
/// another thread of the process: phase 1 has one).
fn positioned(fd: u32, buf: u64, count: u64, offset: i64, write: bool) -> Answer {
    if offset < 0 {
        return Err(Errno::EINVAL);
    }
    let handle = fd_handle(fd)?;
    let old = lseek(handle, 0, 1)?;
    lseek(handle, offset, 0)?;
    let done = if write {
        crate::sio_calls::write(handle, buf, count)
    } else {
        crate::sio_calls::read(handle, buf, count)
    };
    lseek(handle, old as i64, 0)?;
    done.map_err(|e| {
        if write {
            crate::linux_fds::write_errno(e)
        } else {
            sys(e)
        }
    })
}

struct Reader;

impl sk_unix::UserReader for Reader {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), Errno> {
        KernelUserMemory.read(buf, address).map_err(sys)
    }
}

/// `readv`/`writev`: each `iovec` in turn; a short transfer ends it.
fn vectored(fd: u32, iov: u64, count: u32, write: bool) -> Answer {
    let handle = fd_handle(fd)?;
    // Checked first, then read one at a time: no heap is held across a
    // transfer that blocks (a thread killed while it waits never returns
    // to free it).
    sk_unix::check_iovecs(&mut Reader, iov, u64::from(count))?;
    let mut total = 0u64;
    for index in 0..u64::from(count) {
        // Read again after the check: a fault now ends the call with what
        // moved.
        let v = match sk_unix::iovec_at(&mut Reader, iov, index) {
            Ok(v) => v,
            Err(e) if total == 0 => return Err(e),
            Err(_) => break,
        };
        if v.len == 0 {
            continue;
        }
        let done = if write {
            crate::sio_calls::write(handle, v.base, v.len)
        } else {
            crate::sio_calls::read(handle, v.base, v.len)
        };
        match done {
            Ok(n) => {
                total += n;
                if n < v.len {
                    break;
                }
            }
            Err(e) if total == 0 && write => return Err(crate::linux_fds::write_errno(e)),
            Err(e) if total == 0 => return Err(sys(e)),
            Err(_) => break,
        }
    }
    Ok(total)
}

/// Linux open flags as native ones.
pub(crate) fn open_flags(flags: u32) -> OpenFlags {
    let mut out = match flags & 3 {
        0 => OpenFlags::READ,
        x if x == o::WRONLY => OpenFlags::WRITE,
        _ => OpenFlags::READ | OpenFlags::WRITE,
    };
    if flags & o::CREAT != 0 {
        out |= OpenFlags::CREATE;
    }
    if flags & o::EXCL != 0 {
        out |= OpenFlags::EXCLUSIVE;
    }
    if flags & o::TRUNC != 0 {
        out |= OpenFlags::TRUNCATE;
    }
    if flags & o::APPEND != 0 {
        out |= OpenFlags::APPEND;
    }
    out
}

/// A `FileStat` for an SIO's info.
pub(crate) fn file_stat(info: &sk_abi::SioInfo) -> FileStat {
    let kind = info.kind().unwrap_or(SioKind::File);
    let mode = match kind {
        SioKind::File => 0o100_644,
        SioKind::Dir => 0o040_755,
        SioKind::PipeRead | SioKind::PipeWrite => 0o010_600,
        _ => 0o020_620,
    };
    FileStat {
        dev: 1,
        ino: 1,
        nlink: 1,
        mode,
        size: if kind == SioKind::File { info.size } else { 0 },
        blksize: 4096,
        blocks: info.size.div_ceil(512),
        rdev: if kind == SioKind::Tty {
            (4 << 8) | 1
        } else {
            0
        },
        ..FileStat::default()
    }
}
