//! Host tests of the sandbox with hand-assembled snippets (bytes from the SDM
//! encodings, commented with their Intel syntax).

use crate::{ExecError, Fixup, Registers, Sandbox};

/// Maps `code` at the start of a fresh sandbox and seals it.
fn sandbox_with(code: &[u8]) -> Sandbox {
    let mut sandbox = Sandbox::new(4096, 4096).expect("map");
    sandbox.code_mut().expect("writable")[..code.len()].copy_from_slice(code);
    sandbox.seal().expect("seal");
    sandbox
}

fn permissions_of(address: u64) -> String {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let range = fields.next().expect("range");
        let perms = fields.next().expect("perms");
        let (start, end) = range.split_once('-').expect("dash");
        let start = u64::from_str_radix(start, 16).expect("hex");
        let end = u64::from_str_radix(end, 16).expect("hex");
        if (start..end).contains(&address) {
            return perms.to_owned();
        }
    }
    panic!("{address:#x} not mapped");
}

#[test]
fn arguments_arrive_in_the_routine_convention_registers() {
    // mov rax, rdi ; add rax, rsi ; add rax, rdx ; add rax, r10 ; add rax, r8 ; ret
    let code = [
        0x48, 0x89, 0xf8, 0x48, 0x01, 0xf0, 0x48, 0x01, 0xd0, 0x4c, 0x01, 0xd0, 0x4c, 0x01, 0xc0,
        0xc3,
    ];
    let mut sandbox = sandbox_with(&code);
    let registers = Registers {
        rdi: 1,
        rsi: 20,
        rdx: 300,
        r10: 4000,
        r8: 50000,
        ..Registers::default()
    };
    let outcome = sandbox
        .call(sandbox.code_address(), &registers, &[])
        .expect("call");
    assert_eq!(outcome.rax, 54321);
    assert!(outcome.is_callee_saved_intact);
}

#[test]
fn rax_carries_the_index_in() {
    let mut sandbox = sandbox_with(&[0xc3]); // ret
    let registers = Registers {
        rax: (7 << 3) | 2,
        ..Registers::default()
    };
    let outcome = sandbox
        .call(sandbox.code_address(), &registers, &[])
        .expect("call");
    assert_eq!(outcome.rax, 58);
}

#[test]
fn negative_results_read_back_signed() {
    // mov rax, -14 ; ret
    let mut sandbox = sandbox_with(&[0x48, 0xc7, 0xc0, 0xf2, 0xff, 0xff, 0xff, 0xc3]);
    let outcome = sandbox
        .call(sandbox.code_address(), &Registers::default(), &[])
        .expect("call");
    assert_eq!(outcome.result(), -14);
}

#[test]
fn clobbered_callee_saved_register_is_reported() {
    // xor ebx, ebx ; ret
    let mut sandbox = sandbox_with(&[0x31, 0xdb, 0xc3]);
    let outcome = sandbox
        .call(sandbox.code_address(), &Registers::default(), &[])
        .expect("call");
    assert!(!outcome.is_callee_saved_intact);
}

#[test]
fn data_region_writes_are_visible_after_the_call() {
    // mov [rdi], rsi ; ret
    let mut sandbox = sandbox_with(&[0x48, 0x89, 0x37, 0xc3]);
    let cell = sandbox.data_address() + 16;
    let registers = Registers {
        rdi: cell,
        rsi: 0xfeed_f00d,
        ..Registers::default()
    };
    sandbox
        .call(sandbox.code_address(), &registers, &[])
        .expect("call");
    assert_eq!(sandbox.read_cell(16), 0xfeed_f00d);
}

#[test]
fn parent_writes_are_visible_to_the_code() {
    // mov rax, [rdi] ; ret
    let mut sandbox = sandbox_with(&[0x48, 0x8b, 0x07, 0xc3]);
    sandbox.write_cell(40, 0x1234_5678_9abc);
    let registers = Registers {
        rdi: sandbox.data_address() + 40,
        ..Registers::default()
    };
    let outcome = sandbox
        .call(sandbox.code_address(), &registers, &[])
        .expect("call");
    assert_eq!(outcome.rax, 0x1234_5678_9abc);
}

#[test]
fn undefined_instruction_crashes_only_the_child() {
    let mut sandbox = sandbox_with(&[0x0f, 0x0b]); // ud2
    let error = sandbox
        .call(sandbox.code_address(), &Registers::default(), &[])
        .expect_err("ud2");
    assert!(
        matches!(error, ExecError::Crashed { signal } if signal == libc::SIGILL),
        "{error}"
    );
}

#[test]
fn fault_without_fixup_crashes() {
    let mut sandbox = sandbox_with(&[0x48, 0x8b, 0x07, 0xc3]); // mov rax, [rdi] ; ret
    let registers = Registers {
        rdi: sandbox.guard_address(),
        ..Registers::default()
    };
    let error = sandbox
        .call(sandbox.code_address(), &registers, &[])
        .expect_err("fault");
    assert!(
        matches!(error, ExecError::Crashed { signal } if signal == libc::SIGSEGV),
        "{error}"
    );
}

#[test]
fn fault_with_fixup_resumes_at_the_fixup() {
    // 0: mov rax, [rdi] ; 3: ret ; 4: mov rax, -14 ; 11: ret
    let code = [
        0x48, 0x8b, 0x07, 0xc3, 0x48, 0xc7, 0xc0, 0xf2, 0xff, 0xff, 0xff, 0xc3,
    ];
    let mut sandbox = sandbox_with(&code);
    let base = sandbox.code_address();
    let fixups = [Fixup {
        access: base,
        fixup: base + 4,
    }];
    let registers = Registers {
        rdi: sandbox.guard_address(),
        ..Registers::default()
    };
    let outcome = sandbox.call(base, &registers, &fixups).expect("fixed up");
    assert_eq!(outcome.result(), -14);
    // The same code with a good pointer takes the normal path.
    let registers = Registers {
        rdi: sandbox.data_address(),
        ..Registers::default()
    };
    assert_eq!(
        sandbox.call(base, &registers, &fixups).expect("call").rax,
        0
    );
}

#[test]
fn endless_loop_times_out() {
    let mut sandbox = sandbox_with(&[0xeb, 0xfe]); // jmp $
    let error = sandbox
        .call(sandbox.code_address(), &Registers::default(), &[])
        .expect_err("loop");
    assert!(matches!(error, ExecError::TimedOut), "{error}");
}

#[test]
fn code_is_never_writable_and_executable_at_once() {
    let mut sandbox = Sandbox::new(4096, 4096).expect("map");
    assert_eq!(permissions_of(sandbox.code_address()), "rw-p");
    sandbox.code_mut().expect("writable")[0] = 0xc3;
    sandbox.seal().expect("seal");
    assert_eq!(permissions_of(sandbox.code_address()), "r-xp");
    assert!(matches!(sandbox.code_mut(), Err(ExecError::Sealed)));
    assert_eq!(permissions_of(sandbox.data_address()), "rw-s");
    assert_eq!(permissions_of(sandbox.guard_address()), "---s");
}

#[test]
fn calls_need_a_sealed_region_and_an_entry_inside_it() {
    let mut sandbox = Sandbox::new(4096, 4096).expect("map");
    let entry = sandbox.code_address();
    assert!(matches!(
        sandbox.call(entry, &Registers::default(), &[]),
        Err(ExecError::NotSealed)
    ));
    sandbox.seal().expect("seal");
    let outside = entry + 4096;
    assert!(matches!(
        sandbox.call(outside, &Registers::default(), &[]),
        Err(ExecError::EntryOutOfRange { entry }) if entry == outside
    ));
}
