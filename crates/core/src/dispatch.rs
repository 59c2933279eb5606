//! The generic system-call path: decode once, look the handle up, dispatch
//! on kind and call.
//!
//! Owns the decoding of the six calls (plus the null call) into checked
//! types from `sk-abi`; code past this file never sees raw user integers
//! except as checked ranges. Every error is a [`SysError`]; nothing a user
//! passes can panic the kernel.

use crate::object::Object;
use crate::sio::Sio;
use crate::smach::{self, Smach};
use crate::state::{self, Core, SmachId};
use crate::{scheduler, scpu, smem, user};
use sk_abi::{
    Call, CallWord, Handle, Kind, QuerySelector, ScpuCreateArgs, ScpuReconfigure, SioCreateArgs,
    SioReconfigure, SmachCreateArgs, SmachInfo, SmachReconfigure, SmemCreateArgs, SmemReconfigure,
    SysError,
};
use sk_machine::syscall::SyscallFrame;

/// Installs the system-call handler.
pub(crate) fn install() {
    sk_machine::syscall::set_handler(syscall_entry);
    sk_machine::synth_entry::set_handler(from_synthesized);
    sk_machine::syscall::set_bad_return_handler(bad_return);
    sk_machine::syscall::set_compat_syscall_handler(compat_syscall);
}

/// `syscall` from 32-bit code (IA32_CSTAR) or `sysenter`: there is no such
/// ABI, and the entry cannot return to the caller; the program dies.
fn compat_syscall() -> ! {
    crate::smach::kill_current(
        sk_abi::ExitStatus::KILLED,
        format_args!("compatibility-mode syscall"),
    )
}

/// The `syscall` upcall: runs one call and stores the result in `rax`.
pub fn syscall_entry(frame: &mut SyscallFrame) {
    let result = call(
        frame.rax,
        [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8],
    );
    frame.rax = SysError::encode_result(result) as u64;
}

/// Calls that reach the generic path from synthesized code (a generic
/// slot, the stub's slow path, or a file write falling back).
extern "C" fn from_synthesized(word: u64, a0: u64, a1: u64, a2: u64, a3: u64, a4: u64) -> i64 {
    SysError::encode_result(call(word, [a0, a1, a2, a3, a4]))
}

fn bad_return(frame: &mut SyscallFrame) {
    crate::smach::kill_current(
        sk_abi::ExitStatus::KILLED,
        format_args!(
            "system call would return to non-user address {:#x}",
            frame.rip
        ),
    )
}

/// One native-ABI call on the generic path, on behalf of the current
/// thread: `word` is the call word, `args` are rdi, rsi, rdx, r10, r8.
pub fn call(word: u64, args: [u64; 5]) -> Result<u64, SysError> {
    // Per-call generic mode: the flag only chooses the path.
    let (handle, call) = CallWord::decode(word & !CallWord::FORCE_GENERIC)?;
    match call {
        Call::Null => Ok(0),
        Call::Create => state::with(|core| create(core, handle, args)),
        Call::Terminate => terminate(handle, args[0]),
        Call::Reconfigure => reconfigure(handle, args),
        Call::Query => state::with(|core| query(core, handle, args)),
        Call::Read => read(handle, args[0], args[1]),
        Call::Write => state::with(|core| write(core, handle, args[0], args[1])),
    }
}

fn current_smach_id(core: &Core) -> Result<SmachId, SysError> {
    core.threads
        .get(&core.current)
        .and_then(|t| t.smach)
        .ok_or(SysError::NotPermitted)
}

fn current_smach(core: &mut Core) -> Result<(SmachId, &mut Smach), SysError> {
    let id = current_smach_id(core)?;
    core.smachs
        .get_mut(&id)
        .map(|s| (id, s))
        .ok_or(SysError::NotPermitted)
}

fn create(core: &mut Core, handle: Handle, a: [u64; 5]) -> Result<u64, SysError> {
    let (me, smach) = current_smach(core)?;
    match smach.handles.get(handle)? {
        Object::Smach(id) if *id == me => {}
        Object::Smach(_) => return Err(SysError::NotSupported),
        _ => return Err(SysError::WrongKind),
    }
    let kind = Kind::try_from(a[0])?;
    let (ptr, len) = (a[1], a[2]);
    let object = match kind {
        Kind::Smach => {
            let args = SmachCreateArgs::from_bytes(
                &user::read_struct::<{ SmachCreateArgs::SIZE }>(ptr, len)?,
            )?
            .check()?;
            let mut path = [0u8; 4096];
            let path = user::read_path(args.path.start(), args.path.len(), &mut path)?;
            let child = smach::create(core, Some(me), path, args.arg)?;
            Object::Smach(child)
        }
        Kind::Scpu => {
            let args = ScpuCreateArgs::from_bytes(&user::read_struct::<{ ScpuCreateArgs::SIZE }>(
                ptr, len,
            )?)?
            .check()?;
            scpu::create(core, me, args)?
        }
        Kind::Smem => {
            let args = SmemCreateArgs::from_bytes(&user::read_struct::<{ SmemCreateArgs::SIZE }>(
                ptr, len,
            )?)?
            .check()?;
            let (_, smach) = current_smach(core)?;
            smem::create(smach, args)?
        }
        Kind::Sio => {
            let args = SioCreateArgs::from_bytes(&user::read_struct::<{ SioCreateArgs::SIZE }>(
                ptr, len,
            )?)?
            .check()?;
            let mut path = [0u8; 4096];
            let path = user::read_path(args.path.start(), args.path.len(), &mut path)?;
            Object::Sio(alloc::boxed::Box::new(Sio::open(core, path, args.flags)?))
        }
    };
    let is_sio = matches!(object, Object::Sio(_));
    let (_, smach) = current_smach(core)?;
    match smach.handles.insert(object) {
        Ok(h) if is_sio => {
            // Factoring Invariants: synthesize this SIO's routines now.
            let current = core.current;
            crate::synthesis::on_fs_events(core);
            let (_, smach) = current_smach(core)?;
            if let Some(mut sio) = smach.handles.take_sio(h) {
                sio.opener = Some(current);
                crate::synthesis::resynthesize(core, current, h, &mut sio);
                let (_, smach) = current_smach(core)?;
                smach.handles.install_at(h, Object::Sio(sio));
            }
            Ok(u64::from(h.index()))
        }
        Ok(h) => Ok(u64::from(h.index())),
        Err((e, object)) => {
            smach::close_object(core, me, object);
            Err(e)
        }
    }
}

fn terminate(handle: Handle, status: u64) -> Result<u64, SysError> {
    let is_self = state::with(|core| -> Result<bool, SysError> {
        let current = core.current;
        let (me, smach) = current_smach(core)?;
        match smach.handles.get(handle)? {
            Object::Smach(id) if *id == me => return Ok(true),
            Object::Scpu(tid) if *tid == current => return Err(SysError::Busy),
            _ => {}
        }
        let object = smach.handles.remove(handle)?;
        match object {
            Object::Smem(region) => smem::terminate(smach, region),
            other => smach::close_object(core, me, other),
        }
        crate::synthesis::on_fs_events(core);
        Ok(false)
    })?;
    if is_self {
        smach::exit_current(sk_abi::ExitStatus::from_register(status));
    }
    Ok(0)
}

fn reconfigure(handle: Handle, a: [u64; 5]) -> Result<u64, SysError> {
    enum Then {
        Done(u64),
        Wait(SmachId),
    }
    let then = state::with(|core| -> Result<Then, SysError> {
        let (me, smach) = current_smach(core)?;
        let kind = smach.handles.get(handle)?.kind();
        match kind {
            Kind::Smach => {
                let Object::Smach(target) = *smach.handles.get(handle)? else {
                    return Err(SysError::WrongKind);
                };
                match SmachReconfigure::decode(a[0], a[1], a[2])? {
                    SmachReconfigure::TraceNextCall if target == me => {
                        crate::trace::arm(core.current);
                        Ok(Then::Done(0))
                    }
                    SmachReconfigure::TraceNextCall => Err(SysError::NotSupported),
                    SmachReconfigure::Wait if target == me => Err(SysError::Busy),
                    SmachReconfigure::Wait => Ok(Then::Wait(target)),
                    SmachReconfigure::Priority(p) if p <= 7 => {
                        core.smachs
                            .get_mut(&target)
                            .ok_or(SysError::BadHandle)?
                            .priority = p;
                        Ok(Then::Done(0))
                    }
                    SmachReconfigure::Priority(_) => Err(SysError::BadValue),
                    SmachReconfigure::Suspend | SmachReconfigure::Resume if target == me => {
                        Err(SysError::Busy)
                    }
                    request => {
                        let threads = core
                            .smachs
                            .get(&target)
                            .ok_or(SysError::BadHandle)?
                            .threads
                            .clone();
                        let r = if request == SmachReconfigure::Suspend {
                            ScpuReconfigure::Suspend
                        } else {
                            ScpuReconfigure::Resume
                        };
                        for t in threads {
                            scpu::reconfigure(core, t, r)?;
                        }
                        if let Some(s) = core.smachs.get_mut(&target) {
                            if s.state != sk_abi::SmachState::Exited {
                                s.state = if request == SmachReconfigure::Suspend {
                                    sk_abi::SmachState::Suspended
                                } else {
                                    sk_abi::SmachState::Running
                                };
                            }
                        }
                        Ok(Then::Done(0))
                    }
                }
            }
            Kind::Scpu => {
                let Object::Scpu(tid) = *smach.handles.get(handle)? else {
                    return Err(SysError::WrongKind);
                };
                let request = ScpuReconfigure::decode(a[0], a[1], a[2])?;
                scpu::reconfigure(core, tid, request).map(Then::Done)
            }
            Kind::Smem => {
                let SmemReconfigure::Protect(prot) = SmemReconfigure::decode(a[0], a[1], a[2])?;
                let Object::Smem(mut region) = smach.handles.remove(handle)? else {
                    return Err(SysError::WrongKind);
                };
                let r = smem::protect(smach, &mut region, prot);
                smach.handles.install_at(handle, Object::Smem(region));
                r.map(Then::Done)
            }
            Kind::Sio => {
                let request = SioReconfigure::decode(a[0], a[1], a[2])?;
                let (_, smach) = current_smach(core)?;
                let Object::Sio(mut sio) = smach.handles.remove(handle)? else {
                    return Err(SysError::WrongKind);
                };
                let current = core.current;
                crate::synthesis::on_shared(core, &mut sio, current);
                let mut mode_changed = false;
                let r = match request {
                    SioReconfigure::Seek { whence, offset } => sio.seek(core, whence, offset),
                    SioReconfigure::TtyMode(mode) => {
                        if matches!(sio.target, crate::sio::Target::Tty) {
                            core.devices
                                .tty
                                .set_mode(if mode.contains(sk_abi::TtyMode::RAW) {
                                    sk_tty::Mode::Raw
                                } else {
                                    sk_tty::Mode::Cooked
                                });
                            core.devices
                                .tty
                                .set_echo(mode.contains(sk_abi::TtyMode::ECHO));
                            mode_changed = true;
                            Ok(0)
                        } else {
                            // Only the console has a line discipline.
                            Err(SysError::WrongKind)
                        }
                    }
                };
                let (_, smach) = current_smach(core)?;
                smach.handles.install_at(handle, Object::Sio(sio));
                if mode_changed {
                    crate::synthesis::on_tty_mode_change(core);
                }
                r.map(Then::Done)
            }
        }
    })?;
    match then {
        Then::Done(v) => Ok(v),
        Then::Wait(child) => smach::wait(child).map(|s| s.to_register()),
    }
}

fn query(core: &Core, handle: Handle, a: [u64; 5]) -> Result<u64, SysError> {
    let selector = QuerySelector::try_from(a[0])?;
    let (ptr, len) = (a[1], a[2]);
    let me = current_smach_id(core)?;
    let smach = core.smachs.get(&me).ok_or(SysError::NotPermitted)?;
    match (selector, smach.handles.get(handle)?) {
        (QuerySelector::Info, _) => {}
        (QuerySelector::Routines, Object::Sio(sio)) => {
            let text = crate::synthesis::describe(sio);
            let n = (text.len() as u64).min(len);
            user::write_bytes(ptr, text.as_bytes().get(..n as usize).unwrap_or(&[]))?;
            return Ok(n);
        }
        (QuerySelector::LastTrace, Object::Smach(id)) if *id == me => {
            return Ok(crate::trace::last())
        }
        (QuerySelector::Routines | QuerySelector::LastTrace, _) => return Err(SysError::WrongKind),
    }
    match smach.handles.get(handle)? {
        Object::Smach(id) => {
            let s = core.smachs.get(id).ok_or(SysError::BadHandle)?;
            let info = SmachInfo {
                state: s.state.number(),
                handle_count: s.handles.count() as u32,
                exit_status: s.exit_status.to_info(),
                memory_bytes: s.mapped_bytes,
                id: s.id,
            };
            user::write_struct(ptr, len, info.to_bytes())
        }
        Object::Scpu(tid) => {
            let info = scpu::query(core, *tid)?;
            user::write_struct(ptr, len, info.to_bytes())
        }
        Object::Smem(region) => user::write_struct(ptr, len, smem::query(region).to_bytes()),
        Object::Sio(sio) => user::write_struct(ptr, len, sio.query(core).to_bytes()),
    }
}

fn with_sio<R>(
    core: &mut Core,
    handle: Handle,
    f: impl FnOnce(&mut Core, &Sio) -> Result<R, SysError>,
) -> Result<R, SysError> {
    let (_, smach) = current_smach(core)?;
    let object = smach.handles.remove(handle)?;
    let Object::Sio(mut sio) = object else {
        let (_, smach) = current_smach(core)?;
        smach.handles.install_at(handle, object);
        return Err(SysError::WrongKind);
    };
    let current = core.current;
    crate::synthesis::on_shared(core, &mut sio, current);
    let is_file = matches!(sio.target, crate::sio::Target::File(_));
    let r = f(core, &sio);
    if let Ok((_, smach)) = current_smach(core) {
        smach.handles.install_at(handle, Object::Sio(sio));
    }
    if is_file {
        crate::synthesis::on_fs_events(core);
    }
    r
}

fn read(handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    loop {
        let r = state::with(|core| {
            let r = with_sio(core, handle, |core, sio| sio.read(core, buf, len));
            if let Ok(None) = r {
                let current = core.current;
                core.devices.tty_readers.push(current);
            }
            r
        })?;
        match r {
            Some(n) => return Ok(n),
            None => scheduler::block_current(),
        }
    }
}

fn write(core: &mut Core, handle: Handle, buf: u64, len: u64) -> Result<u64, SysError> {
    with_sio(core, handle, |core, sio| sio.write(core, buf, len))
}
