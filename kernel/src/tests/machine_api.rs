//! The safety nets of `sk-machine`'s safe API (docs/unsafe-inventory.md):
//! what a trap hook may change, the `CallProbe` rule against a probe RSP
//! it cannot read, and the code arena's block handles.

use alloc::format;
use sk_ktest::{ensure, ensure_eq, ktest};
use sk_machine::code_arena::{self, InstallError};
use sk_machine::stack::KernelStack;
use sk_machine::traps::{self, TrapFrame};

/// RFLAGS.IOPL (bits 12-13).
const IOPL: u64 = 3 << 12;

/// A debug hook that claims every `#BP` and tries to hand the interrupted
/// ring-0 code IOPL 3.
fn greedy_debug_hook(frame: &mut TrapFrame) -> bool {
    if frame.vector != 3 {
        return false;
    }
    frame.rflags |= IOPL;
    true
}

ktest!(
    fn a_trap_hook_changes_nothing_but_the_trap_flag() {
        let saved = traps::hooks();
        let mut greedy = saved;
        greedy.debug = greedy_debug_hook;
        traps::set_hooks(greedy);
        let before = sk_machine::cpu::rflags();
        traps::breakpoint();
        let after = sk_machine::cpu::rflags();
        traps::set_hooks(saved);
        ensure_eq!(before & IOPL, 0);
        ensure!(
            after & IOPL == 0,
            "the hook's IOPL reached the interrupted code: rflags {after:#x}"
        );
        Ok(())
    }
);

ktest!(
    fn call_probe_rule_refuses_a_probe_rsp_it_cannot_read() {
        // A made-up fetch fault whose RSP is the recorded probe RSP, but
        // that RSP is a guard page, or no kernel stack at all: the rule
        // must refuse it rather than fault (or read) there itself.
        let stack = KernelStack::allocate(1).map_err(|e| format!("{e:?}"))?;
        let unmapped = sk_machine::layout::MMIO_BASE + (3 << 30);
        let mut refused = true;
        for rsp in [stack.guard_page() + 8, unmapped] {
            let mut frame = TrapFrame {
                vector: 14,
                error_code: sk_machine::probe::PF_FETCH | sk_machine::probe::PF_PRESENT,
                rip: 0xffff_8000_dead_0000,
                cs: 0x08,
                rsp,
                ss: 0x10,
                ..TrapFrame::default()
            };
            sk_machine::percpu::set_probe_for_test(Some(rsp));
            refused &= !traps::test_try_fixup(&mut frame, 0xffff_8000_dead_0000);
            sk_machine::percpu::set_probe_for_test(None);
        }
        stack.free();
        ensure!(refused, "the CallProbe rule accepted an unreadable RSP");
        Ok(())
    }
);

ktest!(
    fn code_arena_install_hands_a_refused_block_back() {
        let block = code_arena::reserve(16).map_err(|e| format!("{e:?}"))?;
        let address = block.address();
        // A fixup outside the code is refused, and the block comes back.
        let (error, block) =
            match code_arena::install(block, &[0xc3; 16], &[(address + 100, address)]) {
                Ok(_) => return Err("installed code with a fixup outside it".into()),
                Err(refused) => refused,
            };
        ensure_eq!(error, InstallError::FixupOutOfBounds);
        ensure_eq!(block.address(), address);
        let code = [0x90, 0x90, 0xc3];
        let installed =
            code_arena::install(block, &code, &[]).map_err(|(e, _)| format!("{e:?}"))?;
        ensure_eq!(installed.address(), address);
        ensure!(code_arena::contains(address));
        let mut back = [0u8; 3];
        ensure!(code_arena::read(&installed, &mut back));
        ensure_eq!(back, code);
        let (live, _, _) = code_arena::stats();
        code_arena::retire(installed);
        ensure_eq!(code_arena::stats().0, live - 1);
        Ok(())
    }
);

ktest!(
    fn a_reused_arena_block_keeps_none_of_its_old_code() {
        // Install a full 64-byte block of `nop`s, retire it, and reserve
        // 64-byte blocks (passing quiescent points) until the same block
        // comes back; a 3-byte routine installed there must leave int3
        // after itself, not the old bytes (a stray jump past its end traps).
        let block = code_arena::reserve(64).map_err(|e| format!("{e:?}"))?;
        let address = block.address();
        let old =
            code_arena::install(block, &[0x90; 64], &[]).map_err(|(e, _)| format!("{e:?}"))?;
        code_arena::retire(old);
        // A program's run passes quiescent points (context switches).
        super::programs::run("/bin/worker", 5)?;
        let mut held = alloc::vec::Vec::new();
        let again = loop {
            let block = code_arena::reserve(64).map_err(|e| format!("{e:?}"))?;
            if block.address() == address {
                break block;
            }
            ensure!(held.len() < 10_000, "the retired block never came back");
            held.push(block);
        };
        let installed = code_arena::install(again, &[0x31, 0xc0, 0xc3], &[])
            .map_err(|(e, _)| format!("{e:?}"))?;
        let mut back = [0u8; 64];
        ensure!(code_arena::read(&installed, &mut back));
        ensure_eq!(back[..3], [0x31, 0xc0, 0xc3]);
        let stale = back[3..].iter().filter(|&&b| b != 0xcc).count();
        ensure!(
            stale == 0,
            "{stale} bytes of the old code survive after the new routine: {back:x?}"
        );
        code_arena::retire(installed);
        drop(held);
        Ok(())
    }
);
