//! Facts: what code generation for one SIO depends on, and the boot-time environment.
//!
//! Owns [`SioFacts`], [`SioTarget`], [`FileFacts`], [`Env`] and [`Op`]. The
//! kernel gathers these from its own state (the SIO, the file system's data
//! layout, the console's mode, which threads used the SIO) every time it
//! asks for a [`plan`](super::plan()); nothing here is remembered between
//! calls. Neighbours: [`super::plan()`] reads them, [`super::SioRoutines`]
//! reconciles a table with the result.

use sk_abi::Call;

/// The operations a table slot of an SIO can hold a synthesized routine for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// `read` (`rdi` = user buffer, `rsi` = length).
    Read,
    /// `write` (`rdi` = user buffer, `rsi` = length).
    Write,
}

impl Op {
    /// Both, in slot order.
    pub const ALL: [Self; 2] = [Self::Read, Self::Write];

    /// The kernel call this op is (its number is the slot's low bits).
    pub const fn call(self) -> Call {
        match self {
            Self::Read => Call::Read,
            Self::Write => Call::Write,
        }
    }
}

/// What the SIO reads and writes, with every fact code generation uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SioTarget {
    /// `/dev/null`.
    Null,
    /// `/dev/zero`.
    Zero,
    /// `/dev/mem`: a fixed kernel window.
    Mem {
        /// Kernel address of the window's first byte.
        base: u64,
        /// Window length in bytes (a window of 2 GiB or more stays generic:
        /// the template's `window_size` hole is an `Imm32`).
        window_bytes: u64,
    },
    /// `/dev/tty` on a 16550 UART.
    Tty {
        /// The line discipline is in raw mode (bytes go out unchanged);
        /// cooked mode needs the generic path's line discipline.
        is_raw: bool,
        /// The UART's transmit register port.
        data_port: u16,
        /// The UART's line status register port.
        status_port: u16,
    },
    /// A RAM file.
    File(FileFacts),
    /// A directory (reads and writes are the generic path's errors).
    Dir,
    /// `/dev/semaphore`: P and V on one `u64` cell shared by every SCPU
    /// of the SMACH (its address is fixed while the SIO is open).
    Semaphore {
        /// Address of the cell (count low 32 bits, waiters high 32).
        cell: u64,
    },
    /// One end of a pipe: an `sk-queue` byte ring (its memory is fixed
    /// while either end is open). The other end's close needs no replan:
    /// it sets a closed bit in the wait word, which the routines read on
    /// every call (and then take the generic path).
    Pipe {
        /// The read end (else the write end).
        is_read_end: bool,
        /// Address of the ring's first buffer byte.
        buffer: u64,
        /// Buffer bytes (a power of two; above 2 GiB stays generic: the
        /// templates' `mask` hole is an `Imm32`).
        capacity: u64,
        /// Writes of at most this many bytes are all-or-nothing; it is also
        /// the most one read returns (on both paths). Above `i32::MAX`:
        /// generic.
        atomic_bytes: u64,
        /// Address of the ring's `produced` counter (`sk_queue::RingCells`).
        produced_cell: u64,
        /// Address of the ring's `consumed` counter.
        consumed_cell: u64,
        /// Address of the ring's wait word.
        wait_cell: u64,
    },
    /// One end of a port: a multi-producer multi-consumer queue of
    /// 64-byte messages (`sk_queue::MessageQueue`) whose memory is fixed
    /// while either end is open. Its routines, like a semaphore's, assume
    /// no single owner: every SCPU of the SMACH gets them.
    Port(PortFacts),
    /// A view (a window, read-only or not, of a file, `/dev/mem` or a
    /// view): its chain folded by [`super::view::collapse`].
    View(super::ViewFacts),
}

/// Where a port's queue is, as `sk_queue::MessageQueueLayout` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PortFacts {
    /// The receive end (else the send end).
    pub is_receive_end: bool,
    /// Address of the queue's cells (`enqueue` +0, `dequeue` +64, wait +128).
    pub cells: u64,
    /// Address of slot 0.
    pub slots: u64,
    /// Bytes from one slot to the next.
    pub slot_stride: u64,
    /// Slots (a power of two).
    pub capacity: u64,
}

/// A RAM file's data layout, as the file system reports it now
/// (`sk_fs::DataLayout` plus the node's link state).
///
/// If the file system cannot give a layout (the node is freed), report
/// `is_unlinked: true`; the plan then never looks at the other fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileFacts {
    /// File-system node id.
    pub node: u64,
    /// Address of the file's contiguous data.
    pub data_addr: u64,
    /// Bytes allocated at `data_addr`.
    pub capacity: u64,
    /// Address of the file's `u64` size cell (never moves while the node lives).
    pub size_cell: u64,
    /// The node's layout generation (its event count): every file-system
    /// event on the node (growth past capacity, truncate, unlink, rename,
    /// free) bumps it, and code made at an older generation is stale.
    pub generation: u64,
    /// The node's last name is gone (unlinked or freed): its data is the
    /// generic path's business from now on.
    pub is_unlinked: bool,
}

/// Everything code generation depends on for one SIO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SioFacts {
    /// What it reads and writes.
    pub target: SioTarget,
    /// Opened for reading.
    pub can_read: bool,
    /// Opened for writing.
    pub can_write: bool,
    /// Opened in append mode (every write goes to the end: generic).
    pub is_append: bool,
    /// Address of the SIO's `u64` position cell (fixed while it is open;
    /// shared by both paths, so a seek changes no code).
    pub position_cell: u64,
    /// The thread whose routine table holds this SIO's routines; `None` if
    /// no thread with a table owns it (then nothing is stored anywhere).
    /// A semaphore is planned once per SCPU of its SMACH, each time with
    /// that SCPU here (its routines go in every table).
    pub owner: Option<u64>,
    /// Used by a thread other than the owner (or by another machine): the
    /// single-owner fact is gone for good, so every op stays generic
    /// (except on a semaphore, whose routines assume no owner: its cell is
    /// updated atomically, by design for several SCPUs).
    pub is_shared: bool,
    /// The handle number (the slot is `(handle << 3) | op`).
    pub handle: u32,
    /// This plan is for a holder: a SMACH the SIO was shared with, not the
    /// one that opened it. `can_read` and `can_write` are then the
    /// holder's rights (a subset of the open's), and `is_shared` is true
    /// (the object is used by more than one machine).
    pub is_holder: bool,
    /// The owner revoked this holder's handle (or closed the SIO): every
    /// call on it fails with `Revoked`.
    pub is_revoked: bool,
}

/// The environment every plan is made in: boot configuration and the
/// kernel addresses templates need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Env {
    /// False with `synth=off`: there are no tables, nothing is synthesized.
    pub is_enabled: bool,
    /// Handles a thread's table indexes (each has 8 slots); calls on higher
    /// handles take the entry stub's slow path.
    pub table_handles: u16,
    /// Result for a bad user range or a fault: `-(BadAddress code)`.
    pub bad_address: i32,
    /// The generic-path entry shim that generic trampolines jump to.
    pub generic_entry: u64,
    /// The slow path the entry stub calls for call words past the table
    /// (and what a slot on the generic path holds).
    pub slow_path: u64,
    /// Longest read or write a copying routine does itself (the kernel's
    /// transfer piece); longer calls go to the generic path, which splits
    /// them with preemption points (work with interrupts masked stays
    /// bounded). At most `i32::MAX`.
    pub max_copy_bytes: u32,
    /// The same for the raw console write, whose every byte is polled out
    /// of the UART.
    pub max_console_bytes: u32,
    /// The synthesized yield (`yield_caller`), shared by every thread,
    /// when the executable ready queue runs; `None`: yields take the
    /// generic path.
    pub yield_routine: Option<u64>,
}

impl Env {
    /// Slots in a thread's table: `table_handles * 8`, rounded up to a
    /// power of two so the entry stub can mask its index against
    /// speculation ([`Env::index_mask`]; the rounding's slots hold what
    /// any slot of a handle past `table_handles` holds, the generic path).
    pub const fn table_slots(&self) -> u32 {
        // At most 65_535 * 8 < 2^19: no overflow, rounded up at most 2^19.
        (self.table_handles as u32 * (1 << Call::BITS)).next_power_of_two()
    }

    /// The entry stub's speculation mask: `table_slots - 1`, all ones
    /// below a power of two, so `index & mask` is a slot of the table
    /// whatever a mispredicted bounds check let through (Spectre v1).
    pub const fn index_mask(&self) -> u32 {
        self.table_slots() - 1
    }
}
