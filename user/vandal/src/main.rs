//! `vandal`: the third review's hostile probes of the executable-scheduler
//! work (native `yield` and `sleep`, `/dev/semaphore`, the executable ready
//! queue, lazy FP state), one scenario per mode.
//!
//! The start argument is `mode | param << 8`.
//!
//! | mode | name | passes when |
//! |---|---|---|
//! | 0 | `sleepers` | SCPUs asleep for `MAX_SLEEP_NS` are suspended, resumed (and sleep again), killed; 30 SCPUs sleep short random times in a loop while being suspended, resumed, killed and replaced; 20,000 sleeps of 1 ns and 1,000 of 0 ns; sleeps past the limit and of `u64::MAX` are `BadValue`; then the program exits while an SCPU still sleeps for days: exit 0 |
//! | 1 | `semaphores` | P and V ignore any buffer and length (kernel, unmapped, `u64::MAX`) on both paths; 100,000 V then 100,000 P leave the count at 0; a blocked waiter killed, a suspended one granted a unit and then killed (the unit goes to the next waiter), a semaphore closed under waiters on both paths (`BadHandle`); then the program ends while SCPUs block in P: param 0 by `exit` from a sleeping SCPU, param 1 by its last running SCPU ending itself (the kernel test then kills the program, whose SCPUs all block) |
//! | 2 | `churn` | 16 SCPUs (half keep a pattern in the XMM registers, checked all the time) while the main SCPU reconfigures them at random (quantum 0, 1, 100, `u32::MAX` µs; priority 0..8, 8 refused), suspends, resumes, kills and replaces them, and they yield, sleep and end themselves at random: every FP check holds, exit 0 |
//! | 3 | `fpodd` | odd FP states across calls, yields, sleeps and timer switches: a pending unmasked x87 exception (the kernel must not raise it in ring 0, and it is still pending after), MXCSR with every exception unmasked and every flag set, dirty AVX upper halves; an SCPU that ends itself or is killed with a pending x87 exception, after which SCPUs with and without FP state run `fwait`: nobody gets `#MF`, exit 0 |
//! | 5 | `priority` | (param: the TSC's kHz) 62 SCPUs asleep; 16 `reconfigure(Priority)` on our own SMACH alternating 0 and 7 (each rebuilds every SCPU's switch code under the kernel lock, interrupts masked): exit 0; prints the longest call in TSC ticks (`vandal: priority: longest ... ticks`), and fails if it is over 20 ms |
//! | 4 | `firstfault` | an SCPU whose first FP instruction faults after its `#NM` (param 0: `fxrstor64` from an unmapped page, `#PF`; 1: `fxsave64` to a kernel address, `#PF`; 2: `movaps` from a misaligned address, `#GP`) while two FP SCPUs hold save areas: the program is killed (137) |
//!
//! Exit status: 0 = passed, 1 = a check failed (the line says which),
//! 2 = unknown mode, 3 = an expected fault did not come.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "inline asm on the FP registers and raw calls with hostile buffers; SAFETY comments per block"
)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "x86-64 only; narrowing random bits on purpose"
)]

mod churn;
mod first_fault;
mod fpodd;
mod priority;
mod semaphores;
mod sleepers;

use core::arch::asm;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{Call, CallWord, Handle, ScpuState, SysError, MAX_SLEEP_NS};
use sk_user::{println, Scpu, Sio, Stack};

sk_user::entry!(main);

const SLOTS: usize = 40;
/// Stacks handed out in turn; a killed SCPU's stack is not reused (it
/// may have been killed mid-write), so there are enough for the runs.
static STACKS: [Stack<4096>; SLOTS] = [const { Stack::new() }; SLOTS];
static NEXT_STACK: AtomicU32 = AtomicU32::new(0);
/// Each SCPU's own handle by slot, published by its creator (0: not yet).
static HANDLES: [AtomicU32; SLOTS] = [const { AtomicU32::new(0) }; SLOTS];
static FAILED: AtomicBool = AtomicBool::new(false);
static FLAGS: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];
static SEM: AtomicU32 = AtomicU32::new(0);
static STOP: AtomicBool = AtomicBool::new(false);
/// The orchestrating SCPU (the main thread has no handle of its own to
/// yield or sleep with: it waits in P on `DONE` while this one works).
static ORCH: AtomicU32 = AtomicU32::new(0);
static ORCH_STACK: Stack<65536> = Stack::new();
static DONE: AtomicU32 = AtomicU32::new(0);

const KERNEL_ADDR: u64 = 0xffff_ffff_8000_0000;
const UNMAPPED: u64 = 0x0000_6000_0000_0000;

fn fail(what: core::fmt::Arguments<'_>) {
    println!("vandal: FAILED: {what}");
    FAILED.store(true, Ordering::Relaxed);
}

/// xorshift64*.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Starts `entry(slot)` on a fresh stack (priority, quantum); returns the
/// slot and publishes the handle.
fn start(entry: extern "C" fn(u64) -> !, priority: u32, quantum_us: u32) -> Option<usize> {
    let slot = NEXT_STACK.fetch_add(1, Ordering::Relaxed) as usize;
    let stack = STACKS.get(slot)?.take()?;
    match Scpu::create_with(entry, stack, slot as u64, priority, quantum_us) {
        Ok(scpu) => {
            HANDLES[slot].store(scpu.handle().index(), Ordering::Release);
            Some(slot)
        }
        Err(e) => {
            fail(format_args!("create SCPU {slot}: {e:?}"));
            None
        }
    }
}

/// The SCPU in `slot` (waits for its creator to publish it).
fn scpu(slot: u64) -> Scpu {
    let cell = &HANDLES[(slot as usize) % SLOTS];
    loop {
        let h = cell.load(Ordering::Acquire);
        if h != 0 {
            return Scpu::from_handle(Handle::new(h));
        }
        core::hint::spin_loop();
    }
}

fn state(slot: usize) -> Option<ScpuState> {
    let info = scpu(slot as u64).query().ok()?;
    ScpuState::from_number(u64::from(info.state))
}

/// The orchestrating SCPU (the caller, in every mode's code).
fn me() -> Scpu {
    Scpu::from_handle(Handle::new(ORCH.load(Ordering::Acquire)))
}

/// Yields (then sleeps a millisecond at a time, at most 100,000 times)
/// until `done()`; false if it never was.
fn wait_for(mut done: impl FnMut() -> bool) -> bool {
    for i in 0..100_000 {
        if done() {
            return true;
        }
        if i < 100 {
            let _ = me().yield_now();
        } else {
            let _ = me().sleep_ns(1_000_000);
        }
    }
    done()
}

/// Yields until the SCPU in `slot` is `want`.
fn wait_state(slot: usize, want: ScpuState) {
    if !wait_for(|| state(slot) == Some(want)) {
        fail(format_args!(
            "SCPU {slot} never became {want:?} (is {:?})",
            state(slot)
        ));
    }
}

/// Yields until the flag of `slot` is nonzero.
fn wait_flag(slot: usize) -> u64 {
    wait_for(|| FLAGS[slot].load(Ordering::Acquire) != 0);
    FLAGS[slot].load(Ordering::Acquire)
}

fn kill(slot: usize) {
    if let Err(e) = scpu(slot as u64).terminate(0) {
        fail(format_args!("kill SCPU {slot}: {e:?}"));
    }
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let done = match Sio::semaphore() {
        Ok(s) => s,
        Err(e) => {
            println!("vandal: open: {e:?}");
            return 1;
        }
    };
    DONE.store(done.handle().index(), Ordering::Release);
    let Some(stack) = ORCH_STACK.take() else {
        return 1;
    };
    match Scpu::create_with(orchestrate, stack, arg, 0, 100) {
        Ok(s) => ORCH.store(s.handle().index(), Ordering::Release),
        Err(e) => {
            println!("vandal: create: {e:?}");
            return 1;
        }
    }
    if let Err(e) = done.p() {
        fail(format_args!("P(done): {e:?}"));
    }
    i32::from(FAILED.load(Ordering::Relaxed))
}

/// Runs the mode, then lets main end the program (whatever else still
/// sleeps or blocks).
extern "C" fn orchestrate(arg: u64) -> ! {
    while ORCH.load(Ordering::Acquire) == 0 {
        core::hint::spin_loop();
    }
    let (mode, param) = (arg & 0xff, arg >> 8);
    match mode {
        0 => sleepers::sleepers(),
        1 => semaphores::semaphores(param),
        2 => churn::churn(),
        3 => fpodd::fpodd(),
        4 => first_fault::first_fault(param),
        5 => priority::priority(param),
        _ => {
            println!("vandal: unknown mode {mode}");
            sk_user::exit(2)
        }
    }
    let _ = Sio::from_handle(Handle::new(DONE.load(Ordering::Acquire))).v();
    loop {
        let _ = me().sleep_ns(MAX_SLEEP_NS);
    }
}
