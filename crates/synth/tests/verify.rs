//! Verification: every template instantiated with fuzzed hole values decodes
//! to the template's instruction stream with only hole operands changed
//! (STYLE §7), and tampering anywhere is caught.

use proptest::prelude::*;
use sk_synth::templates::{self, ErrorStubHoles};
use sk_synth::{
    disassemble, instantiate, instantiate_values, verify_bytes, verify_instance, HoleKind,
    HoleValue, HoleValues, Imm32, Instance, Smap, Template, VerifyError,
};

/// Random values for `template`'s holes; rel32 targets within ±1 GiB of `address`.
fn values_for(template: &'static Template, address: u64) -> impl Strategy<Value = Vec<HoleValue>> {
    let strategies: Vec<BoxedStrategy<HoleValue>> = template
        .holes
        .iter()
        .map(|hole| match hole.kind {
            HoleKind::Imm64 => any::<u64>().prop_map(HoleValue::Imm64).boxed(),
            HoleKind::Imm32 => any::<i32>().prop_map(HoleValue::Imm32).boxed(),
            HoleKind::Disp32 => any::<i32>().prop_map(HoleValue::Disp32).boxed(),
            HoleKind::Rel32 => (-(1i64 << 30)..(1i64 << 30))
                .prop_map(move |delta| HoleValue::Rel32(address.wrapping_add_signed(delta)))
                .boxed(),
        })
        .collect();
    strategies
}

fn address() -> impl Strategy<Value = u64> {
    prop_oneof![
        0x1000u64..(1 << 46),
        (0xffff_8000_0000_0000u64..0xffff_ffff_f000_0000)
    ]
}

fn smap() -> impl Strategy<Value = Smap> {
    prop_oneof![Just(Smap::Enabled), Just(Smap::Disabled)]
}

fn case() -> impl Strategy<Value = (&'static Template, u64, Smap, Vec<HoleValue>)> {
    (0..templates::ALL.len(), address(), smap()).prop_flat_map(|(index, address, smap)| {
        let template = templates::ALL[index];
        (
            Just(template),
            Just(address),
            Just(smap),
            values_for(template, address),
        )
    })
}

fn build(
    template: &'static Template,
    address: u64,
    smap: Smap,
    values: &[HoleValue],
) -> (Instance, Vec<u8>) {
    let mut out = vec![0; template.size()];
    let values = HoleValues::from_slice(values).unwrap();
    let instance = instantiate_values(template, values, address, smap, &mut out).unwrap();
    (instance, out)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_instance_is_its_template_with_only_holes_changed((template, address, smap, values) in case()) {
        let (instance, bytes) = build(template, address, smap, &values);
        prop_assert_eq!(verify_instance(&instance, &bytes), Ok(()));
        prop_assert_eq!(verify_bytes(&instance, &bytes), Ok(()));
        let text = disassemble(&instance, &bytes);
        for hole in template.holes {
            let annotation = format!("hole {} = ", hole.name);
            prop_assert!(text.contains(&annotation), "{}", text);
        }
    }

    #[test]
    fn a_changed_byte_is_caught(
        (template, address, smap, values) in case(),
        position in any::<prop::sample::Index>(),
        flip in 1u8..=255,
    ) {
        let (instance, mut bytes) = build(template, address, smap, &values);
        let position = position.index(bytes.len());
        bytes[position] ^= flip;
        prop_assert!(verify_instance(&instance, &bytes).is_err(), "byte {} of {}", position, template.name);
        // The byte-level check (what the kernel runs after a template's
        // first instance decoded) catches every changed byte too.
        prop_assert!(verify_bytes(&instance, &bytes).is_err(), "byte {} of {}", position, template.name);
    }
}

#[test]
fn size_mismatch_is_caught() {
    let mut out = [0; 13];
    let instance = instantiate(
        &ErrorStubHoles { result: Imm32(-1) },
        0x1000,
        Smap::Enabled,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        verify_instance(&instance, &out[..12]),
        Err(VerifyError::SizeMismatch {
            expected: 13,
            found: 12
        })
    );
}

#[test]
fn a_hole_value_other_than_recorded_is_caught() {
    let mut out = [0; 13];
    let instance = instantiate(
        &ErrorStubHoles { result: Imm32(-1) },
        0x1000,
        Smap::Enabled,
        &mut out,
    )
    .unwrap();
    out[3] = 0x00; // -1 → -256
    assert_eq!(
        verify_instance(&instance, &out),
        Err(VerifyError::HoleValueMismatch {
            hole: "result",
            offset: 3
        })
    );
}

#[test]
fn an_instance_checked_against_smap_it_was_not_built_with_fails() {
    let template = &templates::DEV_ZERO_READ;
    let values = vec![
        HoleValue::Imm32(-14),
        HoleValue::Imm32(0x1_0000),
        HoleValue::Imm64(0xffff_ffff_8010_0000),
    ];
    let (instance, _) = build(template, 0x1000, Smap::Enabled, &values);
    let (_, patched) = build(template, 0x1000, Smap::Disabled, &values);
    assert!(matches!(
        verify_instance(&instance, &patched),
        Err(VerifyError::ByteMismatch { .. })
    ));
}

/// A hand-made template whose "hole" is not an operand constant: the
/// verifier must refuse it even though instantiation patches it.
static MISPLACED: Template = Template {
    name: "test_misplaced",
    // mov rax, imm64 ; ret — the hole claims the opcode bytes.
    bytes: &[0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0xc3],
    holes: &[sk_synth::Hole {
        name: "bogus",
        kind: HoleKind::Imm32,
        sites: &[0],
    }],
    fault_points: &[],
    smap_sites: &[],
    invariants: &[],
    reads: &[],
    clobbers: &[sk_synth::Reg::Rax],
    instruction_count: 2,
};

#[test]
fn a_hole_that_is_not_an_operand_is_caught() {
    // Value chosen so the patched bytes still decode as the same instruction.
    let value = i32::from_le_bytes([0x48, 0xb8, 0, 0]);
    let (instance, bytes) = build(
        &MISPLACED,
        0x1000,
        Smap::Enabled,
        &[HoleValue::Imm32(value)],
    );
    assert_eq!(
        verify_instance(&instance, &bytes),
        Err(VerifyError::HoleMisplaced {
            hole: "bogus",
            offset: 0
        })
    );
}
