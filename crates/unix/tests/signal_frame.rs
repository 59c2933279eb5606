//! The x86-64 signal frame: offsets as glibc's `ucontext_t` reads them,
//! round trips, placement, and that no frame user space can write makes
//! `rt_sigreturn` return to a kernel address, selector or privileged flag.

use proptest::prelude::*;
use sk_abi::USER_END;
use sk_unix::sigaltstack::{AltStack, StackT, SS_AUTODISARM, SS_ONSTACK};
use sk_unix::siginfo::{code, SigInfo};
use sk_unix::signal_actions::{sa, Handler, SigAction};
use sk_unix::signal_frame::{
    decode_frame, encode_frame, handler_entry, place_frame, rflags, sanitize, FrameContents,
    FrameError, TrapDetails, UserRegs, UserSelectors, FRAME_SIZE,
};
use sk_unix::signal_set::{Signal, SignalSet};

/// The kernel's selectors (crates/machine/src/gdt.rs).
fn selectors() -> UserSelectors {
    UserSelectors::new(0x2b, 0x23).unwrap()
}

fn regs_from(values: [u64; 18]) -> UserRegs {
    let [r8, r9, r10, r11, r12, r13, r14, r15, rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, flags] =
        values;
    UserRegs {
        r8,
        r9,
        r10,
        r11,
        r12,
        r13,
        r14,
        r15,
        rdi,
        rsi,
        rbp,
        rbx,
        rdx,
        rax,
        rcx,
        rsp,
        rip,
        rflags: flags,
        cs: 0x2b,
        ss: 0x23,
    }
}

fn contents(regs: UserRegs, mask: u64) -> FrameContents {
    FrameContents {
        regs,
        mask: SignalSet::from_bits(mask),
        uc_stack: StackT {
            sp: 0x1000,
            flags: 2,
            size: 0,
        },
        fpstate: 0x7fff_0000,
        trap: TrapDetails {
            err: 4,
            trapno: 14,
            cr2: 0xdead_0000,
        },
        info: SigInfo::fault(Signal::SIGSEGV, code::SEGV_MAPERR, 0xdead_0000),
        restorer: 0x40_2000,
    }
}

fn word(frame: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(frame[at..at + 8].try_into().unwrap())
}

#[test]
fn offsets_match_glibc_ucontext() {
    let values: [u64; 18] = core::array::from_fn(|i| 0x1000 + i as u64);
    let frame = encode_frame(&contents(regs_from(values), 0x1234));
    // pretcode, then ucontext_t at 8: uc_flags, uc_link, uc_stack.
    assert_eq!(word(&frame, 0), 0x40_2000);
    assert_eq!(word(&frame, 8), 6);
    assert_eq!(word(&frame, 16), 0);
    assert_eq!(word(&frame, 24), 0x1000);
    // gregs[REG_R8 = 0 ..= REG_EFL = 17] at uc + 40.
    for (i, value) in values.iter().enumerate() {
        assert_eq!(word(&frame, 8 + 40 + 8 * i), *value, "greg {i}");
    }
    // REG_CSGSFS: cs in the low 16 bits, ss in the top (__pad0).
    assert_eq!(word(&frame, 8 + 40 + 8 * 18), 0x0023_0000_0000_002b);
    assert_eq!(word(&frame, 8 + 40 + 8 * 19), 4); // REG_ERR
    assert_eq!(word(&frame, 8 + 40 + 8 * 20), 14); // REG_TRAPNO
    assert_eq!(word(&frame, 8 + 40 + 8 * 21), 0x1234); // REG_OLDMASK
    assert_eq!(word(&frame, 8 + 40 + 8 * 22), 0xdead_0000); // REG_CR2
    assert_eq!(word(&frame, 8 + 40 + 8 * 23), 0x7fff_0000); // fpregs
                                                            // uc_sigmask at uc + 296, siginfo at 312.
    assert_eq!(word(&frame, 8 + 296), 0x1234);
    assert_eq!(&frame[312..316], &11i32.to_le_bytes());
    assert_eq!(word(&frame, 312 + 16), 0xdead_0000);
}

#[test]
fn handler_starts_with_the_abi_registers() {
    let interrupted = UserRegs {
        rflags: rflags::IF | rflags::DF | rflags::TF | rflags::CF | rflags::RESERVED1,
        rbx: 77,
        ..UserRegs::default()
    };
    let info = SigInfo::kernel(Signal::SIGUSR1);
    let entry = handler_entry(&interrupted, 0x7000_0ff8, 0x40_1000, &info, selectors());
    assert_eq!(entry.rdi, 10);
    assert_eq!(entry.rsi, 0x7000_0ff8 + 312);
    assert_eq!(entry.rdx, 0x7000_0ff8 + 8);
    assert_eq!(
        (entry.rsp, entry.rip, entry.rax, entry.rbx),
        (0x7000_0ff8, 0x40_1000, 0, 77)
    );
    assert_eq!(entry.rflags, rflags::IF | rflags::CF | rflags::RESERVED1);
    assert_eq!((entry.cs, entry.ss), (0x2b, 0x23));
}

#[test]
fn placement_needs_a_restorer_and_room_on_the_altstack() {
    let mut action = SigAction {
        handler: Handler::Function(0x40_1000),
        flags: sa::ONSTACK,
        ..SigAction::default()
    };
    let alt = AltStack::default();
    assert_eq!(
        place_frame(0x7000_0000, &action, &alt, 0),
        Err(FrameError::NoRestorer)
    );
    action.flags |= sa::RESTORER;
    // No alternate stack: below the red zone.
    let p = place_frame(0x7000_0000, &action, &alt, 512).unwrap();
    assert!(p.fpstate + 512 <= 0x7000_0000 - 128 && p.fpstate.is_multiple_of(64));
    assert!(p.frame + FRAME_SIZE as u64 <= p.fpstate && (p.frame + 8).is_multiple_of(16));
    // A 2048-byte alternate stack cannot hold 440 + 4096 bytes.
    let mut alt = AltStack::default();
    let stack = StackT {
        sp: 0x10_0000,
        flags: 0,
        size: 2048,
    };
    alt.sigaltstack(Some(stack), 0x7000_0000).unwrap();
    assert_eq!(
        place_frame(0x7000_0000, &action, &alt, 4096),
        Err(FrameError::NoRoom)
    );
    let p = place_frame(0x7000_0000, &action, &alt, 512).unwrap();
    assert!(p.frame >= 0x10_0000 && p.fpstate + 512 <= 0x10_0000 + 2048);
    assert_eq!(p.uc_stack, stack);
    // Already on it: nested below the current rsp, reported SS_ONSTACK.
    let p2 = place_frame(p.frame, &action, &alt, 0).unwrap();
    assert!(p2.frame < p.frame - 128 && p2.uc_stack.flags == SS_ONSTACK);
    // With SS_AUTODISARM the kernel disarms once the frame is written.
    let mut auto = AltStack::default();
    auto.sigaltstack(
        Some(StackT {
            flags: SS_AUTODISARM,
            size: 8192,
            ..stack
        }),
        0x7000_0000,
    )
    .unwrap();
    assert!(
        place_frame(0x7000_0000, &action, &auto, 512)
            .unwrap()
            .disarm
    );
}

fn any_regs() -> impl Strategy<Value = UserRegs> {
    (
        prop::array::uniform16(any::<u64>()),
        prop_oneof![0..USER_END, any::<u64>(), USER_END - 16..=USER_END + 16],
        prop_oneof![0..USER_END, any::<u64>()],
        any::<u64>(),
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(g, rsp, rip, flags, cs, ss)| {
            let mut values = [0; 18];
            values[..16].copy_from_slice(&g);
            values[15] = rsp;
            values[16] = rip;
            values[17] = flags;
            UserRegs {
                cs,
                ss,
                ..regs_from(values)
            }
        })
}

/// Kernel-only `rflags` bits: none may come back from a frame.
const PRIVILEGED: u64 = rflags::IOPL | rflags::NT | rflags::VM | rflags::VIF | rflags::VIP;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn round_trip(regs in any_regs(), mask in any::<u64>()) {
        let frame = encode_frame(&contents(regs, mask));
        match decode_frame(&frame, selectors()) {
            Ok(restored) => {
                prop_assert_eq!(restored.regs, sanitize(&regs, selectors()).unwrap());
                prop_assert_eq!(restored.mask, SignalSet::from_bits(mask).blockable());
                prop_assert_eq!(restored.fpstate, 0x7fff_0000);
                prop_assert_eq!(restored.uc_stack, contents(regs, mask).uc_stack);
                // Everything a user may set survives.
                prop_assert_eq!(restored.regs.rflags & rflags::USER_SETTABLE, regs.rflags & rflags::USER_SETTABLE);
            }
            Err(e) => {
                prop_assert_eq!(e, FrameError::BadFrame);
                prop_assert!(regs.rip >= USER_END || regs.rsp >= USER_END);
            }
        }
    }

    #[test]
    fn no_frame_returns_to_the_kernel(bytes in prop::collection::vec(any::<u8>(), FRAME_SIZE), regs in any_regs(), mix in any::<bool>()) {
        // Random bytes, or a well-formed frame with hostile values.
        let frame: [u8; FRAME_SIZE] = if mix {
            encode_frame(&contents(regs, !0))
        } else {
            bytes.try_into().unwrap()
        };
        if let Ok(restored) = decode_frame(&frame, selectors()) {
            let r = restored.regs;
            prop_assert!(r.rip < USER_END && r.rsp < USER_END);
            prop_assert_eq!((r.cs, r.ss), (0x2b, 0x23));
            prop_assert_eq!(r.cs & 3, 3);
            prop_assert_eq!(r.rflags & PRIVILEGED, 0);
            prop_assert_eq!(r.rflags & !(rflags::USER_SETTABLE | rflags::IF | rflags::RESERVED1), 0);
            prop_assert!(r.rflags & rflags::IF != 0);
            prop_assert!(!restored.mask.contains(Signal::SIGKILL) && !restored.mask.contains(Signal::SIGSTOP));
        }
    }

    #[test]
    fn frames_fit_where_they_are_placed(
        rsp in prop_oneof![0..0x1_0000u64, 0x10_0000..0x20_0000u64, any::<u64>()],
        onstack in any::<bool>(),
        alt_sp in 0x10_0000..0x18_0000u64,
        alt_size in 0..0x10_000u64,
        autodisarm in any::<bool>(),
        fpsize in prop_oneof![Just(0u64), Just(512), Just(2696), 0..5000u64],
    ) {
        let action = SigAction {
            handler: Handler::Function(0x40_1000),
            flags: sa::RESTORER | if onstack { sa::ONSTACK } else { 0 },
            ..SigAction::default()
        };
        let mut alt = AltStack::default();
        let _ = alt.sigaltstack(Some(StackT { sp: alt_sp, flags: if autodisarm { SS_AUTODISARM } else { 0 }, size: alt_size }), 0);
        if let Ok(p) = place_frame(rsp, &action, &alt, fpsize) {
            let frame_end = p.frame + FRAME_SIZE as u64;
            prop_assert_eq!((p.frame + 8) % 16, 0);
            if fpsize != 0 {
                prop_assert_eq!(p.fpstate % 64, 0);
                prop_assert!(frame_end <= p.fpstate);
            }
            let top = if fpsize != 0 { p.fpstate + fpsize } else { frame_end };
            match alt.range() {
                Some((base, size)) if p.frame >= base && top <= base + size => {}
                _ => prop_assert!(top <= rsp - 128, "below the red zone"),
            }
        }
    }
}
