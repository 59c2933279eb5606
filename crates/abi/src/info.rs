//! Info structs: what `query(QuerySelector::Info)` writes, one per kind.
//!
//! Owns [`SmachInfo`], [`ScpuInfo`], [`SmemInfo`], [`SioInfo`]. The kernel
//! fills one and copies out [`to_bytes`](SioInfo::to_bytes); user code
//! passes a pointer to one (or decodes with `from_bytes`). Numbered fields
//! have typed accessors. Fields are ordered to need no padding where they
//! can.

use crate::{ExitStatus, OpenFlags, Prot, ScpuState, SioKind, SmachState, SysError};

wire_struct! {
    /// An SMACH's state (query on an SMACH handle; handle 0 is the caller).
    pub struct SmachInfo, size 32 {
        /// [`SmachState`] number.
        pub state: u32,
        /// Handles in use in its table (including 0 and 1).
        pub handle_count: u32,
        /// Exit status, sign-extended; 0 unless `state` is `Exited`.
        pub exit_status: i64,
        /// Bytes of user memory mapped (program and SMEMs).
        pub memory_bytes: u64,
        /// System-wide unique id, never reused while the system runs.
        pub id: u64,
    }
}

impl SmachInfo {
    /// The decoded state.
    ///
    /// # Errors
    /// [`SysError::Unknown`] for a state number this build does not know.
    pub fn state(&self) -> Result<SmachState, SysError> {
        SmachState::try_from(u64::from(self.state))
    }

    /// The exit status, if the SMACH has exited.
    #[must_use]
    pub fn exit_status(&self) -> Option<ExitStatus> {
        let is_exited = self.state == SmachState::Exited.number();
        is_exited.then(|| ExitStatus::new(i32::try_from(self.exit_status).unwrap_or(i32::MIN)))
    }
}

wire_struct! {
    /// One SMACH of a subtree, as `query(QuerySelector::Tree)` writes it
    /// (docs/nesting.md). Pre-order: a record's children follow it, each
    /// with `depth` one more and `parent` its `id`.
    pub struct SmachTreeEntry, size 72 {
        /// System-wide unique id.
        pub id: u64,
        /// Its parent's id; 0 for a SMACH the kernel started.
        pub parent: u64,
        /// Guest time its SCPUs ran, in nanoseconds (TSC), counted since
        /// its group became nested (a SMACH with neither parent nor
        /// children is not counted: 0).
        pub cpu_ns: u64,
        /// Its memory budget in 4 KiB frames; `u64::MAX`: none (the
        /// kernel's memory is the limit, as for a root SMACH).
        pub budget_frames: u64,
        /// Frames it maps itself (program, stacks, SMEMs).
        pub mapped_frames: u64,
        /// Frames its children's budgets take from its own.
        pub carved_frames: u64,
        /// Levels below the queried SMACH (0: itself).
        pub depth: u32,
        /// Its weight in its parent's division (1 to 1000).
        pub weight: u32,
        /// How it divides its share ([`SubPolicy`](crate::SubPolicy) number).
        pub policy: u32,
        /// [`SmachState`] number.
        pub state: u32,
        /// Its SCPUs.
        pub scpus: u32,
        /// Reserved, 0.
        pub _pad: u32,
    }
}

wire_struct! {
    /// An SCPU's state.
    pub struct ScpuInfo, size 24 {
        /// [`ScpuState`] number.
        pub state: u32,
        /// Scheduling priority in force.
        pub priority: u32,
        /// Time slice in force, in microseconds.
        pub quantum_us: u32,
        /// Reserved, 0.
        pub _pad: u32,
        /// System-wide unique id.
        pub id: u64,
    }
}

impl ScpuInfo {
    /// The decoded state.
    ///
    /// # Errors
    /// [`SysError::Unknown`] for a state number this build does not know.
    pub fn state(&self) -> Result<ScpuState, SysError> {
        ScpuState::try_from(u64::from(self.state))
    }
}

wire_struct! {
    /// An SMEM region.
    pub struct SmemInfo, size 24 {
        /// Start address (page-aligned).
        pub addr: u64,
        /// Length in bytes (whole pages).
        pub len: u64,
        /// [`Prot`] bits in force.
        pub prot: u32,
        /// Reserved, 0.
        pub _pad: u32,
    }
}

impl SmemInfo {
    /// The protection in force (unknown bits dropped).
    #[must_use]
    pub const fn prot(&self) -> Prot {
        Prot::from_bits_truncate(self.prot)
    }
}

wire_struct! {
    /// An SIO's state.
    pub struct SioInfo, size 24 {
        /// [`SioKind`] number.
        pub kind: u32,
        /// [`OpenFlags`] it was opened with.
        pub flags: u32,
        /// Size in bytes (files), entry count (directories), 0 otherwise.
        pub size: u64,
        /// Current position (files, directories), 0 otherwise.
        pub position: u64,
    }
}

impl SioInfo {
    /// The decoded kind.
    ///
    /// # Errors
    /// [`SysError::Unknown`] for a kind number this build does not know.
    pub fn kind(&self) -> Result<SioKind, SysError> {
        SioKind::try_from(u64::from(self.kind))
    }

    /// The open flags (unknown bits dropped).
    #[must_use]
    pub const fn flags(&self) -> OpenFlags {
        OpenFlags::from_bits_truncate(self.flags)
    }
}

#[cfg(test)]
mod tests;
