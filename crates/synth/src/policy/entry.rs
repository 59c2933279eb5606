//! A thread's entry: its stub's holes and its table's initial contents.
//!
//! Owns [`ThreadEntryPlan`] and [`initial_slot`]. Each user thread gets
//! two routine tables of [`Env::table_slots`] code addresses (the one the
//! stub `jmp`s through: a stackless routine or the stub's door; and the
//! stackful one the door `call`s through) and an `entry_stub` instance
//! that dispatches through them; the kernel allocates both, fills
//! the table from [`initial_slot`] and instantiates
//! [`ThreadEntryPlan::stub`]. Neighbours: [`super::SioRoutines`] changes the
//! read and write slots afterwards.

use sk_abi::{Call, Handle};

use crate::templates::EntryStubHoles;
use crate::{Imm32, Imm64, Invariant};

use super::{Env, SlotTarget};

/// What a thread's entry stub is made of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThreadEntryPlan {
    /// The stub's holes.
    pub stub: EntryStubHoles,
    /// Slots the table must have (the stub's `table_len`).
    pub table_slots: u32,
}

impl ThreadEntryPlan {
    /// The plan for a thread whose kernel stack ends at `kernel_stack_top`
    /// and whose tables (each of [`Env::table_slots`] `u64`s: the one the
    /// stub `jmp`s through, and the stackful one its door `call`s through)
    /// are at `table` and `stackful_table`.
    pub fn new(kernel_stack_top: u64, table: u64, stackful_table: u64, env: &Env) -> Self {
        let table_slots = env.table_slots();
        Self {
            stub: EntryStubHoles {
                kernel_stack_top: Imm64(kernel_stack_top),
                // At most 65_535 * 8 < 2^31 (see `Env::table_handles`).
                table_len: Imm32(i32::try_from(table_slots).unwrap_or(i32::MAX)),
                index_mask: Imm32(i32::try_from(env.index_mask()).unwrap_or(0)),
                table: Imm64(table),
                stackful_table: Imm64(stackful_table),
                slow_path: Imm64(env.slow_path),
            },
            table_slots,
        }
    }

    /// The facts the stub bakes in: it is `thread`'s (its stack and table).
    pub const fn invariants(thread: u64) -> [Invariant; 1] {
        [Invariant::SingleOwner { thread }]
    }
}

/// What slot `index` of a new table holds: the null call's slot an error
/// stub returning 0 (which is all the null call does); the slot of
/// `reconfigure` on [`Handle::SELF`] the synthesized yield when there is
/// one (it sends every other request to the generic path itself); every
/// other slot the generic path.
pub const fn initial_slot(index: u64, env: &Env) -> SlotTarget {
    const YIELD_SLOT: u64 =
        (Handle::SELF.index() as u64) << Call::BITS | Call::Reconfigure.number() as u64;
    if index & Call::MASK == Call::Null.number() as u64 {
        SlotTarget::ErrorStub(0)
    } else if index == YIELD_SLOT && env.is_enabled {
        match env.yield_routine {
            Some(address) => SlotTarget::Code(address),
            None => SlotTarget::Generic,
        }
    } else {
        SlotTarget::Generic
    }
}
