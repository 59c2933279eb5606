//! The generic system-call path: decode once, then hand the call to its
//! kind's glue.
//!
//! Owns the decoding of the six calls (plus the null call) into checked
//! types from `sk-abi`, and the routing to `sio_calls.rs`, `smem_calls.rs`,
//! `scpu_calls.rs` and `smach.rs`, which apply the portable kinds'
//! semantics under the kernel lock. Code past this file never sees raw user
//! integers except as checked ranges. Every error is a [`SysError`];
//! nothing a user passes can panic the kernel.

use crate::state::{self, Core};
use crate::user_memory::{read_struct, write_struct, PathBuffer};
use crate::{scheduler, scpu_calls, sio_calls, smach, smem_calls};
use sk_abi::{
    Call, CallWord, Handle, Kind, QuerySelector, ScpuCreateArgs, ScpuReconfigure, SioCreateArgs,
    SioReconfigure, SmachCreateArgs, SmachReconfigure, SmemCreateArgs, SmemReconfigure, SysError,
};
use sk_machine::syscall::SyscallFrame;

/// Installs the system-call handlers.
pub(crate) fn install() {
    sk_machine::syscall::set_handler(syscall_entry);
    sk_machine::synth_entry::set_handler(from_synthesized);
    sk_machine::syscall::set_bad_return_handler(bad_return);
    sk_machine::syscall::set_compat_syscall_handler(compat_syscall);
    sk_machine::linux_entry::set_handler(crate::linux_calls::handle);
    sk_machine::user_regs::set_user_return_hook(crate::linux_signal_delivery::on_user_return);
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
    // Synthesis off: no stubs, and a Linux thread's calls arrive here.
    if !crate::synthesis::config().enabled && crate::linux_calls::current_is_linux() {
        crate::linux_calls::handle_generic(frame);
        return;
    }
    let result = call(
        frame.rax,
        [frame.rdi, frame.rsi, frame.rdx, frame.r10, frame.r8],
    );
    frame.rax = SysError::encode_result(result) as u64;
}

/// Calls that reach the generic path from synthesized code (a generic
/// slot, the stub's slow path, or a routine falling back).
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
///
/// # Errors
/// Whatever the call's kind reports; [`SysError::BadCall`] for an
/// undecodable call word.
pub fn call(word: u64, args: [u64; 5]) -> Result<u64, SysError> {
    // Per-call generic mode: the flag only chooses the path.
    let (handle, call) = CallWord::decode(word & !CallWord::FORCE_GENERIC)?;
    match call {
        Call::Null => Ok(0),
        Call::Create => create(handle, args),
        Call::Terminate => terminate(handle, args[0]),
        Call::Reconfigure => reconfigure(handle, args),
        Call::Query => state::with(|core| query(core, handle, args)),
        Call::Read => sio_calls::read(handle, args[0], args[1]),
        Call::Write => sio_calls::write(handle, args[0], args[1]),
    }
}

/// The handle must name the caller's own SMACH (objects are created in it).
fn check_self(core: &mut Core, handle: Handle) -> Result<u64, SysError> {
    let me = core.current_smach_id()?;
    let smach = core.current_smach()?;
    match smach.handles.get(handle)? {
        sk_smach::Object::Smach(id) if *id == me => Ok(me),
        sk_smach::Object::Smach(_) => Err(SysError::NotSupported),
        _ => Err(SysError::WrongKind),
    }
}

/// What one stretch of a `create` did.
pub(crate) enum Created {
    /// The object, by its handle.
    Object(Handle),
    /// One bounded step of work before the object (an open's truncate):
    /// run a preemption point and go on.
    Stepped,
    /// A pipe's two ends.
    Pipe(sk_abi::PipeHandles),
    /// A port's two ends.
    Port(sk_abi::PortHandles),
}

// Not inlined: its loop would make `call` save registers on every call.
#[inline(never)]
fn create(handle: Handle, a: [u64; 5]) -> Result<u64, SysError> {
    let kind = Kind::try_from(a[0])?;
    loop {
        match create_stretch(handle, kind, a[1], a[2])? {
            Created::Object(h) => return Ok(u64::from(h.index())),
            Created::Pipe(ends) => return Ok(ends.to_return()),
            Created::Port(ends) => return Ok(ends.to_return()),
            Created::Stepped => scheduler::preemption_point(),
        }
    }
}

/// One stretch of `create` under the kernel lock: the object, or one
/// bounded step toward it. The arguments are read again in every stretch.
fn create_stretch(handle: Handle, kind: Kind, ptr: u64, len: u64) -> Result<Created, SysError> {
    state::with(|core| {
        let me = check_self(core, handle)?;
        // Every object takes some kernel heap (a handle slot, a node and
        // its name, a position cell) that the heap may take from the
        // frames the kernel keeps in reserve: admit the call first, so a
        // program cannot eat the reserve one small object at a time.
        crate::memory::admit(4096)?;
        match kind {
            Kind::Smach => {
                let args = SmachCreateArgs::from_bytes(&read_struct::<{ SmachCreateArgs::SIZE }>(
                    ptr, len,
                )?)?
                .check()?;
                let mut path = PathBuffer::new();
                let path = path.read(args.path.start(), args.path.len())?;
                let confined = smach::confined_path(core, me, path)?;
                let file = confined.as_deref().unwrap_or(path);
                let suspended = args.flags.contains(sk_abi::SmachCreateFlags::SUSPENDED);
                let linux = args.flags.contains(sk_abi::SmachCreateFlags::LINUX);
                smach::create_child(core, me, (file, path), args.arg, suspended, linux)
            }
            Kind::Scpu => {
                let args = ScpuCreateArgs::from_bytes(&read_struct::<{ ScpuCreateArgs::SIZE }>(
                    ptr, len,
                )?)?
                .check()?;
                scpu_calls::create(core, me, &args)
            }
            Kind::Smem => {
                let args = SmemCreateArgs::from_bytes(&read_struct::<{ SmemCreateArgs::SIZE }>(
                    ptr, len,
                )?)?
                .check()?;
                smem_calls::create(core, me, &args)
            }
            Kind::Sio => {
                let args =
                    SioCreateArgs::from_bytes(&read_struct::<{ SioCreateArgs::SIZE }>(ptr, len)?)?
                        .check()?;
                let mut path = PathBuffer::new();
                let path = path.read(args.path.start(), args.path.len())?;
                let confined = smach::confined_path(core, me, path)?;
                let path = confined.as_deref().unwrap_or(path);
                return sio_calls::open_or_step(core, me, path, args.flags);
            }
        }
        .map(Created::Object)
    })
}

/// Who a `terminate` ended.
enum Ended {
    /// Another object: the call returns.
    Other,
    /// The calling SMACH: it exits.
    MySmach,
    /// The calling thread: it is gone, switch away.
    Me,
}

fn terminate(handle: Handle, status: u64) -> Result<u64, SysError> {
    let status = sk_abi::ExitStatus::from_register(status);
    let ended = state::with(|core| -> Result<Ended, SysError> {
        let current = core.current;
        let me = core.current_smach_id()?;
        let smach = core.current_smach()?;
        match smach.handles.get(handle)? {
            sk_smach::Object::Smach(id) if *id == me => return Ok(Ended::MySmach),
            sk_smach::Object::Scpu(tid) if *tid == current => {
                scpu_calls::exit_current_thread(core, me, handle, status)?;
                return Ok(Ended::Me);
            }
            _ => {}
        }
        let object = smach.handles.remove(handle)?;
        smach::close_object(core, me, handle, object);
        Ok(Ended::Other)
    })?;
    match ended {
        Ended::Other => Ok(0),
        Ended::MySmach => smach::exit_current(status),
        Ended::Me => crate::scheduler::exit_current(),
    }
}

fn reconfigure(handle: Handle, a: [u64; 5]) -> Result<u64, SysError> {
    let kind = state::with(|core| -> Result<Kind, SysError> {
        Ok(core.current_smach()?.handles.get(handle)?.kind())
    })?;
    match kind {
        Kind::Smach => {
            let request = SmachReconfigure::decode(a[0], a[1], a[2])?;
            smach::reconfigure(handle, request)
        }
        Kind::Scpu => match ScpuReconfigure::decode(a[0], a[1], a[2])? {
            request @ (ScpuReconfigure::Yield | ScpuReconfigure::Sleep { .. }) => {
                scpu_calls::yield_or_sleep(handle, request)
            }
            request => state::with(|core| scpu_calls::reconfigure(core, handle, request)),
        },
        Kind::Smem => {
            let SmemReconfigure::Protect(prot) = SmemReconfigure::decode(a[0], a[1], a[2])?;
            state::with(|core| smem_calls::protect(core, handle, prot))
        }
        Kind::Sio => {
            let request = SioReconfigure::decode(a[0], a[1], a[2])?;
            state::with(|core| sio_calls::reconfigure(core, handle, request))
        }
    }
}

fn query(core: &mut Core, handle: Handle, a: [u64; 5]) -> Result<u64, SysError> {
    let selector = QuerySelector::try_from(a[0])?;
    let (ptr, len) = (a[1], a[2]);
    let me = core.current_smach_id()?;
    let kind = core.current_smach()?.handles.get(handle)?.kind();
    match (selector, kind) {
        (QuerySelector::Info, _) => {}
        (QuerySelector::Routines, Kind::Sio) => return sio_calls::describe(core, handle, ptr, len),
        (QuerySelector::Routines, Kind::Scpu) => {
            return crate::scpu_calls::describe(core, handle, ptr, len)
        }
        (QuerySelector::LastTrace, Kind::Smach) => {
            return match core.current_smach()?.handles.get(handle)? {
                sk_smach::Object::Smach(id) if *id == me => Ok(crate::trace::last()),
                _ => Err(SysError::WrongKind),
            }
        }
        (QuerySelector::Tree, _) => return crate::nest_memory::query_tree(core, handle, ptr, len),
        (QuerySelector::Routines | QuerySelector::LastTrace, _) => return Err(SysError::WrongKind),
    }
    if let sk_smach::Object::Shared(shared) = core.current_smach()?.handles.get(handle)? {
        // A holder sees the shared SIO, with its own rights as flags.
        let rights = shared.rights;
        let (at, at_handle) = crate::share::locate(core, me, handle, crate::share::Access::Other)?;
        let sio = core
            .smachs
            .get(&at)
            .ok_or(SysError::BadHandle)?
            .handles
            .get(at_handle)?
            .as_sio()
            .ok_or(SysError::WrongKind)?;
        let mut info = sio.info(&core.fs);
        info.flags = rights.bits();
        return write_struct(ptr, len, info.to_bytes());
    }
    let Core {
        fs,
        smachs,
        threads,
        ..
    } = core;
    let smach = smachs.get(&me).ok_or(SysError::NotPermitted)?;
    match smach.handles.get(handle)? {
        sk_smach::Object::Smach(id) => {
            let info = smachs.get(id).ok_or(SysError::BadHandle)?.info();
            write_struct(ptr, len, info.to_bytes())
        }
        sk_smach::Object::Scpu(tid) => {
            let info = threads.get(tid).ok_or(SysError::BadHandle)?.scpu.info();
            write_struct(ptr, len, info.to_bytes())
        }
        sk_smach::Object::Smem(region) => write_struct(ptr, len, region.info().to_bytes()),
        sk_smach::Object::Sio(sio) => write_struct(ptr, len, sio.info(fs).to_bytes()),
        // Answered above.
        sk_smach::Object::Shared(_) => Err(SysError::WrongKind),
    }
}
