//! The build-time taint check (`templates/taint.rs`) catches every kind of
//! leak it claims to, on small deliberately leaky templates assembled with
//! the same builder and assembly code `build.rs` uses (both included here
//! through `#[path]`), and passes every real template.

// The template tree is a private module of this test, as it is of build.rs.
#![allow(unreachable_pub, dead_code)]

#[path = "../templates/mod.rs"]
mod templates;

use iced_x86::code_asm::{
    byte_ptr, edi, edx, esi, qword_ptr, r11, r8, r8d, r9, rax, rcx, rdi, rdx, rsi, rsp, CodeLabel,
};
use iced_x86::{Code, IcedError};
use templates::assembly::assemble;
use templates::builder::{Kind, TemplateAsm, TemplateSource};
use templates::taint::Violation;

/// Assembles `build`'s code as template `name` and runs the check.
fn check(
    name: &'static str,
    build: impl FnOnce(&mut TemplateAsm) -> Result<(), IcedError>,
) -> Vec<Violation> {
    let mut asm = TemplateAsm::new().unwrap();
    build(&mut asm).unwrap();
    let source = TemplateSource {
        name,
        doc: "",
        invariants: &[],
        reads: &[],
        clobbers: &[],
        asm,
    };
    assemble(source).taint_check()
}

/// Like [`check`], under the stackless (leaf) contract (`templates/leaf.rs`).
fn check_leaf(
    name: &'static str,
    build: impl FnOnce(&mut TemplateAsm) -> Result<(), IcedError>,
) -> Vec<Violation> {
    let mut asm = TemplateAsm::new().unwrap();
    build(&mut asm).unwrap();
    let source = TemplateSource {
        name,
        doc: "",
        invariants: &[],
        reads: &[],
        clobbers: &[],
        asm,
    };
    assemble(source).taint_check_as(true)
}

/// The registers named by `violations`, sorted.
fn registers(violations: &[Violation]) -> Vec<String> {
    let mut names: Vec<String> = violations.iter().map(|v| v.register.clone()).collect();
    names.sort();
    names.dedup();
    names
}

#[test]
fn every_real_template_passes() {
    for source in templates::all().unwrap() {
        let name = source.name;
        if templates::switch::NAMES.contains(&name) {
            // Scoped out (build.rs, templates/switch.rs): switch code
            // returns into kernel code, never toward user mode. It does
            // leave kernel values in registers, so the check must see them
            // if it were applied: proof that the scoping is what lets it pass.
            if name.starts_with("switch_in") {
                assert!(!assemble(source).taint_check().is_empty(), "{name}");
            }
            continue;
        }
        let violations = assemble(source).taint_check();
        assert!(violations.is_empty(), "{name}: {violations:#?}");
    }
}

#[test]
fn an_address_hole_left_in_a_register_is_named_with_exit_and_origin() {
    let found = check("leak_r8", |a| {
        let cell = a.hole("cell", Kind::Imm64, "");
        a.mov_imm64(r8, cell)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["r8"]);
    let message = found[0].to_string();
    for part in [
        "template `leak_r8`",
        "exit `ret` at +0xa",
        "in r8",
        "hole `cell`",
    ] {
        assert!(message.contains(part), "{message:?} lacks {part:?}");
    }
}

#[test]
fn a_scrubbed_register_is_clean_and_rax_rcx_r9_r11_are_exempt_at_ret() {
    let found = check("scrubbed", |a| {
        let cell = a.hole("cell", Kind::Imm64, "");
        a.mov_imm64(r8, cell)?;
        a.mov(rax, qword_ptr(r8))?;
        a.mov(rcx, r8)?;
        a.mov(r9, r8)?;
        a.mov(r11, r8)?;
        a.xor(r8d, r8d)?;
        a.ret()
    });
    assert_eq!(found, []);
}

#[test]
fn a_load_through_a_kernel_pointer_is_kernel() {
    let found = check("load", |a| {
        let cell = a.hole("cell", Kind::Imm64, "");
        a.mov_imm64(rcx, cell)?;
        a.mov(rdx, qword_ptr(rcx))?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdx"]);
}

#[test]
fn any_load_but_a_user_access_is_kernel_even_through_a_user_pointer() {
    // `[rdi]` without a fault point: nothing says it is user memory.
    let found = check("unchecked_load", |a| {
        a.mov(rdx, qword_ptr(rdi))?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdx"]);
    // The same load declared as a user access is clean.
    let found = check("user_load", |a| {
        let mut fixup = a.create_label();
        a.user_access(fixup, |a| a.mov(rdx, qword_ptr(rdi)))?;
        a.ret()?;
        a.set_label(&mut fixup)?;
        a.ret()
    });
    assert_eq!(found, []);
}

#[test]
fn arithmetic_propagates_and_partial_writes_keep_the_old_taint() {
    let found = check("arith", |a| {
        let base = a.hole("base", Kind::Imm64, "");
        a.mov_imm64(rcx, base)?;
        a.mov(rsi, 5_u64)?;
        a.add(rsi, rcx)?;
        a.mov_imm64(rdx, base)?;
        // Only the low byte changes: the rest is still the address.
        a.mov(iced_x86::code_asm::dl, 1)?;
        // A 32-bit write replaces all 64 bits: clean.
        a.mov_imm64(rdi, base)?;
        a.mov(edi, 1)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdx", "rsi"]);
}

#[test]
fn immediates_are_clean_unless_an_address_hole_or_in_the_kernel_half() {
    let found = check("immediates", |a| {
        let code = a.hole("code", Kind::Imm32, "");
        a.mov_imm32_sign_extended(rdx, code)?;
        a.mov(rsi, 0x0000_8000_0000_0000_u64)?;
        a.mov(rdi, 0xffff_8000_0000_0000_u64)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdi"]);
}

#[test]
fn a_copy_leaves_its_kernel_source_in_rsi_and_a_kernel_count_taints_rdi() {
    let found = check("copy_out", |a| {
        let source = a.hole("source", Kind::Imm64, "");
        let size_cell = a.hole("size_cell", Kind::Imm64, "");
        let mut fixup = a.create_label();
        a.mov_imm64(rcx, size_cell)?;
        a.mov(rcx, qword_ptr(rcx))?;
        a.mov_imm64(rsi, source)?;
        a.user_access(fixup, |a| a.rep().movsb())?;
        a.ret()?;
        a.set_label(&mut fixup)?;
        a.xor(esi, esi)?;
        a.xor(edi, edi)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdi", "rsi"]);
    assert!(
        found.iter().all(|v| v.exit_text == "ret" && v.exit < 0x20),
        "{found:#?}"
    );
    // A user-length fill leaves rdi clean.
    let found = check("fill", |a| {
        let mut fixup = a.create_label();
        a.mov(rcx, rsi)?;
        a.user_access(fixup, |a| a.rep().stosb())?;
        a.ret()?;
        a.set_label(&mut fixup)?;
        a.ret()
    });
    assert_eq!(found, []);
}

#[test]
fn the_fault_fixup_path_is_checked_on_its_own() {
    // The normal path scrubs r8; the fixup path forgets.
    let found = check("fixup_leak", |a| {
        let cell = a.hole("cell", Kind::Imm64, "");
        let mut fixup = a.create_label();
        a.mov_imm64(r8, cell)?;
        a.user_access(fixup, |a| a.mov(byte_ptr(rdi), 0))?;
        a.xor(r8d, r8d)?;
        a.ret()?;
        a.set_label(&mut fixup)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["r8"]);
    assert_eq!(found.len(), 1);
    assert!(found[0].exit > 0x10, "the fixup's ret: {found:#?}");
}

#[test]
fn a_branch_out_of_the_template_is_an_exit() {
    let found = check("branch_out", |a| {
        let cell = a.hole("cell", Kind::Imm64, "");
        let fallback = a.hole("fallback", Kind::Rel32, "");
        a.mov_imm64(rdx, cell)?;
        a.cmp(rsi, 0)?;
        a.branch_rel32(Code::Jb_rel32_64, fallback)?;
        a.xor(edx, edx)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdx"]);
    assert!(found[0].exit_text.starts_with("jb"), "{found:#?}");
}

#[test]
fn the_stack_is_tracked_and_must_be_balanced_at_ret() {
    let found = check("unbalanced", |a| {
        a.push(rax)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["the stack"]);
    // A value pushed and popped keeps its taint; popping the return address
    // (below what the template pushed) gives a kernel value.
    let found = check("stack_taint", |a| {
        let cell = a.hole("cell", Kind::Imm64, "");
        a.mov_imm64(rcx, cell)?;
        a.push(rcx)?;
        a.pop(rsi)?;
        a.pop(rdx)?;
        a.push(rdx)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdx", "rsi"]);
    // The stack pointer of a routine is the kernel's: a copy of it leaks.
    let found = check("stack_pointer", |a| {
        a.mov(rdi, rsp)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdi"]);
}

#[test]
fn an_instruction_the_check_does_not_model_taints_what_it_writes() {
    let found = check("rdmsr", |a| {
        a.mov(rcx, 0xc000_0082_u64)?;
        a.rdmsr()?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdx"]);
}

/// An entry stub like the real one; `scrub` zeroes r9 after the call,
/// `restore_rcx` pops the user's rip back into rcx.
fn stub(scrub: bool, restore_rcx: bool) -> Vec<Violation> {
    check("stub", |a| {
        let stack = a.hole("kernel_stack_top", Kind::Imm64, "");
        let table = a.hole("table", Kind::Imm64, "");
        let slow = a.hole("slow_path", Kind::Imm64, "");
        let length = a.hole("table_len", Kind::Imm32, "");
        let mut out_of_range = a.create_label();
        let mut back: CodeLabel = a.create_label();
        a.mov(r9, rsp)?;
        a.mov_imm64(rsp, stack)?;
        a.push(r9)?;
        a.push(rcx)?;
        a.push(r11)?;
        a.cmp_imm32(rax, length)?;
        a.jae(out_of_range)?;
        a.mov_imm64(r9, table)?;
        a.call(qword_ptr(r9 + rax * 8))?;
        a.set_label(&mut back)?;
        if scrub {
            a.xor(iced_x86::code_asm::r9d, iced_x86::code_asm::r9d)?;
        }
        a.pop(r11)?;
        if restore_rcx {
            a.pop(rcx)?;
        } else {
            a.pop(rdx)?;
        }
        a.pop(rsp)?;
        a.sysretq()?;
        a.set_label(&mut out_of_range)?;
        a.mov_imm64(r9, slow)?;
        a.call(r9)?;
        a.jmp(back)
    })
}

#[test]
fn the_entry_stub_must_zero_r9_and_restore_rcx_r11_rsp_before_sysretq() {
    assert_eq!(stub(true, true), []);
    let found = stub(false, true);
    assert_eq!(registers(&found), ["r9"]);
    assert!(
        found[0].to_string().contains("exit `sysretq`"),
        "{found:#?}"
    );
    assert!(found[0].origin.contains("callee"), "{found:#?}");
    assert_eq!(registers(&stub(true, false)), ["rcx"]);
}

#[test]
fn rip_relative_addresses_system_registers_and_internal_calls_are_caught() {
    let found = check("rip_relative", |a| {
        let mut here = a.create_label();
        a.set_label(&mut here)?;
        a.lea(rdx, qword_ptr(here))?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rdx"]);
    let found = check("control_register", |a| {
        a.mov(rsi, iced_x86::code_asm::cr3)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["rsi"]);
    let found = check("internal_call", |a| {
        let mut inner = a.create_label();
        a.call(inner)?;
        a.ret()?;
        a.set_label(&mut inner)?;
        a.ret()
    });
    assert_eq!(registers(&found), ["the call"]);
}

// ---- stackless routines ----------------------------------------------------

#[test]
fn a_leaf_must_scrub_the_table_address_it_is_entered_with_in_r9() {
    let found = check_leaf("leaf_keeps_r9", |a| {
        a.mov(rax, 0i64)?;
        a.sysretq()
    });
    assert_eq!(registers(&found), ["r9"]);
    assert!(found[0].origin.contains("table address"), "{found:?}");
    let clean = check_leaf("leaf_scrubs_r9", |a| {
        a.xor(iced_x86::code_asm::r9d, iced_x86::code_asm::r9d)?;
        a.sysretq()
    });
    assert!(clean.is_empty(), "{clean:?}");
}

#[test]
fn a_leaf_must_give_back_the_rcx_and_r11_it_was_entered_with() {
    // A rep count in rcx, never moved back: rcx is clean (a user length)
    // but not the user rip.
    let found = check_leaf("leaf_loses_rcx", |a| {
        a.xor(iced_x86::code_asm::r9d, iced_x86::code_asm::r9d)?;
        a.mov(rcx, rsi)?;
        a.rep().stosb()?;
        a.sysretq()
    });
    assert_eq!(registers(&found), ["rcx"]);
    // Parked and moved back: fine; r11 zeroed: refused.
    let parked = check_leaf("leaf_parks_rcx", |a| {
        a.mov(r9, rcx)?;
        a.mov(rcx, rsi)?;
        a.rep().stosb()?;
        a.mov(rcx, r9)?;
        a.sysretq()
    });
    assert!(parked.is_empty(), "{parked:?}");
    let found = check_leaf("leaf_zeroes_r11", |a| {
        a.xor(iced_x86::code_asm::r9d, iced_x86::code_asm::r9d)?;
        a.xor(r11, r11)?;
        a.sysretq()
    });
    assert_eq!(registers(&found), ["r11"]);
}

#[test]
fn a_leaf_fixup_cannot_find_rcx_in_a_register_the_trap_handler_writes() {
    // The trap handler writes rax and rdx before the fixup runs: rcx
    // parked in rdx across a fault point is lost on the fault path.
    let leaf = |park: iced_x86::code_asm::AsmRegister64| {
        move |a: &mut TemplateAsm| -> Result<(), IcedError> {
            let mut fixup = a.create_label();
            a.xor(iced_x86::code_asm::r9d, iced_x86::code_asm::r9d)?;
            a.mov(park, rcx)?;
            a.mov(rcx, rsi)?;
            a.stac()?;
            a.user_access(fixup, |a| a.rep().stosb())?;
            a.clac()?;
            a.mov(rcx, park)?;
            a.sysretq()?;
            a.set_label(&mut fixup)?;
            a.clac()?;
            a.mov(rcx, park)?;
            a.mov(rax, -14i64)?;
            a.sysretq()
        }
    };
    let found = check_leaf("leaf_parks_in_rdx", leaf(rdx));
    assert_eq!(registers(&found), ["rcx"]);
    assert!(check_leaf("leaf_parks_in_r8", leaf(r8)).is_empty());
}

#[test]
fn a_leafs_tail_jump_to_the_door_may_leave_only_rax_and_r9() {
    let found = check_leaf("leaf_door_jump", |a| {
        let door = a.hole("door", Kind::Imm64, "");
        let cell = a.hole("cell", Kind::Imm64, "");
        a.mov_imm64(rdx, cell)?;
        a.mov_imm64(r9, door)?;
        a.jmp(r9)
    });
    assert_eq!(registers(&found), ["rdx"]);
}
