//! The Linux file, descriptor, directory, terminal and `poll` calls
//! (docs/unix.md, phase 2): the one arm `linux_calls::perform` gives them
//! leads here, and each goes to its module (`linux_fds`, `linux_dirs`,
//! `linux_terminal`, `linux_poll`). Also `sysinfo`.

use crate::state;
use crate::user_memory::write_bytes;
use sk_abi::SysError;
use sk_unix::{Errno, Request};

type Answer = Result<u64, Errno>;

fn sys(e: SysError) -> Errno {
    Errno::from_sys_error(e)
}

/// Performs one of the calls `linux_calls::perform` sends here.
pub(crate) fn perform(request: Request) -> Answer {
    match request {
        Request::Read { fd, buf, count } => crate::linux_fds::read(fd, buf, count),
        Request::Write { fd, buf, count } => crate::linux_fds::write(fd, buf, count),
        Request::Lseek { fd, offset, whence } => {
            match crate::linux_dirs::lseek_dir(fd, offset, whence) {
                Err(Errno::ENOTDIR) => {
                    crate::linux_calls::lseek(crate::linux_calls::fd_handle(fd)?, offset, whence)
                }
                other => other,
            }
        }
        Request::Open {
            dirfd, path, flags, ..
        } => crate::linux_dirs::open(dirfd, path, flags),
        Request::Close { fd } => crate::linux_fds::close_call(fd),
        Request::Stat {
            dirfd,
            path,
            statbuf,
            empty_path,
        } => {
            // `fstat` as glibc makes it: newfstatat(fd, "", AT_EMPTY_PATH).
            let stat = crate::linux_dirs::fstatat(dirfd, path, empty_path)?;
            write_bytes(statbuf, &stat.to_stat()).map_err(sys)?;
            Ok(0)
        }
        Request::Ioctl { fd, request, arg } => crate::linux_terminal::ioctl(fd, request, arg),
        Request::Statx {
            dirfd,
            path,
            flags,
            statxbuf,
            ..
        } => crate::linux_dirs::statx(dirfd, path, flags, statxbuf),
        Request::Access { dirfd, path, .. } => crate::linux_dirs::access(dirfd, path),
        Request::Getdents64 { fd, dirp, count } => crate::linux_dirs::getdents64(fd, dirp, count),
        Request::Mkdir { dirfd, path, .. } => crate::linux_dirs::mkdir(dirfd, path),
        Request::Unlink {
            dirfd,
            path,
            remove_dir,
        } => crate::linux_dirs::unlink(dirfd, path, remove_dir),
        Request::Rename {
            old_dirfd,
            old,
            new_dirfd,
            new,
        } => crate::linux_dirs::rename(old_dirfd, old, new_dirfd, new),
        Request::Readlink {
            dirfd,
            path,
            bufsiz,
            ..
        } => crate::linux_dirs::readlink(dirfd, path, bufsiz),
        Request::Truncate { path, length } => {
            crate::linux_dirs::truncate(Ok((sk_unix::DirFd::Cwd, path)), length)
        }
        Request::Ftruncate { fd, length } => crate::linux_dirs::truncate(Err(fd), length),
        Request::Getcwd { buf, size } => crate::linux_dirs::getcwd(buf, size),
        Request::Chdir { path } => crate::linux_dirs::chdir(path),
        Request::Fchdir { fd } => crate::linux_dirs::fchdir(fd),
        Request::Umask { mask } => crate::linux_dirs::umask(mask),
        Request::Dup { fd } => {
            crate::linux_fds::dup_call(fd, crate::linux_fds::DupTo::Lowest(0, false))
        }
        Request::Dup2 { oldfd, newfd } => {
            crate::linux_fds::dup_call(oldfd, crate::linux_fds::DupTo::Exactly(newfd))
        }
        Request::Dup3 {
            oldfd,
            newfd,
            flags,
        } => crate::linux_fds::dup_call(oldfd, crate::linux_fds::DupTo::ExactlyWith(newfd, flags)),
        Request::Fcntl { fd, cmd, arg } => crate::linux_fds::fcntl(fd, cmd, arg),
        Request::Pipe { pipefd, flags } => crate::linux_fds::pipe(pipefd, flags),
        Request::Poll {
            fds, nfds, timeout, ..
        } => crate::linux_poll::poll(fds, nfds, timeout),
        Request::Select {
            nfds,
            readfds,
            writefds,
            exceptfds,
            timeout,
            is_timespec,
        } => crate::linux_poll::select(nfds, [readfds, writefds, exceptfds], timeout, is_timespec),
        Request::Sysinfo { info } => sysinfo(info),
        // `linux_calls::perform` sends nothing else.
        _ => Err(Errno::ENOSYS),
    }
}

/// `sysinfo`: uptime from the TSC, free memory from the frame
/// allocator (which keeps no total: `totalram` is reported as what is
/// free now, a deviation), the number of SMACHs as processes.
fn sysinfo(info: u64) -> Answer {
    let free = sk_machine::paging::frames().free_frames() as u64 * 4096;
    let (total, procs) = state::with(|core| (free, core.smachs.len()));
    let value = sk_unix::SystemInfo {
        uptime: sk_machine::tsc::now_ns() / 1_000_000_000,
        total_ram: total,
        free_ram: free,
        procs: u16::try_from(procs).unwrap_or(u16::MAX),
    };
    write_bytes(info, &value.to_bytes()).map_err(sys)?;
    Ok(0)
}
