use crate::entries::{self, Want};
use crate::model::{self, Buf, Io, Target, CHUNK};
use crate::plan::{Mode, Plan, DEFAULT_CALLS, RESERVED_BIT};
use crate::priority::{check_query, PriorityClock, ScpuPriority};
use crate::regs::{self, Captured, Rule};
use crate::rng::SplitMix64;
use crate::stats::{Cell, Stats, NO_KIND, WORDS};
use sk_abi::{Call, Kind, SysError, Whence, USER_END};

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
    assert!((0..1000).all(|_| rng.below(24) < 24));
    assert!((0..1000).all(|_| (5..=9).contains(&rng.range(5, 9))));
    assert_eq!(rng.below(0), 0);
    // Forks differ from each other and do not advance the parent.
    let parent = SplitMix64::new(7);
    let (mut a, mut b) = (parent.fork(1), parent.fork(2));
    assert_ne!(a.next_u64(), b.next_u64());
    assert_eq!(
        parent.fork(1).next_u64(),
        SplitMix64::new(7).fork(1).next_u64()
    );
}

#[test]
fn start_argument_round_trips() {
    assert_eq!(
        Plan::from_arg(1),
        Some(Plan {
            mode: Mode::Main,
            seed: 1,
            calls: DEFAULT_CALLS,
        })
    );
    // The earlier fuzzer's `(calls << 32) | seed` still means the same.
    let old = Plan::from_arg((0x4000_0000 << 32) | 1).unwrap();
    assert_eq!(
        (old.mode, old.seed, old.calls),
        (Mode::Main, 1, 0x4000_0000)
    );
    for mode in [Mode::Main, Mode::Child, Mode::Victim, Mode::Echo] {
        let plan = Plan {
            mode,
            seed: 0xab_cdef,
            calls: 12345,
        };
        assert_eq!(Plan::from_arg(plan.to_arg()), Some(plan));
    }
    assert_eq!(Plan::from_arg(9 << 24), None);
    // Bit 31 is reserved (it was the "strict" bit): refused, not ignored.
    assert_eq!(Plan::from_arg(RESERVED_BIT | 5), None);
    assert_eq!(
        Plan::from_arg((7 << 32) | RESERVED_BIT | (1 << 24) | 5),
        None
    );
    assert!(Plan::from_arg((7 << 32) | (1 << 24) | 5).is_some());
    assert!((0..=u64::from(u32::MAX))
        .step_by(0x0100_0001)
        .all(|low| Plan::from_arg(low).is_none_or(|p| p.to_arg() & RESERVED_BIT == 0)));
}

#[test]
fn stats_count_merge_and_travel() {
    let mut a = Stats::new();
    a.record(Cell::new(Call::Read, Some(Kind::Sio), true), 5);
    a.record(Cell::new(Call::Read, Some(Kind::Sio), true), -2);
    a.record(Cell::new(Call::Terminate, None, false), -2);
    a.record(Cell::garbage(), -1);
    assert_eq!((a.total, a.live), (4, 2));
    assert_eq!((a.calls[4][3], a.ok[4][3]), (2, 1));
    assert_eq!(a.calls[1][NO_KIND], 1);
    assert_eq!(a.calls[7][NO_KIND], 1);
    a.failures = 3;
    a.twins = 9;
    let words = a.to_words();
    assert_eq!(words.len(), WORDS);
    assert_eq!(Stats::from_words(&words), a);
    let mut sum = Stats::new();
    sum.add(&a);
    sum.add(&a);
    assert_eq!((sum.total, sum.live, sum.failures), (8, 4, 6));
    assert_eq!(sum.live_permille(), 500);
}

#[test]
fn the_verdict_needs_every_applicable_cell_and_80_percent() {
    let mut stats = Stats::new();
    for row in 0..7_u8 {
        let call = Call::from_number(u64::from(row)).unwrap();
        for kind in [Kind::Smach, Kind::Scpu, Kind::Smem, Kind::Sio] {
            stats.record(Cell::new(call, Some(kind), true), 0);
        }
    }
    let verdict = stats.verdict(28);
    assert!(verdict.passes(), "{verdict:?}");
    // Read and write on non-SIO kinds, null on non-SMACH: not applicable.
    assert_eq!(stats.empty_cells().count(), 0);
    let mut fresh = Stats::new();
    fresh.record(Cell::new(Call::Null, Some(Kind::Smach), true), 0);
    assert_eq!(fresh.empty_cells().count(), 18);
    // Too few live calls.
    for _ in 0..10 {
        stats.record(Cell::garbage(), -2);
    }
    assert!(stats.verdict(28).too_few_live);
    assert!(stats.verdict(1000).too_few_calls);
}

fn captured() -> Captured {
    let mut before = [0_u64; 16];
    for (i, r) in before.iter_mut().enumerate() {
        *r = 0x5e65_0000_0000 + i as u64;
    }
    let mut after = before;
    after[regs::RAX] = 3;
    after[regs::RCX] = 0x20_1234;
    after[regs::R11] = 0x246;
    after[regs::RSP] = 0x7fff_0000;
    Captured {
        before,
        after,
        flags: 0x246,
        flags_after: 0x246,
        rsp: 0x7fff_0000,
        return_address: 0x20_1234,
    }
}

#[test]
fn register_rules() {
    let good = captured();
    assert_eq!(regs::check(&good, &[]), Ok(()));
    let broken = |f: &dyn Fn(&mut Captured), buffers: &[(u64, u64)]| {
        let mut call = captured();
        f(&mut call);
        regs::check(&call, buffers)
            .err()
            .map(|b| (b.register, b.rule))
    };
    assert_eq!(
        broken(&|c| c.after[regs::RBX] ^= 1, &[]),
        Some((regs::RBX, Rule::NotPreserved))
    );
    assert_eq!(
        broken(&|c| c.after[regs::RSP] += 8, &[]),
        Some((regs::RSP, Rule::NotPreserved))
    );
    assert_eq!(
        broken(&|c| c.after[regs::RCX] = 0, &[]),
        Some((regs::RCX, Rule::ReturnAddress))
    );
    assert_eq!(
        broken(&|c| c.after[regs::R11] = 0x202, &[]),
        Some((regs::R11, Rule::SavedFlags))
    );
    assert_eq!(
        broken(&|c| c.flags_after |= regs::AC, &[]),
        Some((16, Rule::FlagsAfter))
    );
    // Argument registers: input, 0 or in a buffer.
    assert_eq!(broken(&|c| c.after[regs::RDI] = 0, &[]), None);
    assert_eq!(
        broken(
            &|c| c.after[regs::RDI] = 0x1000_0010,
            &[(0x1000_0000, 0x1000_0100)]
        ),
        None
    );
    assert_eq!(
        broken(
            &|c| c.after[regs::RSI] = 0x1000_0200,
            &[(0x1000_0000, 0x1000_0100)]
        ),
        Some((regs::RSI, Rule::Argument))
    );
    assert_eq!(
        broken(&|c| c.after[regs::R8] = 0xffff_8000_0000_1000, &[]),
        Some((regs::R8, Rule::Argument))
    );
    // Kernel values: an error code in rax is fine, anything else not.
    assert_eq!(broken(&|c| c.after[regs::RAX] = (-2_i64) as u64, &[]), None);
    assert_eq!(
        broken(&|c| c.after[regs::RAX] = 0xffff_ffff_8010_0000, &[]),
        Some((regs::RAX, Rule::KernelValue))
    );
    // The caller's own kernel-half input, left alone, reveals nothing.
    let mut call = captured();
    call.before[regs::R9] = 0xffff_8000_0000_0000;
    call.after[regs::R9] = 0xffff_8000_0000_0000;
    assert_eq!(regs::check(&call, &[]), Ok(()));
}

fn file(pos: u64, size: u64) -> Io {
    Io {
        target: Target::File,
        can_read: true,
        can_write: true,
        append: false,
        pos,
        size,
    }
}

#[test]
fn model_reads() {
    let io = file(10, 100);
    let read = model::read(&io, 0x1000, 50, Buf::Good);
    assert_eq!((read.result, read.pos, read.from), (Ok(50), 60, 10));
    assert_eq!(model::read(&io, 0x1000, 500, Buf::Good).result, Ok(90));
    assert_eq!(
        model::read(&file(200, 100), 0x1000, 5, Buf::Good).result,
        Ok(0)
    );
    // Checks in order: permission, range, then the buffer.
    let write_only = Io {
        can_read: false,
        ..io
    };
    assert_eq!(
        model::read(&write_only, USER_END, 5, Buf::Good).result,
        Err(SysError::NotPermitted)
    );
    assert_eq!(
        model::read(&io, USER_END - 4, 5, Buf::Good).result,
        Err(SysError::BadAddress)
    );
    // A fault: in the first chunk fails, in a later one returns the chunks
    // before it; nothing to copy never faults.
    assert_eq!(
        model::read(&io, 0x1000, 50, Buf::Prefix(20)).result,
        Err(SysError::BadAddress)
    );
    let big = file(0, 3 * CHUNK);
    let read = model::read(&big, 0x1000, 3 * CHUNK, Buf::Prefix(CHUNK + 5));
    assert_eq!((read.result, read.pos), (Ok(CHUNK), CHUNK));
    assert_eq!(
        model::read(&file(100, 100), 0x1000, 9, Buf::Prefix(0)).result,
        Ok(0)
    );
    // Devices.
    let zero = Io {
        target: Target::Zero,
        ..io
    };
    assert_eq!(model::read(&zero, 0x1000, 7, Buf::Good).result, Ok(7));
    let mem = Io {
        target: Target::Mem,
        pos: (16 << 20) - 3,
        ..io
    };
    assert_eq!(model::read(&mem, 0x1000, 7, Buf::Good).result, Ok(3));
    let dir = Io {
        target: Target::Dir,
        ..io
    };
    assert_eq!(
        model::read(&dir, 0x1000, 7, Buf::Good).result,
        Err(SysError::IsDir)
    );
}

#[test]
fn model_writes() {
    let io = file(10, 5);
    let write = model::write(&io, 0x1000, 20, Buf::Good);
    assert_eq!(
        (write.result, write.pos, write.size, write.written),
        (Ok(20), 30, 30, (10, 20))
    );
    let append = Io { append: true, ..io };
    let write = model::write(&append, 0x1000, 20, Buf::Good);
    assert_eq!((write.pos, write.size, write.written), (25, 25, (5, 20)));
    // A fault: the bytes before it are written whatever the result says.
    let write = model::write(&io, 0x1000, 20, Buf::Prefix(7));
    assert_eq!(
        (write.result, write.pos, write.written),
        (Err(SysError::BadAddress), 17, (10, 7))
    );
    // A fault past the first chunk: the call returns every byte written,
    // as the position moved (not just the whole chunks before the fault).
    let write = model::write(&file(0, 0), 0x1000, 2 * CHUNK, Buf::Prefix(CHUNK + 1));
    assert_eq!(
        (write.result, write.pos, write.size, write.written),
        (Ok(CHUNK + 1), CHUNK + 1, CHUNK + 1, (0, CHUNK + 1))
    );
    let write = model::write(&file(5, 5), 0x1000, 3 * CHUNK, Buf::Prefix(2 * CHUNK));
    assert_eq!((write.result, write.pos), (Ok(2 * CHUNK), 2 * CHUNK + 5));
    // Right at the end of the first chunk: the second moves nothing.
    let write = model::write(&file(0, 0), 0x1000, CHUNK + 9, Buf::Prefix(CHUNK));
    assert_eq!((write.result, write.pos), (Ok(CHUNK), CHUNK));
    // A fault in the first chunk of a long write: BadAddress, and still
    // the bytes before it written.
    let write = model::write(&file(0, 0), 0x1000, 2 * CHUNK, Buf::Prefix(CHUNK - 1));
    assert_eq!(
        (write.result, write.pos, write.written),
        (Err(SysError::BadAddress), CHUNK - 1, (0, CHUNK - 1))
    );
    // A long range that leaves user space moves nothing, wherever the
    // fault would have been.
    let write = model::write(&io, USER_END - CHUNK, 2 * CHUNK, Buf::Prefix(CHUNK + 3));
    assert_eq!(
        (write.result, write.pos, write.written.1),
        (Err(SysError::BadAddress), io.pos, 0)
    );
    let write = model::write(&io, 0x1000, u64::MAX - 0x800, Buf::Prefix(2 * CHUNK));
    assert_eq!(
        (write.result, write.pos),
        (Err(SysError::BadAddress), io.pos)
    );
    // Reads are unchanged: the faulting chunk moves nothing.
    let read = model::read(
        &file(0, 4 * CHUNK),
        0x1000,
        3 * CHUNK,
        Buf::Prefix(CHUNK + 1),
    );
    assert_eq!((read.result, read.pos), (Ok(CHUNK), CHUNK));
    // Past the file size limit.
    let far = file(model::MAX_FILE_BYTES, 0);
    let write = model::write(&far, 0x1000, 1, Buf::Good);
    assert_eq!(
        (write.result, write.pos, write.size),
        (Err(SysError::FileTooLarge), far.pos, 0)
    );
    // Devices swallow writes without touching the buffer.
    let null = Io {
        target: Target::Null,
        ..io
    };
    assert_eq!(model::write(&null, 0x1000, 9, Buf::Prefix(0)).result, Ok(9));
    // The model's contents: the gap reads as zeros.
    let mut content = [0xee_u8; 16];
    assert!(model::apply_write(&mut content, 2, (5, 3), &[1, 2, 3]));
    assert_eq!(&content[..8], &[0xee, 0xee, 0, 0, 0, 1, 2, 3]);
    assert!(!model::apply_write(&mut content, 2, (15, 3), &[1, 2, 3]));
}

#[test]
fn model_seeks_and_patterns() {
    let io = file(10, 100);
    assert_eq!(model::seek(&io, Whence::End, -1), Ok(99));
    assert_eq!(
        model::seek(&io, Whence::Current, -11),
        Err(SysError::BadOffset)
    );
    assert_eq!(model::seek(&io, Whence::Set, i64::MAX), Ok(i64::MAX as u64));
    assert_eq!(
        model::seek(&io, Whence::Current, i64::MAX),
        Err(SysError::BadOffset)
    );
    let zero = Io {
        target: Target::Zero,
        ..io
    };
    assert_eq!(model::seek(&zero, Whence::Current, -100), Ok(0));
    let bytes: [u8; 5] = core::array::from_fn(|i| sk_abi::dev_mem_byte(1000 + i as u64));
    assert!(model::is_dev_mem(&bytes, 1000));
    assert!(!model::is_dev_mem(&bytes, 1001));
    assert!(model::is_dev_mem_run(&bytes));
    assert!(!model::is_dev_mem_run(&[1, 8, 16]));
}

#[test]
fn hostile_entries_cover_every_kind_and_want_what_the_docs_say() {
    let mut rng = SplitMix64::new(3);
    let mut seen = [false; 17];
    for index in 0..64 {
        let entry = entries::draw(index, &mut rng);
        seen[usize::try_from(entry.mode).unwrap()] = true;
        match entry.mode {
            0 if (0x28..=0x2b).contains(&entry.param) => assert_eq!(entry.want, Want::Survived),
            10 | 12 | 16 => assert_eq!(entry.want, Want::Zero),
            4 => assert!(!(0x28..=0x2b).contains(&(entry.param & 0xffff))),
            _ => assert_ne!(entry.want, Want::Zero),
        }
    }
    assert!(seen.iter().enumerate().all(|(mode, &s)| s || mode == 13));
    assert!(Want::Killed.accepts(137) && !Want::Killed.accepts(3));
    assert!(Want::KilledOrSurvived.accepts(3) && !Want::KilledOrSurvived.accepts(4));
}

#[test]
fn scpu_priority_zero_is_zero() {
    // The ABI: 0 is the lowest priority, not "the default".
    let model = ScpuPriority::exact(0, 4);
    assert_eq!(check_query(model, 0, 4, 4), Some(ScpuPriority::exact(0, 4)));
    assert_eq!(check_query(model, sk_abi::DEFAULT_PRIORITY, 4, 4), None);
}

#[test]
fn scpu_priority_is_exact_unless_a_priority_self_call_may_have_landed() {
    let model = ScpuPriority::exact(5, 2);
    // No priority-self call started since the one that set it finished:
    // exact.
    assert_eq!(check_query(model, 5, 2, 2), Some(ScpuPriority::exact(5, 2)));
    assert_eq!(check_query(model, 7, 2, 2), None);
    assert_eq!(check_query(model, 0, 2, 2), None);
    // One started (maybe not finished, maybe landed before the query):
    // any valid priority, adopted with the new baseline.
    assert_eq!(check_query(model, 7, 2, 3), Some(ScpuPriority::exact(7, 2)));
    assert_eq!(check_query(model, 5, 3, 3), Some(ScpuPriority::exact(5, 3)));
    assert_eq!(check_query(model, 8, 3, 3), None);
    // The adopted value is exact again while nothing else starts.
    let adopted = check_query(model, 1, 3, 4).unwrap();
    assert_eq!(check_query(adopted, 1, 3, 3), Some(adopted));
    assert_eq!(check_query(adopted, 2, 3, 3), None);

    // The clock: `started` moves before a call, `finished` after it, so a
    // call in flight during a query shows in `started` only.
    let clock = PriorityClock::new();
    let since = clock.finished();
    clock.start();
    // ... the call takes effect here, its fuzzer is preempted, a query
    // reads the new value ...
    let (finished_before, started_after) = (clock.finished(), clock.started());
    let model = ScpuPriority::exact(5, since);
    assert_eq!(
        check_query(model, 2, finished_before, started_after),
        Some(ScpuPriority::exact(2, 0))
    );
    clock.finish();
    // The value adopted then is not trusted yet (the call was in flight at
    // that query: it might have landed after it) ...
    let adopted = ScpuPriority::exact(2, 0);
    let next = check_query(adopted, 6, clock.finished(), clock.started());
    assert_eq!(next, Some(ScpuPriority::exact(6, 1)));
    // ... but one read with nothing in flight is: exact from then on.
    let exact = next.unwrap();
    assert_eq!(
        check_query(exact, 6, clock.finished(), clock.started()),
        Some(exact)
    );
    assert_eq!(
        check_query(exact, 2, clock.finished(), clock.started()),
        None
    );
}

#[test]
fn a_child_smachs_asked_priority_is_a_bound_then_what_a_query_saw() {
    // In a child SMACH the kernel caps what was asked at the parent's
    // priority, unknown here: any value up to the asked one is right,
    // nothing above it, and the value seen is exact from then on.
    let asked = ScpuPriority::asked(5, 2, true);
    for seen in 0..=5 {
        assert_eq!(
            check_query(asked, seen, 2, 2),
            Some(ScpuPriority::exact(seen, 2))
        );
    }
    assert_eq!(check_query(asked, 6, 2, 2), None);
    let adopted = ScpuPriority::exact(3, 2);
    assert_eq!(check_query(adopted, 2, 2, 2), None);
    // A root SMACH's priority is exact.
    assert_eq!(check_query(ScpuPriority::asked(5, 2, false), 4, 2, 2), None);
}
