//! In-kernel tests: memory, protection, traps and time (the foundation);
//! the native ABI on the generic path; user programs. Each file registers
//! its tests with `ktest!`; the runner finds them in the `.ktest` section.

mod abi_generic;
mod abi_objects;
mod abi_support;
mod audio;
mod cpu_tables;
mod entries;
mod fp;
mod fuzz;
mod growth;
mod lazy;
mod leaks;
mod linux;
mod linux_fast;
mod linux_files;
mod linux_fuzz;
mod linux_proc;
mod linux_signals;
mod machine_api;
mod memory;
mod pipe_console_review;
mod pipe_review;
mod pipes;
mod port_review;
mod ports;
mod programs;
mod protection;
mod registers;
mod regressions;
mod review;
mod review2;
mod review3;
mod scheduling;
mod semaphores;
mod sharing;
mod time;
