//! Lifecycle states and SIO object kinds, as `query` reports them.
//!
//! Owns [`SmachState`], [`ScpuState`] and [`SioKind`]: the numbered fields
//! of the info structs in [`crate::info`]. A number this build does not know
//! (a newer kernel) decodes as [`SysError::Unknown`](crate::SysError::Unknown).

numbered_enum! {
    /// What an SMACH is doing (`SmachInfo::state`).
    pub enum SmachState: u32, unknown => Unknown {
        /// At least one SCPU can run.
        Running = 0,
        /// Stopped by `reconfigure(Suspend)` until `Resume`.
        Suspended = 1,
        /// Terminated; `exit_status` is valid. The handle stays until the
        /// parent terminates it (after `Wait`, or instead of it).
        Exited = 2,
    }
}

numbered_enum! {
    /// What an SCPU is doing (`ScpuInfo::state`).
    pub enum ScpuState: u32, unknown => Unknown {
        /// Waiting for a CPU.
        Ready = 0,
        /// On a CPU (the caller, when it queries itself).
        Running = 1,
        /// Waiting for an event (input, a child's exit, a semaphore, the
        /// end of a sleep).
        Blocked = 2,
        /// Stopped by `reconfigure(Suspend)` until `Resume`.
        Suspended = 3,
        /// Terminated.
        Exited = 4,
    }
}

numbered_enum! {
    /// What an SIO is connected to (`SioInfo::kind`).
    pub enum SioKind: u32, unknown => Unknown {
        /// A regular file in the RAM file system.
        File = 0,
        /// A directory: `read` returns its entries.
        Dir = 1,
        /// `/dev/null`: reads end at once, writes are discarded.
        Null = 2,
        /// `/dev/zero`: reads give zeros, writes are discarded.
        Zero = 3,
        /// `/dev/mem`-like memory device.
        Mem = 4,
        /// The console (`/dev/tty`, handle 1).
        Tty = 5,
        /// A counting semaphore (`/dev/semaphore`, a new one per open):
        /// `read` is P, `write` is V.
        Semaphore = 6,
        /// The read end of a pipe (`/dev/pipe` makes both ends).
        PipeRead = 7,
        /// The write end of a pipe.
        PipeWrite = 8,
        /// The receive end of a port (`/dev/port` makes both ends).
        PortReceive = 9,
        /// The send end of a port.
        PortSend = 10,
    }
}
