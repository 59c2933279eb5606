//! The in-kernel test runner: walks the `.ktest` registry from a start
//! index and reports each test on one line (protocol in `sk-ktest`).
//! Only kernels built with the `ktest` feature have tests; any other kernel
//! booted in test mode says so and exits with failure.
//!
//! Owns the "test in progress" state the trap hooks consult: a test that
//! expects a double fault passes when the double-fault handler runs during
//! it; any other fatal trap or panic ends the boot, and the xtask boots
//! again from the next index.

#[cfg(feature = "ktest")]
use alloc::vec::Vec;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use sk_ktest::protocol::boot_end_line;
#[cfg(feature = "ktest")]
use sk_ktest::protocol::{plan_line, TestHeader};
#[cfg(feature = "ktest")]
use sk_ktest::{Expect, KTest, TestResult};
#[cfg(feature = "ktest")]
use sk_machine::print;
use sk_machine::traps::{self, Hooks, TrapFrame};
use sk_machine::{println, qemu};

static EXPECTS_DOUBLE_FAULT: AtomicBool = AtomicBool::new(false);
static PASSED: AtomicUsize = AtomicUsize::new(0);
static FAILED: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "ktest")]
/// The registered tests, in link order.
#[allow(unsafe_code)]
fn registry() -> &'static [KTest] {
    unsafe extern "C" {
        static __ktest_start: u8;
        static __ktest_end: u8;
    }
    let start = (&raw const __ktest_start).cast::<KTest>();
    let end = (&raw const __ktest_end).cast::<KTest>();
    let len = (end as usize - start as usize) / core::mem::size_of::<KTest>();
    // SAFETY: the linker script collects exactly the `.ktest` statics,
    // each a `KTest` emitted by `ktest!`, between these two symbols; the
    // section is never written.
    unsafe { core::slice::from_raw_parts(start, len) }
}

#[cfg(feature = "ktest")]
fn injected_failure() -> TestResult {
    Err("injected failure (self-check)".into())
}

#[cfg(feature = "ktest")]
fn injected_panic() -> TestResult {
    panic!("injected panic (self-check)")
}

/// Modules whose tests need a device only their own boot adds (the audio
/// boot's AC'97): they run only when the filter names the module.
#[cfg(feature = "ktest")]
const OWN_BOOT: &[&str] = &["tests::audio::"];

#[cfg(feature = "ktest")]
/// All tests of this build whose name contains the filter (or one of its
/// comma-separated parts), sorted by name, then of those every `count`-th
/// from the `index`-th (shard `(index, count)`; `(0, 1)` keeps them all);
/// with `inject`, shard 0 gets the self-check's two failing tests appended.
pub fn all_tests(inject: bool, filter: Option<&str>, (index, count): (usize, usize)) -> Vec<KTest> {
    let mut tests: Vec<KTest> = registry()
        .iter()
        .filter(|t| filter.is_none_or(|f| f.split(',').any(|part| t.name.contains(part))))
        .filter(|t| {
            OWN_BOOT.iter().all(|module| {
                !t.name.contains(module) || filter.is_some_and(|f| f.contains(module))
            })
        })
        .copied()
        .collect();
    tests.sort_by_key(|t| t.name);
    let mut tests: Vec<KTest> = tests
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % count.max(1) == index)
        .map(|(_, t)| t)
        .collect();
    if inject && index == 0 {
        tests.push(KTest {
            name: "sk_kernel::selfcheck::injected_failure",
            run: injected_failure,
            expect: Expect::Pass,
        });
        tests.push(KTest {
            name: "sk_kernel::selfcheck::injected_panic",
            run: injected_panic,
            expect: Expect::Pass,
        });
    }
    tests
}

#[cfg(feature = "ktest")]
/// Runs tests `start..` of the selection and exits QEMU with the boot's result.
pub fn run(start: usize, inject: bool, filter: Option<&str>, shard: (usize, usize)) -> ! {
    let tests = all_tests(inject, filter, shard);
    println!("{}", plan_line(tests.len(), start));
    for (index, test) in tests.iter().enumerate().skip(start) {
        let header = TestHeader {
            index,
            total: tests.len(),
            name: test.name,
        };
        print!("{header}");
        let writes_before = sk_machine::serial::writes();
        let ids_before = sk_core::testing::ids_handed_out();
        EXPECTS_DOUBLE_FAULT.store(test.expect == Expect::DoubleFault, Ordering::SeqCst);
        let result = (test.run)();
        EXPECTS_DOUBLE_FAULT.store(false, Ordering::SeqCst);
        let result = match (result, test.expect) {
            (Ok(()), Expect::DoubleFault) => {
                Err("returned, but a double fault was expected".into())
            }
            (result, _) => result,
        };
        // If the test printed anything, repeat the header so the result
        // stays on one line with it (the xtask parses these lines). A user
        // program's synthesized console write (`tty_write`) reaches the
        // UART without the kernel's count: any test that started one
        // repeats the header too (it made a thread: ids were handed out).
        if sk_machine::serial::writes() != writes_before
            || sk_core::testing::ids_handed_out() != ids_before
        {
            print!("\n{header}");
        }
        match result {
            Ok(()) => {
                PASSED.fetch_add(1, Ordering::SeqCst);
                println!("ok");
            }
            Err(reason) => {
                FAILED.fetch_add(1, Ordering::SeqCst);
                println!("FAILED: {reason}");
            }
        }
    }
    let (passed, failed) = (PASSED.load(Ordering::SeqCst), FAILED.load(Ordering::SeqCst));
    println!("{}", boot_end_line(passed, failed));
    qemu::exit(if failed == 0 {
        qemu::ExitCode::Success
    } else {
        qemu::ExitCode::Failure
    })
}

/// A kernel built without the `ktest` feature has no tests: says so and
/// exits with failure (a test run must never pass by running nothing).
#[cfg(not(feature = "ktest"))]
pub fn run(_start: usize, _inject: bool, _filter: Option<&str>, _shard: (usize, usize)) -> ! {
    println!("ktest: this kernel was built without the `ktest` feature: it has no tests");
    qemu::exit(qemu::ExitCode::Failure)
}

fn on_double_fault(frame: &TrapFrame) -> ! {
    if EXPECTS_DOUBLE_FAULT.load(Ordering::SeqCst) {
        sk_machine::serial::force_unlock();
        println!("ok");
        println!(
            "{}",
            boot_end_line(
                PASSED.load(Ordering::SeqCst) + 1,
                FAILED.load(Ordering::SeqCst)
            )
        );
        qemu::exit(qemu::ExitCode::Continue)
    }
    traps::dump("double fault", frame, sk_machine::cpu::cr2());
    qemu::exit(qemu::ExitCode::Failure)
}

fn on_fatal(_frame: &TrapFrame) -> ! {
    qemu::exit(qemu::ExitCode::Failure)
}

/// Installs the kernel's trap hooks (double fault and fatal exceptions).
pub fn install_trap_hooks() {
    let mut hooks: Hooks = traps::hooks();
    hooks.double_fault = on_double_fault;
    hooks.fatal = on_fatal;
    traps::set_hooks(hooks);
}
