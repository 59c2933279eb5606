//! No kernel value survives in a register on the way back to user mode:
//! `/bin/regcheck` makes every kind of call (synthesized routines, their
//! fault fixups and fallbacks, the entry stub's slow path into the Rust
//! handlers, blocking calls) with every register set to a value of its own
//! and checks every register after each (see `user/regcheck`).

use sk_ktest::{ensure_eq, ktest};

fn run(path: &str, arg: u64) -> Result<i32, alloc::string::String> {
    let id = sk_core::spawn_program(path, arg).map_err(|e| alloc::format!("spawn {path}: {e}"))?;
    let status = sk_core::wait_program(id).map_err(|e| alloc::format!("wait {path}: {e}"));
    sk_core::release_program(id);
    status
}

ktest!(
    fn registers_hold_no_kernel_value_after_any_call() {
        // Eager synthesis: the subject is the routine made at open.
        let _eager = sk_core::testing::EagerSynthesis::new();
        ensure_eq!(run("/bin/regcheck", 0)?, 0);
        Ok(())
    }
);
