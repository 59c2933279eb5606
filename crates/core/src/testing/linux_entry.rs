//! Test support for the Linux personality: what a Linux program's main
//! thread was given (its entry stub and table).

use crate::state;

/// A Linux thread's entry as the kernel built it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinuxEntry {
    /// The SMACH has the Linux personality (an entry in `core.linux`).
    pub is_linux_process: bool,
    /// Its thread's entry is a Linux one (not the native table).
    pub is_linux_table: bool,
    /// Slots in the table.
    pub slots: usize,
    /// Slots holding the Linux generic entry.
    pub generic_slots: usize,
    /// The stub's first byte is in the code arena.
    pub stub_in_arena: bool,
}

/// The entry of program `id`'s first thread (None if it has none, or
/// synthesis is off: no stubs).
pub fn linux_entry_of(id: crate::ProgramId) -> Option<LinuxEntry> {
    state::with(|core| {
        let smach = core.smachs.get(&id.0)?;
        let thread = core.threads.get(smach.threads.first()?)?;
        let synth = thread.synth.as_ref()?;
        let generic = sk_machine::linux_entry::generic_entry_address();
        let slots = synth.table_len();
        let generic_slots = (0..slots)
            .filter(|&i| synth.slot_at(i) == Some(generic))
            .count();
        Some(LinuxEntry {
            is_linux_process: core.linux.contains_key(&id.0),
            is_linux_table: synth.is_linux(),
            slots,
            generic_slots,
            stub_in_arena: sk_machine::code_arena::contains(synth.stub.block.address()),
        })
    })
}
