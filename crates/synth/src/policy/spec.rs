//! Routine specs: which template a slot gets and every value its holes get.
//!
//! Owns [`RoutineSpec`] (what [`super::plan()`] chooses for one slot),
//! [`RoutineHoles`] (one installable instantiation, what a
//! [`super::Mechanism`] is asked to install), [`RamFileWriteSpec`] and
//! [`FileBasis`]. Two specs are equal exactly when the code they describe is
//! interchangeable, so "installed spec ≠ planned spec" is the whole replug
//! rule. Neighbours: the generated holes structs in [`crate::templates`].

use crate::templates::{
    DevMemReadHoles, DevNullWriteHoles, DevZeroReadHoles, GenericTrampolineHoles, PipeReadHoles,
    PipeWriteHoles, PortReceiveHoles, PortSendHoles, RamFileReadHoles, RamFileWriteHoles,
    SemaphorePHoles, SemaphoreVHoles, TtyWriteCookedHoles, TtyWriteHoles, TtyWritePrefixedHoles,
    COLLAPSED_TTY_WRITE_COOKED, COLLAPSED_TTY_WRITE_PREFIXED,
};
use crate::{
    instantiate, instantiate_bytes, instantiate_collapsed, DeviceKind, HoleSet, HoleValues, Imm32,
    Imm64, Instance, Invariant, Invariants, Rel32Target, Smap, SynthError, Template,
};

/// The file facts a RAM-file routine was made at, beyond its hole values:
/// the file system declares code made at an older layout generation stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FileBasis {
    /// File-system node id.
    pub node: u64,
    /// The node's layout generation when the routine was planned.
    pub generation: u64,
}

/// The holes of `ram_file_write` except `generic_fallback`, which is the
/// address of the helper trampoline and is known only once that is installed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RamFileWriteSpec {
    /// Kernel address of the file's data.
    pub data: Imm64,
    /// Bytes allocated at `data`.
    pub capacity: Imm64,
    /// Address of the SIO's position cell.
    pub position_cell: Imm64,
    /// Address of the file's size cell.
    pub size_cell: Imm64,
    /// `-(BadAddress code)`.
    pub bad_address: Imm32,
    /// Longest write done here.
    pub max_len: Imm32,
}

impl RamFileWriteSpec {
    /// The full holes, with the fallback trampoline installed at `fallback_entry`.
    pub const fn holes(&self, fallback_entry: u64) -> RamFileWriteHoles {
        RamFileWriteHoles {
            data: self.data,
            capacity: self.capacity,
            position_cell: self.position_cell,
            size_cell: self.size_cell,
            generic_fallback: Rel32Target(fallback_entry),
            bad_address: self.bad_address,
            max_len: self.max_len,
        }
    }
}

/// What one slot should run: a template and every hole value (plus, for
/// RAM files, the layout generation). Made by [`super::plan()`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoutineSpec {
    /// `dev_null_write`.
    DevNullWrite(DevNullWriteHoles),
    /// `dev_zero_read`.
    DevZeroRead(DevZeroReadHoles),
    /// `dev_mem_read`.
    DevMemRead(DevMemReadHoles),
    /// `tty_write` (raw mode).
    TtyWrite(TtyWriteHoles),
    /// `tty_write_cooked` (cooked mode): the line discipline's output
    /// fragment with the UART's put spliced in at instantiation.
    TtyWriteCooked(TtyWriteCookedHoles),
    /// `tty_write_prefixed`: a chain of prefix views folded into the cooked
    /// tty's write (Collapsing Layers).
    TtyWritePrefixed(TtyWritePrefixedHoles),
    /// `ram_file_read`.
    RamFileRead {
        /// The routine's holes.
        read: RamFileReadHoles,
        /// The layout it was planned for.
        file: FileBasis,
    },
    /// `ram_file_write`, with the `generic_trampoline` its capacity guard
    /// jumps to. The mechanism installs `fallback` first, then the write
    /// with `generic_fallback` = the trampoline's entry.
    RamFileWrite {
        /// The write's holes but the fallback.
        write: RamFileWriteSpec,
        /// The helper's holes (this slot's handle and op).
        fallback: GenericTrampolineHoles,
        /// The layout it was planned for.
        file: FileBasis,
    },
    /// `semaphore_p`.
    SemaphoreP(SemaphorePHoles),
    /// `semaphore_v`.
    SemaphoreV(SemaphoreVHoles),
    /// `pipe_read` (a pipe's read end).
    PipeRead(PipeReadHoles),
    /// `pipe_write` (a pipe's write end).
    PipeWrite(PipeWriteHoles),
    /// `port_send`.
    PortSend(PortSendHoles),
    /// `port_receive`.
    PortReceive(PortReceiveHoles),
}

impl RoutineSpec {
    /// The template of the routine the slot points at.
    pub fn template(&self) -> &'static Template {
        match self {
            Self::DevNullWrite(_) => DevNullWriteHoles::TEMPLATE,
            Self::DevZeroRead(_) => DevZeroReadHoles::TEMPLATE,
            Self::DevMemRead(_) => DevMemReadHoles::TEMPLATE,
            Self::TtyWrite(_) => TtyWriteHoles::TEMPLATE,
            Self::TtyWriteCooked(_) => TtyWriteCookedHoles::TEMPLATE,
            Self::TtyWritePrefixed(_) => TtyWritePrefixedHoles::TEMPLATE,
            Self::RamFileRead { .. } => RamFileReadHoles::TEMPLATE,
            Self::RamFileWrite { .. } => RamFileWriteHoles::TEMPLATE,
            Self::SemaphoreP(_) => SemaphorePHoles::TEMPLATE,
            Self::SemaphoreV(_) => SemaphoreVHoles::TEMPLATE,
            Self::PipeRead(_) => PipeReadHoles::TEMPLATE,
            Self::PipeWrite(_) => PipeWriteHoles::TEMPLATE,
            Self::PortSend(_) => PortSendHoles::TEMPLATE,
            Self::PortReceive(_) => PortReceiveHoles::TEMPLATE,
        }
    }

    /// The helper to install before the routine, if any.
    pub const fn helper(&self) -> Option<RoutineHoles> {
        match self {
            Self::RamFileWrite { fallback, .. } => Some(RoutineHoles::GenericTrampoline(*fallback)),
            _ => None,
        }
    }

    /// The routine's holes, given the entry of the installed
    /// [`helper`](Self::helper) (ignored for specs without one).
    pub const fn routine(&self, helper_entry: u64) -> RoutineHoles {
        match self {
            Self::DevNullWrite(h) => RoutineHoles::DevNullWrite(*h),
            Self::DevZeroRead(h) => RoutineHoles::DevZeroRead(*h),
            Self::DevMemRead(h) => RoutineHoles::DevMemRead(*h),
            Self::TtyWrite(h) => RoutineHoles::TtyWrite(*h),
            Self::TtyWriteCooked(h) => RoutineHoles::TtyWriteCooked(*h),
            Self::TtyWritePrefixed(h) => RoutineHoles::TtyWritePrefixed(*h),
            Self::RamFileRead { read, .. } => RoutineHoles::RamFileRead(*read),
            Self::RamFileWrite { write, .. } => {
                RoutineHoles::RamFileWrite(write.holes(helper_entry))
            }
            Self::SemaphoreP(h) => RoutineHoles::SemaphoreP(*h),
            Self::SemaphoreV(h) => RoutineHoles::SemaphoreV(*h),
            Self::PipeRead(h) => RoutineHoles::PipeRead(*h),
            Self::PipeWrite(h) => RoutineHoles::PipeWrite(*h),
            Self::PortSend(h) => RoutineHoles::PortSend(*h),
            Self::PortReceive(h) => RoutineHoles::PortReceive(*h),
        }
    }

    /// The concrete facts the routine bakes in, for `show` and review: one
    /// per kind its template declares. `owner` is the thread whose table
    /// holds it.
    pub fn invariants(&self, owner: u64) -> Invariants {
        use Invariant as I;
        let single = [I::SingleOwner { thread: owner }, I::NotShared];
        let file_data = |file: &FileBasis| I::FileData {
            node: file.node,
            generation: file.generation,
        };
        let mut facts = Invariants::new();
        match self {
            Self::DevNullWrite(_) => {
                facts.extend([I::DeviceKind(DeviceKind::Null), I::OpenForWrite]);
            }
            Self::DevZeroRead(_) => {
                facts.extend([I::DeviceKind(DeviceKind::Zero), I::OpenForRead]);
            }
            Self::DevMemRead(_) => {
                facts.extend([I::DeviceKind(DeviceKind::Mem), I::OpenForRead]);
                facts.extend(single);
            }
            Self::TtyWrite(_) => {
                facts.extend([I::DeviceKind(DeviceKind::RawTty), I::OpenForWrite]);
            }
            Self::TtyWriteCooked(_) => {
                facts.extend([I::DeviceKind(DeviceKind::CookedTty), I::OpenForWrite]);
            }
            Self::TtyWritePrefixed(h) => {
                let chain = I::PrefixChain {
                    depth: h.depth(),
                    prefix_bytes: u32::try_from(h.prefix_len.0).unwrap_or(0),
                };
                facts.extend([I::DeviceKind(DeviceKind::CookedTty), chain, I::OpenForWrite]);
            }
            Self::RamFileRead { file, .. } => {
                facts.extend([file_data(file), I::OpenForRead]);
                facts.extend(single);
            }
            Self::RamFileWrite { write, file, .. } => {
                let capacity = I::FileCapacity {
                    node: file.node,
                    capacity: write.capacity.0,
                };
                facts.extend([file_data(file), capacity, I::OpenForWrite]);
                facts.extend(single);
            }
            Self::SemaphoreP(_) => {
                facts.extend([I::DeviceKind(DeviceKind::Semaphore), I::OpenForRead]);
            }
            Self::SemaphoreV(_) => {
                facts.extend([I::DeviceKind(DeviceKind::Semaphore), I::OpenForWrite]);
            }
            Self::PipeRead(_) => {
                facts.extend([I::DeviceKind(DeviceKind::Pipe), I::OpenForRead]);
                facts.extend(single);
            }
            Self::PipeWrite(_) => {
                facts.extend([I::DeviceKind(DeviceKind::Pipe), I::OpenForWrite]);
                facts.extend(single);
            }
            Self::PortSend(_) => {
                facts.extend([I::DeviceKind(DeviceKind::Port), I::OpenForWrite]);
            }
            Self::PortReceive(_) => {
                facts.extend([I::DeviceKind(DeviceKind::Port), I::OpenForRead]);
            }
        }
        facts
    }
}

/// One installable instantiation: a template and every hole value. What a
/// [`super::Mechanism`] instantiates into its code arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)] // one per template, documented on the holes struct
pub enum RoutineHoles {
    DevNullWrite(DevNullWriteHoles),
    DevZeroRead(DevZeroReadHoles),
    DevMemRead(DevMemReadHoles),
    TtyWrite(TtyWriteHoles),
    TtyWriteCooked(TtyWriteCookedHoles),
    TtyWritePrefixed(TtyWritePrefixedHoles),
    RamFileRead(RamFileReadHoles),
    RamFileWrite(RamFileWriteHoles),
    GenericTrampoline(GenericTrampolineHoles),
    SemaphoreP(SemaphorePHoles),
    SemaphoreV(SemaphoreVHoles),
    PipeRead(PipeReadHoles),
    PipeWrite(PipeWriteHoles),
    PortSend(PortSendHoles),
    PortReceive(PortReceiveHoles),
}

impl RoutineHoles {
    /// The template.
    pub fn template(&self) -> &'static Template {
        match self {
            Self::DevNullWrite(_) => DevNullWriteHoles::TEMPLATE,
            Self::DevZeroRead(_) => DevZeroReadHoles::TEMPLATE,
            Self::DevMemRead(_) => DevMemReadHoles::TEMPLATE,
            Self::TtyWrite(_) => TtyWriteHoles::TEMPLATE,
            Self::TtyWriteCooked(_) => TtyWriteCookedHoles::TEMPLATE,
            Self::TtyWritePrefixed(_) => TtyWritePrefixedHoles::TEMPLATE,
            Self::RamFileRead(_) => RamFileReadHoles::TEMPLATE,
            Self::RamFileWrite(_) => RamFileWriteHoles::TEMPLATE,
            Self::GenericTrampoline(_) => GenericTrampolineHoles::TEMPLATE,
            Self::SemaphoreP(_) => SemaphorePHoles::TEMPLATE,
            Self::SemaphoreV(_) => SemaphoreVHoles::TEMPLATE,
            Self::PipeRead(_) => PipeReadHoles::TEMPLATE,
            Self::PipeWrite(_) => PipeWriteHoles::TEMPLATE,
            Self::PortSend(_) => PortSendHoles::TEMPLATE,
            Self::PortReceive(_) => PortReceiveHoles::TEMPLATE,
        }
    }

    /// The values, in the template's hole order.
    pub fn values(&self) -> HoleValues {
        match self {
            Self::DevNullWrite(h) => h.values(),
            Self::DevZeroRead(h) => h.values(),
            Self::DevMemRead(h) => h.values(),
            Self::TtyWrite(h) => h.values(),
            Self::TtyWriteCooked(h) => h.values(),
            Self::TtyWritePrefixed(h) => h.values(),
            Self::RamFileRead(h) => h.values(),
            Self::RamFileWrite(h) => h.values(),
            Self::GenericTrampoline(h) => h.values(),
            Self::SemaphoreP(h) => h.values(),
            Self::SemaphoreV(h) => h.values(),
            Self::PipeRead(h) => h.values(),
            Self::PipeWrite(h) => h.values(),
            Self::PortSend(h) => h.values(),
            Self::PortReceive(h) => h.values(),
        }
    }

    /// Whether this is a routine a table slot points at (not a helper).
    pub const fn is_helper(&self) -> bool {
        matches!(self, Self::GenericTrampoline(_))
    }

    /// [`instantiate()`] with these holes; a collapsed routine
    /// (`tty_write_cooked`, `tty_write_prefixed`) is spliced from its fragments
    /// ([`instantiate_collapsed`]).
    ///
    /// # Errors
    ///
    /// As [`instantiate()`].
    pub fn instantiate(
        &self,
        final_address: u64,
        smap: Smap,
        out: &mut [u8],
    ) -> Result<Instance, SynthError> {
        match self {
            Self::DevNullWrite(h) => instantiate(h, final_address, smap, out),
            Self::DevZeroRead(h) => instantiate(h, final_address, smap, out),
            Self::DevMemRead(h) => instantiate(h, final_address, smap, out),
            Self::TtyWrite(h) => instantiate(h, final_address, smap, out),
            Self::TtyWriteCooked(h) => instantiate_collapsed(
                &COLLAPSED_TTY_WRITE_COOKED,
                h.values(),
                final_address,
                smap,
                out,
            ),
            Self::TtyWritePrefixed(h) => instantiate_collapsed(
                &COLLAPSED_TTY_WRITE_PREFIXED,
                h.values(),
                final_address,
                smap,
                out,
            ),
            Self::RamFileRead(h) => instantiate(h, final_address, smap, out),
            Self::RamFileWrite(h) => instantiate(h, final_address, smap, out),
            Self::GenericTrampoline(h) => instantiate(h, final_address, smap, out),
            Self::SemaphoreP(h) => instantiate(h, final_address, smap, out),
            Self::SemaphoreV(h) => instantiate(h, final_address, smap, out),
            Self::PipeRead(h) => instantiate(h, final_address, smap, out),
            Self::PipeWrite(h) => instantiate(h, final_address, smap, out),
            Self::PortSend(h) => instantiate(h, final_address, smap, out),
            Self::PortReceive(h) => instantiate(h, final_address, smap, out),
        }
    }

    /// The [`Instance`] [`instantiate`](Self::instantiate) would return at
    /// `final_address`, without writing any byte ([`Instance::describe`]).
    pub fn describe(&self, final_address: u64, smap: Smap) -> Instance {
        Instance::describe(self.template(), self.values(), final_address, smap)
    }

    /// [`instantiate`](Self::instantiate) writing the bytes only
    /// ([`instantiate_bytes`]: no [`Instance`]); the same bytes.
    ///
    /// # Errors
    ///
    /// As [`instantiate()`].
    pub fn instantiate_bytes(
        &self,
        final_address: u64,
        smap: Smap,
        out: &mut [u8],
    ) -> Result<(), SynthError> {
        let a = final_address;
        match self {
            Self::DevNullWrite(h) => instantiate_bytes(h, a, smap, out),
            Self::DevZeroRead(h) => instantiate_bytes(h, a, smap, out),
            Self::DevMemRead(h) => instantiate_bytes(h, a, smap, out),
            Self::TtyWrite(h) => instantiate_bytes(h, a, smap, out),
            // Spliced from two fragments; rare (a cooked console's write).
            Self::TtyWriteCooked(_) | Self::TtyWritePrefixed(_) => {
                self.instantiate(a, smap, out).map(|_| ())
            }
            Self::RamFileRead(h) => instantiate_bytes(h, a, smap, out),
            Self::RamFileWrite(h) => instantiate_bytes(h, a, smap, out),
            Self::GenericTrampoline(h) => instantiate_bytes(h, a, smap, out),
            Self::SemaphoreP(h) => instantiate_bytes(h, a, smap, out),
            Self::SemaphoreV(h) => instantiate_bytes(h, a, smap, out),
            Self::PipeRead(h) => instantiate_bytes(h, a, smap, out),
            Self::PipeWrite(h) => instantiate_bytes(h, a, smap, out),
            Self::PortSend(h) => instantiate_bytes(h, a, smap, out),
            Self::PortReceive(h) => instantiate_bytes(h, a, smap, out),
        }
    }
}

impl TtyWritePrefixedHoles {
    /// Levels of the chain folded in: the distinct line-state cells (a
    /// shorter chain repeats the first).
    pub fn depth(&self) -> u32 {
        let cells = [
            self.line_state_0,
            self.line_state_1,
            self.line_state_2,
            self.line_state_3,
        ];
        let repeats = cells
            .iter()
            .skip(1)
            .filter(|c| **c == self.line_state_0)
            .count();
        u32::try_from(cells.len() - repeats).unwrap_or(0)
    }
}
