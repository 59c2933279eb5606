//! The four kinds of object (Synthesis paper §3.1).
//!
//! Owns [`Kind`]: the `rdi` argument of `create`, and the tag that selects
//! which create-arguments struct ([`crate::args`]), reconfigure selectors
//! ([`crate::reconfigure`]) and info struct ([`crate::info`]) apply.

numbered_enum! {
    /// What kind of object a handle names.
    pub enum Kind: u32, unknown => WrongKind {
        /// Synthetic machine: the unit of protection (an address space with
        /// its threads, memory and I/O), like a process.
        Smach = 0,
        /// Synthetic CPU: a thread of control in an SMACH.
        Scpu = 1,
        /// Synthetic memory: a region of an SMACH's address space.
        Smem = 2,
        /// Synthetic I/O: a file, directory, device or the console.
        Sio = 3,
    }
}

impl Kind {
    /// Size in bytes of this kind's create-arguments struct (the `rdx` of
    /// `create`).
    #[must_use]
    pub const fn create_args_size(self) -> usize {
        match self {
            Self::Smach => crate::SmachCreateArgs::SIZE,
            Self::Scpu => crate::ScpuCreateArgs::SIZE,
            Self::Smem => crate::SmemCreateArgs::SIZE,
            Self::Sio => crate::SioCreateArgs::SIZE,
        }
    }

    /// Size in bytes of this kind's [`QuerySelector::Info`](crate::QuerySelector::Info)
    /// struct: the smallest `rdx` `query` accepts.
    #[must_use]
    pub const fn info_size(self) -> usize {
        match self {
            Self::Smach => crate::SmachInfo::SIZE,
            Self::Scpu => crate::ScpuInfo::SIZE,
            Self::Smem => crate::SmemInfo::SIZE,
            Self::Sio => crate::SioInfo::SIZE,
        }
    }
}
