//! The sandbox: a W^X code region, a shared data region, and forked calls.
//!
//! Owns [`Sandbox`], [`Registers`] and [`Outcome`]. Code is written while the
//! region is RW, then sealed RX ([`Sandbox::seal`]); calls run in a fork
//! child ([`Sandbox::call`]) so a wrong template kills a child, not the test.
//! Neighbours: [`crate::trampoline`] enters the code, [`crate::fault_handler`]
//! emulates the kernel's exception table.

use crate::fault_handler::{self, Fixup};
use crate::mapping::{Access, Mapping, Sharing, PAGE_SIZE};
use crate::trampoline::{self, Frame};
use crate::ExecError;

/// Seconds a child may run before `SIGALRM` ends it.
const CHILD_ALARM_SECONDS: u32 = 5;

/// Values the callee-saved registers hold on entry; checked on return.
const CALLEE_SAVED_SENTINELS: [u64; 6] = [
    0xb0b0_0000_0000_00b1,
    0xb0b0_0000_0000_00b2,
    0xb0b0_0000_0000_00b3,
    0xb0b0_0000_0000_00b4,
    0xb0b0_0000_0000_00b5,
    0xb0b0_0000_0000_00b6,
];

/// Argument registers of one call (the native ABI's, plus `r9`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Registers {
    /// `rax`: the routine index `(handle << 3) | op` on the real path.
    pub rax: u64,
    /// First argument.
    pub rdi: u64,
    /// Second argument.
    pub rsi: u64,
    /// Third argument.
    pub rdx: u64,
    /// Fourth argument (`rcx` is taken by `syscall`).
    pub r10: u64,
    /// Fifth argument.
    pub r8: u64,
    /// Not an argument; scratch for routines.
    pub r9: u64,
}

/// What a call returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// `rax` after the routine's `ret`.
    pub rax: u64,
    /// Whether `rbx`, `rbp`, `r12`–`r15` held their entry values on return.
    pub is_callee_saved_intact: bool,
}

impl Outcome {
    /// `rax` read as the kernel's signed result (`>= 0` or `-(error code)`).
    pub fn result(&self) -> i64 {
        self.rax as i64
    }
}

/// A code region (W^X) and a data region shared with the fork child that
/// runs the code. The data region is followed by one inaccessible page.
#[derive(Debug)]
pub struct Sandbox {
    code: Mapping,
    data: Mapping,
    data_len: usize,
    results: Mapping,
}

impl Sandbox {
    /// Maps at least `code_len` bytes of code (RW until [`Sandbox::seal`])
    /// and at least `data_len` bytes of shared data plus a guard page.
    ///
    /// # Errors
    ///
    /// [`ExecError::Map`] or [`ExecError::Protect`] when the kernel refuses.
    pub fn new(code_len: usize, data_len: usize) -> Result<Self, ExecError> {
        let code = Mapping::new(code_len, Sharing::Private)?;
        let data_len = data_len.max(1).div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let mut data = Mapping::new(data_len + PAGE_SIZE, Sharing::Shared)?;
        data.protect(Access::None, Some((data_len, PAGE_SIZE)))?;
        let results = Mapping::new(core::mem::size_of::<Frame>(), Sharing::Shared)?;
        Ok(Self {
            code,
            data,
            data_len,
            results,
        })
    }

    /// Address of the first code byte.
    pub fn code_address(&self) -> u64 {
        self.code.address()
    }

    /// Address of the first data byte.
    pub fn data_address(&self) -> u64 {
        self.data.address()
    }

    /// Address of the inaccessible page right after the data region: any
    /// access to it faults (`SIGSEGV`), as a bad user pointer would.
    pub fn guard_address(&self) -> u64 {
        self.data.address() + self.data_len as u64
    }

    /// The code bytes, for writing generated code before sealing.
    ///
    /// # Errors
    ///
    /// [`ExecError::Sealed`] once [`Sandbox::seal`] ran.
    pub fn code_mut(&mut self) -> Result<&mut [u8], ExecError> {
        if self.code.access() != Access::ReadWrite {
            return Err(ExecError::Sealed);
        }
        let len = self.code.len();
        Ok(self.code.bytes_mut(len))
    }

    /// Makes the code region read-execute (never writable again).
    ///
    /// # Errors
    ///
    /// [`ExecError::Protect`] when `mprotect` fails.
    pub fn seal(&mut self) -> Result<(), ExecError> {
        self.code.protect(Access::ReadExecute, None)
    }

    /// Whether the code region is sealed (RX).
    pub fn is_sealed(&self) -> bool {
        self.code.access() == Access::ReadExecute
    }

    /// The data region.
    pub fn data(&self) -> &[u8] {
        self.data.bytes(self.data_len)
    }

    /// The data region, mutably (buffers and cells the code will use).
    pub fn data_mut(&mut self) -> &mut [u8] {
        self.data.bytes_mut(self.data_len)
    }

    /// Reads the little-endian `u64` cell at `offset` in the data region.
    pub fn read_cell(&self, offset: usize) -> u64 {
        let mut bytes = [0; 8];
        bytes.copy_from_slice(&self.data()[offset..offset + 8]);
        u64::from_le_bytes(bytes)
    }

    /// Writes the little-endian `u64` cell at `offset` in the data region.
    pub fn write_cell(&mut self, offset: usize, value: u64) {
        self.data_mut()[offset..offset + 8].copy_from_slice(&value.to_le_bytes());
    }

    /// Calls the code at `entry` with `registers`, in a fork child, with the
    /// exception table `fixups`; returns once the child is gone.
    ///
    /// The child sees the code region and shares the data region; its writes
    /// to the data region are visible afterwards through [`Sandbox::data`].
    ///
    /// # Errors
    ///
    /// [`ExecError::NotSealed`] / [`ExecError::EntryOutOfRange`] for a bad
    /// request; [`ExecError::Crashed`] / [`ExecError::TimedOut`] when the
    /// code misbehaves; [`ExecError::Process`] when `fork`/`waitpid` fail.
    pub fn call(
        &mut self,
        entry: u64,
        registers: &Registers,
        fixups: &[Fixup],
    ) -> Result<Outcome, ExecError> {
        if !self.is_sealed() {
            return Err(ExecError::NotSealed);
        }
        let code_end = self.code.address() + self.code.len() as u64;
        if !(self.code.address()..code_end).contains(&entry) {
            return Err(ExecError::EntryOutOfRange { entry });
        }
        let [rbx, rbp, r12, r13, r14, r15] = CALLEE_SAVED_SENTINELS;
        let frame = Frame {
            rax: registers.rax,
            rdi: registers.rdi,
            rsi: registers.rsi,
            rdx: registers.rdx,
            r10: registers.r10,
            r8: registers.r8,
            r9: registers.r9,
            rbx,
            rbp,
            r12,
            r13,
            r14,
            r15,
        };
        let results = self.results.address() as *mut Frame;
        // SAFETY: `fork` has no memory-safety preconditions; the child below
        // only calls async-signal-safe functions (no allocation, no locks), as
        // required after forking a multi-threaded process.
        let pid = unsafe { libc::fork() };
        if pid < 0 {
            return Err(ExecError::Process(std::io::Error::last_os_error()));
        }
        if pid == 0 {
            run_child(frame, entry, fixups, results);
        }
        let status = wait_for(pid)?;
        if libc::WIFSIGNALED(status) {
            let signal = libc::WTERMSIG(status);
            return Err(if signal == libc::SIGALRM {
                ExecError::TimedOut
            } else {
                ExecError::Crashed { signal }
            });
        }
        if !libc::WIFEXITED(status) || libc::WEXITSTATUS(status) != 0 {
            return Err(ExecError::UnexpectedExit { status });
        }
        let words: Vec<u64> = self
            .results
            .bytes(core::mem::size_of::<Frame>())
            .chunks_exact(8)
            .map(|chunk| u64::from_le_bytes(chunk.try_into().unwrap_or_default()))
            .collect();
        let is_callee_saved_intact = words[7..13] == CALLEE_SAVED_SENTINELS;
        Ok(Outcome {
            rax: words[0],
            is_callee_saved_intact,
        })
    }
}

/// The fork child: arm the alarm and the fixup handler, run, report, exit.
fn run_child(mut frame: Frame, entry: u64, fixups: &[Fixup], results: *mut Frame) -> ! {
    // SAFETY: `alarm` is async-signal-safe and has no preconditions.
    unsafe { libc::alarm(CHILD_ALARM_SECONDS) };
    fault_handler::install(fixups);
    // SAFETY: the child is single-threaded and `_exit`s right after, so
    // whatever the generated code does stays in this process; `frame` is a
    // valid local; `entry` lies in the sealed RX code region (checked by
    // `call`). Soundness of the code itself is what the test is checking.
    unsafe { trampoline::enter(&mut frame, entry) };
    // SAFETY: `results` points at our shared results page, which is mapped
    // RW, page-aligned and at least `size_of::<Frame>()` long.
    unsafe { results.write_volatile(frame) };
    // SAFETY: `_exit` ends the child without running the parent's atexit
    // handlers or destructors.
    unsafe { libc::_exit(0) }
}

/// Waits for `pid`, retrying on `EINTR`.
fn wait_for(pid: libc::pid_t) -> Result<libc::c_int, ExecError> {
    let mut status = 0;
    loop {
        // SAFETY: `status` is a valid out-pointer; `pid` is our own child.
        let rc = unsafe { libc::waitpid(pid, &mut status, 0) };
        if rc == pid {
            return Ok(status);
        }
        let error = std::io::Error::last_os_error();
        if error.kind() != std::io::ErrorKind::Interrupted {
            return Err(ExecError::Process(error));
        }
    }
}
