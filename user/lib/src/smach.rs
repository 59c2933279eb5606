//! SMACH handles: the caller itself (handle 0) and its children.
//!
//! Owns [`Smach`] (spawn a program from the initrd, wait for it, suspend,
//! resume, query, kill) and [`exit`], which terminates the caller.

use sk_abi::{
    ExitStatus, Handle, Kind, QuerySelector, SmachCreateArgs, SmachInfo, SmachReconfigure,
    SmachTreeEntry, SysError,
};

use crate::call::{self, register};
use crate::route::Route;

/// A synthetic machine: the caller ([`Smach::this`]) or a child.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Smach {
    handle: Handle,
}

impl Smach {
    /// Starts the program at `path` in the initrd (e.g. `/bin/hello`) in a
    /// new child SMACH, with `rdi = 0` at its entry.
    ///
    /// # Errors
    /// [`SysError::NotFound`], [`SysError::BadElf`], [`SysError::NoMemory`],
    /// [`SysError::TooManyHandles`], …
    pub fn spawn(path: &str) -> Result<Self, SysError> {
        Self::spawn_with_arg(path, 0)
    }

    /// As [`Smach::spawn`], passing `arg` to the program (read it with
    /// [`start_arg`](crate::start_arg)).
    ///
    /// # Errors
    /// As for [`Smach::spawn`].
    pub fn spawn_with_arg(path: &str, arg: u64) -> Result<Self, SysError> {
        let args = SmachCreateArgs {
            path_ptr: register(path.as_ptr() as usize),
            path_len: register(path.len()),
            arg,
            flags: 0,
            _pad: 0,
        };
        let handle = call::create(Kind::Smach, &args.to_bytes(), Route::Table)?;
        Ok(Self { handle })
    }

    /// Starts the static Linux x86-64 program at `path` in a new child
    /// SMACH with the Linux personality (docs/unix.md): `argv` is
    /// `[path]`, so a multi-call binary such as busybox picks its applet
    /// from the name (`/bin/sh` runs its shell).
    ///
    /// # Errors
    /// As for [`Smach::spawn`]; [`SysError::NotSupported`] where the
    /// kernel cannot run Linux programs (the per-CPU-slot entry mode).
    pub fn spawn_linux(path: &str) -> Result<Self, SysError> {
        let args = SmachCreateArgs {
            path_ptr: register(path.as_ptr() as usize),
            path_len: register(path.len()),
            arg: 0,
            flags: sk_abi::SmachCreateFlags::LINUX.bits(),
            _pad: 0,
        };
        let handle = call::create(Kind::Smach, &args.to_bytes(), Route::Table)?;
        Ok(Self { handle })
    }

    /// As [`Smach::spawn_linux`], but the child starts suspended (its
    /// parent can give it a budget before it runs).
    ///
    /// # Errors
    /// As for [`Smach::spawn_linux`].
    pub fn spawn_linux_suspended(path: &str) -> Result<Self, SysError> {
        let flags = sk_abi::SmachCreateFlags::LINUX | sk_abi::SmachCreateFlags::SUSPENDED;
        let args = SmachCreateArgs {
            path_ptr: register(path.as_ptr() as usize),
            path_len: register(path.len()),
            arg: 0,
            flags: flags.bits(),
            _pad: 0,
        };
        let handle = call::create(Kind::Smach, &args.to_bytes(), Route::Table)?;
        Ok(Self { handle })
    }

    /// As [`Smach::spawn_with_arg`], but the child starts suspended
    /// ([`SmachCreateFlags::SUSPENDED`](sk_abi::SmachCreateFlags::SUSPENDED)):
    /// nothing of it runs until [`Smach::resume`]. Share SIOs with it in
    /// between ([`Sio::share`](crate::Sio::share)): its first share gets
    /// handle 2, the next 3, and so on.
    ///
    /// # Errors
    /// As for [`Smach::spawn`].
    pub fn spawn_suspended(path: &str, arg: u64) -> Result<Self, SysError> {
        let args = SmachCreateArgs {
            path_ptr: register(path.as_ptr() as usize),
            path_len: register(path.len()),
            arg,
            flags: sk_abi::SmachCreateFlags::SUSPENDED.bits(),
            _pad: 0,
        };
        let handle = call::create(Kind::Smach, &args.to_bytes(), Route::Table)?;
        Ok(Self { handle })
    }

    /// The caller's own SMACH (handle 0).
    #[must_use]
    pub const fn this() -> Self {
        Self {
            handle: Handle::SELF,
        }
    }

    /// Wraps a handle known to name an SMACH.
    #[must_use]
    pub const fn from_handle(handle: Handle) -> Self {
        Self { handle }
    }

    /// The handle.
    #[must_use]
    pub const fn handle(&self) -> Handle {
        self.handle
    }

    /// Blocks until the child exits; returns its exit status (at once if it
    /// already has).
    ///
    /// # Errors
    /// [`SysError::Busy`] if another SCPU already waits on it,
    /// [`SysError::Interrupted`], [`SysError::BadHandle`], …
    pub fn wait(&self) -> Result<i32, SysError> {
        let status = self.reconfigure(SmachReconfigure::Wait)?;
        Ok(ExitStatus::from_register(status).get())
    }

    /// Stops all its SCPUs.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn suspend(&self) -> Result<(), SysError> {
        self.reconfigure(SmachReconfigure::Suspend).map(drop)
    }

    /// Lets its SCPUs run again.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn resume(&self) -> Result<(), SysError> {
        self.reconfigure(SmachReconfigure::Resume).map(drop)
    }

    /// Sets the priority of all its SCPUs.
    ///
    /// # Errors
    /// [`SysError::BadValue`], …
    pub fn set_priority(&self, priority: u32) -> Result<(), SysError> {
        self.reconfigure(SmachReconfigure::Priority(priority))
            .map(drop)
    }

    /// Any reconfigure request; returns the call's value.
    ///
    /// # Errors
    /// As for the request.
    pub fn reconfigure(&self, request: SmachReconfigure) -> Result<u64, SysError> {
        call::reconfigure(self.handle, request.to_registers())
    }

    /// Its state, exit status, handle count, memory use and id.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn query(&self) -> Result<SmachInfo, SysError> {
        let mut bytes = [0_u8; SmachInfo::SIZE];
        call::query(self.handle, QuerySelector::Info, &mut bytes)?;
        SmachInfo::from_bytes(&bytes)
    }

    /// Its subtree (itself first, pre-order; docs/nesting.md): fills `out`
    /// with as many records as fit and returns how many SMACHs the subtree
    /// has.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn query_tree(&self, out: &mut [SmachTreeEntry]) -> Result<usize, SysError> {
        let mut bytes = [0_u8; SmachTreeEntry::SIZE * 16];
        let fit = out.len().min(16);
        let len = SmachTreeEntry::SIZE * fit;
        let buffer = bytes.get_mut(..len).ok_or(SysError::BadLength)?;
        let total = call::query(self.handle, QuerySelector::Tree, buffer)?;
        for (i, slot) in out.iter_mut().take(total.min(fit)).enumerate() {
            let at = i * SmachTreeEntry::SIZE;
            let record = bytes
                .get(at..at + SmachTreeEntry::SIZE)
                .ok_or(SysError::BadLength)?;
            *slot = SmachTreeEntry::from_bytes(record)?;
        }
        Ok(total)
    }

    /// Ends the calling SMACH with `status`; the same as [`exit`].
    pub fn exit(status: i32) -> ! {
        exit(status)
    }

    /// Kills a child (its exit status becomes
    /// [`ExitStatus::KILLED`] unless it had exited) and frees its handle.
    /// On [`Smach::this`] it exits with status 137, as [`exit`] would.
    ///
    /// # Errors
    /// [`SysError::BadHandle`], …
    pub fn terminate(self) -> Result<(), SysError> {
        call::terminate(self.handle, ExitStatus::KILLED.to_register()).map(drop)
    }
}

/// The calling SCPU gives up the CPU to the other ready SCPUs (any SCPU,
/// including an SMACH's first, which has no handle of its own):
/// `reconfigure(YieldCaller)` on [`Handle::SELF`].
///
/// # Errors
/// None expected; the kernel's error if any.
pub fn yield_now() -> Result<(), SysError> {
    // The registers are a constant, so the yield is the bare call: through
    // `Smach::reconfigure`, which stopped being inlined here when the
    // request enum grew (nesting's selectors), it cost 22 more user
    // instructions per yield (the bench's one-way switch).
    const YIELD: [u64; 3] = SmachReconfigure::YieldCaller.to_registers();
    call::reconfigure(Smach::this().handle, YIELD).map(drop)
}

/// The calling SCPU blocks for at least `ns` nanoseconds of guest time:
/// `reconfigure(SleepCaller)` on [`Handle::SELF`].
///
/// # Errors
/// [`SysError::BadValue`] past [`sk_abi::MAX_SLEEP_NS`].
pub fn sleep_ns(ns: u64) -> Result<(), SysError> {
    Smach::this()
        .reconfigure(sk_abi::SmachReconfigure::SleepCaller { ns })
        .map(drop)
}

/// Ends the calling SMACH with `status` (0 = success).
///
/// All its SCPUs stop and its objects are freed; a parent's
/// [`Smach::wait`] returns `status`.
pub fn exit(status: i32) -> ! {
    // The kernel does not return from self-termination; if it ever did,
    // keep trying rather than run on.
    loop {
        let _ = call::terminate(Handle::SELF, ExitStatus::new(status).to_register());
        core::hint::spin_loop();
    }
}
