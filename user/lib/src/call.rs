//! One function per kernel call, typed, over [`crate::raw`].
//!
//! Owns the step from typed arguments to registers and from `rax` to
//! `Result`: [`CallWord`] packs handle and call, [`SysError::decode_return`]
//! splits the result. The object wrappers ([`crate::Sio`], [`crate::Smach`],
//! [`crate::Scpu`], [`crate::Smem`]) are built on these.

use sk_abi::{Call, CallWord, Handle, Kind, QuerySelector, ScpuCreateArgs, SysError};

use crate::raw;
use crate::route::Route;

/// Where a call goes: an object's handle and the path it takes there.
/// A bare [`Handle`] converts with [`Route::Table`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Callee {
    pub(crate) handle: Handle,
    pub(crate) route: Route,
}

impl Callee {
    /// The call word for `call` on this callee (the process-wide bits are
    /// added by [`raw`]).
    #[inline]
    fn word(self, call: Call) -> u64 {
        CallWord::new(self.handle, call).get() | self.route.bits()
    }
}

impl From<Handle> for Callee {
    fn from(handle: Handle) -> Self {
        Self {
            handle,
            route: Route::Table,
        }
    }
}

/// A buffer length or address as a register value (`usize` is 64 bits on
/// x86-64).
#[inline]
pub(crate) fn register(value: usize) -> u64 {
    value as u64
}

/// A byte count the kernel returned, no larger than the buffer it came
/// from, as a `usize`.
#[inline]
pub(crate) fn byte_count(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// `create(kind)` on [`Handle::SELF`] by `route` from the kind's
/// create-arguments bytes; returns the new handle. Not for [`Kind::Scpu`]
/// (see [`create_scpu`]): it is refused with [`SysError::WrongKind`].
pub(crate) fn create(kind: Kind, args: &[u8], route: Route) -> Result<Handle, SysError> {
    if kind == Kind::Scpu {
        return Err(SysError::WrongKind);
    }
    // SAFETY: creating an SIO, SMACH or SMEM only reads `args` (a live
    // slice) and the path it points to, and maps only fresh memory (a FIXED
    // SMEM never replaces a mapping): nothing Rust code owns changes.
    unsafe { create_raw(kind, args, route) }
}

/// `create(Kind::Sio)` of a pipe ([`sk_abi::PIPE_PATH`]) or a port
/// ([`sk_abi::PORT_PATH`]): both ends in one `rax`.
pub(crate) fn create_pipe(args: &[u8], route: Route) -> Result<sk_abi::PipeHandles, SysError> {
    let callee = Callee {
        handle: Handle::SELF,
        route,
    };
    let word = callee.word(Call::Create);
    // SAFETY: opening a pipe only reads `args` (a live slice) and the path
    // it points to; it maps nothing and changes no memory of ours.
    let rax = unsafe {
        raw::syscall3(
            word,
            u64::from(Kind::Sio),
            register(args.as_ptr() as usize),
            register(args.len()),
        )
    };
    SysError::decode_return(rax).map(sk_abi::PipeHandles::from_return)
}

/// `create(Kind::Scpu)`: starts a thread.
///
/// # Safety
/// `args.entry` must be code that is sound to run on a new thread with
/// `args.arg`, and the stack below `args.stack_top` memory no one else uses
/// while the thread runs.
pub(crate) unsafe fn create_scpu(args: &ScpuCreateArgs) -> Result<Handle, SysError> {
    // SAFETY: the caller vouches for the entry, argument and stack.
    unsafe { create_raw(Kind::Scpu, &args.to_bytes(), Route::Table) }
}

/// `create` on [`Handle::SELF`].
///
/// # Safety
/// As for [`create_scpu`] when `kind` is [`Kind::Scpu`].
unsafe fn create_raw(kind: Kind, args: &[u8], route: Route) -> Result<Handle, SysError> {
    let self_by_route = Callee {
        handle: Handle::SELF,
        route,
    };
    let word = self_by_route.word(Call::Create);
    // SAFETY: `args` is a live slice the kernel only reads; the caller
    // vouches for what the new object will do.
    let rax = unsafe {
        raw::syscall3(
            word,
            u64::from(kind),
            register(args.as_ptr() as usize),
            register(args.len()),
        )
    };
    Handle::from_return(SysError::decode_return(rax)?)
}

/// `terminate` on `callee` with `rdi = value` (exit status for
/// self-termination).
pub(crate) fn terminate(callee: impl Into<Callee>, value: u64) -> Result<u64, SysError> {
    let word = callee.into().word(Call::Terminate);
    // SAFETY: terminating an object frees nothing Rust code can reach by
    // safe means: SMEM memory is reached only through `Smem`'s `unsafe`
    // accessors, whose contract covers this; ending the caller's SMACH or
    // SCPU just stops it.
    SysError::decode_return(unsafe { raw::syscall1(word, value) })
}

/// `reconfigure` on `callee` with `[rdi, rsi, rdx]`.
pub(crate) fn reconfigure(callee: impl Into<Callee>, registers: [u64; 3]) -> Result<u64, SysError> {
    let word = callee.into().word(Call::Reconfigure);
    let [selector, value, value2] = registers;
    // SAFETY: no selector writes user memory; an SMEM protection change is
    // covered by `Smem`'s `unsafe` accessors' contract.
    SysError::decode_return(unsafe { raw::syscall3(word, selector, value, value2) })
}

/// `query` on `callee`: fills `out` (an info struct's bytes), returns the
/// bytes written.
pub(crate) fn query(
    callee: impl Into<Callee>,
    selector: QuerySelector,
    out: &mut [u8],
) -> Result<usize, SysError> {
    let word = callee.into().word(Call::Query);
    // SAFETY: the kernel writes at most `out.len()` bytes into `out`, a live
    // exclusive slice.
    let rax = unsafe {
        raw::syscall3(
            word,
            u64::from(selector),
            register(out.as_mut_ptr() as usize),
            register(out.len()),
        )
    };
    SysError::decode_return(rax).map(byte_count)
}

/// `read` with a ready call word (the SIO's precomputed word | op).
#[inline]
pub(crate) fn read_word(word: u64, buf: &mut [u8]) -> Result<usize, SysError> {
    // SAFETY: the kernel writes at most `buf.len()` bytes into `buf`, a live
    // exclusive slice.
    let rax = unsafe {
        raw::syscall2(
            word,
            register(buf.as_mut_ptr() as usize),
            register(buf.len()),
        )
    };
    SysError::decode_return(rax).map(byte_count)
}

/// `write` with a ready call word.
#[inline]
pub(crate) fn write_word(word: u64, buf: &[u8]) -> Result<usize, SysError> {
    // SAFETY: the kernel only reads `buf.len()` bytes from `buf`.
    let rax = unsafe { raw::syscall2(word, register(buf.as_ptr() as usize), register(buf.len())) };
    SysError::decode_return(rax).map(byte_count)
}

/// The null call: enters and leaves the kernel, doing nothing; returns 0.
///
/// The benchmarks' baseline: the cost of `syscall`, the routine-table jump
/// and `sysretq`, measured between [`rdtsc`](crate::rdtsc) and
/// [`rdtscp`](crate::rdtscp).
///
/// # Errors
/// None from a conforming kernel.
#[inline]
pub fn null_call() -> Result<u64, SysError> {
    const WORD: u64 = CallWord::new(Handle::SELF, Call::Null).get();
    // SAFETY: the null call takes no arguments and has no effect.
    SysError::decode_return(unsafe { raw::syscall0(WORD) })
}
