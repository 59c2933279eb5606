//! Every way from ring 3 into ring 0 (docs/ring0-entries.md): each test
//! runs `/bin/hostile` in one or more modes and checks the program died
//! alone with the killed status and the exception expected (or lived where
//! it must), then that the kernel carries on (`/bin/worker` gives its
//! result). Plus the ring-0 side of the entries: the descriptor tables and
//! entry MSRs as the CPU holds them, traps taken with the user's GS or AC,
//! the compatibility-mode kill entry, and the test-only `CallProbe` rule.

use super::programs::worker_status;
use alloc::format;
use alloc::string::String;
use sk_ktest::{ensure, ensure_eq, ktest};
use sk_machine::traps::{self, TrapFrame};

const HOSTILE: &str = "/bin/hostile";

/// Exit status of a program the kernel killed.
const KILLED: i32 = 137;
/// `hostile`: a mode that must die came back.
const SURVIVED: i32 = 3;
/// `hostile`: a far transfer ran 32-bit code and came back.
const COMPAT: i32 = 4;

/// `hostile` modes (see user/hostile).
mod mode {
    pub const FAR_JMP: u64 = 0;
    pub const FAR_CALL: u64 = 1;
    pub const RETF: u64 = 2;
    pub const IRETQ: u64 = 3;
    pub const COMPAT_SYSCALL: u64 = 4;
    pub const SYSENTER: u64 = 5;
    pub const INT_N: u64 = 6;
    pub const ICEBP: u64 = 7;
    pub const TF_POPF: u64 = 8;
    pub const MOV_SS_SYSCALL_TF: u64 = 9;
    pub const SYSCALL_FLAGS: u64 = 10;
    pub const SYSCALL_FLAGS_TF: u64 = 11;
    pub const SYSCALL_RSP: u64 = 12;
    pub const AC_SPIN: u64 = 13;
    pub const PRIV: u64 = 14;
    pub const LDT_FORGE: u64 = 15;
    pub const TRACED_CALL: u64 = 16;
}

const GP: u64 = 13;
const UD: u64 = 6;
const DB: u64 = 1;
const BP: u64 = 3;
const PF: u64 = 14;

/// The exception that killed the last program.
fn last_trap() -> Result<(u64, u64), String> {
    traps::last_user_trap().ok_or_else(|| "no user exception recorded".into())
}

/// Number of `priv` instructions, and those only UMIP makes fault.
const PRIV_COUNT: u64 = 45;
const PRIV_UMIP: [u64; 5] = [13, 14, 15, 16, 17];

fn run(path: &str, arg: u64) -> Result<i32, String> {
    let id = sk_core::spawn_program(path, arg).map_err(|e| format!("spawn {path}: {e}"))?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait {path}: {e}"));
    sk_core::release_program(id);
    status
}

fn hostile(mode: u64, param: u64) -> Result<i32, String> {
    run(HOSTILE, (mode << 32) | param)
}

/// The kernel still runs programs to completion.
fn kernel_carries_on() -> Result<(), String> {
    ensure_eq!(run("/bin/worker", 7)?, worker_status(7));
    Ok(())
}

/// Selectors to try far transfers through: every GDT slot and RPL, with
/// TI = 1 (the LDT, which is null), just past the GDT's limit, and far
/// beyond it.
fn selectors() -> impl Iterator<Item = u64> {
    (0..=0x4f_u64).chain([0x50, 0x53, 0x100, 0x1000, 0xfff8, 0xfffb, 0xfffc, 0xffff])
}

/// The only code segment ring 3 may reach: 64-bit user code (0x28, any
/// RPL, which the CPU raises to 3).
fn reachable(selector: u64) -> bool {
    (0x28..=0x2b).contains(&selector)
}

/// A page fault on a user-stack access made with supervisor rights (error
/// code: present, U clear). QEMU's TCG does a far `call`'s push and a
/// `retf`/`iretq`'s pops that way, and SMAP refuses them; hardware makes
/// them with the program's rights.
fn is_supervisor_stack_fault(trap: (u64, u64)) -> bool {
    trap.0 == PF && trap.1 & 0b101 == 0b001
}

fn sweep_far(kind: u64, what: &str) -> Result<(), String> {
    // Does this CPU make the stack accesses of this transfer with
    // supervisor rights (see above)? Then a selector may be refused by
    // that fault before it is even checked.
    let status = hostile(kind, 0x2b)?;
    let quirk = status == KILLED && is_supervisor_stack_fault(last_trap()?);
    if quirk {
        sk_machine::println!(
            "{what}: this CPU accesses the user stack with supervisor rights (TCG); \
             accepting that #PF in place of the selector check"
        );
    }
    for sel in selectors() {
        let status = hostile(kind, sel)?;
        ensure!(
            status != COMPAT,
            "{what} to {sel:#x}: ran 32-bit code in ring 3"
        );
        if reachable(sel) && !quirk {
            ensure!(status == SURVIVED, "{what} to {sel:#x}: status {status}");
            continue;
        }
        ensure!(
            status == KILLED,
            "{what} to {sel:#x}: status {status}, expected {KILLED}"
        );
        // #GP naming the selector (TI kept, RPL dropped): not a page fault
        // on some descriptor table in user memory.
        let trap = last_trap()?;
        let ok = trap == (GP, sel & 0xfffc) || (quirk && is_supervisor_stack_fault(trap));
        ensure!(
            ok,
            "{what} to {sel:#x}: killed by {trap:?}, expected #GP({:#x})",
            sel & 0xfffc
        );
    }
    Ok(())
}

ktest!(
    fn far_jmp_reaches_only_the_64_bit_user_code_segment() {
        sweep_far(mode::FAR_JMP, "far jmp")?;
        kernel_carries_on()
    }
);

ktest!(
    fn far_call_retf_and_iretq_reach_only_the_64_bit_user_code_segment() {
        sweep_far(mode::FAR_CALL, "far call")?;
        sweep_far(mode::RETF, "retfq")?;
        sweep_far(mode::IRETQ, "iretq")?;
        kernel_carries_on()
    }
);

ktest!(
    fn compat_mode_syscall_through_0x1b_kills_only_the_caller() {
        // The original exploit: far jump to the 32-bit selector, then
        // `syscall` with the user's stack, a kernel address, or zero.
        for rsp_kind in 0..3_u64 {
            let status = hostile(mode::COMPAT_SYSCALL, (rsp_kind << 16) | 0x1b)?;
            ensure!(
                status == KILLED,
                "compat syscall (rsp kind {rsp_kind}): status {status}, expected {KILLED}"
            );
            ensure_eq!(last_trap()?, (GP, 0x18));
        }
        kernel_carries_on()
    }
);

/// Turns the test-only 32-bit user code segment on for its lifetime.
struct CompatSegment;

impl CompatSegment {
    fn on() -> Self {
        sk_machine::gdt::set_test_compat_segment(true);
        CompatSegment
    }
}

impl Drop for CompatSegment {
    fn drop(&mut self) {
        sk_machine::gdt::set_test_compat_segment(false);
    }
}

ktest!(
    fn compat_mode_syscall_enters_at_cstar_and_kills_only_the_caller() {
        // Production kernels have no 32-bit code segment; a test one (0x43)
        // lets ring 3 reach compatibility mode and `syscall` from there.
        let sel = u64::from(sk_machine::gdt::TEST_COMPAT_CS);
        {
            let _segment = CompatSegment::on();
            // The segment really runs 32-bit code (so the rest is no
            // accident of a #GP).
            let status = hostile(mode::FAR_JMP, sel)?;
            ensure!(status == COMPAT, "far jmp to {sel:#x}: status {status}");
            for rsp_kind in 0..3_u64 {
                let (compat_before, _) = sk_machine::syscall::kill_entries();
                let status = hostile(mode::COMPAT_SYSCALL, (rsp_kind << 16) | sel)?;
                let (compat_after, _) = sk_machine::syscall::kill_entries();
                ensure!(
                    status == KILLED,
                    "compat syscall (rsp kind {rsp_kind}): status {status}, expected {KILLED}"
                );
                ensure!(
                    compat_after == compat_before + 1,
                    "rsp kind {rsp_kind}: {} entries at IA32_CSTAR, expected 1",
                    compat_after - compat_before
                );
            }
        }
        // And gone again.
        ensure_eq!(hostile(mode::FAR_JMP, sel)?, KILLED);
        ensure_eq!(last_trap()?, (GP, sel & 0xfffc));
        kernel_carries_on()
    }
);

ktest!(
    fn forged_ldt_descriptors_in_user_memory_are_never_used() {
        // With the LDT register at its reset value (a table at linear 0),
        // TI=1 selectors would read descriptors a program can write.
        ensure_eq!(sk_machine::gdt::ldt_register(), 0);
        for (kind, sel) in [(0, 0x1004), (1, 0x1014)] {
            let status = hostile(mode::LDT_FORGE, kind)?;
            ensure!(status == KILLED, "forged LDT {kind}: status {status}");
            ensure_eq!(last_trap()?, (GP, sel));
        }
        kernel_carries_on()
    }
);

ktest!(
    fn gdt_has_no_user_code_segment_but_the_64_bit_one() {
        let gdt = sk_machine::gdt::descriptors();
        ensure_eq!(gdt.len(), sk_machine::gdt::ENTRIES);
        ensure_eq!(gdt[0], 0);
        ensure_eq!(gdt[3], 0);
        for (i, &d) in gdt.iter().enumerate().take(6) {
            let present = d & (1 << 47) != 0;
            let user_segment = d & (1 << 44) != 0;
            let code = d & (1 << 43) != 0;
            let dpl = (d >> 45) & 3;
            let long = d & (1 << 53) != 0;
            if present && user_segment && code && dpl == 3 {
                ensure!(
                    i == 5 && long,
                    "slot {i} ({:#x}) is ring-3 code: {d:#018x}",
                    i * 8
                );
            }
        }
        // The TSS (two slots) ends the table; no LDT.
        ensure_eq!((gdt[6] >> 40) & 0x9d, 0x89);
        ensure_eq!(sk_machine::gdt::ldt_register(), 0);
        Ok(())
    }
);

ktest!(
    fn every_entry_msr_is_set() {
        use sk_machine::syscall;
        let m = syscall::entry_msrs();
        ensure_eq!(m.efer & 1, 1);
        ensure_eq!(m.star >> 32, 0x0018_0008);
        ensure!(m.lstar >= 0xffff_8000_0000_0000, "LSTAR {:#x}", m.lstar);
        ensure_eq!(m.cstar, syscall::compat_entry_address());
        ensure_eq!(m.fmask & syscall::FMASK_REQUIRED, syscall::FMASK_REQUIRED);
        ensure_eq!(m.sysenter_cs, 0);
        ensure_eq!(m.sysenter_eip, syscall::sysenter_entry_address());
        ensure!(
            m.sysenter_esp >> 47 != 0 && m.sysenter_esp >> 47 != 0x1ffff,
            "SYSENTER_ESP {:#x} is canonical",
            m.sysenter_esp
        );
        Ok(())
    }
);

ktest!(
    fn idt_gates_and_legacy_pic() {
        for v in 0..=255u8 {
            let g = traps::gate(v);
            if v == 3 {
                ensure!(g.present && g.dpl == 3, "#BP gate {g:?}");
            } else {
                ensure!(g.dpl == 0, "vector {v:#x} has DPL {}", g.dpl);
            }
            let ist = match v {
                1 => 4,
                2 => 2,
                8 => 1,
                // #PF: a stackless routine's fault may come at a user rsp.
                14 => 5,
                18 => 3,
                _ => 0,
            };
            ensure!(
                g.ist == ist,
                "vector {v:#x}: IST {} (expected {ist})",
                g.ist
            );
        }
        // Exceptions the CPU can raise in long mode, the timer, the PIC's
        // vectors and the APIC spurious vector have handlers.
        let base = traps::LEGACY_PIC_BASE;
        ensure!(base >= 0x21 && base.is_multiple_of(8), "PIC at {base:#x}");
        for v in (0..=8u8)
            .chain(10..=14)
            .chain(16..=21)
            .chain([traps::TIMER_VECTOR, traps::SPURIOUS_VECTOR])
            .chain(base..base + 16)
        {
            ensure!(traps::gate(v).present, "vector {v:#x} has no gate");
        }
        ensure_eq!(sk_machine::pit::legacy_pic_masks(), (0xff, 0xff));
        Ok(())
    }
);

ktest!(
    fn sysenter_kills_only_the_caller() {
        let (_, entries) = sk_machine::syscall::kill_entries();
        ensure_eq!(hostile(mode::SYSENTER, 0)?, KILLED);
        // #GP (Intel, SYSENTER_CS = 0) or #UD (AMD, and QEMU's TCG): the
        // CPU never enters.
        let trap = last_trap()?;
        ensure!(trap == (GP, 0) || trap == (UD, 0), "sysenter: {trap:?}");
        ensure_eq!(sk_machine::syscall::kill_entries().1, entries);
        kernel_carries_on()
    }
);

ktest!(
    fn int_n_kills_the_caller_for_all_256_vectors() {
        for n in 0..256_u64 {
            let status = hostile(mode::INT_N, n)?;
            ensure!(
                status == KILLED,
                "int {n:#x}: status {status}, expected {KILLED}"
            );
            // Only #BP's gate has DPL 3; every other `int n` is #GP with
            // the IDT error code n * 8 + 2 (QEMU's TCG reports n * 16 + 2).
            let trap = last_trap()?;
            let ok = if n == 3 {
                trap == (BP, 0)
            } else {
                trap == (GP, n * 8 + 2) || trap == (GP, n * 16 + 2)
            };
            ensure!(ok, "int {n:#x}: killed by {trap:?}");
        }
        kernel_carries_on()
    }
);

ktest!(
    fn user_debug_traps_kill_the_caller() {
        let status = hostile(mode::ICEBP, 0)?;
        ensure!(status == KILLED, "icebp (int1): status {status}");
        // #DB on hardware; QEMU's TCG makes icebp #UD.
        let trap = last_trap()?;
        ensure!(trap.0 == DB || trap.0 == UD, "icebp: {trap:?}");
        let status = hostile(mode::TF_POPF, 0)?;
        ensure!(status == KILLED, "TF set with popfq: status {status}");
        ensure_eq!(last_trap()?.0, DB);
        for generic in 0..2 {
            let status = hostile(mode::SYSCALL_FLAGS_TF, generic)?;
            ensure!(
                status == KILLED,
                "syscall with TF (generic {generic}): status {status}"
            );
            ensure_eq!(last_trap()?.0, DB);
        }
        kernel_carries_on()
    }
);

ktest!(
    fn mov_ss_then_syscall_with_tf_kills_only_the_caller() {
        // The deferred #DB lands on the kernel's first instruction, with
        // the user's GS and RSP: the kernel must take it and carry on; the
        // program dies of its own single-step after the call returns.
        let before = traps::entry_checks();
        let (user_db, kernel_db) = traps::debug_traps();
        ensure_eq!(hostile(mode::MOV_SS_SYSCALL_TF, 0)?, KILLED);
        ensure_eq!(last_trap()?.0, DB);
        ensure_eq!(traps::entry_checks().wrong_gs, before.wrong_gs);
        let (user_after, kernel_after) = traps::debug_traps();
        sk_machine::println!(
            "mov ss; syscall with TF: {} #DB in ring 0, {} in ring 3",
            kernel_after - kernel_db,
            user_after - user_db
        );
        ensure_eq!(user_after - user_db, 1);
        kernel_carries_on()
    }
);

ktest!(
    fn syscall_with_ac_df_nt_set_works_and_keeps_them() {
        for generic in 0..2 {
            let status = hostile(mode::SYSCALL_FLAGS, generic)?;
            ensure!(status == 0, "generic {generic}: status {status}");
        }
        kernel_carries_on()
    }
);

ktest!(
    fn syscall_never_uses_the_user_stack_pointer() {
        for kind in 0..=5_u64 {
            for generic in [0, 0x100] {
                let status = hostile(mode::SYSCALL_RSP, kind | generic)?;
                ensure!(
                    status == 0,
                    "rsp kind {kind} (generic {}): status {status}",
                    generic != 0
                );
            }
        }
        kernel_carries_on()
    }
);

ktest!(
    fn handlers_never_run_with_the_users_ac() {
        let before = traps::entry_checks();
        let id = sk_core::spawn_program(HOSTILE, mode::AC_SPIN << 32)
            .map_err(|e| format!("spawn: {e}"))?;
        // Let it spin until traps (timer ticks) have interrupted it with AC
        // set; give up after a bound on ticks, not on time.
        let start = sk_machine::apic::ticks();
        let mut seen = 0;
        while seen < 3 && sk_machine::apic::ticks() - start < 2000 {
            sk_core::yield_now();
            seen = traps::entry_checks().user_ac_frames - before.user_ac_frames;
        }
        sk_core::release_program(id);
        let after = traps::entry_checks();
        ensure!(
            seen >= 3,
            "only {seen} traps interrupted the program with AC set"
        );
        let bad = after.ac_in_handler - before.ac_in_handler;
        ensure!(
            bad == 0,
            "{bad} trap handlers ran with AC set ({seen} traps from user code with AC)"
        );
        kernel_carries_on()
    }
);

ktest!(
    fn privileged_instructions_kill_the_caller() {
        let umip = sk_machine::cpu::features().umip;
        for i in 0..PRIV_COUNT {
            let status = hostile(mode::PRIV, i)?;
            if !umip && PRIV_UMIP.contains(&i) {
                continue;
            }
            ensure!(
                status == KILLED,
                "privileged instruction {i}: status {status}, expected {KILLED}"
            );
            let trap = last_trap()?;
            ensure!(
                [GP, UD, BP].contains(&trap.0),
                "privileged instruction {i}: {trap:?}"
            );
        }
        kernel_carries_on()
    }
);

ktest!(
    fn traps_in_ring_0_with_the_users_gs_run_on_the_kernels_gs() {
        use sk_machine::traps::UserGsTrap;
        let mut wrong = alloc::vec::Vec::new();
        for kind in [
            UserGsTrap::Breakpoint,
            UserGsTrap::SingleStep,
            UserGsTrap::Nmi,
        ] {
            let before = traps::entry_checks();
            let (bp, nmi, db) = (traps::breakpoints(), traps::nmis(), traps::debug_traps().1);
            traps::trap_with_user_gs(kind);
            let after = traps::entry_checks();
            let taken = match kind {
                UserGsTrap::Breakpoint => traps::breakpoints() - bp,
                UserGsTrap::Nmi => traps::nmis() - nmi,
                UserGsTrap::SingleStep => traps::debug_traps().1 - db,
            };
            ensure!(taken == 1, "{kind:?}: {taken} traps taken, expected 1");
            let bad = after.wrong_gs - before.wrong_gs;
            if bad != 0 {
                wrong.push(format!("{kind:?}: {bad} handlers ran with the user's GS"));
            }
        }
        ensure!(wrong.is_empty(), "{}", wrong.join("; "));
        ensure!(sk_machine::percpu::cpu_id() == 0);
        Ok(())
    }
);

ktest!(
    fn call_probe_rule_needs_an_active_probe_at_its_own_rsp() {
        // A kernel instruction fetch fault whose stack top holds a probe's
        // return address, as a hostile RSP can arrange: outside
        // `probe::call` the rule must not resume in the probe.
        let (ret, _) = sk_machine::extable::call_probe_sites()
            .next()
            .ok_or("no CallProbe entry")?;
        let slot = [ret, 0];
        let mut frame = TrapFrame {
            vector: 14,
            error_code: sk_machine::probe::PF_FETCH | sk_machine::probe::PF_PRESENT,
            rip: 0xffff_8000_dead_0000,
            cs: 0x08,
            rsp: core::hint::black_box(&slot).as_ptr() as u64,
            ss: 0x10,
            ..TrapFrame::default()
        };
        let cr2 = frame.rip;
        let original = frame;
        let accepted = traps::test_try_fixup(&mut frame, cr2);
        ensure!(
            !accepted,
            "the CallProbe rule resumed a forged frame at {:#x}",
            frame.rip
        );
        // A probe active, but at another RSP: still refused.
        sk_machine::percpu::set_probe_for_test(Some(original.rsp + 16));
        let mut other = original;
        let accepted = traps::test_try_fixup(&mut other, cr2);
        sk_machine::percpu::set_probe_for_test(None);
        ensure!(
            !accepted,
            "accepted a frame at another RSP than the probe's"
        );
        // The probe's own RSP: the rule applies (so the refusals above are
        // the conditions at work, not a rule that never matches).
        sk_machine::percpu::set_probe_for_test(Some(original.rsp));
        let mut own = original;
        let accepted = traps::test_try_fixup(&mut own, cr2);
        sk_machine::percpu::set_probe_for_test(None);
        ensure!(accepted, "refused the probe's own frame");
        ensure_eq!(own.rsp, original.rsp + 8);
        ensure_eq!(own.rax, original.error_code);
        ensure_eq!(own.rdx, cr2);
        // And the real probe still works.
        let data = alloc::boxed::Box::new([0xc3u8; 16]);
        // SAFETY: the bytes are `ret`: harmless even if NX failed.
        #[allow(unsafe_code)]
        let fault = unsafe { sk_machine::probe::call(data.as_ptr() as u64) }
            .err()
            .ok_or("executed a heap page")?;
        ensure_eq!(fault.address, data.as_ptr() as u64);
        Ok(())
    }
);

ktest!(
    fn the_instruction_counter_still_counts_a_traced_call() {
        for generic in 0..2 {
            let status = hostile(mode::TRACED_CALL, generic)?;
            ensure!(
                status == 0,
                "traced call (generic {generic}): status {status}"
            );
        }
        // Arming it leaves no way to single-step user code unharmed.
        ensure_eq!(hostile(mode::TF_POPF, 0)?, KILLED);
        kernel_carries_on()
    }
);

ktest!(
    fn a_breakpoint_in_synthesized_code_is_fatal_not_resumed() {
        // The arena's unused bytes are `int3`: a `#BP` there is a stray
        // jump, and resuming would slide into the next routine. The rule
        // must refuse every arena address and accept the kernel's own code
        // (so the refusal is the rule at work, not one that never accepts).
        use sk_machine::layout::{CODE_ARENA_BASE, CODE_ARENA_MAX_BYTES};
        for int3_at in [
            CODE_ARENA_BASE,
            CODE_ARENA_BASE + 0x1234,
            CODE_ARENA_BASE + CODE_ARENA_MAX_BYTES - 1,
        ] {
            ensure!(
                !traps::test_kernel_breakpoint_resumes(int3_at + 1),
                "a #BP at {int3_at:#x} in the code arena would resume"
            );
        }
        let kernel_code = traps::breakpoint as fn() as usize as u64;
        ensure!(
            traps::test_kernel_breakpoint_resumes(kernel_code + 1),
            "a #BP in the kernel's own code would not resume"
        );
        // And a real one in kernel code resumes and is counted.
        let before = traps::breakpoints();
        traps::breakpoint();
        ensure_eq!(traps::breakpoints(), before + 1);
        Ok(())
    }
);
