//! The collapsed cooked tty write: splicing and a differential test.
//!
//! - Splicing at instantiation ([`instantiate_collapsed`]) yields exactly
//!   the layout template instantiated with the same holes, and verifies
//!   against it; a corrupted copy does not; a short branch pushed out of
//!   range by a splice is refused.
//! - Differential (STYLE §7): random cooked writes (lengths around
//!   `max_len`, many newlines, bad ranges, buffers running into an
//!   unmapped page) through `tty_write_cooked_sink` — the very upper
//!   fragment of the kernel's `tty_write_cooked`, spliced with a memory
//!   sink instead of the UART, executed in `sk-hostexec` — and through the
//!   real layered generic path (`sk-sio`'s `Sio` on `/dev/tty` →
//!   `sk-tty`'s line discipline → console output). Results and output
//!   bytes must agree call by call. A batch driver calls the routine for a
//!   whole table of calls in one sandbox run; ≥ 100,000 calls in all.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use iced_x86::code_asm::{qword_ptr, r12, r13, rax, rbx, rdi, rdx, rsi, CodeAssembler};
use proptest::prelude::*;
use sk_abi::{OpenFlags, SysError};
use sk_fs::FileSystem;
use sk_hostexec::{Fixup, Registers, Sandbox};
use sk_sio::testing::FakeUserMemory;
use sk_sio::{Devices, Sio};
use sk_synth::splice::{splice_bytes, Branch, SpliceError};
use sk_synth::templates::{
    TtyWriteCookedHoles, TtyWriteCookedSinkHoles, COLLAPSED_TTY_WRITE_COOKED,
    COLLAPSED_TTY_WRITE_COOKED_SINK,
};
use sk_synth::{
    instantiate, instantiate_collapsed, instantiate_values, verify_instance, HoleSet, Imm32, Imm64,
    Smap, VerifyError,
};
use std::sync::atomic::{AtomicUsize, Ordering};

const BAD_ADDRESS: i32 = -(SysError::BadAddress.code() as i32);
const SLOW_PATH_SENTINEL: i32 = 0x5555;
/// `max_len` here: small, so calls cross it.
const MAX_LEN: u64 = 64;

// Data region layout.
const CURSOR_CELL: usize = 0;
const TABLE: usize = 0x1000;
const TABLE_ENTRY: usize = 32;
const MAX_OPS: usize = 640;
const SINK: usize = 0x10000;
const SINK_LEN: usize = 0x30000;
const USER: usize = 0x40000;
const USER_LEN: usize = 0x10000;
/// The last bytes of the region: a buffer starting here runs into the
/// guard page.
const TAIL: usize = USER + USER_LEN - 0x100;
const DATA_LEN: usize = USER + USER_LEN;

// Code region layout.
const ROUTINE: u64 = 0;
const SLOW_PATH: u64 = 0x800;
const DRIVER: u64 = 0xc00;

fn sink_holes(data: u64, code: u64) -> TtyWriteCookedSinkHoles {
    TtyWriteCookedSinkHoles {
        bad_address: Imm32(BAD_ADDRESS),
        max_len: Imm32(MAX_LEN as i32),
        slow_path: Imm64(code + SLOW_PATH),
        cursor_cell: Imm64(data + CURSOR_CELL as u64),
    }
}

#[test]
fn splicing_at_instantiation_equals_the_layout_and_verifies() {
    let mut state = 0x1234_5678_9abc_def0_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..2000 {
        let address = 0xffff_ffff_c000_0000 + (next() % 0x1000) * 16;
        let holes = TtyWriteCookedHoles {
            bad_address: Imm32(next() as i32),
            max_len: Imm32(next() as i32),
            slow_path: Imm64(next()),
            data_port: Imm32(next() as u16 as i32),
            line_status_port: Imm32(next() as u16 as i32),
        };
        let smap = if round % 2 == 0 {
            Smap::Enabled
        } else {
            Smap::Disabled
        };
        let mut spliced = [0u8; 256];
        let instance = instantiate_collapsed(
            &COLLAPSED_TTY_WRITE_COOKED,
            holes.values(),
            address,
            smap,
            &mut spliced,
        )
        .unwrap();
        let spliced = &spliced[..instance.size()];
        let mut copied = [0u8; 256];
        let reference = instantiate(&holes, address, smap, &mut copied).unwrap();
        assert_eq!(spliced, &copied[..reference.size()], "round {round}");
        assert_eq!(instance, reference);
        verify_instance(&instance, spliced).unwrap();
    }
}

#[test]
fn the_collapsed_routine_is_one_routine_with_both_layers_inside() {
    let collapsed = &COLLAPSED_TTY_WRITE_COOKED;
    assert_eq!(collapsed.splice_sites.len(), 2, "'\\r' and the byte");
    assert_eq!(
        collapsed.layout.size(),
        collapsed.upper.size() + 2 * collapsed.lower.size()
    );
    // No call anywhere: the lower layer is inside, not called.
    let calls = iced_x86::Decoder::with_ip(
        64,
        collapsed.layout.bytes,
        0,
        iced_x86::DecoderOptions::NONE,
    )
    .into_iter()
    .filter(|i| i.is_call_near() || i.is_call_near_indirect())
    .count();
    assert_eq!(calls, 0);
    // Both collapsed routines share the upper fragment's bytes.
    assert_eq!(
        COLLAPSED_TTY_WRITE_COOKED_SINK.upper,
        COLLAPSED_TTY_WRITE_COOKED.upper
    );
    assert!(!collapsed.branches.is_empty());
}

#[test]
fn a_corrupted_splice_fails_verification() {
    let holes = TtyWriteCookedHoles {
        bad_address: Imm32(BAD_ADDRESS),
        max_len: Imm32(64),
        slow_path: Imm64(0xffff_8000_0010_0000),
        data_port: Imm32(0x3f8),
        line_status_port: Imm32(0x3fd),
    };
    let mut bytes = [0u8; 256];
    let instance = instantiate_collapsed(
        &COLLAPSED_TTY_WRITE_COOKED,
        holes.values(),
        0x1000,
        Smap::Enabled,
        &mut bytes,
    )
    .unwrap();
    let size = instance.size();
    // The second copy of the UART put: its `test al, 0x20` immediate.
    let second = COLLAPSED_TTY_WRITE_COOKED.splice_sites[1] as usize
        + COLLAPSED_TTY_WRITE_COOKED.lower.size();
    let test_immediate = second + 7; // mov edx (5), in (1), test al (1)
    assert_eq!(bytes[test_immediate], 0x20);
    bytes[test_immediate] = 0x40;
    assert!(matches!(
        verify_instance(&instance, &bytes[..size]),
        Err(VerifyError::ByteMismatch { .. } | VerifyError::InstructionMismatch { .. })
    ));
    // A branch aimed one byte off.
    let mut bytes2 = [0u8; 256];
    instantiate_collapsed(
        &COLLAPSED_TTY_WRITE_COOKED,
        holes.values(),
        0x1000,
        Smap::Enabled,
        &mut bytes2,
    )
    .unwrap();
    let branch = COLLAPSED_TTY_WRITE_COOKED.branches[0];
    let at = sk_synth::splice::spliced_offset(
        COLLAPSED_TTY_WRITE_COOKED.splice_sites,
        COLLAPSED_TTY_WRITE_COOKED.lower.size() as u32,
        branch.displacement,
    ) as usize;
    bytes2[at] = bytes2[at].wrapping_add(1);
    assert!(verify_instance(&instance, &bytes2[..size]).is_err());
}

#[test]
fn a_short_branch_pushed_out_of_range_is_refused() {
    // jmp short +0x7e over a splice site at 2: after inserting 8 bytes the
    // displacement would be 0x86, beyond rel8.
    let mut upper = vec![0xeb, 0x7e];
    upper.extend(std::iter::repeat_n(0x90, 0x7e));
    let branch = Branch {
        displacement: 1,
        width: 1,
        target: 0x80,
    };
    let mut out = vec![0; 0x200];
    let refused = splice_bytes(&upper, &[2], &[branch], &[0x90; 8], &mut out);
    assert_eq!(
        refused,
        Err(SpliceError::BranchOutOfRange { displacement: 1 })
    );
    // With a 1-byte lower fragment it fits, re-aimed by one.
    assert_eq!(
        splice_bytes(&upper, &[2], &[branch], &[0xcc], &mut out),
        Ok(upper.len() + 1)
    );
    assert_eq!(&out[..3], &[0xeb, 0x7f, 0xcc]);
}

#[test]
fn the_sink_variant_is_the_same_upper_with_another_lower() {
    let layout = COLLAPSED_TTY_WRITE_COOKED_SINK.layout;
    let mut a = vec![0; layout.size()];
    let holes = sink_holes(0x10_0000, 0x20_0000);
    let spliced = instantiate_collapsed(
        &COLLAPSED_TTY_WRITE_COOKED_SINK,
        holes.values(),
        0x20_0000,
        Smap::Disabled,
        &mut a,
    )
    .unwrap();
    let mut b = vec![0; layout.size()];
    instantiate_values(layout, holes.values(), 0x20_0000, Smap::Disabled, &mut b).unwrap();
    assert_eq!(a, b);
    verify_instance(&spliced, &a).unwrap();
}

// ---- differential ----------------------------------------------------------

/// One write call.
#[derive(Clone, Debug)]
enum Op {
    /// A buffer of these bytes, mapped.
    Write(Vec<u8>),
    /// `len` bytes from the tail: the first `good` mapped, then the guard page.
    RunsIntoGuard { good: usize, len: u64 },
    /// A range the user may not name.
    BadRange { buf: u64, len: u64 },
}

fn text_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => b'\n'..=b'\n',
        1 => b'\r'..=b'\r',
        10 => b' '..=b'~',
        2 => any::<u8>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => prop::collection::vec(text_byte(), 0..=(MAX_LEN as usize + 8)).prop_map(Op::Write),
        2 => (0usize..0x100, 1u64..=MAX_LEN).prop_map(|(good, len)| Op::RunsIntoGuard {
            good: good.min(len as usize - 1),
            len
        }),
        1 => prop_oneof![
            Just(Op::BadRange { buf: u64::MAX - 4, len: 10 }),
            Just(Op::BadRange { buf: 0x0000_8000_0000_0000 - 4, len: 5 }),
            Just(Op::BadRange { buf: 0xffff_8000_0000_0000, len: 1 }),
        ],
    ]
}

/// Calls counted over every case (the test asserts ≥ 100,000 at the end of
/// the last case).
static CALLS: AtomicUsize = AtomicUsize::new(0);
const CASES: u32 = 200;
const OPS_PER_CASE: usize = 512;

/// The sandbox: the collapsed routine, an error stub as the slow path, the
/// batch driver.
fn sandbox() -> (Sandbox, Vec<Fixup>) {
    let mut sandbox = Sandbox::new(0x1000, DATA_LEN).unwrap();
    let (data, code) = (sandbox.data_address(), sandbox.code_address());
    let holes = sink_holes(data, code);
    let bytes = sandbox.code_mut().unwrap();
    let routine = instantiate_collapsed(
        &COLLAPSED_TTY_WRITE_COOKED_SINK,
        holes.values(),
        code + ROUTINE,
        Smap::Disabled,
        &mut bytes[..SLOW_PATH as usize],
    )
    .unwrap();
    verify_instance(&routine, &bytes[..routine.size()]).unwrap();
    // The slow path's stand-in: `mov rax, SLOW_PATH_SENTINEL; ret` (the
    // error stub is stackless now and ends in `sysretq`).
    let mut stub = vec![0x48, 0xc7, 0xc0];
    stub.extend_from_slice(&SLOW_PATH_SENTINEL.to_le_bytes());
    stub.push(0xc3);
    bytes[SLOW_PATH as usize..][..stub.len()].copy_from_slice(&stub);
    let driver = driver(code + DRIVER, code + ROUTINE);
    bytes[DRIVER as usize..][..driver.len()].copy_from_slice(&driver);
    let fixups = routine
        .fault_fixups()
        .map(|f| Fixup {
            access: f.access,
            fixup: f.fixup,
        })
        .collect();
    sandbox.seal().unwrap();
    (sandbox, fixups)
}

/// `driver(table = rdi, count = rsi, cursor cell = rdx)`: for each 32-byte
/// entry `[buf, len, result, cursor after]` calls the routine with `rdi` =
/// buf, `rsi` = len and stores its result and the sink cursor.
fn driver(address: u64, routine: u64) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).unwrap();
    let mut again = a.create_label();
    let mut end = a.create_label();
    a.push(rbx).unwrap();
    a.push(r12).unwrap();
    a.push(r13).unwrap();
    a.mov(rbx, rdi).unwrap();
    a.mov(r12, rsi).unwrap();
    a.mov(r13, rdx).unwrap();
    a.set_label(&mut again).unwrap();
    a.test(r12, r12).unwrap();
    a.jz(end).unwrap();
    a.mov(rdi, qword_ptr(rbx)).unwrap();
    a.mov(rsi, qword_ptr(rbx + 8)).unwrap();
    a.mov(rax, routine).unwrap();
    a.call(rax).unwrap();
    a.mov(qword_ptr(rbx + 16), rax).unwrap();
    a.mov(rax, qword_ptr(r13)).unwrap();
    a.mov(qword_ptr(rbx + 24), rax).unwrap();
    a.add(rbx, 32).unwrap();
    a.dec(r12).unwrap();
    a.jmp(again).unwrap();
    a.set_label(&mut end).unwrap();
    a.pop(r13).unwrap();
    a.pop(r12).unwrap();
    a.pop(rbx).unwrap();
    a.xor(rax, rax).unwrap();
    a.ret().unwrap();
    a.assemble(address).unwrap()
}

/// The generic layered path: `/dev/tty` opened for writing in a file
/// system, the devices (cooked line discipline), user memory mirroring the
/// sandbox's data region (bytes past it fault, as the guard page does).
fn generic_write(user: &mut FakeUserMemory, buf: u64, len: u64) -> (i64, Vec<u8>) {
    let mut fs = FileSystem::new().unwrap();
    let sio: Sio<()> = Sio::open(&mut fs, "/dev/tty", OpenFlags::WRITE).unwrap();
    let devices = Devices::new(&[]);
    let mut output = Vec::new();
    let result = sio.write(
        &mut fs,
        &devices,
        user,
        &mut |bytes: &[u8]| output.extend_from_slice(bytes),
        buf,
        len,
    );
    (
        result.map_or_else(|e: SysError| -i64::from(e.code()), |n| n as i64),
        output,
    )
}

fn run_case(ops: &[Op], tail: &[u8]) {
    assert!(ops.len() <= MAX_OPS);
    let (mut sandbox, fixups) = sandbox();
    let data = sandbox.data_address();
    sandbox.write_cell(CURSOR_CELL, data + SINK as u64);
    sandbox.data_mut()[TAIL..TAIL + tail.len()].copy_from_slice(tail);
    // Lay out the buffers and the call table.
    let mut next_buffer = USER;
    let mut calls = Vec::new();
    for op in ops {
        let (buf, len) = match op {
            Op::Write(bytes) => {
                sandbox.data_mut()[next_buffer..next_buffer + bytes.len()].copy_from_slice(bytes);
                let buf = data + next_buffer as u64;
                next_buffer += bytes.len();
                (buf, bytes.len() as u64)
            }
            Op::RunsIntoGuard { good, len } => (data + (DATA_LEN - good) as u64, *len),
            Op::BadRange { buf, len } => (*buf, *len),
        };
        assert!(next_buffer <= TAIL);
        calls.push((buf, len));
    }
    for (index, &(buf, len)) in calls.iter().enumerate() {
        let entry = TABLE + index * TABLE_ENTRY;
        sandbox.write_cell(entry, buf);
        sandbox.write_cell(entry + 8, len);
    }
    let outcome = sandbox
        .call(
            sandbox.code_address() + DRIVER,
            &Registers {
                rdi: data + TABLE as u64,
                rsi: calls.len() as u64,
                rdx: data + CURSOR_CELL as u64,
                ..Registers::default()
            },
            &fixups,
        )
        .unwrap();
    assert!(outcome.is_callee_saved_intact);
    // The generic side reads the same user memory.
    let mut user = FakeUserMemory::new(data, DATA_LEN);
    user.bytes.copy_from_slice(sandbox.data());
    let mut cursor = data + SINK as u64;
    for (index, &(buf, len)) in calls.iter().enumerate() {
        let entry = TABLE + index * TABLE_ENTRY;
        let result = sandbox.read_cell(entry + 16) as i64;
        let after = sandbox.read_cell(entry + 24);
        let start = (cursor - data) as usize;
        let output = sandbox.data()[start..(after - data) as usize].to_vec();
        cursor = after;
        if result == i64::from(SLOW_PATH_SENTINEL) {
            // Too long for the routine: the kernel's slow path runs the
            // generic write; the routine must not have sent a byte.
            assert!(len > MAX_LEN, "call {index}: slow path for len {len}");
            assert!(
                output.is_empty(),
                "call {index}: output before the slow path"
            );
            continue;
        }
        let (expected_result, expected_output) = generic_write(&mut user, buf, len);
        assert_eq!(
            result, expected_result,
            "call {index} ({:?}): result",
            ops[index]
        );
        assert_eq!(
            output, expected_output,
            "call {index} ({:?}): output",
            ops[index]
        );
    }
    assert!(cursor - data < (SINK + SINK_LEN) as u64);
    let total = CALLS.fetch_add(calls.len(), Ordering::Relaxed) + calls.len();
    eprintln!("tty differential: {total} calls so far");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn collapsed_cooked_tty_write_matches_the_layered_generic_path(
        ops in prop::collection::vec(op(), OPS_PER_CASE..=OPS_PER_CASE + 64),
        tail in prop::collection::vec(text_byte(), 0x100),
    ) {
        run_case(&ops, &tail);
    }
}
