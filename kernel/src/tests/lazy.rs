//! Lazy synthesis (`synth.lazy`) in the kernel: a routine comes exactly at
//! its op's K-th call on the generic path, the answers before and after
//! are the same, short-lived objects stay generic, `off` is eager, and the
//! `Routines` text carries the break-even accounting. A self-check injects
//! a policy that never synthesizes and sees the boundary check fail.

use super::abi_support::{get, open, put, sys};
use alloc::format;
use alloc::string::String;
use sk_abi::{Call, OpenFlags, QuerySelector};
use sk_core::testing::{set_lazy_mode, SlotState, TestMachine, TEST_BUFFER};
use sk_core::{LazyMode, RoutineKind};
use sk_ktest::{ensure, ensure_eq, ktest};

/// Sets a lazy mode while it lives; the boot's comes back after.
struct Mode;

impl Mode {
    fn set(mode: LazyMode) -> Self {
        set_lazy_mode(Some(mode));
        Self
    }
}

impl Drop for Mode {
    fn drop(&mut self) {
        set_lazy_mode(None);
        sk_core::testing::inject_lazy_never(false);
    }
}

fn machine() -> Result<TestMachine, String> {
    Ok(TestMachine::new(4)
        .map_err(|e| format!("test machine: {e}"))?
        .with_routine_table())
}

fn routines_text(handle: u32) -> Result<String, String> {
    let len = sys(
        handle,
        Call::Query,
        &[
            u64::from(QuerySelector::Routines),
            TEST_BUFFER + 0x1000,
            0x2000,
        ],
    )
    .map_err(|e| format!("query Routines: {e}"))?;
    let len = usize::try_from(len).unwrap_or(0).min(0x2000);
    String::from_utf8(get(0x1000, len)).map_err(|_| "Routines text is not UTF-8".into())
}

/// A RAM file of 64 known bytes read one byte per call: generic for the
/// first `k - 1` calls, `ram_file_read` right after the `k`-th, each
/// call's byte the file's; the write slot untouched by the reads.
fn reads_cross_k(m: &TestMachine, path: &str, k: u32) -> Result<(), String> {
    let f = open(
        path,
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )
    .map_err(|e| format!("open: {e}"))?;
    // Closed on every path: a failed check (the self-check's expected
    // one) must not leave the open behind for the next run.
    let checked = reads_cross_k_on(m, f, k);
    let closed = sys(f, Call::Terminate, &[0]);
    checked?;
    ensure_eq!(closed, Ok(0));
    Ok(())
}

/// [`reads_cross_k`] on the open `f`.
fn reads_cross_k_on(m: &TestMachine, f: u32, k: u32) -> Result<(), String> {
    let data: alloc::vec::Vec<u8> = (0..64_u8).map(|i| i.wrapping_mul(37) ^ 0x5a).collect();
    let at = put(0, &data);
    // One generic write (the write op's count, not the read's).
    ensure_eq!(sys(f, Call::Write, &[at, 64]), Ok(64));
    ensure_eq!(sys(f, Call::Reconfigure, &[0, 0, 0]), Ok(0));
    ensure_eq!(m.slot(f, Call::Read), SlotState::Generic);
    for call in 1..=k + 4 {
        let i = call as usize - 1;
        ensure_eq!(sys(f, Call::Read, &[TEST_BUFFER + 200, 1]), Ok(1));
        ensure_eq!(get(200, 1)[0], data[i]);
        let want = if call >= k {
            SlotState::Synthesized("ram_file_read")
        } else {
            SlotState::Generic
        };
        ensure!(
            m.slot(f, Call::Read) == want,
            "after generic read {call} (K {k}): {:?}, want {want:?}",
            m.slot(f, Call::Read)
        );
    }
    let text = routines_text(f)?;
    ensure!(
        text.contains(&format!("read lazy: synthesized after {k} generic calls")),
        "no accounting line: {text:?}"
    );
    ensure!(
        text.contains("read break-even: synthesis cost "),
        "no break-even line: {text:?}"
    );
    Ok(())
}

ktest!(
    fn lazy_routine_comes_at_the_kth_generic_call() {
        if !sk_core::testing::synthesis_enabled() {
            return Ok(());
        }
        let m = machine()?;
        for k in [1, 3] {
            let _mode = Mode::set(LazyMode::Fixed(k));
            reads_cross_k(&m, "/tmp/lazy-k", k)?;
        }
        // `auto`: the kind's K from the boot cost table.
        let _mode = Mode::set(LazyMode::Auto);
        let k = sk_core::testing::lazy_threshold(RoutineKind::RamFileRead);
        ensure!((1..=8).contains(&k), "auto K {k} for ram_file_read");
        reads_cross_k(&m, "/tmp/lazy-auto", k)
    }
);

ktest!(
    fn lazy_open_close_synthesizes_nothing_and_off_is_eager() {
        if !sk_core::testing::synthesis_enabled() {
            return Ok(());
        }
        let m = machine()?;
        let _mode = Mode::set(LazyMode::Auto);
        let null = open("/dev/null", OpenFlags::WRITE).map_err(|e| format!("{e}"))?;
        ensure_eq!(m.slot(null, Call::Write), SlotState::Generic);
        let text = routines_text(null)?;
        ensure!(
            !text.contains("created in"),
            "synthesized at open: {text:?}"
        );
        ensure_eq!(sys(null, Call::Terminate, &[0]), Ok(0));
        drop(_mode);
        let _mode = Mode::set(LazyMode::Off);
        let null = open("/dev/null", OpenFlags::WRITE).map_err(|e| format!("{e}"))?;
        ensure_eq!(
            m.slot(null, Call::Write),
            SlotState::Synthesized("dev_null_write")
        );
        ensure_eq!(sys(null, Call::Terminate, &[0]), Ok(0));
        Ok(())
    }
);

ktest!(
    fn lazy_self_check_a_policy_that_never_synthesizes_is_caught() {
        if !sk_core::testing::synthesis_enabled() {
            return Ok(());
        }
        let m = machine()?;
        let _mode = Mode::set(LazyMode::Fixed(2));
        sk_core::testing::inject_lazy_never(true);
        let caught = reads_cross_k(&m, "/tmp/lazy-fault", 2);
        sk_core::testing::inject_lazy_never(false);
        sk_machine::println!("lazy self-check: the boundary check said {caught:?}");
        ensure!(
            caught.is_err(),
            "the boundary check missed a policy that never synthesizes"
        );
        // Without the fault the same check passes.
        reads_cross_k(&m, "/tmp/lazy-fault", 2)
    }
);
