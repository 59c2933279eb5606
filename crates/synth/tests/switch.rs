//! The executable ready queue's switch templates: the switch-out's jump is
//! patchable with one aligned 4-byte store, and re-patching its
//! displacement (what `code_arena::patch_rel32` does in the kernel) makes
//! it jump exactly to the new target; the switch-ins end by restoring the
//! `context::switch` frame and returning.

use iced_x86::{Code, Decoder, DecoderOptions, Mnemonic, Register};
use sk_synth::templates::{self, SwitchOutHoles};
use sk_synth::{instantiate, verify_instance, Imm64, Rel32Target, Smap};

const ADDRESS: u64 = 0xffff_ffff_8000_1040;

#[test]
fn switch_out_jumps_are_aligned_last_and_inside_one_cache_line() {
    for template in [
        &templates::SWITCH_OUT,
        &templates::SWITCH_OUT_FP,
        &templates::SWITCH_OUT_FP_XSAVEOPT,
        &templates::SWITCH_OUT_FP_FXSAVE,
    ] {
        let rel = template.holes.iter().find(|h| h.name == "next").unwrap();
        let site = rel.sites[0] as usize;
        assert_eq!(site % 4, 0, "{}", template.name);
        assert_eq!(site + 4, template.size(), "{}", template.name);
        assert!(site + 4 <= 64, "{}", template.name);
    }
}

#[test]
fn repatching_the_displacement_retargets_the_jump() {
    let mut code = [0u8; 64];
    let first = ADDRESS + 0x4000;
    let holes = SwitchOutHoles {
        rsp_slot: Imm64(0xffff_8000_0000_1000),
        next: Rel32Target(first),
    };
    let instance = instantiate(&holes, ADDRESS, Smap::Enabled, &mut code).unwrap();
    verify_instance(&instance, &code[..instance.size()]).unwrap();
    let site = templates::SWITCH_OUT.holes[1].sites[0] as usize;
    for target in [
        ADDRESS - 0x7000_0000,
        ADDRESS + 28,
        ADDRESS + 0x7fff_0000,
        ADDRESS,
    ] {
        // The kernel's patch: displacement from the end of the jump.
        let end = ADDRESS + site as u64 + 4;
        let disp = i32::try_from(target.wrapping_sub(end) as i64).unwrap();
        code[site..site + 4].copy_from_slice(&disp.to_le_bytes());
        let last = Decoder::with_ip(64, &code[..instance.size()], ADDRESS, DecoderOptions::NONE)
            .into_iter()
            .last()
            .unwrap();
        assert_eq!(last.code(), Code::Jmp_rel32_64);
        assert_eq!(last.near_branch_target(), target);
    }
}

#[test]
fn switch_ins_restore_the_context_switch_frame_and_return() {
    for template in [
        &templates::SWITCH_IN_LSTAR,
        &templates::SWITCH_IN_SLOT,
        &templates::SWITCH_IN_LSTAR_FP,
        &templates::SWITCH_IN_SLOT_FP,
        &templates::SWITCH_IN_LSTAR_FP_FXRSTOR,
        &templates::SWITCH_IN_SLOT_FP_FXRSTOR,
    ] {
        let decoded: Vec<_> = Decoder::with_ip(64, template.bytes, 0, DecoderOptions::NONE)
            .into_iter()
            .collect();
        let tail: Vec<String> = decoded[decoded.len() - 8..]
            .iter()
            .map(|i| format!("{i}"))
            .collect();
        assert_eq!(
            tail,
            [
                "mov rsp,[rax]",
                "pop r15",
                "pop r14",
                "pop r13",
                "pop r12",
                "pop rbx",
                "pop rbp",
                "ret"
            ],
            "{}",
            template.name
        );
        // Exactly one CR3 load, guarded by a compare.
        let cr_loads = |reg: Register| {
            decoded
                .iter()
                .filter(|i| i.code() == Code::Mov_cr_r64 && i.op0_register() == reg)
                .count()
        };
        assert_eq!(cr_loads(Register::CR3), 1, "{}", template.name);
        let is_fp = template.name.contains("_fp");
        let fxrstor = template.name.ends_with("_fxrstor");
        // FP threads: `clts` before the restore; the others set CR0.TS
        // (one CR0 load, skipped when TS is set already).
        assert_eq!(
            cr_loads(Register::CR0),
            usize::from(!is_fp),
            "{}",
            template.name
        );
        assert_eq!(
            decoded.iter().any(|i| i.mnemonic() == Mnemonic::Clts),
            is_fp,
            "{}",
            template.name
        );
        assert_eq!(
            decoded.iter().any(|i| i.mnemonic() == Mnemonic::Xrstor64),
            is_fp && !fxrstor,
            "{}",
            template.name
        );
        assert_eq!(
            decoded.iter().any(|i| i.mnemonic() == Mnemonic::Fxrstor64),
            fxrstor,
            "{}",
            template.name
        );
        // Each restore is counted once in the per-CPU FP restore count.
        assert_eq!(
            per_cpu_increments(&decoded, templates::PERCPU_FP_RESTORES),
            usize::from(is_fp),
            "{}",
            template.name
        );
    }
    // The switch-out frame is the one the switch-in pops.
    let pushes: Vec<String> =
        Decoder::with_ip(64, templates::SWITCH_OUT.bytes, 0, DecoderOptions::NONE)
            .into_iter()
            .take(6)
            .map(|i| format!("{i}"))
            .collect();
    assert_eq!(
        pushes,
        ["push rbp", "push rbx", "push r12", "push r13", "push r14", "push r15"]
    );
}

#[test]
fn per_cpu_offsets_are_distinct_qwords() {
    let offsets = [
        templates::PERCPU_SYSCALL_STACK_TOP,
        templates::PERCPU_ENTRY_STUB,
        templates::PERCPU_CURRENT_THREAD,
        templates::PERCPU_TICKS_LEFT,
        templates::PERCPU_LSTAR,
        templates::PERCPU_FP_SAVES,
        templates::PERCPU_FP_RESTORES,
    ];
    for (i, a) in offsets.iter().enumerate() {
        assert_eq!(a % 8, 0);
        assert!(offsets[i + 1..].iter().all(|b| b != a));
    }
}

/// `inc qword ptr gs:[offset]` instructions in `decoded`.
fn per_cpu_increments(decoded: &[iced_x86::Instruction], offset: usize) -> usize {
    decoded
        .iter()
        .filter(|i| {
            i.mnemonic() == Mnemonic::Inc
                && i.segment_prefix() == Register::GS
                && i.memory_displacement64() == offset as u64
        })
        .count()
}

#[test]
fn fp_switch_outs_save_with_their_instruction_and_count_it() {
    for (template, save) in [
        (&templates::SWITCH_OUT, None),
        (&templates::SWITCH_OUT_FP, Some(Mnemonic::Xsave64)),
        (
            &templates::SWITCH_OUT_FP_XSAVEOPT,
            Some(Mnemonic::Xsaveopt64),
        ),
        (&templates::SWITCH_OUT_FP_FXSAVE, Some(Mnemonic::Fxsave64)),
    ] {
        let decoded: Vec<_> = Decoder::with_ip(64, template.bytes, 0, DecoderOptions::NONE)
            .into_iter()
            .collect();
        let saves: Vec<Mnemonic> = decoded
            .iter()
            .map(|i| i.mnemonic())
            .filter(|m| {
                matches!(
                    m,
                    Mnemonic::Xsave64 | Mnemonic::Xsaveopt64 | Mnemonic::Fxsave64
                )
            })
            .collect();
        assert_eq!(
            saves,
            save.into_iter().collect::<Vec<_>>(),
            "{}",
            template.name
        );
        assert_eq!(
            per_cpu_increments(&decoded, templates::PERCPU_FP_SAVES),
            usize::from(save.is_some()),
            "{}",
            template.name
        );
    }
}
