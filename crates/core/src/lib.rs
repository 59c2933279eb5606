//! `sk-core`: the kernel's glue between the portable kinds and the machine.
//!
//! Owns what cannot be portable: the kernel lock over the global state
//! (`state.rs`), the system-call decoder and router (`dispatch.rs`), the
//! kinds' kernel side (`sio_calls.rs`, `smem_calls.rs`, `scpu_calls.rs`,
//! `smach.rs`), the scheduler's mechanism (context switches, timer), the
//! synthesized path's mechanism (code arena, routine tables), and the seams
//! that connect the portable crates to `sk-machine` (`user_memory.rs`,
//! `address_space.rs`, `memory.rs`). The kinds' semantics are in `sk-sio`,
//! `sk-smem`, `sk-scpu` and `sk-smach`, the policies in `sk-sched` and
//! `sk-synth`: all host-tested.
#![no_std]
#![allow(
    clippy::cast_possible_truncation,
    reason = "sk-core runs only on x86-64 (usize is 64 bits); narrowings to u32/i32 are of values bounded by construction (handle indices, error codes)"
)]
#![deny(unsafe_code)]

extern crate alloc;

mod address_space;
pub mod audio_out;
mod code_memory;
mod devices;
mod dir_entries;
mod dispatch;
mod fault;
pub mod fp;
mod initrd;
mod linux_calls;
mod linux_dirs;
mod linux_exec;
mod linux_fast;
mod linux_fds;
mod linux_file_calls;
mod linux_file_map;
mod linux_files;
mod linux_fork;
mod linux_memory;
mod linux_pids;
mod linux_poll;
mod linux_process;
mod linux_signal_delivery;
mod linux_signals;
mod linux_sleep;
mod linux_terminal;
mod linux_threads;
mod linux_wait;
mod memory;
mod nest;
pub use nest::RecloseCost;
mod nest_memory;
mod nest_ring;
#[cfg(feature = "ktest")]
pub mod nest_testing;
mod pipe_calls;
mod port_calls;
mod prefix_views;
mod ring;
mod routines_text;
mod scheduler;
mod scpu_calls;
mod share;
mod sio_calls;
mod smach;
mod smem_calls;
mod state;
mod switch_code;
mod synthesis;
#[cfg(feature = "ktest")]
pub mod testing;
mod thread;
mod thread_entry;
mod trace;
mod trace_rips;
mod user_memory;
mod views;

pub use dispatch::{call, syscall_entry};
pub use sk_abi::{dev_mem_byte, DEV_MEM_BYTES};
pub use sk_synth::policy::{LazyMode, RoutineKind};
pub use smach::{release_program, spawn_linux_program, spawn_program, wait_program, ProgramId};
pub use state::with_fs;
pub use synthesis::{EntryMode, SynthConfig};
pub use thread::{attach_current_to, detach_current};

/// The kernel's own threads (test runner, demo) call this to let others run.
pub use scheduler::{switches, yield_now};

// The machine layer and the ABI agree on where user space ends.
const _: () = assert!(sk_abi::USER_END == sk_machine::layout::USER_END);
const _: () = assert!(sk_smem::USER_MAP_END == sk_machine::address_space::USER_MAP_END);

/// Boot options `sk-core` needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CoreOptions {
    /// The synthesizer's configuration.
    pub synth: SynthConfig,
    /// Allow `TraceNextCall` (boot option `trace`).
    pub trace: bool,
    /// Record the address of every traced instruction and print them when
    /// the count is read (boot option `trace.rips`, `cargo xtask profile`).
    pub trace_rips: bool,
    /// The synthesized scheduler, the executable ready queue (boot option
    /// `sched=ring`); false: the generic round robin.
    pub sched_ring: bool,
}

/// True if the executable ready queue schedules (else the generic round
/// robin): `sched_ring` asked for it and the CPU has XSAVE.
pub fn scheduler_is_ring() -> bool {
    ring::is_on()
}

/// Brings the kernel's objects up: the file system with `/dev`, `/tmp` and
/// the initrd's files, the current (boot) thread, the idle thread, and the
/// system-call and trap hooks. Call once, on the boot thread, after the
/// machine is initialized.
pub fn init(initrd: Option<&[u8]>, options: CoreOptions) {
    let mut fs = sk_fs::FileSystem::new().expect("an empty file system fits in memory");
    for dir in ["/dev", "/tmp", "/bin"] {
        if let Err(e) = fs.mkdir(dir) {
            log::error!("mkdir {dir}: {e}");
        }
    }
    if let Some(archive) = initrd {
        initrd::unpack(&mut fs, archive);
    }
    // From now on file data is charged like user memory.
    fs.set_data_allocator(&memory::FILE_DATA);
    let boot = thread::Thread::boot();
    let boot_id = boot.id();
    let idle = thread::Thread::idle();
    let idle_id = idle.id();
    let mut threads = sk_smach::IdMap::new();
    for (id, thread) in [(boot_id, boot), (idle_id, idle)] {
        if threads.insert(id, thread).is_err() {
            panic!("no memory for the boot and idle threads");
        }
    }
    state::install(state::Core {
        fs,
        devices: devices::new(),
        smachs: sk_smach::IdMap::new(),
        threads,
        ready: sk_sched::ReadyQueue::new(),
        sleepers: sk_sched::SleepQueue::new(),
        current: boot_id,
        current_smach: None,
        idle: idle_id,
        next_id: 16,
        dying: None,
        ring: None,
        linux: alloc::collections::BTreeMap::new(),
        linux_world: linux_pids::LinuxWorld::new(),
        nest: nest::NestState::default(),
    });
    if options.sched_ring {
        state::with(ring::init);
    }
    trace::enable(options.trace);
    trace::record_rips(options.trace_rips);
    synthesis::init(options.synth);
    dispatch::install();
    trace::install();
    fault::install();
    fp::install();
    scheduler::install();
}
