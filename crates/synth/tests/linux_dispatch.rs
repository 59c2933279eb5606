//! The Linux personality's synthesized `read`/`write`, on the host: the
//! policy (`policy::linux`: which kinds, `-EFAULT`, each op's slow path)
//! and the generated code executed in `sk-hostexec`: the `linux_fd_dispatch`
//! in front of a Linux `dev_zero_read` and a Linux RAM-file read, the
//! `linux_slow_path` behind them, and a probe standing in for the Linux
//! generic entry that records the registers it was entered with.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

#[path = "support/fake_mechanism.rs"]
mod fake_mechanism;
#[path = "support/policy_common.rs"]
mod policy_common;

use iced_x86::code_asm::{eax, qword_ptr, r11, rax, rdi, rdx, rsi, CodeAssembler};
use policy_common::*;
use sk_hostexec::{Fixup, Registers, Sandbox};
use sk_synth::policy::linux::{
    dispatcher, is_linux_kind, linux_plan, plan_for, slow_path, LinuxEnv, LINUX_EFAULT,
};
use sk_synth::policy::{plan, Op, RoutineHoles, RoutineSpec, SioTarget, SlotPlan};
use sk_synth::templates::{self, DevZeroReadHoles, RamFileReadHoles};
use sk_synth::{instantiate, verify_instance, HoleSet, Imm32, Imm64, Instance, Reg, Smap};

const LINUX: LinuxEnv = LinuxEnv {
    read_slow_path: 0xffff_ffff_8020_0000,
    write_slow_path: 0xffff_ffff_8020_0100,
};

// ---- the policy ------------------------------------------------------------

fn routine(slot: &SlotPlan) -> RoutineHoles {
    match slot {
        SlotPlan::Routine(spec) => spec.routine(0),
        other => panic!("expected a routine, planned {other:?}"),
    }
}

#[test]
fn linux_routines_return_efault_and_take_their_ops_slow_path() {
    let zero = routine(&linux_plan(&facts(SioTarget::Zero), &env(), &LINUX).read);
    let RoutineHoles::DevZeroRead(holes) = zero else {
        panic!("{zero:?}")
    };
    assert_eq!(holes.bad_address, Imm32(LINUX_EFAULT));
    assert_eq!(holes.slow_path, Imm64(LINUX.read_slow_path));
    let pipe = routine(&linux_plan(&facts(pipe(false)), &env(), &LINUX).write);
    let RoutineHoles::PipeWrite(holes) = pipe else {
        panic!("{pipe:?}")
    };
    assert_eq!(holes.slow_path, Imm64(LINUX.write_slow_path));
    // A RAM-file write's capacity guard: its trampoline goes to the write
    // slow path.
    let planned = linux_plan(&facts(SioTarget::File(file(1))), &env(), &LINUX);
    let SlotPlan::Routine(RoutineSpec::RamFileWrite {
        fallback, write, ..
    }) = planned.write
    else {
        panic!("{planned:?}")
    };
    assert_eq!(fallback.generic_entry, Imm64(LINUX.write_slow_path));
    assert_eq!(write.bad_address, Imm32(LINUX_EFAULT));
    // The native plan of the same facts is unchanged.
    let native = routine(&plan(&facts(SioTarget::Zero), &env()).read);
    let RoutineHoles::DevZeroRead(holes) = native else {
        panic!("{native:?}")
    };
    assert_eq!(holes.slow_path, Imm64(env().slow_path));
    assert_eq!(
        plan_for(&facts(SioTarget::Zero), &env(), None),
        plan(&facts(SioTarget::Zero), &env())
    );
}

#[test]
fn linux_plan_is_the_native_choice_of_template_for_linux_kinds_else_generic() {
    let targets = [
        SioTarget::Null,
        SioTarget::Zero,
        MEM,
        tty(true),
        tty(false),
        SioTarget::File(file(2)),
        SioTarget::Dir,
        pipe(true),
        pipe(false),
        SioTarget::Semaphore {
            cell: 0xffff_8000_0400_0000,
        },
    ];
    for target in targets {
        for change in [
            |_: &mut sk_synth::policy::SioFacts| {},
            |f: &mut sk_synth::policy::SioFacts| f.is_shared = true,
            |f: &mut sk_synth::policy::SioFacts| f.can_read = false,
            |f: &mut sk_synth::policy::SioFacts| f.owner = None,
            |f: &mut sk_synth::policy::SioFacts| {
                f.is_holder = true;
                f.is_shared = true;
                f.can_write = false;
            },
            |f: &mut sk_synth::policy::SioFacts| {
                f.is_holder = true;
                f.is_revoked = true;
            },
        ] {
            let facts = with(facts(target), change);
            let native = names(&plan(&facts, &env()));
            let linux = names(&linux_plan(&facts, &env(), &LINUX));
            let expect = |native: &'static str| match native {
                // Error stubs return native codes: Linux goes generic.
                "error" => "generic",
                "-" | "generic" => native,
                _ if is_linux_kind(&facts.target) => native,
                _ => "generic",
            };
            assert_eq!(linux, (expect(native.0), expect(native.1)), "{facts:?}");
        }
    }
}

#[test]
fn no_linux_routine_writes_r10_where_the_dispatcher_keeps_the_fd() {
    // Every template a Linux plan can name (and the fallback trampoline).
    let names = [
        "dev_null_write",
        "dev_zero_read",
        "dev_mem_read",
        "ram_file_read",
        "ram_file_write",
        "generic_trampoline",
        "tty_write",
        "tty_write_cooked",
        "pipe_read",
        "pipe_write",
    ];
    for name in names {
        let template = templates::ALL
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no template {name}"));
        assert!(
            !template.clobbers.contains(&Reg::R10),
            "{name} writes r10: the Linux slow path would lose the fd"
        );
    }
}

// ---- the code, executed --------------------------------------------------

// Code layout.
const DISPATCH: u64 = 0;
const ZERO_READ: u64 = 0x100;
const FILE_READ: u64 = 0x200;
const SLOW_PATH: u64 = 0x300;
const PROBE: u64 = 0x400;
// Data layout.
const ARRAY: usize = 0x3000;
const FD_LIMIT: u32 = 8;
const PROBE_CELLS: usize = 0x3800;
const POSITION_CELL: usize = 0;
const SIZE_CELL: usize = 8;
const FILE_DATA: usize = 0x100;
const USER_BUFFER: usize = 0x2000;
const MAX_LEN: u64 = 0x1000;
/// What the probe (the stand-in generic entry) returns.
const PROBE_RESULT: i32 = 0x4321;

struct Linux {
    sandbox: Sandbox,
    fixups: Vec<Fixup>,
}

fn place<H: HoleSet>(bytes: &mut [u8], code: u64, at: u64, holes: &H) -> Instance {
    let out = &mut bytes[at as usize..];
    let instance = instantiate(holes, code + at, Smap::Disabled, out).unwrap();
    verify_instance(&instance, &out[..instance.size()]).unwrap();
    instance
}

/// The probe: stores `rax`, `rdi`, `rsi`, `rdx` in four cells, returns
/// `PROBE_RESULT`.
fn probe(data: u64, at: u64) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).unwrap();
    a.mov(r11, data + PROBE_CELLS as u64).unwrap();
    a.mov(qword_ptr(r11), rax).unwrap();
    a.mov(qword_ptr(r11 + 8), rdi).unwrap();
    a.mov(qword_ptr(r11 + 16), rsi).unwrap();
    a.mov(qword_ptr(r11 + 24), rdx).unwrap();
    a.mov(eax, PROBE_RESULT as u32).unwrap();
    a.ret().unwrap();
    a.assemble(at).unwrap()
}

impl Linux {
    /// fd 3: `/dev/zero`; fd 5: a RAM file of 16 bytes; every other fd
    /// below `FD_LIMIT`: the slow path.
    fn new() -> Self {
        let mut sandbox = Sandbox::new(0x1000, 0x4000).unwrap();
        let (data, code) = (sandbox.data_address(), sandbox.code_address());
        let probe_bytes = probe(data, code + PROBE);
        let bytes = sandbox.code_mut().unwrap();
        place(
            bytes,
            code,
            DISPATCH,
            &dispatcher(data + ARRAY as u64, FD_LIMIT, code + PROBE),
        );
        let zero = place(
            bytes,
            code,
            ZERO_READ,
            &DevZeroReadHoles {
                bad_address: Imm32(LINUX_EFAULT),
                max_len: Imm32(MAX_LEN as i32),
                slow_path: Imm64(code + SLOW_PATH),
            },
        );
        let file = place(
            bytes,
            code,
            FILE_READ,
            &RamFileReadHoles {
                data: Imm64(data + FILE_DATA as u64),
                position_cell: Imm64(data + POSITION_CELL as u64),
                size_cell: Imm64(data + SIZE_CELL as u64),
                bad_address: Imm32(LINUX_EFAULT),
                max_len: Imm32(MAX_LEN as i32),
                slow_path: Imm64(code + SLOW_PATH),
            },
        );
        place(bytes, code, SLOW_PATH, &slow_path(Op::Read, code + PROBE));
        bytes[PROBE as usize..][..probe_bytes.len()].copy_from_slice(&probe_bytes);
        let fixups = zero
            .fault_fixups()
            .chain(file.fault_fixups())
            .map(|f| Fixup {
                access: f.access,
                fixup: f.fixup,
            })
            .collect();
        sandbox.seal().unwrap();
        for fd in 0..FD_LIMIT as usize {
            let entry = match fd {
                3 => code + ZERO_READ,
                5 => code + FILE_READ,
                _ => code + SLOW_PATH,
            };
            sandbox.write_cell(ARRAY + fd * 8, entry);
        }
        sandbox.write_cell(SIZE_CELL, 16);
        let pattern: Vec<u8> = (0..16).map(|i| 0x40 + i).collect();
        sandbox.data_mut()[FILE_DATA..][..16].copy_from_slice(&pattern);
        Self { sandbox, fixups }
    }

    /// Linux `read(fd, buf, count)` through the dispatcher.
    fn read(&mut self, fd: u64, buf: u64, count: u64) -> i64 {
        let registers = Registers {
            rax: 0,
            rdi: fd,
            rsi: buf,
            rdx: count,
            ..Registers::default()
        };
        let code = self.sandbox.code_address();
        let outcome = self
            .sandbox
            .call(code + DISPATCH, &registers, &self.fixups)
            .unwrap();
        assert!(outcome.is_callee_saved_intact);
        outcome.result()
    }

    fn buffer(&self) -> u64 {
        self.sandbox.data_address() + USER_BUFFER as u64
    }

    /// What the probe saw: (rax, rdi, rsi, rdx); cleared after.
    fn probed(&mut self) -> [u64; 4] {
        let seen = [0, 8, 16, 24].map(|o| self.sandbox.read_cell(PROBE_CELLS + o));
        for o in [0, 8, 16, 24] {
            self.sandbox.write_cell(PROBE_CELLS + o, 0xdead);
        }
        seen
    }
}

#[test]
fn an_fd_with_a_routine_runs_it_with_the_arguments_moved() {
    let mut linux = Linux::new();
    let buffer = linux.buffer();
    linux.sandbox.data_mut()[USER_BUFFER..][..4].copy_from_slice(&[9; 4]);
    assert_eq!(linux.read(3, buffer, 1), 1);
    assert_eq!(linux.sandbox.data()[USER_BUFFER..][..2], [0, 9]);
    assert_eq!(linux.read(3, buffer, 3), 3);
    assert_eq!(linux.sandbox.data()[USER_BUFFER..][..4], [0, 0, 0, 9]);
    // The file: its position advances, end of file is 0.
    assert_eq!(linux.read(5, buffer, 10), 10);
    assert_eq!(linux.sandbox.data()[USER_BUFFER], 0x40);
    assert_eq!(linux.read(5, buffer, 10), 6);
    assert_eq!(linux.read(5, buffer, 10), 0);
    // Linux's fd is an unsigned int: the high half of rdi is not looked at.
    assert_eq!(linux.read(0xffff_ffff_0000_0003, buffer, 2), 2);
}

#[test]
fn a_bad_buffer_is_efault() {
    let mut linux = Linux::new();
    assert_eq!(
        linux.read(3, 0xffff_8000_0000_0000, 1),
        i64::from(LINUX_EFAULT)
    );
    assert_eq!(linux.read(5, u64::MAX - 2, 8), i64::from(LINUX_EFAULT));
    // A fault inside a valid range: the fixup's -EFAULT.
    let guard = linux.sandbox.guard_address();
    assert_eq!(linux.read(3, guard, 1), i64::from(LINUX_EFAULT));
}

#[test]
fn an_fd_without_a_routine_reaches_the_generic_entry_with_linux_arguments() {
    let mut linux = Linux::new();
    let buffer = linux.buffer();
    assert_eq!(linux.read(4, buffer, 77), i64::from(PROBE_RESULT));
    assert_eq!(linux.probed(), [0, 4, buffer, 77]);
    // Past the array: straight to the generic entry, untouched.
    assert_eq!(linux.read(9, buffer, 5), i64::from(PROBE_RESULT));
    assert_eq!(linux.probed(), [0, 9, buffer, 5]);
    assert_eq!(
        linux.read(0x1_0000_0000 | 8, buffer, 5),
        i64::from(PROBE_RESULT)
    );
    assert_eq!(linux.probed(), [0, 0x1_0000_0008, buffer, 5]);
}

#[test]
fn a_routines_slow_path_reaches_the_generic_entry_with_linux_arguments() {
    let mut linux = Linux::new();
    let buffer = linux.buffer();
    // Longer than max_len: the routine's slow path, then the generic entry
    // with the fd (from r10), buffer and count as the program passed them.
    assert_eq!(linux.read(3, buffer, MAX_LEN + 1), i64::from(PROBE_RESULT));
    assert_eq!(linux.probed(), [0, 3, buffer, MAX_LEN + 1]);
    assert_eq!(
        linux.read(0xffff_ffff_0000_0005, buffer, u64::MAX),
        i64::from(PROBE_RESULT)
    );
    assert_eq!(linux.probed(), [0, 5, buffer, u64::MAX]);
}
