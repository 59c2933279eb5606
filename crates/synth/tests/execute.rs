//! Runs every executable routine template through `sk-hostexec`: generated
//! code in a sealed RX page, holes pointing at cells and buffers in a shared
//! data region, SMAP patched out (CPL 3), fault points wired to the
//! sandbox's exception-table emulation. The entry stub (`sysretq`) and the
//! tty write (`in`/`out`) are privileged and only checked by decoding.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use iced_x86::code_asm::{r10, r9, rax, rdi, CodeAssembler};
use sk_hostexec::Registers;
use sk_synth::templates::{
    CallCounterHoles, DevMemReadHoles, DevNullWriteHoles, DevZeroReadHoles, ErrorStubHoles,
    GenericTrampolineHoles, RamFileReadHoles, RamFileWriteHoles,
};
use sk_synth::{Imm32, Imm64, Rel32Target};

mod rig;

use rig::*;

fn dev_null() -> Rig {
    Rig::new(|_, _| DevNullWriteHoles {
        bad_address: Imm32(BAD_ADDRESS),
    })
}

#[test]
fn dev_null_write_returns_len() {
    let mut rig = dev_null();
    let buffer = rig.user_buffer();
    assert_eq!(rig.call_buffer(buffer, 100), 100);
    assert_eq!(rig.call_buffer(buffer, 0), 0);
    // Never touches the bytes: even an unmapped (but valid-range) buffer works.
    assert_eq!(rig.call_buffer(rig.sandbox.guard_address(), 10), 10);
}

#[test]
fn dev_null_write_rejects_bad_ranges() {
    let mut rig = dev_null();
    assert_eq!(
        rig.call_buffer(u64::MAX - 4, 10),
        i64::from(BAD_ADDRESS),
        "wraps"
    );
    assert_eq!(
        rig.call_buffer(USER_END - 4, 5),
        i64::from(BAD_ADDRESS),
        "ends above USER_END"
    );
    assert_eq!(
        rig.call_buffer(USER_END - 4, 4),
        4,
        "ends exactly at USER_END"
    );
    assert_eq!(
        rig.call_buffer(0xffff_8000_0000_0000, 1),
        i64::from(BAD_ADDRESS),
        "kernel half"
    );
}

// ---- /dev/zero -------------------------------------------------------------

fn dev_zero() -> Rig {
    Rig::with_helper(
        |_, code| DevZeroReadHoles {
            bad_address: Imm32(BAD_ADDRESS),
            max_len: Imm32(MAX_LEN as i32),
            slow_path: Imm64(code + HELPER_OFFSET),
        },
        |_, helper| error_stub_bytes(SLOW_PATH_SENTINEL, helper),
    )
}

#[test]
fn dev_zero_read_longer_than_max_len_goes_to_the_slow_path_untouched() {
    let mut rig = dev_zero();
    rig.fill(USER_BUFFER, &[0xaa; 8]);
    let buffer = rig.user_buffer();
    assert_eq!(
        rig.call_buffer(buffer, MAX_LEN + 1),
        i64::from(SLOW_PATH_SENTINEL)
    );
    assert_eq!(rig.bytes(USER_BUFFER, 8), vec![0xaa; 8], "nothing written");
    assert_eq!(rig.call_buffer(buffer, MAX_LEN), MAX_LEN as i64);
    assert_eq!(
        rig.call_buffer(buffer, u64::MAX),
        i64::from(SLOW_PATH_SENTINEL)
    );
}

#[test]
fn dev_zero_read_zero_fills_exactly_len_bytes() {
    let mut rig = dev_zero();
    rig.fill(USER_BUFFER, &[0xaa; 64]);
    let buffer = rig.user_buffer();
    assert_eq!(rig.call_buffer(buffer + 8, 40), 40);
    let after = rig.bytes(USER_BUFFER, 64);
    assert_eq!(&after[..8], &[0xaa; 8]);
    assert_eq!(&after[8..48], &[0; 40]);
    assert_eq!(&after[48..], &[0xaa; 16]);
}

#[test]
fn dev_zero_read_fault_returns_bad_address_through_the_fixup() {
    let mut rig = dev_zero();
    let guard = rig.sandbox.guard_address();
    assert_eq!(rig.call_buffer(guard - 16, 64), i64::from(BAD_ADDRESS));
    assert_eq!(
        rig.bytes(DATA_LEN - 16, 16),
        vec![0; 16],
        "bytes before the fault were written"
    );
    assert_eq!(rig.call_buffer(u64::MAX, 2), i64::from(BAD_ADDRESS));
}

#[test]
fn dev_zero_one_byte_fast_path_zeroes_one_byte_and_faults_cleanly() {
    let mut rig = dev_zero();
    rig.fill(USER_BUFFER, &[0xaa; 4]);
    let buffer = rig.user_buffer();
    assert_eq!(rig.call_buffer(buffer + 1, 1), 1);
    assert_eq!(rig.bytes(USER_BUFFER, 4), vec![0xaa, 0, 0xaa, 0xaa]);
    let guard = rig.sandbox.guard_address();
    assert_eq!(rig.call_buffer(guard, 1), i64::from(BAD_ADDRESS));
    assert_eq!(
        rig.call_buffer(0x0000_8000_0000_0000, 1),
        i64::from(BAD_ADDRESS)
    );
    assert_eq!(rig.call_buffer(0x0000_7fff_ffff_ffff + 1 - 1, 0), 0);
}

// ---- /dev/mem --------------------------------------------------------------

fn dev_mem() -> Rig {
    let mut rig = Rig::with_helper(
        |data, code| DevMemReadHoles {
            base: Imm64(data + WINDOW as u64),
            window_size: Imm32(WINDOW_LEN as u64 as i32),
            position_cell: Imm64(data + POSITION_CELL as u64),
            bad_address: Imm32(BAD_ADDRESS),
            max_len: Imm32(MAX_LEN as i32),
            slow_path: Imm64(code + HELPER_OFFSET),
        },
        |_, helper| error_stub_bytes(SLOW_PATH_SENTINEL, helper),
    );
    rig.fill(WINDOW, &pattern(WINDOW_LEN));
    rig
}

#[test]
fn dev_mem_read_longer_than_max_len_goes_to_the_slow_path_untouched() {
    let mut rig = dev_mem();
    let buffer = rig.user_buffer();
    assert_eq!(
        rig.call_buffer(buffer, MAX_LEN + 1),
        i64::from(SLOW_PATH_SENTINEL)
    );
    assert_eq!(
        rig.sandbox.read_cell(POSITION_CELL),
        0,
        "position unchanged"
    );
    assert_eq!(
        rig.call_buffer(buffer, 1),
        1,
        "the 1-byte path has no length guard to pay"
    );
}

#[test]
fn dev_mem_read_one_byte_fast_path() {
    let mut rig = dev_mem();
    let buffer = rig.user_buffer();
    for expected_position in 0..5u64 {
        assert_eq!(rig.sandbox.read_cell(POSITION_CELL), expected_position);
        assert_eq!(rig.call_buffer(buffer + expected_position, 1), 1);
    }
    assert_eq!(rig.bytes(USER_BUFFER, 5), pattern(5));
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 5);
}

#[test]
fn dev_mem_read_copies_min_of_len_and_remaining() {
    let mut rig = dev_mem();
    let buffer = rig.user_buffer();
    rig.sandbox.write_cell(POSITION_CELL, 0x10);
    assert_eq!(rig.call_buffer(buffer, 100), 100);
    assert_eq!(
        rig.bytes(USER_BUFFER, 100),
        pattern(WINDOW_LEN)[0x10..0x10 + 100]
    );
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 0x10 + 100);
    // Near the end only the rest is copied.
    rig.sandbox
        .write_cell(POSITION_CELL, WINDOW_LEN as u64 - 10);
    assert_eq!(rig.call_buffer(buffer, 100), 10);
    assert_eq!(
        rig.bytes(USER_BUFFER, 10),
        pattern(WINDOW_LEN)[WINDOW_LEN - 10..]
    );
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), WINDOW_LEN as u64);
}

#[test]
fn dev_mem_read_at_eof_returns_zero_on_both_paths() {
    let mut rig = dev_mem();
    let buffer = rig.user_buffer();
    for position in [WINDOW_LEN as u64, WINDOW_LEN as u64 + 77] {
        rig.sandbox.write_cell(POSITION_CELL, position);
        assert_eq!(rig.call_buffer(buffer, 1), 0);
        assert_eq!(rig.call_buffer(buffer, 50), 0);
        assert_eq!(rig.sandbox.read_cell(POSITION_CELL), position);
    }
}

#[test]
fn dev_mem_read_faults_leave_the_position_unchanged() {
    let mut rig = dev_mem();
    let guard = rig.sandbox.guard_address();
    rig.sandbox.write_cell(POSITION_CELL, 3);
    assert_eq!(
        rig.call_buffer(guard, 1),
        i64::from(BAD_ADDRESS),
        "fast path store faults"
    );
    assert_eq!(
        rig.call_buffer(guard - 4, 32),
        i64::from(BAD_ADDRESS),
        "rep movsb faults"
    );
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 3);
    assert_eq!(
        rig.call_buffer(USER_END, 1),
        i64::from(BAD_ADDRESS),
        "fast path range check"
    );
    assert_eq!(
        rig.call_buffer(USER_END - 1, 2),
        i64::from(BAD_ADDRESS),
        "general range check"
    );
}

// ---- RAM file read ---------------------------------------------------------

fn ram_read() -> Rig {
    let mut rig = Rig::with_helper(
        |data, code| RamFileReadHoles {
            data: Imm64(data + WINDOW as u64),
            position_cell: Imm64(data + POSITION_CELL as u64),
            size_cell: Imm64(data + SIZE_CELL as u64),
            bad_address: Imm32(BAD_ADDRESS),
            max_len: Imm32(MAX_LEN as i32),
            slow_path: Imm64(code + HELPER_OFFSET),
        },
        |_, helper| error_stub_bytes(SLOW_PATH_SENTINEL, helper),
    );
    rig.fill(WINDOW, &pattern(WINDOW_LEN));
    rig
}

#[test]
fn ram_file_read_longer_than_max_len_goes_to_the_slow_path_untouched() {
    let mut rig = ram_read();
    rig.sandbox.write_cell(SIZE_CELL, 100);
    let buffer = rig.user_buffer();
    assert_eq!(
        rig.call_buffer(buffer, MAX_LEN + 1),
        i64::from(SLOW_PATH_SENTINEL)
    );
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 0);
    assert_eq!(rig.call_buffer(buffer, MAX_LEN), 100);
}

#[test]
fn ram_file_read_follows_the_size_cell() {
    let mut rig = ram_read();
    let buffer = rig.user_buffer();
    rig.sandbox.write_cell(SIZE_CELL, 20);
    assert_eq!(rig.call_buffer(buffer, 8), 8);
    assert_eq!(rig.call_buffer(buffer + 8, 100), 12);
    assert_eq!(rig.call_buffer(buffer, 100), 0, "EOF");
    assert_eq!(rig.bytes(USER_BUFFER, 20), pattern(20));
    // A writer (the generic path) grows the file: the same code sees it.
    rig.sandbox.write_cell(SIZE_CELL, 30);
    assert_eq!(rig.call_buffer(buffer, 100), 10);
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 30);
}

#[test]
fn ram_file_read_fault_returns_bad_address() {
    let mut rig = ram_read();
    rig.sandbox.write_cell(SIZE_CELL, 100);
    let guard = rig.sandbox.guard_address();
    assert_eq!(rig.call_buffer(guard - 1, 8), i64::from(BAD_ADDRESS));
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 0);
}

// ---- RAM file write --------------------------------------------------------

const CAPACITY: u64 = 64;

fn ram_write() -> Rig {
    Rig::with_helper(
        |data, code| RamFileWriteHoles {
            data: Imm64(data + WINDOW as u64),
            capacity: Imm64(CAPACITY),
            position_cell: Imm64(data + POSITION_CELL as u64),
            size_cell: Imm64(data + SIZE_CELL as u64),
            generic_fallback: Rel32Target(code + HELPER_OFFSET),
            bad_address: Imm32(BAD_ADDRESS),
            max_len: Imm32(MAX_LEN as i32),
        },
        |_, helper| error_stub_bytes(FALLBACK_SENTINEL, helper),
    )
}

#[test]
fn ram_file_write_copies_and_moves_position_and_size() {
    let mut rig = ram_write();
    let buffer = rig.user_buffer();
    rig.fill(USER_BUFFER, &pattern(40));
    assert_eq!(rig.call_buffer(buffer, 10), 10);
    assert_eq!(rig.call_buffer(buffer + 10, 30), 30);
    assert_eq!(rig.bytes(WINDOW, 40), pattern(40));
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 40);
    assert_eq!(rig.sandbox.read_cell(SIZE_CELL), 40);
}

#[test]
fn ram_file_write_inside_the_file_keeps_the_size() {
    let mut rig = ram_write();
    let buffer = rig.user_buffer();
    rig.sandbox.write_cell(SIZE_CELL, 50);
    rig.sandbox.write_cell(POSITION_CELL, 5);
    rig.fill(USER_BUFFER, b"hello");
    assert_eq!(rig.call_buffer(buffer, 5), 5);
    assert_eq!(rig.bytes(WINDOW + 5, 5), b"hello");
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 10);
    assert_eq!(
        rig.sandbox.read_cell(SIZE_CELL),
        50,
        "size = max(size, pos)"
    );
}

#[test]
fn ram_file_write_past_capacity_goes_to_the_generic_fallback() {
    let mut rig = ram_write();
    let buffer = rig.user_buffer();
    rig.sandbox.write_cell(POSITION_CELL, CAPACITY - 4);
    assert_eq!(
        rig.call_buffer(buffer, 4),
        4,
        "exactly up to the capacity stays synthesized"
    );
    assert_eq!(rig.call_buffer(buffer, 1), i64::from(FALLBACK_SENTINEL));
    rig.sandbox.write_cell(POSITION_CELL, 0);
    assert_eq!(
        rig.call_buffer(buffer, MAX_LEN + 1),
        i64::from(FALLBACK_SENTINEL),
        "longer than max_len"
    );
    rig.sandbox.write_cell(POSITION_CELL, u64::MAX - 2);
    assert_eq!(
        rig.call_buffer(buffer, 8),
        i64::from(FALLBACK_SENTINEL),
        "pos + len wraps"
    );
    assert_eq!(
        rig.sandbox.read_cell(SIZE_CELL),
        CAPACITY,
        "fallback changed nothing"
    );
}

#[test]
fn ram_file_write_fallback_receives_the_arguments_intact() {
    // Helper: mov rax, r10 ; ret — shows the user's 4th argument survived the guards.
    let mut rig = Rig::with_helper(
        |data, code| RamFileWriteHoles {
            data: Imm64(data + WINDOW as u64),
            capacity: Imm64(0),
            position_cell: Imm64(data + POSITION_CELL as u64),
            size_cell: Imm64(data + SIZE_CELL as u64),
            generic_fallback: Rel32Target(code + HELPER_OFFSET),
            bad_address: Imm32(BAD_ADDRESS),
            max_len: Imm32(MAX_LEN as i32),
        },
        |_, helper| {
            let mut a = CodeAssembler::new(64).unwrap();
            a.mov(rax, r10).unwrap();
            a.ret().unwrap();
            a.assemble(helper).unwrap()
        },
    );
    let buffer = rig.user_buffer();
    let result = rig.call(Registers {
        rdi: buffer,
        rsi: 1,
        r10: 0x1234,
        ..Registers::default()
    });
    assert_eq!(result, 0x1234);
}

#[test]
fn ram_file_write_fault_counts_the_bytes_before_it() {
    // Like the generic path: the 2 bytes before the unmapped guard page
    // are written and counted, then the call reports the bad address.
    let mut rig = ram_write();
    let guard = rig.sandbox.guard_address();
    assert_eq!(rig.call_buffer(guard - 2, 8), i64::from(BAD_ADDRESS));
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 2);
    assert_eq!(rig.sandbox.read_cell(SIZE_CELL), 2);
}

#[test]
fn ram_file_write_faulting_on_its_first_byte_changes_nothing() {
    // Found by the in-kernel differential test: past the end, a fault
    // before any byte was copied must not raise the size.
    let mut rig = ram_write();
    rig.sandbox.write_cell(POSITION_CELL, 10);
    let guard = rig.sandbox.guard_address();
    assert_eq!(rig.call_buffer(guard, 1), i64::from(BAD_ADDRESS));
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 10);
    assert_eq!(rig.sandbox.read_cell(SIZE_CELL), 0);
}

#[test]
fn ram_file_write_of_nothing_past_the_end_changes_nothing() {
    let mut rig = ram_write();
    rig.sandbox.write_cell(POSITION_CELL, 100);
    assert_eq!(rig.call_buffer(rig.user_buffer(), 0), 0);
    assert_eq!(rig.sandbox.read_cell(POSITION_CELL), 100);
    assert_eq!(rig.sandbox.read_cell(SIZE_CELL), 0);
}

// ---- error stub and generic trampoline -------------------------------------

#[test]
fn error_stub_returns_its_result() {
    let mut rig = Rig::new(|_, _| ErrorStubHoles { result: Imm32(-9) });
    assert_eq!(rig.call(Registers::default()), -9);
}

#[test]
fn call_counter_counts_and_jumps_to_its_routine() {
    // Counter at data offset 0; the routine (helper) returns rdi + 1.
    let mut rig = Rig::with_helper(
        |data, code| CallCounterHoles {
            counter: Imm64(data),
            routine: Imm64(code + HELPER_OFFSET),
        },
        |_, helper| {
            let mut a = CodeAssembler::new(64).unwrap();
            a.lea(rax, rdi + 1).unwrap();
            a.ret().unwrap();
            a.assemble(helper).unwrap()
        },
    );
    for i in 0..3u64 {
        assert_eq!(
            rig.call(Registers {
                rdi: 41,
                ..Registers::default()
            }),
            42
        );
        let counter = u64::from_le_bytes(rig.bytes(0, 8).try_into().unwrap());
        assert_eq!(counter, i + 1);
    }
}

#[test]
fn generic_trampoline_passes_handle_op_and_arguments() {
    // Generic entry stand-in: rax = (rax << 3) | r9 — i.e. handle and op back as an index.
    let mut rig = Rig::with_helper(
        |_, code| GenericTrampolineHoles {
            handle: Imm32(5),
            op: Imm32(3),
            generic_entry: Imm64(code + HELPER_OFFSET),
        },
        |_, helper| {
            let mut a = CodeAssembler::new(64).unwrap();
            a.lea(rax, r9 + rax * 8).unwrap();
            a.ret().unwrap();
            a.assemble(helper).unwrap()
        },
    );
    assert_eq!(
        rig.call(Registers {
            rax: 0xdead,
            ..Registers::default()
        }),
        (5 << 3) | 3
    );
}
