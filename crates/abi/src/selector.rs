//! Selector numbers: the `rdi` of `reconfigure` and `query`.
//!
//! Owns the per-kind reconfigure selectors ([`SmachSelector`],
//! [`ScpuSelector`], [`SmemSelector`], [`SioSelector`]), [`Whence`] for
//! seeks, and [`QuerySelector`]. Unknown numbers decode as
//! [`SysError::BadSelector`](crate::SysError::BadSelector). The values that
//! go with each selector are decoded in [`crate::reconfigure`]. Shared
//! meanings share numbers across kinds (Suspend = 0, Resume = 1,
//! Priority = 2).

numbered_enum! {
    /// What `reconfigure` changes on an SMACH.
    pub enum SmachSelector: u32, unknown => BadSelector {
        /// Stop all its SCPUs.
        Suspend = 0,
        /// Let its SCPUs run again.
        Resume = 1,
        /// Set the priority of all its SCPUs (`rsi`).
        Priority = 2,
        /// Block until the child exits; returns its exit status.
        Wait = 3,
        /// Own SMACH only: single-step the caller's *next* system call in
        /// the kernel (RFLAGS.TF and `#DB`) and count its kernel
        /// instructions, from the `syscall` instruction to the return to
        /// user mode. The caller then sets TF (`pushf; or; popf`) right
        /// before that call; read the count with
        /// [`QuerySelector::LastTrace`].
        TraceNextCall = 4,
        /// Own SMACH ([`Handle::SELF`](crate::Handle::SELF)) only: the
        /// *calling SCPU* yields, as [`ScpuSelector::Yield`] on its own
        /// handle (which an SMACH's first SCPU does not have). Returns 0.
        YieldCaller = 5,
        /// Own SMACH only: the calling SCPU sleeps `rsi` nanoseconds, as
        /// [`ScpuSelector::Sleep`] on its own handle. Returns 0.
        SleepCaller = 6,
        /// Parent only (a child's handle, never [`Handle::SELF`](crate::Handle::SELF)):
        /// the child's memory budget in 4 KiB frames (`rsi`), carved from
        /// the parent's: the child's mapped frames plus its children's
        /// budgets stay within it. A child of a budgeted parent starts with
        /// exactly what its program took. Fails with
        /// [`OverBudget`](crate::SysError::OverBudget) if the parent has not
        /// that much left or the child uses more already. Returns 0.
        Budget = 7,
        /// Parent only: the child's weight (`rsi`, 1 to 1000) in its parent's
        /// [`SubPolicy::Weighted`] division. Returns 0.
        Weight = 8,
        /// Own SMACH or a child: how its CPU share is divided among its own
        /// SCPUs and its children's subtrees (`rsi` = [`SubPolicy`]); from
        /// the first choice on, it and its subtree are scheduled as one SCPU
        /// of its parent's level. Returns 0.
        SubPolicy = 9,
        /// Parent only (a child's handle, never [`Handle::SELF`](crate::Handle::SELF)):
        /// the directory SIO `rsi` (a handle in the caller's table) becomes
        /// the child's root: every path the child and its descendants open
        /// (unless given their own root) resolves inside it; `..`, absolute
        /// paths and repeated slashes never leave it. Returns 0.
        Root = 10,
    }
}

numbered_enum! {
    /// How a SMACH divides its CPU share among its members (its own SCPUs
    /// and its children's subtrees); see [`SmachSelector::SubPolicy`].
    pub enum SubPolicy: u32, unknown => BadValue {
        /// Equal shares (the default).
        RoundRobin = 0,
        /// Shares in proportion to the children's weights
        /// ([`SmachSelector::Weight`]); an own SCPU weighs 1.
        Weighted = 1,
    }
}

numbered_enum! {
    /// What `reconfigure` changes on an SCPU.
    pub enum ScpuSelector: u32, unknown => BadSelector {
        /// Stop the thread.
        Suspend = 0,
        /// Let the thread run again.
        Resume = 1,
        /// Set its priority (`rsi`).
        Priority = 2,
        /// Set its time slice in microseconds (`rsi`, non-zero).
        Quantum = 3,
        /// Own SCPU only: give up the CPU; the caller goes to the back of
        /// the ready queue and runs again after every other ready SCPU had
        /// its turn (returns at once if none is ready). Returns 0.
        Yield = 4,
        /// Own SCPU only: block for at least `rsi` nanoseconds of guest
        /// time (TSC), at most [`MAX_SLEEP_NS`](crate::MAX_SLEEP_NS);
        /// `0` is a [`Yield`](Self::Yield). Returns 0.
        Sleep = 5,
    }
}

numbered_enum! {
    /// What `reconfigure` changes on an SMEM.
    pub enum SmemSelector: u32, unknown => BadSelector {
        /// Change its protection (`rsi` = [`Prot`](crate::Prot) bits).
        Protect = 0,
    }
}

numbered_enum! {
    /// What `reconfigure` changes on an SIO.
    pub enum SioSelector: u32, unknown => BadSelector {
        /// Move the position (`rsi` = [`Whence`], `rdx` = offset as `i64`);
        /// returns the new position.
        Seek = 0,
        /// Set the console's line discipline (`rsi` = [`TtyMode`](crate::TtyMode) bits).
        TtyMode = 1,
        /// Owner only: share the SIO with the SMACH whose handle is `rsi`
        /// (a child, say), with rights `rdx` ([`OpenFlags`](crate::OpenFlags)
        /// `READ` and/or `WRITE`, a subset of how it was opened). Returns
        /// the handle number the receiver got.
        Share = 2,
        /// Owner only: revoke every share of the SIO in one step. Returns
        /// the number of holders' handles revoked (0 if none was left).
        Revoke = 3,
        /// Port send end: send one message carrying the caller's SIO
        /// handle `rsi` with rights `rdx` (see [`crate::port`]); returns 0.
        PortAttachHandle = 4,
        /// Port receive end: take the handle whose token (`rsi`) a
        /// received message carried; returns the new handle.
        PortTakeHandle = 5,
        /// Pipe write end, owner only: the console becomes the pipe's
        /// reader (`program | tty`): writes go to the console through its
        /// line discipline from now on; returns 0.
        PipeToConsole = 6,
        /// A new view of the SIO (see [`crate::SioReconfigure::View`]): a
        /// window of `rdx` bytes from offset `rsi`, with the caller's
        /// rights on it. Returns the caller's new handle.
        View = 9,
        /// As [`View`](Self::View), read-only.
        ReadOnlyView = 10,
        /// On a view, its maker only: move its window to offset `rsi`,
        /// length `rdx` (in its parent's coordinates); returns 0.
        ViewReshape = 11,
        /// On the tty (or a prefix view of it): a new *prefix view*, whose
        /// writes put the prefix (`rdx` bytes, 1 to
        /// [`MAX_PREFIX_LEN`](crate::MAX_PREFIX_LEN), at user address `rsi`)
        /// at the start of every line. Returns the caller's new handle.
        PrefixView = 12,
        /// On a directory: remove its entry named by the `rdx` bytes at
        /// user address `rsi` (one name, 1 to
        /// [`MAX_NAME_LEN`](crate::MAX_NAME_LEN) bytes): a file, or an
        /// empty directory. Returns 0.
        Remove = 13,
    }
}

numbered_enum! {
    /// What a seek offset is relative to (`lseek`'s `whence`).
    pub enum Whence: u32, unknown => BadValue {
        /// The start of the file.
        Set = 0,
        /// The current position.
        Current = 1,
        /// The end of the file.
        End = 2,
    }
}

numbered_enum! {
    /// What `query` reports (`rdi`).
    pub enum QuerySelector: u32, unknown => BadSelector {
        /// The kind's info struct ([`SmachInfo`](crate::SmachInfo),
        /// [`ScpuInfo`](crate::ScpuInfo), [`SmemInfo`](crate::SmemInfo),
        /// [`SioInfo`](crate::SioInfo)); all kinds.
        Info = 0,
        /// SIO: the routines synthesized for this SIO as UTF-8 text
        /// (per routine: op, template, address, size, invariants, creation
        /// cost, call count, annotated disassembly). SCPU: its switch code
        /// (the scheduler, the ring in order by thread id, and the
        /// switch-out's and switch-in's annotated disassembly, the jump
        /// named by thread). Returns the bytes written (truncated to the
        /// buffer); addresses only with the boot option `synth.show`.
        Routines = 1,
        /// Own SMACH only: kernel instructions of the last traced call
        /// (see `SmachSelector::TraceNextCall`), as a `u64` return value.
        LastTrace = 2,
        /// SMACH: its subtree, as [`SmachTreeEntry`](crate::SmachTreeEntry)
        /// records in pre-order (itself first, depth 0), as many as fit in
        /// the buffer (its length must be a multiple of
        /// `SmachTreeEntry::SIZE`). Returns the number of SMACHs in the
        /// subtree (more than were written if the buffer was short).
        Tree = 6,
    }
}
