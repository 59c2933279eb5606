//! The Synthesis kernel binary: boot sequence, panic handler, and wiring.
//!
//! Owns nothing but the order in which the crates are brought up: frame
//! allocator, page tables and heap (through `sk-machine`), a guarded boot
//! stack, CPU tables, clock and timer; then one of the boot modes chosen on
//! the command line: the default demo, the in-kernel tests (`ktest`) or the
//! accelerator probe (`probe`).
#![no_std]
#![allow(
    clippy::cast_possible_truncation,
    reason = "x86-64 only: usize is 64 bits; tests narrow values they built themselves"
)]
#![no_main]
#![deny(unsafe_code)]
// A binary crate: `pub` marks what other modules of the kernel use.
#![allow(unreachable_pub)]

extern crate alloc;

mod accel_probe;
mod cmdline;
mod demo;
mod ktest_runner;
mod memory;
#[cfg(feature = "ktest")]
mod tests;

use cmdline::{BootMode, Options};
use sk_machine::boot_info::BootInfo;
use sk_machine::{println, qemu};
use spin::Once;

/// The timer rate the kernel runs at.
pub const TIMER_HZ: u64 = 100;

#[global_allocator]
static ALLOCATOR: sk_machine::heap::KernelAllocator = sk_machine::heap::KernelAllocator;

static BOOT: Once<(&'static BootInfo, Options)> = Once::new();

sk_machine::entry_point!(kernel_main);

fn kernel_main(boot: &'static BootInfo) -> ! {
    let options = Options::parse(boot.cmdline());
    sk_machine::logger::init(options.log);
    log::debug!("command line: {:?}", boot.cmdline());
    let ram = memory::init_frames(boot);
    if let Err(e) = sk_machine::paging::init(&memory::FRAMES, &ram) {
        panic!("building the kernel page tables failed: {e:?}");
    }
    if let Err(e) = sk_machine::heap::init() {
        panic!("mapping the kernel heap failed: {e:?}");
    }
    BOOT.call_once(|| (boot, options));
    // Leave the boot stack (in .bss, no guard page) for a guarded one.
    let stack = match sk_machine::stack::KernelStack::allocate(32) {
        Ok(stack) => stack,
        Err(e) => panic!("allocating the boot stack failed: {e:?}"),
    };
    sk_machine::stack::switch_to(stack, continue_boot)
}

extern "C" fn continue_boot() -> ! {
    let (boot, options) = *BOOT.get().expect("set before the stack switch");
    let fp_save = sk_core::fp::choose_save_instruction(options.fp_fxsave);
    if let Err(e) = sk_machine::init_cpu(fp_save) {
        panic!("CPU tables: {e:?}");
    }
    ktest_runner::install_trap_hooks();
    if let Err(e) = sk_machine::init_time(TIMER_HZ) {
        panic!("APIC timer: {e:?}");
    }
    if options.mode == BootMode::Probe {
        sk_machine::cpu::enable_interrupts();
        print_banner(boot);
        accel_probe::run();
    }
    sk_core::init(
        boot.modules().first().map(|m| m.bytes()),
        sk_core::CoreOptions {
            synth: options.synth,
            trace: options.trace,
            trace_rips: options.trace_rips,
            sched_ring: options.sched_ring,
        },
    );
    log::info!("synthesis: {:?}", options.synth);
    sk_machine::cpu::enable_interrupts();
    print_banner(boot);
    println!(
        "scheduler: {}",
        if sk_core::scheduler_is_ring() {
            "ring (the executable ready queue)"
        } else {
            "generic (Rust round robin)"
        }
    );
    if options.sched_refused {
        println!("scheduler: sched=ring refused: synth=off runs the generic scheduler");
    }
    match options.mode {
        BootMode::Demo => demo::run(options.init_args),
        BootMode::Test {
            start,
            inject,
            filter,
            shard,
        } => ktest_runner::run(start, inject, filter, shard),
        BootMode::Probe => accel_probe::run(),
        BootMode::Bench {
            smoke,
            linux: false,
        } => demo::run_program("/bin/bench", u64::from(smoke)),
        BootMode::Bench { smoke, linux: true } => demo::run_linux_bench(smoke),
    }
}

fn print_banner(boot: &BootInfo) {
    let now = sk_machine::cpu::rdtsc();
    let boot_ticks = now.saturating_sub(boot.entry_tsc);
    let mut brand = [0u8; 48];
    let f = sk_machine::cpu::features();
    println!();
    println!(
        "Synthesis kernel {} -- kernel calls synthesized at run time",
        env!("CARGO_PKG_VERSION")
    );
    println!("cpu: {}", sk_machine::cpu::brand_string(&mut brand));
    println!(
        "cpu features: x2apic={} smep={} smap={} umip={} invariant-tsc={} hypervisor={}",
        f.x2apic, f.smep, f.smap, f.umip, f.invariant_tsc, f.hypervisor
    );
    println!("command line: {:?}", boot.cmdline());
    memory::print_memory_map(boot);
    let hz = sk_machine::tsc::frequency_hz();
    println!(
        "tsc: {}.{:03} MHz (source: {:?})",
        hz / 1_000_000,
        (hz / 1000) % 1000,
        sk_machine::tsc::frequency_source()
    );
    println!(
        "apic: {} mode, timer {} Hz (input clock {} kHz)",
        if sk_machine::apic::is_x2apic() {
            "x2APIC"
        } else {
            "xAPIC"
        },
        sk_machine::apic::timer_hz(),
        sk_machine::apic::timer_input_hz() / 1000
    );
    println!(
        "boot time: {} us from the first instruction to this banner ({} TSC ticks)",
        sk_machine::tsc::ticks_to_ns(boot_ticks) / 1000,
        boot_ticks
    );
}

/// Text addresses the panic handler prints from the stack.
const PANIC_BACKTRACE_WORDS: usize = 48;

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    sk_machine::cpu::disable_interrupts();
    sk_machine::serial::force_unlock();
    match info.location() {
        Some(at) => println!(
            "\nkernel panic: {} at {}:{}",
            info.message(),
            at.file(),
            at.line()
        ),
        None => println!("\nkernel panic: {}", info.message()),
    }
    sk_machine::print!("backtrace (stack scan, innermost first):");
    sk_machine::stack_scan::text_addresses_on_stack(PANIC_BACKTRACE_WORDS, |a| {
        sk_machine::print!(" {a:#x}")
    });
    println!();
    qemu::exit(qemu::ExitCode::Failure)
}
