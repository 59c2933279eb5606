//! Golden disassembly: each template instantiated with fixed hole values at a
//! fixed kernel address, rendered by `disassemble`, compared with the
//! committed text in `golden/<name>.txt` (review sees machine-code diffs,
//! STYLE §8). Run with `SK_SYNTH_BLESS=1` to write them after an intended
//! change (or for a new template); without it, a differing or missing file
//! fails the test.
//!
//! Also pins the executed-instruction counts of the 1-byte `/dev/mem` read.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use iced_x86::{Code, Decoder, DecoderOptions, Mnemonic};
use sk_synth::templates;
use sk_synth::{
    disassemble, instantiate_values, verify_instance, HoleKind, HoleValue, HoleValues, Instance,
    Smap, Template,
};

const ADDRESS: u64 = 0xffff_ffff_c000_0000;

/// Deterministic, recognisable hole values.
fn golden_values(template: &Template) -> HoleValues {
    let values: Vec<HoleValue> = template
        .holes
        .iter()
        .enumerate()
        .map(|(index, hole)| match hole.kind {
            HoleKind::Imm64 => HoleValue::Imm64(0xffff_8000_0010_0000 + 0x1000 * index as u64),
            HoleKind::Imm32 => HoleValue::Imm32(-(10 + index as i32)),
            HoleKind::Rel32 => HoleValue::Rel32(ADDRESS + 0x1_0000),
            HoleKind::Disp32 => HoleValue::Disp32(-0x1000 * (index as i32 + 1)),
        })
        .collect();
    HoleValues::from_slice(&values).unwrap()
}

fn golden_instance(template: &'static Template) -> (Instance, Vec<u8>) {
    let mut bytes = vec![0; template.size()];
    let instance = instantiate_values(
        template,
        golden_values(template),
        ADDRESS,
        Smap::Enabled,
        &mut bytes,
    )
    .unwrap();
    verify_instance(&instance, &bytes).unwrap();
    (instance, bytes)
}

#[test]
fn golden_disassembly_matches_for_every_template() {
    let directory = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("golden");
    let is_bless = std::env::var_os("SK_SYNTH_BLESS").is_some();
    let mut mismatches = Vec::new();
    let mut missing = Vec::new();
    for template in templates::ALL {
        let (instance, bytes) = golden_instance(template);
        let text = disassemble(&instance, &bytes);
        let path = directory.join(format!("{}.txt", template.name));
        match std::fs::read_to_string(&path) {
            Ok(expected) if expected == text => {}
            Ok(_) if !is_bless => mismatches.push(template.name),
            Err(e) if !is_bless => missing.push(format!("{} ({e})", path.display())),
            _ => {
                std::fs::create_dir_all(&directory).unwrap();
                std::fs::write(&path, &text).unwrap();
                println!("wrote {}", path.display());
            }
        }
    }
    assert!(
        missing.is_empty(),
        "no golden disassembly for {missing:?}; run with SK_SYNTH_BLESS=1, review and commit it"
    );
    assert!(mismatches.is_empty(), "golden disassembly differs for {mismatches:?}; rerun with SK_SYNTH_BLESS=1 and review the diff");
}

/// Instructions executed from the entry until the first instruction with
/// the given flow (`ret`/`sysretq`/the stub's `jmp`) when no conditional
/// branch is taken.
fn straight_line_count(template: &'static Template, stop: impl Fn(Code) -> bool) -> usize {
    let (instance, bytes) = golden_instance(template);
    let mut count = 0;
    for instruction in Decoder::with_ip(64, &bytes, instance.address(), DecoderOptions::NONE) {
        count += 1;
        if stop(instruction.code()) {
            return count;
        }
        assert_ne!(
            instruction.mnemonic(),
            Mnemonic::Jmp,
            "the path must be straight-line: {instruction}"
        );
    }
    panic!("no stop instruction")
}

#[test]
fn stackless_one_byte_calls_fit_issue_13s_budget() {
    // Entry stub, valid index: bounds check, speculation mask, table,
    // `jmp [r9 + rax*8]`.
    let stub = straight_line_count(&templates::ENTRY_STUB, |code| code == Code::Jmp_rm64);
    assert_eq!(stub, 5);
    let sysret = |code| code == Code::Sysretq;
    // Null call: the error stub returning 0 (issue 13: <= 8 in all).
    let null = straight_line_count(&templates::ERROR_STUB, sysret);
    assert_eq!(null, 3);
    // 1-byte reads, every conditional branch falling through to `sysretq`
    // (issue 13: /dev/zero and /dev/mem <= 22, RAM file <= 26 in all).
    let zero = straight_line_count(&templates::DEV_ZERO_READ_LEAF, sysret);
    assert_eq!(zero, 10);
    let mem = straight_line_count(&templates::DEV_MEM_READ_LEAF, sysret);
    assert_eq!(mem, 18);
    let file = straight_line_count(&templates::RAM_FILE_READ_LEAF, sysret);
    assert_eq!(file, 20);
    println!(
        "from syscall entry to sysretq: null {}, 1-byte /dev/zero {}, /dev/mem {}, RAM file {} \
         ({stub} in the stub)",
        stub + null,
        stub + zero,
        stub + mem,
        stub + file
    );
}

#[test]
fn stackful_one_byte_dev_mem_read_is_still_seventeen_instructions() {
    // The Linux personality's (called) routine: falls through to `ret`.
    let routine = straight_line_count(&templates::DEV_MEM_READ, |code| code == Code::Retnq);
    assert_eq!(routine, 17);
}
