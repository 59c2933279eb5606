//! Test support for Linux processes: how many the kernel holds, so a
//! test can wait for a fork bomb's orphans to be gone.

use crate::state;

/// Linux processes alive (zombies are in the process table only).
pub fn linux_processes() -> usize {
    state::with(|core| core.linux_world.process_count())
}

/// Entries in the Linux process table (live and zombies, `init` too).
pub fn linux_table_entries() -> usize {
    state::with(|core| core.linux_world.table.len())
}

/// The last fork's cost: TSC ticks inside the kernel (guest instructions
/// under `-icount shift=0`) and pages copied.
pub fn last_fork_cost() -> (u64, u64) {
    crate::linux_fork::last_fork_cost()
}
