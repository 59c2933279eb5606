//! The FP policy against a model CPU: random runs of switches, FP writes
//! and reads, thread births and deaths, checking that every thread reads
//! back exactly what it last wrote (or the initial state before its first
//! write), that a thread never runs FP instructions with TS clear unless
//! it owns an area, and that each thread traps exactly once. The same
//! model catches a scheduler that forgets the save at switch out, and the
//! thesis's lazy handler that loads the new owner without saving the old.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate std;

use super::*;
use proptest::prelude::*;
use std::string::{String, ToString};
use std::vec::Vec;
use std::{format, vec};

/// What the registers hold in the initial state.
const INIT: u64 = 0;

/// A model FP unit: the registers are one value.
#[derive(Debug, Default)]
struct ModelFpu {
    regs: u64,
    ts: bool,
    /// Fault injection: `save` does nothing.
    drop_saves: bool,
}

#[derive(Debug)]
struct ModelArea(u64);

impl FpUnit for ModelFpu {
    type Area = ModelArea;
    fn save(&mut self, area: &mut ModelArea) {
        if !self.drop_saves {
            area.0 = self.regs;
        }
    }
    fn restore(&mut self, area: &mut ModelArea) {
        self.regs = area.0;
        self.ts = false;
    }
    fn set_ts(&mut self) {
        self.ts = true;
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// Switch to thread `n % threads`.
    Switch(usize),
    /// The running thread writes its registers.
    Write(u64),
    /// The running thread reads its registers.
    Read,
    /// The running thread dies; a new one takes its slot.
    Kill,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => any::<usize>().prop_map(Op::Switch),
        3 => (1..u64::MAX).prop_map(Op::Write),
        3 => Just(Op::Read),
        1 => Just(Op::Kill),
    ]
}

struct Thread {
    fp: FpState<ModelArea>,
    /// What it last wrote (INIT before its first write).
    expected: u64,
    alive: bool,
}

impl Thread {
    fn new() -> Self {
        Self {
            fp: FpState::new(),
            expected: INIT,
            alive: true,
        }
    }
}

/// The scheduler's policy or the thesis's broken lazy handler.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Policy {
    /// This module: save at switch out, restore or set TS at switch in.
    Ours,
    /// Pure lazy with the recorded bug: switches only set TS; `#NM`
    /// restores the new owner's area without saving the old owner's.
    ThesisBug,
}

/// Runs `ops` on `threads` threads; the first broken rule, if any.
fn run(ops: &[Op], threads: usize, mut fpu: ModelFpu, policy: Policy) -> Result<(), String> {
    let mut t: Vec<Thread> = (0..threads).map(|_| Thread::new()).collect();
    let mut current = 0;
    fpu.ts = true;
    for op in ops {
        match op {
            Op::Switch(n) => {
                let next = n % threads;
                if next == current {
                    continue;
                }
                if !t[next].alive {
                    t[next] = Thread::new();
                }
                if policy == Policy::Ours {
                    if t[current].alive {
                        switch_out(&mut fpu, &mut t[current].fp);
                    }
                    switch_in(&mut fpu, Some(&mut t[next].fp));
                } else {
                    fpu.set_ts();
                }
                current = next;
            }
            Op::Kill => {
                t[current].alive = false;
            }
            Op::Write(_) | Op::Read if !t[current].alive => {}
            Op::Write(_) | Op::Read => {
                if fpu.ts {
                    // #NM.
                    first_use(&mut fpu, &mut t[current].fp, || Some(ModelArea(INIT)))
                        .map_err(|e| e.to_string())?;
                    if t[current].fp.traps() > 1 && policy == Policy::Ours {
                        return Err(format!("thread {current} trapped twice"));
                    }
                } else if !t[current].fp.uses_fp() {
                    return Err(format!(
                        "thread {current} runs FP with TS clear but owns no area"
                    ));
                }
                match op {
                    Op::Write(v) => {
                        fpu.regs = *v;
                        t[current].expected = *v;
                    }
                    _ if fpu.regs != t[current].expected => {
                        return Err(format!(
                            "thread {current} read {:#x}, expected {:#x}",
                            fpu.regs, t[current].expected
                        ));
                    }
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]
    #[test]
    fn every_thread_reads_its_own_registers(ops in prop::collection::vec(op(), 0..300), threads in 1usize..6) {
        prop_assert_eq!(run(&ops, threads, ModelFpu::default(), Policy::Ours), Ok(()));
    }
}

/// Two threads write, switch, read: the smallest case the bugs break.
fn ping_pong() -> Vec<Op> {
    vec![
        Op::Write(0x11),
        Op::Switch(1),
        Op::Write(0x22),
        Op::Switch(0),
        Op::Read,
        Op::Switch(1),
        Op::Read,
    ]
}

#[test]
fn the_model_catches_a_switch_that_does_not_save() {
    assert_eq!(
        run(&ping_pong(), 2, ModelFpu::default(), Policy::Ours),
        Ok(())
    );
    let broken = ModelFpu {
        drop_saves: true,
        ..ModelFpu::default()
    };
    let result = run(&ping_pong(), 2, broken, Policy::Ours);
    assert!(result.is_err(), "dropped saves went unnoticed");
}

#[test]
fn the_model_catches_the_thesis_lazy_handler_bug() {
    let result = run(&ping_pong(), 2, ModelFpu::default(), Policy::ThesisBug);
    assert_eq!(
        result,
        Err("thread 0 read 0x0, expected 0x11".into()),
        "the lazy handler that does not save the previous owner loses its state"
    );
}

#[test]
fn a_new_thread_starts_in_the_initial_state_not_the_last_owners() {
    // Thread 0 fills the registers; thread 1's first FP instruction is a
    // read: it must trap and see the initial state.
    let ops = vec![Op::Write(0xdead), Op::Switch(1), Op::Read];
    assert_eq!(run(&ops, 2, ModelFpu::default(), Policy::Ours), Ok(()));
    let mut fpu = ModelFpu::default();
    let mut a = FpState::new();
    let mut b: FpState<ModelArea> = FpState::new();
    first_use(&mut fpu, &mut a, || Some(ModelArea(INIT))).unwrap();
    fpu.regs = 0xdead;
    assert!(switch_out(&mut fpu, &mut a));
    assert!(!switch_in(&mut fpu, Some(&mut b)));
    assert!(fpu.ts, "TS is set for a thread without an area");
    assert_eq!(
        first_use(&mut fpu, &mut b, || Some(ModelArea(INIT))),
        Ok(FirstUse::Allocated)
    );
    assert_eq!(fpu.regs, INIT);
    assert!(!fpu.ts);
    assert_eq!((a.traps(), b.traps()), (1, 1));
    assert_eq!(a.area().map(|x| x.0), Some(0xdead));
}

#[test]
fn no_memory_leaves_the_thread_without_fp() {
    let mut fpu = ModelFpu {
        ts: true,
        ..ModelFpu::default()
    };
    let mut s: FpState<ModelArea> = FpState::new();
    assert_eq!(first_use(&mut fpu, &mut s, || None), Err(FpError::NoMemory));
    assert!(!s.uses_fp());
    assert!(fpu.ts, "TS stays set: the instruction would trap again");
}

#[test]
fn a_repeated_trap_restores_the_threads_own_area() {
    let mut fpu = ModelFpu::default();
    let mut s = FpState::new();
    first_use(&mut fpu, &mut s, || Some(ModelArea(INIT))).unwrap();
    fpu.regs = 7;
    switch_out(&mut fpu, &mut s);
    fpu.regs = 99;
    fpu.ts = true;
    assert_eq!(
        first_use(&mut fpu, &mut s, || panic!("no second area")),
        Ok(FirstUse::Repeated)
    );
    assert_eq!(fpu.regs, 7);
}

#[test]
fn faults_are_worded_with_their_cause() {
    let xm = describe_fault(19, None, Some(0x1f80 & !(1 << 9) | 4), &[], 7).unwrap();
    assert_eq!(
        xm.to_string(),
        "unmasked SIMD exception (MXCSR 0x1d84: divide by zero)"
    );
    let mf = describe_fault(16, Some(0x80 | 1), None, &[], 7).unwrap();
    assert_eq!(
        mf.to_string(),
        "unmasked x87 exception (FSW 0x0081: invalid operation)"
    );
    let ud = describe_fault(6, None, None, &[0x62, 0xf1, 0x7d, 0x48], 7).unwrap();
    assert_eq!(
        ud.to_string(),
        "AVX-512 (EVEX) instruction, but XCR0 0x7 does not enable its state"
    );
    assert_eq!(
        describe_fault(6, None, None, &[0x66, 0xc5, 0xf9], 3),
        Some(FpFault::VectorExtension {
            evex: false,
            xcr0: 3
        })
    );
    assert_eq!(describe_fault(6, None, None, &[0x0f, 0x0b], 7), None);
    assert_eq!(describe_fault(13, None, None, &[], 7), None);
    // ldmxcsr [rsp] = 0f ae 14 24; REX.W fxrstor64 [rdi] = 48 0f ae 0f;
    // xrstor [rax] = 0f ae 28; vldmxcsr [rax] = c5 f8 ae 10; lfence = 0f ae e8.
    let gp = |b: &[u8]| describe_fault(13, None, None, b, 7).map(|f| f.to_string());
    assert_eq!(
        gp(&[0x0f, 0xae, 0x14, 0x24]).as_deref(),
        Some("ldmxcsr refused: reserved MXCSR bits set")
    );
    assert_eq!(
        gp(&[0x48, 0x0f, 0xae, 0x0f]).as_deref(),
        Some("fxrstor refused: reserved MXCSR bits, a bad XSAVE header or a misaligned area")
    );
    assert_eq!(state_load_mnemonic(&[0x0f, 0xae, 0x28]), Some("xrstor"));
    assert_eq!(
        state_load_mnemonic(&[0xc5, 0xf8, 0xae, 0x10]),
        Some("vldmxcsr")
    );
    assert_eq!(state_load_mnemonic(&[0x0f, 0xae, 0xe8]), None);
    assert_eq!(state_load_mnemonic(&[0x0f, 0x05]), None);
    assert_eq!(vector_prefix(&[0xf3, 0x66]), None);
}

#[test]
fn the_save_instruction_is_the_best_the_cpu_has_unless_fxsave_is_forced() {
    let cpu = |xsave, xsaveopt| SaveSupport { xsave, xsaveopt };
    assert_eq!(choose_save(cpu(true, true), false), SaveKind::Xsaveopt);
    assert_eq!(choose_save(cpu(true, false), false), SaveKind::Xsave);
    assert_eq!(choose_save(cpu(false, false), false), SaveKind::Fxsave);
    for (xsave, xsaveopt) in [(true, true), (true, false), (false, false)] {
        assert_eq!(choose_save(cpu(xsave, xsaveopt), true), SaveKind::Fxsave);
    }
    assert!(!SaveKind::Fxsave.is_xsave() && SaveKind::Xsaveopt.is_xsave());
}

#[test]
fn xsaveopt_only_into_an_area_restored_since_it_was_made() {
    assert_eq!(save_for(SaveKind::Xsaveopt, true), SaveKind::Xsaveopt);
    assert_eq!(save_for(SaveKind::Xsaveopt, false), SaveKind::Xsave);
    for restored in [false, true] {
        assert_eq!(save_for(SaveKind::Xsave, restored), SaveKind::Xsave);
        assert_eq!(save_for(SaveKind::Fxsave, restored), SaveKind::Fxsave);
    }
}
