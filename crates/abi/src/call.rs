//! The six kernel calls (plus the null call), numbered as in the call word.
//!
//! Owns [`Call`]. Every object answers the same six calls (Synthesis paper
//! §3.2, Table 1): `create` is generative, the other five are executive and
//! are the routines the kernel synthesizes per object. [`CallWord`](crate::CallWord)
//! packs a call with a [`Handle`](crate::Handle).

numbered_enum! {
    /// A kernel call: the low 3 bits of the call word.
    ///
    /// Number 7 is not a call: it decodes as [`SysError::BadCall`](crate::SysError::BadCall).
    pub enum Call: u8, unknown => BadCall {
        /// Make a new object of a [`Kind`](crate::Kind) (on an SMACH handle);
        /// returns its handle.
        Create = 0,
        /// Destroy the object (close a file, free memory, kill a thread or
        /// machine); on handle 0, exit the calling SMACH.
        Terminate = 1,
        /// Change the object's state; what changes is a per-kind selector.
        Reconfigure = 2,
        /// Read the object's state into a per-kind info struct.
        Query = 3,
        /// Move data into the caller (SIO only).
        Read = 4,
        /// Move data out of the caller (SIO only).
        Write = 5,
        /// Measurement aid: does nothing and returns 0 (the benchmarks'
        /// "null call", the cost of entering and leaving the kernel).
        Null = 6,
    }
}

impl Call {
    /// How many bits of the call word the call number takes.
    pub const BITS: u32 = 3;

    /// Routine slots per handle in a thread's table (`1 << BITS`, of which
    /// slot 7 is never a valid call).
    pub const SLOTS_PER_HANDLE: u64 = 1 << Self::BITS;

    /// Mask selecting the call number from a call word.
    pub const MASK: u64 = Self::SLOTS_PER_HANDLE - 1;
}
