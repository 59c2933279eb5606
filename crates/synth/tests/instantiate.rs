//! Instantiation and template metadata: bytes, holes, rel32 range, SMAP
//! patching, errors, and the facts `build.rs` promised about every template.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use iced_x86::{Code, Decoder, DecoderOptions};
use sk_synth::templates::{self, ErrorStubHoles, GenericTrampolineHoles, RamFileWriteHoles};
use sk_synth::{
    instantiate, instantiate_values, FaultPoint, Hole, HoleKind, HoleValue, HoleValues, Imm32,
    Imm64, Rel32Target, Smap, SynthError, Template, SMAP_NOP,
};

const ADDRESS: u64 = 0xffff_ffff_c000_0000;

fn ram_write_holes(fallback: u64) -> RamFileWriteHoles {
    RamFileWriteHoles {
        data: Imm64(0x1111),
        capacity: Imm64(0x2222),
        position_cell: Imm64(0x3333),
        size_cell: Imm64(0x4444),
        generic_fallback: Rel32Target(fallback),
        bad_address: Imm32(-14),
        max_len: Imm32(0x1_0000),
    }
}

#[test]
fn error_stub_bytes_are_mov_rax_imm32_xor_r9d_sysretq() {
    let mut out = [0xcc; 16];
    let instance = instantiate(
        &ErrorStubHoles { result: Imm32(-22) },
        ADDRESS,
        Smap::Enabled,
        &mut out,
    )
    .unwrap();
    assert_eq!(instance.size(), 13);
    assert_eq!(
        &out[..13],
        &[0x48, 0xc7, 0xc0, 0xea, 0xff, 0xff, 0xff, 0x45, 0x31, 0xc9, 0x48, 0x0f, 0x07]
    );
    assert_eq!(out[13], 0xcc, "nothing written past the instance");
    assert_eq!(instance.name(), "error_stub");
    assert_eq!(instance.address(), ADDRESS);
    assert_eq!(instance.hole_value("result"), Some(HoleValue::Imm32(-22)));
}

#[test]
fn imm64_holes_are_patched_at_every_site() {
    let holes = GenericTrampolineHoles {
        handle: Imm32(5),
        op: Imm32(3),
        generic_entry: Imm64(0xdead_beef_cafe_f00d),
    };
    let mut out = [0; 64];
    let instance = instantiate(&holes, ADDRESS, Smap::Enabled, &mut out).unwrap();
    let hole = templates::GENERIC_TRAMPOLINE.hole("generic_entry").unwrap();
    for &site in hole.sites {
        let site = site as usize;
        assert_eq!(out[site..site + 8], 0xdead_beef_cafe_f00d_u64.to_le_bytes());
    }
    assert_eq!(instance.hole_values().count(), 3);
}

#[test]
fn rel32_is_relative_to_the_final_address() {
    let target = ADDRESS + 0x10_0000;
    let mut out = [0; 256];
    instantiate(&ram_write_holes(target), ADDRESS, Smap::Enabled, &mut out).unwrap();
    let hole = templates::RAM_FILE_WRITE.hole("generic_fallback").unwrap();
    assert_eq!(hole.sites.len(), 3, "three guards share the fallback");
    let decoded: Vec<_> = Decoder::with_ip(
        64,
        &out[..templates::RAM_FILE_WRITE.size()],
        ADDRESS,
        DecoderOptions::NONE,
    )
    .into_iter()
    .filter(|i| matches!(i.code(), Code::Jb_rel32_64 | Code::Ja_rel32_64))
    .map(|i| i.near_branch_target())
    // Branches that leave the routine: only the three fallback guards
    // (length, wrap, capacity).
    .filter(|&t| !(ADDRESS..ADDRESS + templates::RAM_FILE_WRITE.size() as u64).contains(&t))
    .collect();
    assert_eq!(decoded, [target, target, target]);
}

#[test]
fn rel32_out_of_range_is_an_error() {
    let mut out = [0; 256];
    let far = ADDRESS.wrapping_add(0x1_0000_0000);
    let error = instantiate(&ram_write_holes(far), ADDRESS, Smap::Enabled, &mut out).unwrap_err();
    assert!(
        matches!(error, SynthError::Rel32OutOfRange { hole: "generic_fallback", target, .. } if target == far)
    );
    // Just inside the range backwards works.
    let near = ADDRESS - 0x7fff_0000;
    instantiate(&ram_write_holes(near), ADDRESS, Smap::Enabled, &mut out).unwrap();
}

#[test]
fn output_too_small_and_address_overflow_are_errors() {
    let holes = ErrorStubHoles { result: Imm32(-1) };
    let mut small = [0; 12];
    assert_eq!(
        instantiate(&holes, ADDRESS, Smap::Enabled, &mut small).unwrap_err(),
        SynthError::OutputTooSmall {
            needed: 13,
            available: 12
        }
    );
    let mut out = [0; 13];
    assert_eq!(
        instantiate(&holes, u64::MAX - 3, Smap::Enabled, &mut out).unwrap_err(),
        SynthError::AddressOverflow {
            address: u64::MAX - 3
        }
    );
}

#[test]
fn untyped_values_are_checked_for_count_and_kind() {
    let mut out = [0; 64];
    let none = HoleValues::from_slice(&[]).unwrap();
    assert!(matches!(
        instantiate_values(
            &templates::ERROR_STUB,
            none,
            ADDRESS,
            Smap::Enabled,
            &mut out
        ),
        Err(SynthError::HoleCount {
            expected: 1,
            found: 0,
            ..
        })
    ));
    let wrong = HoleValues::from_slice(&[HoleValue::Imm64(1)]).unwrap();
    assert!(matches!(
        instantiate_values(
            &templates::ERROR_STUB,
            wrong,
            ADDRESS,
            Smap::Enabled,
            &mut out
        ),
        Err(SynthError::HoleKind {
            hole: "result",
            expected: HoleKind::Imm32,
            found: HoleKind::Imm64
        })
    ));
    assert!(HoleValues::<{ sk_synth::MAX_HOLES }>::from_slice(
        &[HoleValue::Imm32(0); sk_synth::MAX_HOLES + 1]
    )
    .is_none());
}

#[test]
fn smap_disabled_turns_every_stac_and_clac_into_a_nop() {
    let holes = ram_write_holes(ADDRESS + 0x1000);
    let (mut on, mut off) = ([0; 256], [0; 256]);
    instantiate(&holes, ADDRESS, Smap::Enabled, &mut on).unwrap();
    instantiate(&holes, ADDRESS, Smap::Disabled, &mut off).unwrap();
    let template = &templates::RAM_FILE_WRITE;
    assert_eq!(
        template.smap_sites.len(),
        3,
        "stac, clac, clac in the fixup"
    );
    for &site in template.smap_sites {
        let site = site as usize;
        assert!(
            on[site..site + 3] == [0x0f, 0x01, 0xcb] || on[site..site + 3] == [0x0f, 0x01, 0xca]
        );
        assert_eq!(off[site..site + 3], SMAP_NOP);
    }
    let differing = on.iter().zip(&off).filter(|(a, b)| a != b).count();
    assert!(differing <= 3 * template.smap_sites.len());
}

#[test]
fn fault_points_translate_to_absolute_addresses() {
    let mut out = [0; 256];
    let instance = instantiate(
        &ram_write_holes(ADDRESS + 0x1000),
        ADDRESS,
        Smap::Enabled,
        &mut out,
    )
    .unwrap();
    let fixups: Vec<_> = instance.fault_fixups().collect();
    let points = templates::RAM_FILE_WRITE.fault_points;
    assert_eq!(fixups.len(), points.len());
    for (fixup, point) in fixups.iter().zip(points) {
        assert_eq!(fixup.access, ADDRESS + u64::from(point.access));
        assert_eq!(fixup.fixup, ADDRESS + u64::from(point.fixup));
    }
}

/// A hand-made template with a `Disp32` hole: `mov rax, [disp32]; ret`.
static DISP32_TEMPLATE: Template = Template {
    name: "test_load_absolute",
    bytes: &[0x48, 0x8b, 0x04, 0x25, 0, 0, 0, 0, 0xc3],
    holes: &[Hole {
        name: "cell",
        kind: HoleKind::Disp32,
        sites: &[4],
    }],
    fault_points: &[],
    smap_sites: &[],
    invariants: &[],
    reads: &[],
    clobbers: &[sk_synth::Reg::Rax],
    instruction_count: 2,
};

#[test]
fn disp32_holes_are_sign_extended_displacements() {
    let mut out = [0; 16];
    let values = HoleValues::from_slice(&[HoleValue::Disp32(-0x1000)]).unwrap();
    let instance =
        instantiate_values(&DISP32_TEMPLATE, values, ADDRESS, Smap::Enabled, &mut out).unwrap();
    let instruction = Decoder::with_ip(64, &out[..9], ADDRESS, DecoderOptions::NONE).decode();
    assert_eq!(instruction.memory_displacement64(), 0xffff_ffff_ffff_f000);
    sk_synth::verify_instance(&instance, &out[..9]).unwrap();
}

/// The synthesized yield compares `rdi` with the ABI's selector number.
#[test]
fn the_yield_routine_tests_the_abis_yield_selector() {
    assert_eq!(
        templates::YIELD_CALLER_SELECTOR,
        u64::from(sk_abi::SmachSelector::YieldCaller.number())
    );
    let first =
        Decoder::with_ip(64, templates::YIELD_CALLER.bytes, 0, DecoderOptions::NONE).decode();
    assert_eq!(first.immediate(1), templates::YIELD_CALLER_SELECTOR);
}

#[test]
fn every_template_keeps_the_promises_build_rs_checked() {
    assert_eq!(templates::ALL.len(), 43);
    for template in templates::ALL {
        let name = template.name;
        let decoded: Vec<_> = Decoder::with_ip(64, template.bytes, 0, DecoderOptions::NONE)
            .into_iter()
            .collect();
        assert!(decoded.iter().all(|i| !i.is_invalid()), "{name}");
        assert_eq!(decoded.len(), template.instruction_count, "{name}");
        let starts: Vec<u32> = decoded.iter().map(|i| i.ip() as u32).collect();
        // Holes: inside the bytes, inside one instruction, never overlapping.
        let mut covered = vec![false; template.size()];
        for hole in template.holes {
            assert!(!hole.sites.is_empty(), "{name}.{}", hole.name);
            for &site in hole.sites {
                let range = site as usize..site as usize + hole.kind.width();
                assert!(range.end <= template.size(), "{name}.{}", hole.name);
                assert!(
                    !starts.contains(&site),
                    "{name}.{}: a constant never starts an instruction",
                    hole.name
                );
                for byte in range {
                    assert!(!covered[byte], "{name}: holes overlap at {byte}");
                    covered[byte] = true;
                }
            }
        }
        for &FaultPoint { access, fixup } in template.fault_points {
            assert!(
                starts.contains(&access) && starts.contains(&fixup),
                "{name}"
            );
            let fixup_instruction = decoded.iter().find(|i| i.ip() == u64::from(fixup)).unwrap();
            assert_eq!(
                fixup_instruction.code(),
                Code::Clac,
                "{name}: fixups start with clac"
            );
        }
        for &site in template.smap_sites {
            let instruction = decoded.iter().find(|i| i.ip() == u64::from(site)).unwrap();
            assert!(
                matches!(instruction.code(), Code::Stac | Code::Clac),
                "{name}"
            );
        }
        // Switch-ins restore another thread's callee-saved registers
        // (templates/switch.rs); routines must preserve them.
        assert!(
            name.starts_with("switch_in") || template.clobbers.iter().all(|r| !r.is_callee_saved()),
            "{name}"
        );
        assert_eq!(
            template.fault_points.is_empty(),
            template.smap_sites.is_empty(),
            "{name}: user access iff SMAP sites"
        );
    }
}

#[test]
fn instantiation_costs_about_a_memcpy() {
    // Reports a figure (STYLE §7: never pass/fail on time).
    let holes = ram_write_holes(ADDRESS + 0x1000);
    let mut out = [0; 256];
    let rounds = 100_000;
    let start = std::time::Instant::now();
    for i in 0..rounds {
        let address = ADDRESS + (i % 16) * 256;
        std::hint::black_box(
            instantiate(
                std::hint::black_box(&holes),
                address,
                Smap::Enabled,
                &mut out,
            )
            .unwrap(),
        );
    }
    let per = start.elapsed().as_nanos() / u128::from(rounds);
    println!(
        "instantiate ram_file_write ({} bytes): {per} ns",
        templates::RAM_FILE_WRITE.size()
    );
}

/// The kernel keeps a switch routine's hole values in
/// `HoleValues<SWITCH_HOLE_VALUES>`: every switch template fits.
#[test]
fn switch_templates_fit_the_switch_codes_hole_values() {
    let switches: Vec<_> = templates::ALL
        .iter()
        .filter(|t| t.name.starts_with("switch_"))
        .collect();
    assert!(switches.len() >= 10);
    for t in switches {
        assert!(t.holes.len() <= sk_synth::SWITCH_HOLE_VALUES, "{}", t.name);
    }
}
