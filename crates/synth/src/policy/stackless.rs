//! Stackless twins: which routines a native thread's table may enter by
//! `jmp` on the user's stack, and their holes.
//!
//! Owns [`LeafHoles`], [`leaf_twin`] and [`STACKLESS_TAG`]. The entry stub
//! `jmp`s through the thread's table (`templates/entry_stub.rs`): a slot
//! holds either a stackless routine (`templates/leaf.rs`), or the stub's
//! door, which switches stacks and `call`s the routine of the same index in
//! the stackful table. The policy's specs name the stackful templates
//! (Linux threads call them from their own stub); for a native thread the
//! kernel's mechanism installs the stackless twin instead where there is
//! one, and tags the entry it returns with [`STACKLESS_TAG`] so the table
//! store knows which kind the slot holds.

use crate::templates::{
    DevMemReadLeafHoles, DevNullWriteLeafHoles, DevZeroReadLeafHoles, RamFileReadLeafHoles,
};
use crate::Template;
use crate::{instantiate_bytes, HoleSet, HoleValues, Imm32, Imm64, Instance, Smap, SynthError};

use super::RoutineHoles;

/// Bit 0 of a [`super::SlotTarget::Code`] address: the code there is a
/// stackless routine (the stub `jmp`s to it). Code is installed in 64-byte
/// aligned arena blocks, so the bit is otherwise always clear; the table
/// store clears it.
pub const STACKLESS_TAG: u64 = 1;

/// The holes of a stackless twin (same hole values as the stackful
/// routine but `slow_path`, which is the kernel's leaf door).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeafHoles {
    /// `dev_null_write_leaf`.
    DevNullWrite(DevNullWriteLeafHoles),
    /// `dev_zero_read_leaf`.
    DevZeroRead(DevZeroReadLeafHoles),
    /// `dev_mem_read_leaf`.
    DevMemRead(DevMemReadLeafHoles),
    /// `ram_file_read_leaf`.
    RamFileRead(RamFileReadLeafHoles),
}

impl LeafHoles {
    /// The template.
    pub fn template(&self) -> &'static Template {
        match self {
            Self::DevNullWrite(_) => DevNullWriteLeafHoles::TEMPLATE,
            Self::DevZeroRead(_) => DevZeroReadLeafHoles::TEMPLATE,
            Self::DevMemRead(_) => DevMemReadLeafHoles::TEMPLATE,
            Self::RamFileRead(_) => RamFileReadLeafHoles::TEMPLATE,
        }
    }

    /// The values, in the template's hole order.
    pub fn values(&self) -> HoleValues {
        match self {
            Self::DevNullWrite(h) => h.values(),
            Self::DevZeroRead(h) => h.values(),
            Self::DevMemRead(h) => h.values(),
            Self::RamFileRead(h) => h.values(),
        }
    }

    /// Writes the instance's bytes for `final_address` ([`instantiate_bytes`]).
    ///
    /// # Errors
    ///
    /// As [`crate::instantiate()`].
    pub fn instantiate_bytes(
        &self,
        final_address: u64,
        smap: Smap,
        out: &mut [u8],
    ) -> Result<(), SynthError> {
        match self {
            Self::DevNullWrite(h) => instantiate_bytes(h, final_address, smap, out),
            Self::DevZeroRead(h) => instantiate_bytes(h, final_address, smap, out),
            Self::DevMemRead(h) => instantiate_bytes(h, final_address, smap, out),
            Self::RamFileRead(h) => instantiate_bytes(h, final_address, smap, out),
        }
    }

    /// The [`Instance`] at `final_address`, without writing any byte.
    pub fn describe(&self, final_address: u64, smap: Smap) -> Instance {
        Instance::describe(self.template(), self.values(), final_address, smap)
    }
}

/// The stackless twin of `holes` for a native thread, or `None`: no twin
/// (every template but the four below), or a routine made for another
/// personality (a Linux routine's `slow_path` and `bad_address` are not
/// the native `slow_path` and `bad_address`: it is called by the Linux
/// stub and must `ret`). `leaf_door` fills the twin's `slow_path` (where
/// its long calls go, on the user's stack).
pub fn leaf_twin(
    holes: &RoutineHoles,
    slow_path: u64,
    bad_address: i32,
    leaf_door: u64,
) -> Option<LeafHoles> {
    let native =
        |h_slow: Imm64, h_bad: Imm32| h_slow == Imm64(slow_path) && h_bad == Imm32(bad_address);
    let door = Imm64(leaf_door);
    match holes {
        RoutineHoles::DevNullWrite(h) if h.bad_address == Imm32(bad_address) => {
            Some(LeafHoles::DevNullWrite(DevNullWriteLeafHoles {
                bad_address: h.bad_address,
            }))
        }
        RoutineHoles::DevZeroRead(h) if native(h.slow_path, h.bad_address) => {
            Some(LeafHoles::DevZeroRead(DevZeroReadLeafHoles {
                bad_address: h.bad_address,
                max_len: h.max_len,
                slow_path: door,
            }))
        }
        RoutineHoles::DevMemRead(h) if native(h.slow_path, h.bad_address) => {
            Some(LeafHoles::DevMemRead(DevMemReadLeafHoles {
                base: h.base,
                window_size: h.window_size,
                position_cell: h.position_cell,
                bad_address: h.bad_address,
                max_len: h.max_len,
                slow_path: door,
            }))
        }
        RoutineHoles::RamFileRead(h) if native(h.slow_path, h.bad_address) => {
            Some(LeafHoles::RamFileRead(RamFileReadLeafHoles {
                data: h.data,
                position_cell: h.position_cell,
                size_cell: h.size_cell,
                bad_address: h.bad_address,
                max_len: h.max_len,
                slow_path: door,
            }))
        }
        _ => None,
    }
}
