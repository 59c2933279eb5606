use super::*;

#[test]
fn splitmix_matches_the_reference_sequence() {
    // The first outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
    let mut rng = SplitMix64::new(0);
    let first = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
    assert_eq!(
        first,
        [
            0xe220_a839_7b1d_cdaf,
            0x6e78_9e6a_a1b9_65f4,
            0x06c4_5d18_8009_454f
        ]
    );
    assert_eq!(rng.below(0), 0);
    assert_eq!(rng.below_usize(0), 0);
    assert!((0..1000).all(|_| rng.below(24) < 24));
}

#[test]
fn plan_decodes_part_seed_and_ops() {
    let all = Plan::from_arg(0);
    assert_eq!(
        all,
        Some(Plan {
            part: Part::All,
            ops: DEFAULT_OPS,
            seed: DEFAULT_SEED,
            check_every: CHECK_EVERY,
        })
    );
    let tty = Plan::from_arg((500 << 32) | (0x1234 << 8) | 7);
    assert_eq!(
        tty,
        Some(Plan {
            part: Part::One(DiffKind::Tty),
            ops: 500,
            seed: 0x1234,
            check_every: CHECK_EVERY,
        })
    );
    let always = Plan::from_arg(CHECK_ALWAYS | 6);
    assert_eq!(
        always.map(|plan| (plan.part, plan.check_every)),
        Some((Part::One(DiffKind::File), 1))
    );
    assert_eq!(
        Plan::from_arg(8).map(|plan| plan.part),
        Some(Part::TtyOutput)
    );
    assert_eq!(Plan::from_arg(9), None);
    assert_eq!(Plan::from_arg(0xff), None);
    assert_eq!(Plan::from_arg(0x7f), None);
    let parts = [1, 2, 3, 4, 5, 6].map(|arg| Plan::from_arg(arg).map(|plan| plan.part));
    assert_eq!(
        parts,
        [
            Some(Part::Differential),
            Some(Part::Invalidation),
            Some(Part::One(DiffKind::Null)),
            Some(Part::One(DiffKind::Zero)),
            Some(Part::One(DiffKind::Mem)),
            Some(Part::One(DiffKind::File)),
        ]
    );
}

#[test]
fn plan_selects_what_runs() {
    let plan = |arg| Plan::from_arg(arg).unwrap_or_else(|| panic!("arg {arg}"));
    assert!(DiffKind::ALL
        .iter()
        .all(|&kind| plan(0).runs_differential(kind)));
    assert!(plan(0).runs_invalidation());
    assert!(DiffKind::ALL
        .iter()
        .all(|&kind| plan(1).runs_differential(kind)));
    assert!(!plan(1).runs_invalidation());
    assert!(DiffKind::ALL
        .iter()
        .all(|&kind| !plan(2).runs_differential(kind)));
    assert!(plan(2).runs_invalidation());
    let mem = plan(5);
    assert!(mem.runs_differential(DiffKind::Mem) && !mem.runs_differential(DiffKind::File));
    assert!(!mem.runs_invalidation());
}

#[test]
fn patterns_are_fixed() {
    assert_eq!([mem_byte(0), mem_byte(1), mem_byte(37)], [3, 10, 6]);
    assert_eq!(mem_byte(u64::MAX), mem_byte(255));
    assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    // The source is the low byte of SplitMix64's output function.
    assert_eq!(SOURCE[0], mix(0).to_le_bytes()[0]);
    assert_eq!(SOURCE[0], 0xaf);
    let distinct = (0..=255_u8).filter(|byte| SOURCE.contains(byte)).count();
    assert_eq!(distinct, 256);
}

#[test]
fn bad_buffers_land_where_documented() {
    let end = ARENA_ADDR + ARENA_LEN;
    assert_eq!(Buf::Good.bad_address(end), None);
    assert_eq!(Buf::Null.bad_address(end), Some(0));
    assert_eq!(Buf::Kernel.bad_address(end), Some(KERNEL_ADDR));
    assert_eq!(Buf::NonCanonical.bad_address(end), Some(NON_CANONICAL));
    assert_eq!(Buf::Straddle { inside: 3 }.bad_address(end), Some(end - 3));
    assert_eq!(
        Buf::Straddle { inside: u64::MAX }.bad_address(end),
        Some(ARENA_ADDR)
    );
    assert_eq!(
        Buf::Unmapped { pages_past: 2 }.bad_address(end),
        Some(end + 2 * PAGE_SIZE)
    );
}

/// Draws `count` ops for `kind` with A at `position` of a file of `size`.
fn draw(kind: DiffKind, count: usize, position: u64, size: u64) -> impl Iterator<Item = Op> {
    let mut ops = OpGen::new(kind, 42);
    (0..count).map(move |_| ops.next(position, size))
}

#[test]
fn ops_stay_in_bounds() {
    for kind in DiffKind::ALL {
        for op in draw(kind, 20_000, 5000, 9000) {
            match op {
                Op::Read { len, buf } => {
                    assert!(kind != DiffKind::Tty, "tty read: {op}");
                    assert!(len <= MAX_IO, "{op}");
                    if let Buf::Straddle { inside } = buf {
                        assert!(inside >= 1 && inside < len as u64, "{op}");
                    }
                }
                Op::Write { len, src, buf } => {
                    assert!(src + len <= SOURCE_LEN, "{op}");
                    if kind == DiffKind::Tty {
                        assert!(len <= 3, "{op}");
                        assert!(src == 0, "{op}");
                    }
                    if let Buf::Straddle { inside } = buf {
                        assert!(inside >= 1 && inside < len as u64, "{op}");
                    }
                }
                Op::Seek { whence, offset } => {
                    if offset == i64::MAX {
                        assert_eq!(whence, Whence::Current);
                        continue;
                    }
                    let base: i128 = match whence {
                        Whence::Set => 0,
                        Whence::Current => 5000,
                        Whence::End => 9000,
                    };
                    let target = base + i128::from(offset);
                    let limit = match kind {
                        DiffKind::Mem => i128::from(MEM_SIZE + 64),
                        DiffKind::File => i128::from(9000 + SEEK_SLACK),
                        _ => 63,
                    };
                    assert!((-64..=limit).contains(&target), "{kind:?} {op}");
                }
                Op::Truncate => assert_eq!(kind, DiffKind::File),
                Op::Reopen { flags } => {
                    assert!(kind.reopen_flags().contains(&flags), "{op}");
                }
                Op::Share => panic!("the generator never draws Share"),
            }
        }
    }
}

#[test]
fn every_op_kind_is_drawn() {
    for kind in DiffKind::ALL {
        let ops = || draw(kind, 20_000, 100, 200);
        let count = |pred: fn(&Op) -> bool| ops().filter(pred).count();
        let reads = count(|op| matches!(op, Op::Read { .. }));
        let writes = count(|op| matches!(op, Op::Write { .. }));
        let seeks = count(|op| matches!(op, Op::Seek { .. }));
        let reopens = count(|op| matches!(op, Op::Reopen { .. }));
        let truncates = count(|op| matches!(op, Op::Truncate));
        let bad = count(|op| {
            matches!(
                op,
                Op::Read { buf, .. } | Op::Write { buf, .. } if *buf != Buf::Good
            )
        });
        let negative =
            count(|op| matches!(op, Op::Seek { whence: Whence::Set, offset } if *offset < 0));
        assert!(
            writes > 1000 && seeks > 1000 && reopens > 5 && bad > 100,
            "{kind:?}"
        );
        assert!(negative > 10, "{kind:?}");
        if kind == DiffKind::Tty {
            assert_eq!(reads, 0);
            let tiny = count(|op| {
                matches!(
                    op,
                    Op::Write {
                        len: 1..,
                        buf: Buf::Good,
                        ..
                    }
                )
            });
            assert!((5..=60).contains(&tiny), "{tiny} tiny tty writes");
        } else {
            assert!(reads > 5000, "{kind:?}");
        }
        assert_eq!(truncates > 0, kind == DiffKind::File, "{kind:?}");
    }
}

#[test]
fn big_files_get_truncated_and_overflow_needs_a_position() {
    assert!(draw(DiffKind::File, 100, 0, FILE_LIMIT + 1).all(|op| op == Op::Truncate));
    let overflow = Op::Seek {
        whence: Whence::Current,
        offset: i64::MAX,
    };
    assert!(draw(DiffKind::File, 20_000, 0, 10).all(|op| op != overflow));
    assert!(draw(DiffKind::File, 20_000, 7, 10).any(|op| op == overflow));
}

#[test]
fn share_lands_in_the_middle_half_and_runs_are_reproducible() {
    let mut ops = OpGen::new(DiffKind::Mem, 9);
    for _ in 0..1000 {
        let at = ops.share_at(100_000);
        assert!((25_000..75_000).contains(&at));
    }
    assert_eq!(OpGen::new(DiffKind::Null, 0).share_at(3), 0);
    let first: [Op; 50] = {
        let mut ops = draw(DiffKind::File, 50, 0, 0);
        core::array::from_fn(|_| ops.next().unwrap_or(Op::Share))
    };
    let again: [Op; 50] = {
        let mut ops = draw(DiffKind::File, 50, 0, 0);
        core::array::from_fn(|_| ops.next().unwrap_or(Op::Share))
    };
    assert_eq!(first, again);
}

#[test]
fn ops_display_what_a_failure_line_needs() {
    extern crate std;
    use std::string::ToString;
    let read = Op::Read {
        len: 17,
        buf: Buf::Straddle { inside: 3 },
    };
    assert_eq!(
        read.to_string(),
        "read(len 17, buf straddling arena end, 3 in)"
    );
    let seek = Op::Seek {
        whence: Whence::End,
        offset: -4,
    };
    assert_eq!(seek.to_string(), "seek(End, -4)");
    let reopen = Op::Reopen {
        flags: OpenFlags::READ | OpenFlags::APPEND | OpenFlags::WRITE,
    };
    assert_eq!(reopen.to_string(), "reopen(0x23)");
}

#[test]
fn the_tty_script_is_deterministic_and_covers_every_step() {
    extern crate std;
    use crate::tty_script::{TtyOp, TtyScript, LONGEST, TEXT, TEXT_LEN};
    let draw = |seed| {
        let mut script = TtyScript::new(seed);
        (0..20_000)
            .map(|_| script.next_op())
            .collect::<std::vec::Vec<_>>()
    };
    let ops = draw(DEFAULT_SEED);
    assert_eq!(ops, draw(DEFAULT_SEED), "one seed, one script");
    assert_ne!(ops, draw(DEFAULT_SEED + 1));
    let mut seen = [0_u32; 7];
    for op in &ops {
        let kind = match *op {
            TtyOp::Write { len: 0, .. } => 0,
            TtyOp::Write { src, len } => {
                assert!(src + len <= TEXT_LEN && len <= LONGEST);
                if len > 64 {
                    2
                } else {
                    1
                }
            }
            TtyOp::Straddle { inside, len } => {
                assert!(inside < len && len <= 64);
                3
            }
            TtyOp::Kernel { .. } => 4,
            TtyOp::Mode { raw: true } => 5,
            TtyOp::Mode { raw: false } => 6,
        };
        seen[kind] += 1;
    }
    assert!(seen.iter().all(|&n| n > 10), "every kind of step: {seen:?}");
    // Newlines for ONLCR, and nothing that reads as a test driver's line.
    assert!(TEXT.iter().filter(|&&b| b == b'\n').count() > TEXT_LEN / 16);
    assert!(!TEXT.iter().any(|b| b"[:,".contains(b)));
}

#[test]
fn a_straddling_write_sends_the_arena_tail_and_fails() {
    extern crate std;
    use crate::tty_script::{arena_byte, TtyOp};
    let op = TtyOp::Straddle { inside: 3, len: 10 };
    let mut sent = std::vec::Vec::new();
    op.sent(&mut |bytes| sent.extend_from_slice(bytes));
    let tail: std::vec::Vec<u8> = (ARENA_LEN - 3..ARENA_LEN).map(arena_byte).collect();
    assert_eq!(sent, tail);
    assert_eq!(op.result(), Err(sk_abi::SysError::BadAddress));
    assert_eq!(
        TtyOp::Kernel { len: 4 }.result(),
        Err(sk_abi::SysError::BadAddress)
    );
}
