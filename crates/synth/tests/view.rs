//! Views collapsed (`policy::view`): the folded window against an honest
//! walk of the levels, one at a time (property tests, aimed at the window
//! boundaries), and the plan of a view's slots: the same template with
//! other constants at every depth, error stubs for read-only and revoked
//! chains, the file-covers-the-window invariant.

use proptest::prelude::*;
use sk_synth::policy::{
    collapse, plan, Env, FileFacts, RoutineSpec, SioFacts, SioTarget, SlotPlan, ViewBase,
    ViewFacts, ViewLevel,
};

const MEM_BASE: u64 = 0xffff_8000_0009_0000;
const POSITION: u64 = 0xffff_8000_0020_0000;

fn env() -> Env {
    Env {
        is_enabled: true,
        table_handles: 64,
        bad_address: -14,
        generic_entry: 0xffff_ffff_8010_0000,
        slow_path: 0xffff_ffff_8010_0100,
        max_copy_bytes: 64 << 10,
        max_console_bytes: 64,
        yield_routine: None,
    }
}

fn level(offset: u64, length: u64) -> ViewLevel {
    ViewLevel {
        offset,
        length,
        can_read: true,
        can_write: true,
        is_revoked: false,
        prefix: None,
        line_state_cell: 0,
    }
}

fn facts(target: SioTarget, can_write: bool) -> SioFacts {
    SioFacts {
        target,
        can_read: true,
        can_write,
        is_append: false,
        position_cell: POSITION,
        owner: Some(7),
        is_shared: false,
        is_holder: false,
        is_revoked: false,
        handle: 5,
    }
}

fn file(size_capacity: u64) -> FileFacts {
    FileFacts {
        node: 3,
        data_addr: 0xffff_8000_0100_0000,
        capacity: size_capacity,
        size_cell: 0xffff_8000_0000_1000,
        generation: 9,
        is_unlinked: false,
    }
}

/// The generic path's walk, one level at a time (what `views.rs` does):
/// each level clips to its window and translates, then the next; the
/// base clips to its size. Returns (bytes read, base offset of the first).
fn walk(levels: &[ViewLevel], base_size: u64, pos: u64, len: u64) -> (u64, Option<u64>) {
    let (mut pos, mut len) = (pos, len);
    for l in levels {
        if pos >= l.length {
            return (0, None);
        }
        len = len.min(l.length - pos);
        match pos.checked_add(l.offset) {
            Some(p) => pos = p,
            None => return (0, None),
        }
    }
    if pos >= base_size {
        return (0, None);
    }
    let n = len.min(base_size - pos);
    (n, (n > 0).then_some(pos))
}

/// What `dev_mem_read` does on the folded window: `min(len, size - pos)`
/// from `base + pos`.
fn routine(view: &ViewFacts, pos: u64, len: u64) -> (u64, Option<u64>) {
    let w = view.window.expect("a window");
    if pos >= w.bytes {
        return (0, None);
    }
    let n = len.min(w.bytes - pos);
    (n, (n > 0).then(|| w.base + pos - MEM_BASE))
}

fn levels() -> impl Strategy<Value = Vec<ViewLevel>> {
    prop::collection::vec(
        (
            prop_oneof![0..64u64, Just(u64::MAX), Just(u64::MAX - 1), any::<u64>()],
            prop_oneof![0..200u64, Just(u64::MAX), any::<u64>()],
        )
            .prop_map(|(o, l)| level(o, l)),
        1..5,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// The folded window reads exactly what the honest walk reads, from
    /// the same base byte, for any chain and any position and length
    /// (aimed at every level's edges).
    #[test]
    fn collapsed_window_matches_the_walk(
        chain in levels(),
        base_size in prop_oneof![0..300u64, Just(4096u64)],
        pos in prop_oneof![0..300u64, any::<u64>()],
        len in prop_oneof![0..5u64, 0..300u64, Just(u64::MAX)],
    ) {
        // Every level's edges (in the view's coordinates), the base's,
        // and the random position, each with its neighbours.
        let mut marks = vec![0, base_size, pos];
        let mut sum = 0u64;
        for l in &chain {
            marks.push(l.length);
            marks.push(l.length.wrapping_sub(sum));
            sum = sum.wrapping_add(l.offset);
        }
        let view = collapse(&ViewBase::Mem { base: MEM_BASE, window_bytes: base_size }, &chain);
        for mark in marks {
            for d in -2i64..=2 {
                let pos = mark.wrapping_add_signed(d);
                prop_assert_eq!(walk(&chain, base_size, pos, len), routine(&view, pos, len),
                    "pos {} len {} chain {:?}", pos, len, chain);
            }
        }
    }

    /// A file window is collapsed only while the file covers it, and then
    /// reads what the walk reads.
    #[test]
    fn file_window_needs_a_covering_file(chain in levels(), size in 0..300u64, pos in 0..300u64) {
        let base = ViewBase::File { file: file(4096), size };
        let view = collapse(&base, &chain);
        let (start, end) = sk_synth::policy::chain_window(&chain);
        prop_assert_eq!(view.window.is_some(), end <= size);
        if let Some(w) = view.window {
            prop_assert_eq!(w.base, file(4096).data_addr + start);
            prop_assert_eq!(w.file, Some((3, 9)));
            let walked = walk(&chain, size, pos, 7).0;
            prop_assert_eq!(walked, 7u64.min(w.bytes.saturating_sub(pos)));
        }
    }
}

fn view_target(base: &ViewBase, chain: &[ViewLevel]) -> SioTarget {
    SioTarget::View(collapse(base, chain))
}

/// The read routine's spec.
fn read_spec(target: SioTarget, can_write: bool) -> RoutineSpec {
    match plan(&facts(target, can_write), &env()).read {
        SlotPlan::Routine(spec) => spec,
        other => panic!("no routine: {other:?}"),
    }
}

#[test]
fn a_mem_window_at_depth_three_is_dev_mem_read_with_other_constants() {
    let mem = ViewBase::Mem {
        base: MEM_BASE,
        window_bytes: 0x1000,
    };
    let direct = read_spec(
        SioTarget::Mem {
            base: MEM_BASE,
            window_bytes: 0x1000,
        },
        false,
    );
    let chain = [level(1, 10), level(2, 100), level(5, 0x800)];
    let deep = read_spec(view_target(&mem, &chain), false);
    assert_eq!(direct.template().name, deep.template().name);
    let (RoutineSpec::DevMemRead(a), RoutineSpec::DevMemRead(b)) = (direct, deep) else {
        panic!("not dev_mem_read");
    };
    // Base moved by 5 + 2 + 1, size the intersection: min(10, 100 - 1, 0x800 - 3).
    assert_eq!(b.base.0, a.base.0 + 8);
    assert_eq!(b.window_size.0, 10);
    assert_eq!(b.position_cell, a.position_cell);
    // Depth 1, 2, 3 of the same window: one shape.
    for depth in 1..=3 {
        let chain = vec![level(0, 10); depth];
        let spec = read_spec(view_target(&mem, &chain), false);
        assert_eq!(spec.template().name, direct.template().name);
    }
}

#[test]
fn read_only_and_revoked_views_are_error_stubs_in_code() {
    let mem = ViewBase::Mem {
        base: MEM_BASE,
        window_bytes: 0x1000,
    };
    let file_base = ViewBase::File {
        file: file(4096),
        size: 100,
    };
    // Read-only (the view's own flags lack WRITE): write is NotPermitted.
    let p = plan(
        &facts(view_target(&file_base, &[level(0, 50)]), false),
        &env(),
    );
    assert!(matches!(
        p.read,
        SlotPlan::Routine(RoutineSpec::DevMemRead(_))
    ));
    assert_eq!(
        p.write,
        SlotPlan::ErrorStub(-(sk_abi::SysError::NotPermitted.code() as i32))
    );
    // A read-only level lower in the chain forbids writes too.
    let mut lower = level(0, 50);
    lower.can_write = false;
    let p = plan(
        &facts(view_target(&file_base, &[level(0, 10), lower]), true),
        &env(),
    );
    assert_eq!(
        p.write,
        SlotPlan::ErrorStub(-(sk_abi::SysError::NotPermitted.code() as i32))
    );
    // A writable window of a file: writes take the generic walk.
    let p = plan(
        &facts(view_target(&file_base, &[level(0, 50)]), true),
        &env(),
    );
    assert_eq!(p.write, SlotPlan::Generic);
    // Revoked anywhere: both slots Revoked.
    let mut revoked = level(0, 50);
    revoked.is_revoked = true;
    let revoked_stub = SlotPlan::ErrorStub(-(sk_abi::SysError::Revoked.code() as i32));
    let p = plan(
        &facts(view_target(&mem, &[level(0, 1), revoked]), false),
        &env(),
    );
    assert_eq!((p.read, p.write), (revoked_stub, revoked_stub));
    // Shared with another machine: the window read stays (it checks its
    // window on every call).
    let mut shared = facts(view_target(&mem, &[level(0, 5)]), false);
    shared.is_shared = true;
    shared.is_holder = true;
    assert!(matches!(plan(&shared, &env()).read, SlotPlan::Routine(_)));
}

#[test]
fn a_file_that_stops_covering_the_window_goes_generic() {
    let chain = [level(10, 20)];
    let covered = ViewBase::File {
        file: file(4096),
        size: 30,
    };
    let short = ViewBase::File {
        file: file(4096),
        size: 29,
    };
    assert!(matches!(
        plan(&facts(view_target(&covered, &chain), false), &env()).read,
        SlotPlan::Routine(_)
    ));
    assert_eq!(
        plan(&facts(view_target(&short, &chain), false), &env()).read,
        SlotPlan::Generic
    );
    let mut unlinked = file(4096);
    unlinked.is_unlinked = true;
    let gone = ViewBase::File {
        file: unlinked,
        size: 30,
    };
    assert_eq!(
        plan(&facts(view_target(&gone, &chain), false), &env()).read,
        SlotPlan::Generic
    );
    // A window of 2 GiB or more does not fit the hole: generic.
    let big = [level(0, 1 << 31)];
    let mem = ViewBase::Mem {
        base: MEM_BASE,
        window_bytes: u64::MAX,
    };
    assert_eq!(
        plan(&facts(view_target(&mem, &big), false), &env()).read,
        SlotPlan::Generic
    );
}
