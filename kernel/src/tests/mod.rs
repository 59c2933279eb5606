//! In-kernel tests of the foundation: memory, protection, traps, time.
//! Each file registers its tests with `ktest!`; the runner finds them in
//! the `.ktest` section.

mod cpu_tables;
mod memory;
mod protection;
mod time;
