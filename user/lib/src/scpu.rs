//! SCPU handles: threads in the caller's SMACH, and stacks for them.
//!
//! Owns [`Scpu`] (start a thread, suspend, resume, set priority and time
//! slice, query, kill) and [`Stack`], a static stack a thread can be given
//! without `unsafe`.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

use sk_abi::{
    Handle, QuerySelector, ScpuCreateArgs, ScpuInfo, ScpuReconfigure, SysError, STACK_ALIGN,
};

use crate::call::{self, register};

/// The smallest stack [`Scpu::create`] accepts, in bytes.
pub const MIN_STACK_BYTES: usize = 256;

/// A thread entry point: runs with the `arg` given at creation and never
/// returns (it ends with [`Scpu::terminate`] on its own handle or
/// [`exit`](crate::exit)).
pub type ScpuEntry = extern "C" fn(arg: u64) -> !;

/// A synthetic CPU: a thread of the caller's SMACH.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Scpu {
    handle: Handle,
}

impl Scpu {
    /// Starts a thread at `entry(arg)` on `stack`, with the kernel's
    /// default priority and time slice.
    ///
    /// # Errors
    /// [`SysError::BadLength`] if `stack` is smaller than
    /// [`MIN_STACK_BYTES`]; [`SysError::NoMemory`],
    /// [`SysError::TooManyHandles`], …
    pub fn create(entry: ScpuEntry, stack: &'static mut [u8], arg: u64) -> Result<Self, SysError> {
        Self::create_with(entry, stack, arg, sk_abi::DEFAULT_PRIORITY, 0)
    }

    /// As [`Scpu::create`], with a priority (0, the lowest, to 7) and a
    /// time slice in microseconds (0 = the kernel's default).
    ///
    /// # Errors
    /// As for [`Scpu::create`].
    pub fn create_with(
        entry: ScpuEntry,
        stack: &'static mut [u8],
        arg: u64,
        priority: u32,
        quantum_us: u32,
    ) -> Result<Self, SysError> {
        let stack_top = stack_top(stack).ok_or(SysError::BadLength)?;
        let args = ScpuCreateArgs {
            entry: register(entry as usize),
            stack_top,
            arg,
            priority,
            quantum_us,
        };
        // SAFETY:
        // 1. `entry` is a safe Rust function; running it on another thread
        //    is sound because safe code can only share `Sync` data.
        // 2. The stack is `&'static mut`: no one else can use that memory,
        //    ever, so the thread owns it for as long as it runs.
        let handle = unsafe { call::create_scpu(&args) }?;
        Ok(Self { handle })
    }

    /// Wraps a handle known to name an SCPU.
    #[must_use]
    pub const fn from_handle(handle: Handle) -> Self {
        Self { handle }
    }

    /// The handle.
    #[must_use]
    pub const fn handle(&self) -> Handle {
        self.handle
    }

    /// Stops the thread.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn suspend(&self) -> Result<(), SysError> {
        self.reconfigure(ScpuReconfigure::Suspend).map(drop)
    }

    /// Lets the thread run again.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn resume(&self) -> Result<(), SysError> {
        self.reconfigure(ScpuReconfigure::Resume).map(drop)
    }

    /// Sets its priority.
    ///
    /// # Errors
    /// [`SysError::BadValue`], …
    pub fn set_priority(&self, priority: u32) -> Result<(), SysError> {
        self.reconfigure(ScpuReconfigure::Priority(priority))
            .map(drop)
    }

    /// Sets its time slice in microseconds.
    ///
    /// # Errors
    /// [`SysError::BadValue`] for 0, …
    pub fn set_quantum(&self, quantum_us: u32) -> Result<(), SysError> {
        self.reconfigure(ScpuReconfigure::Quantum { quantum_us })
            .map(drop)
    }

    /// Gives up the CPU to the other ready SCPUs; only on the caller's own
    /// handle (a thread learns it from its creator).
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] on another SCPU's handle, …
    pub fn yield_now(&self) -> Result<(), SysError> {
        self.reconfigure(ScpuReconfigure::Yield).map(drop)
    }

    /// Blocks for at least `ns` nanoseconds of guest time; only on the
    /// caller's own handle.
    ///
    /// # Errors
    /// [`SysError::BadValue`] past [`sk_abi::MAX_SLEEP_NS`];
    /// [`SysError::NotPermitted`] on another SCPU's handle, …
    pub fn sleep_ns(&self, ns: u64) -> Result<(), SysError> {
        self.reconfigure(ScpuReconfigure::Sleep { ns }).map(drop)
    }

    /// Any reconfigure request; returns the call's value.
    ///
    /// # Errors
    /// As for the request.
    pub fn reconfigure(&self, request: ScpuReconfigure) -> Result<u64, SysError> {
        call::reconfigure(self.handle, request.to_registers())
    }

    /// Its switch code as the kernel describes it: the scheduler, the ring
    /// in order by thread id, and (boot option `synth.show`) the
    /// switch-out's and switch-in's annotated disassembly, the jump named
    /// by thread; returns the bytes written to `buf`.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], [`SysError::BadAddress`], …
    pub fn routines(&self, buf: &mut [u8]) -> Result<usize, SysError> {
        call::query(self.handle, QuerySelector::Routines, buf)
    }

    /// Its state, priority, time slice and id.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn query(&self) -> Result<ScpuInfo, SysError> {
        let mut bytes = [0_u8; ScpuInfo::SIZE];
        call::query(self.handle, QuerySelector::Info, &mut bytes)?;
        ScpuInfo::from_bytes(&bytes)
    }

    /// Ends the thread, with `status` if it is the caller's own SCPU (then
    /// this does not return). Its stack stays reserved: a `&'static mut`
    /// stack is never given back.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn terminate(self, status: i32) -> Result<(), SysError> {
        let status = sk_abi::ExitStatus::new(status).to_register();
        call::terminate(self.handle, status).map(drop)
    }
}

/// The ABI's `stack_top` for `stack`: its end rounded down to
/// [`STACK_ALIGN`]; `None` if fewer than [`MIN_STACK_BYTES`] remain.
fn stack_top(stack: &[u8]) -> Option<u64> {
    let start = register(stack.as_ptr() as usize);
    let end = start.checked_add(register(stack.len()))?;
    let top = end & !(STACK_ALIGN - 1);
    let usable = top.checked_sub(start)?;
    (usable >= register(MIN_STACK_BYTES)).then_some(top)
}

/// A stack for one thread, placed in a `static`, handed out at most once.
///
/// ```no_run
/// use sk_user::{Scpu, Stack};
/// static WORKER_STACK: Stack<16384> = Stack::new();
/// extern "C" fn worker(arg: u64) -> ! {
///     sk_user::println!("worker {arg}");
///     sk_user::exit(0)
/// }
/// let stack = WORKER_STACK.take().expect("stack already in use");
/// let _scpu = Scpu::create(worker, stack, 7);
/// ```
pub struct Stack<const BYTES: usize> {
    is_taken: AtomicBool,
    bytes: UnsafeCell<[u8; BYTES]>,
}

// SAFETY: the bytes are reached only through `take`, which hands out one
// `&mut` for the program's lifetime, guarded by the atomic flag.
unsafe impl<const BYTES: usize> Sync for Stack<BYTES> {}

impl<const BYTES: usize> Stack<BYTES> {
    /// An untaken, zeroed stack.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            is_taken: AtomicBool::new(false),
            bytes: UnsafeCell::new([0; BYTES]),
        }
    }

    /// The stack's memory, the first time; `None` after.
    #[allow(
        clippy::mut_from_ref,
        reason = "the atomic flag hands out the one `&mut`, as `OnceCell` would"
    )]
    pub fn take(&'static self) -> Option<&'static mut [u8]> {
        let was_taken = self.is_taken.swap(true, Ordering::AcqRel);
        if was_taken {
            return None;
        }
        // SAFETY: the swap above returns `false` exactly once, so this is
        // the only reference ever made to the bytes; they live in a static.
        Some(unsafe { &mut *self.bytes.get() })
    }
}

impl<const BYTES: usize> Default for Stack<BYTES> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_top_is_aligned_and_inside() {
        let stack = [0_u8; 1000];
        let start = stack.as_ptr() as u64;
        let top = stack_top(&stack);
        assert!(
            top.is_some_and(|top| top % 16 == 0 && top <= start + 1000 && top + 16 > start + 1000)
        );
    }

    #[test]
    fn small_stacks_are_refused() {
        assert_eq!(stack_top(&[0_u8; 64]), None);
        assert_eq!(stack_top(&[]), None);
    }

    #[test]
    fn a_static_stack_is_taken_once() {
        static STACK: Stack<512> = Stack::new();
        assert!(STACK.take().is_some_and(|bytes| bytes.len() == 512));
        assert!(STACK.take().is_none());
    }
}
