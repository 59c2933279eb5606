//! A chain of prefix views folded into one routine (`policy::prefix_chain`,
//! `tty_write_prefixed`), against the one rule, `sk_sio::splice`.
//!
//! - The fold: for random chains of 1 to 4 levels, the folded prefix is
//!   what `splice` puts before a line when every level is at a line's
//!   start; chains it must not fold (a raw tty, 5 levels, a window level)
//!   are not folded; the plan of a prefix view's write slot follows.
//! - Differential (STYLE §7): random writes (newlines frequent, lengths
//!   around `max_len`, bad ranges, buffers running into the guard page,
//!   levels put in different line states between calls) through
//!   `tty_write_prefixed_sink` — the very upper fragment of the kernel's
//!   `tty_write_prefixed`, with the holes the policy planned, spliced
//!   with a memory sink instead of the UART, executed in `sk-hostexec` —
//!   and through a model of the kernel's generic path (`splice` over the
//!   levels' own states, then the cooked line discipline's `'\n'` →
//!   `"\r\n"`). Every call the routine does must give the generic result,
//!   bytes and line states; every call it sends to the slow path must be
//!   one it may not do, and must put nothing out.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use iced_x86::code_asm::{qword_ptr, r12, r13, r14, rax, rbx, rdi, rsi, CodeAssembler};
use proptest::prelude::*;
use sk_abi::SysError;
use sk_hostexec::{Fixup, Registers, Sandbox};
use sk_sio::{splice, LinePrefix};
use sk_synth::policy::prefix_chain::{fold, prefixed_write};
use sk_synth::policy::{
    collapse, plan, Env, LevelPrefix, PrefixedChain, RoutineSpec, SioFacts, SioTarget, SlotPlan,
    ViewBase, ViewLevel,
};
use sk_synth::templates::{TtyWritePrefixedSinkHoles, COLLAPSED_TTY_WRITE_PREFIXED_SINK};
use sk_synth::{instantiate_collapsed, verify_instance, HoleSet, Imm64, Smap};

const BAD_ADDRESS: i32 = -(SysError::BadAddress.code() as i32);
const SLOW_PATH_SENTINEL: u64 = 0x5555;
const MAX_LEN: u64 = 64;
const TTY: ViewBase = ViewBase::Tty {
    is_raw: false,
    data_port: 0x3f8,
    status_port: 0x3fd,
};

// Data region layout.
const CURSOR_CELL: usize = 0;
const CELLS: usize = 0x40;
const TABLE: usize = 0x1000;
const TABLE_ENTRY: usize = 32;
const MAX_OPS: usize = 300;
const SINK: usize = 0x10000;
const USER: usize = 0x40000;
const USER_LEN: usize = 0x10000;
const TAIL: usize = USER + USER_LEN - 0x100;
const DATA_LEN: usize = USER + USER_LEN;

// Code region layout.
const ROUTINE: u64 = 0;
const SLOW_PATH: u64 = 0x800;
const DRIVER: u64 = 0xc00;

fn env() -> Env {
    Env {
        is_enabled: true,
        table_handles: 64,
        bad_address: BAD_ADDRESS,
        generic_entry: 0xffff_ffff_8010_0000,
        slow_path: 0xffff_ffff_8010_0100,
        max_copy_bytes: 64 << 10,
        max_console_bytes: MAX_LEN as u32,
        yield_routine: None,
    }
}

fn level(prefix: &[u8], cell: u64) -> ViewLevel {
    ViewLevel {
        offset: 0,
        length: u64::MAX,
        can_read: false,
        can_write: true,
        is_revoked: false,
        prefix: LevelPrefix::new(prefix),
        line_state_cell: cell,
    }
}

/// The levels of a chain (the view called first) with cells at `cells`.
fn levels(prefixes: &[Vec<u8>], cells: u64) -> Vec<ViewLevel> {
    prefixes
        .iter()
        .enumerate()
        .map(|(i, p)| level(p, cells + 8 * i as u64))
        .collect()
}

/// `splice` as the kernel's generic path runs it (nearest the tty first),
/// then the cooked line discipline; `states[i]` is level `i`'s (the view
/// called first), true at a line's start.
fn generic(prefixes: &[Vec<u8>], states: &mut [bool], input: &[u8]) -> Vec<u8> {
    let nearest_first: Vec<LinePrefix> = prefixes
        .iter()
        .rev()
        .map(|p| LinePrefix::new(p).unwrap())
        .collect();
    let mut at_start: Vec<bool> = states.iter().rev().copied().collect();
    let mut out = Vec::new();
    splice(&nearest_first, &mut at_start, input, &mut |bytes| {
        for &b in bytes {
            if b == b'\n' {
                out.push(b'\r');
            }
            out.push(b);
        }
    });
    for (state, new) in states.iter_mut().zip(at_start.iter().rev()) {
        *state = *new;
    }
    out
}

fn prefix_byte() -> impl Strategy<Value = u8> {
    prop_oneof![b' '..=b'~', Just(b'\t')]
}

/// 1 to 4 levels, 64 prefix bytes at most.
fn chain() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(prefix_byte(), 1..=16), 1..=4)
}

#[test]
fn chains_it_must_not_fold_are_not_folded() {
    let p = vec![b'x'; 4];
    let four = levels(&[p.clone(), p.clone(), p.clone(), p.clone()], 0x1000);
    assert!(fold(&TTY, &four).is_some());
    let five = levels(
        &[p.clone(), p.clone(), p.clone(), p.clone(), p.clone()],
        0x1000,
    );
    assert_eq!(fold(&TTY, &five), None, "deeper than the routine's cells");
    let raw = ViewBase::Tty {
        is_raw: true,
        data_port: 0x3f8,
        status_port: 0x3fd,
    };
    assert_eq!(fold(&raw, &four), None, "a raw tty");
    assert_eq!(fold(&ViewBase::Other, &four), None);
    let mut window = four.clone();
    window[2].prefix = None;
    assert_eq!(fold(&TTY, &window), None, "a level without a prefix");
    let mut no_cell = four;
    no_cell[1].line_state_cell = 0;
    assert_eq!(fold(&TTY, &no_cell), None);
    assert_eq!(fold(&TTY, &[]), None);
}

fn prefix_view_facts(levels: &[ViewLevel], can_write: bool) -> SioFacts {
    SioFacts {
        target: SioTarget::View(collapse(&TTY, levels)),
        can_read: false,
        can_write,
        is_append: false,
        position_cell: levels[0].line_state_cell,
        owner: Some(7),
        is_shared: false,
        handle: 3,
        is_holder: false,
        is_revoked: false,
    }
}

#[test]
fn a_prefix_views_write_slot_is_the_folded_routine_at_every_depth() {
    let p: Vec<Vec<u8>> = vec![b"[a] ".to_vec(), b"[x] ".to_vec(), b"[y] ".to_vec()];
    for depth in 1..=3 {
        let chain = levels(&p[..depth], 0x1000);
        let planned = plan(&prefix_view_facts(&chain, true), &env());
        let SlotPlan::Routine(RoutineSpec::TtyWritePrefixed(h)) = planned.write else {
            panic!("depth {depth}: {planned:?}");
        };
        assert_eq!(h.depth(), depth as u32);
        assert_eq!(h.prefix_len.0, 4 * depth as i32);
        // The read slot: a prefix view has no READ.
        assert!(matches!(planned.read, SlotPlan::ErrorStub(_)));
    }
    // Revoked anywhere: both slots the Revoked stub.
    let mut revoked = levels(&p, 0x1000);
    revoked[2].is_revoked = true;
    let planned = plan(&prefix_view_facts(&revoked, true), &env());
    let stub = SlotPlan::ErrorStub(-(SysError::Revoked.code() as i32));
    assert_eq!((planned.read, planned.write), (stub, stub));
    // A raw tty: generic.
    let raw = ViewBase::Tty {
        is_raw: true,
        data_port: 0x3f8,
        status_port: 0x3fd,
    };
    let facts = SioFacts {
        target: SioTarget::View(collapse(&raw, &levels(&p, 0x1000))),
        ..prefix_view_facts(&levels(&p, 0x1000), true)
    };
    assert_eq!(plan(&facts, &env()).write, SlotPlan::Generic);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    /// Every level at a line's start: `splice` puts out the folded prefix
    /// and then the line; the holes carry its bytes, little-endian.
    #[test]
    fn the_folded_prefix_is_what_splice_puts_before_a_line(prefixes in chain()) {
        let chain = fold(&TTY, &levels(&prefixes, 0x1000)).unwrap();
        let mut states = vec![true; prefixes.len()];
        let out = generic(&prefixes, &mut states, b"z");
        prop_assert_eq!(&out[..out.len() - 1], chain.prefix_bytes());
        let Some(RoutineSpec::TtyWritePrefixed(h)) = prefixed_write(&chain, &env()) else {
            panic!("no routine");
        };
        let words = [h.prefix_0, h.prefix_1, h.prefix_2, h.prefix_3,
                     h.prefix_4, h.prefix_5, h.prefix_6, h.prefix_7];
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.0.to_le_bytes()).collect();
        prop_assert_eq!(&bytes[..chain.prefix_bytes().len()], chain.prefix_bytes());
        prop_assert!((i64::from(h.max_newlines.0) + 1) * i64::from(h.prefix_len.0) <= 128
            || h.max_newlines.0 == 0);
    }
}

// ---- differential ----------------------------------------------------------

/// One step.
#[derive(Clone, Debug)]
enum Op {
    /// A buffer of these bytes, mapped.
    Write(Vec<u8>),
    /// `len` bytes from the tail: the first `good` mapped, then the guard page.
    RunsIntoGuard { good: usize, len: u64 },
    /// A range the user may not name.
    BadRange { buf: u64, len: u64 },
    /// Level `level`'s own stream (a shorter chain) ended mid-line
    /// (`false`) or at a line's start: its cell changes between calls.
    SetState { level: usize, at_start: bool },
}

fn text_byte() -> impl Strategy<Value = u8> {
    prop_oneof![4 => Just(b'\n'), 10 => b' '..=b'~', 1 => any::<u8>()]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        40 => prop::collection::vec(text_byte(), 0..=(MAX_LEN as usize + 8)).prop_map(Op::Write),
        2 => (0usize..0x100, 1u64..=MAX_LEN).prop_map(|(good, len)| Op::RunsIntoGuard {
            good: good.min(len as usize - 1),
            len
        }),
        1 => prop_oneof![
            Just(Op::BadRange { buf: u64::MAX - 4, len: 10 }),
            Just(Op::BadRange { buf: 0x0000_8000_0000_0000 - 4, len: 5 }),
            Just(Op::BadRange { buf: 0xffff_8000_0000_0000, len: 1 }),
        ],
        3 => (0usize..4, any::<bool>()).prop_map(|(level, at_start)| Op::SetState { level, at_start }),
    ]
}

/// `driver(table = rdi, count = rsi, cursor cell = rdx)`: for each entry
/// `[buf, len, result, cursor after]` calls the routine; stops after the
/// first call that went to the slow path. Returns the entries done.
fn driver(address: u64, routine: u64) -> Vec<u8> {
    let mut a = CodeAssembler::new(64).unwrap();
    let mut again = a.create_label();
    let mut end = a.create_label();
    a.push(rbx).unwrap();
    a.push(r12).unwrap();
    a.push(r13).unwrap();
    a.push(r14).unwrap();
    a.mov(rbx, rdi).unwrap();
    a.mov(r12, rsi).unwrap();
    a.mov(r13, iced_x86::code_asm::rdx).unwrap();
    a.xor(r14, r14).unwrap();
    a.set_label(&mut again).unwrap();
    a.cmp(r14, r12).unwrap();
    a.je(end).unwrap();
    a.mov(rdi, qword_ptr(rbx)).unwrap();
    a.mov(rsi, qword_ptr(rbx + 8)).unwrap();
    a.mov(rax, routine).unwrap();
    a.call(rax).unwrap();
    a.mov(qword_ptr(rbx + 16), rax).unwrap();
    a.inc(r14).unwrap();
    a.mov(rdi, rax).unwrap();
    a.mov(rax, qword_ptr(r13)).unwrap();
    a.mov(qword_ptr(rbx + 24), rax).unwrap();
    a.add(rbx, 32).unwrap();
    a.cmp(rdi, SLOW_PATH_SENTINEL as i32).unwrap();
    a.jne(again).unwrap();
    a.set_label(&mut end).unwrap();
    a.mov(rax, r14).unwrap();
    a.pop(r14).unwrap();
    a.pop(r13).unwrap();
    a.pop(r12).unwrap();
    a.pop(rbx).unwrap();
    a.ret().unwrap();
    a.assemble(address).unwrap()
}

/// The sandbox: the routine with the policy's holes for `chain` (its
/// cells in the data region), a stand-in slow path, the driver.
fn sandbox(prefixes: &[Vec<u8>]) -> (Sandbox, Vec<Fixup>, PrefixedChain) {
    let mut sandbox = Sandbox::new(0x1000, DATA_LEN).unwrap();
    let (data, code) = (sandbox.data_address(), sandbox.code_address());
    let chain = fold(&TTY, &levels(prefixes, data + CELLS as u64)).unwrap();
    let Some(RoutineSpec::TtyWritePrefixed(h)) = prefixed_write(&chain, &env()) else {
        panic!("no routine for {prefixes:?}");
    };
    let holes = TtyWritePrefixedSinkHoles {
        bad_address: h.bad_address,
        max_len: h.max_len,
        max_newlines: h.max_newlines,
        slow_path: Imm64(code + SLOW_PATH),
        prefix_len: h.prefix_len,
        prefix_0: h.prefix_0,
        prefix_1: h.prefix_1,
        prefix_2: h.prefix_2,
        prefix_3: h.prefix_3,
        prefix_4: h.prefix_4,
        prefix_5: h.prefix_5,
        prefix_6: h.prefix_6,
        prefix_7: h.prefix_7,
        line_state_0: h.line_state_0,
        line_state_1: h.line_state_1,
        line_state_2: h.line_state_2,
        line_state_3: h.line_state_3,
        cursor_cell: Imm64(data + CURSOR_CELL as u64),
    };
    let bytes = sandbox.code_mut().unwrap();
    let routine = instantiate_collapsed(
        &COLLAPSED_TTY_WRITE_PREFIXED_SINK,
        holes.values(),
        code + ROUTINE,
        Smap::Disabled,
        &mut bytes[..SLOW_PATH as usize],
    )
    .unwrap();
    verify_instance(&routine, &bytes[..routine.size()]).unwrap();
    // The slow path's stand-in: `mov eax, SENTINEL; ret`.
    let mut stub = vec![0xb8];
    stub.extend_from_slice(&(SLOW_PATH_SENTINEL as u32).to_le_bytes());
    stub.push(0xc3);
    bytes[SLOW_PATH as usize..][..stub.len()].copy_from_slice(&stub);
    let driver = driver(code + DRIVER, code + ROUTINE);
    bytes[DRIVER as usize..][..driver.len()].copy_from_slice(&driver);
    let fixups = routine
        .fault_fixups()
        .map(|f| Fixup {
            access: f.access,
            fixup: f.fixup,
        })
        .collect();
    sandbox.seal().unwrap();
    (sandbox, fixups, chain)
}

/// Bytes at `buf..buf+len` of the data region as a user would see them
/// (`None` past the region: the guard page), the good prefix.
fn user_bytes(data: &[u8], base: u64, buf: u64, len: u64) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    for i in 0..len {
        let at = buf.wrapping_add(i).wrapping_sub(base) as usize;
        match data.get(at) {
            Some(&b) if at < DATA_LEN => out.push(b),
            _ => return (out, false),
        }
    }
    (out, true)
}

fn run_case(prefixes: &[Vec<u8>], ops: &[Op], tail: &[u8]) -> usize {
    let (mut sandbox, fixups, chain) = sandbox(prefixes);
    let data = sandbox.data_address();
    let depth = prefixes.len();
    sandbox.write_cell(CURSOR_CELL, data + SINK as u64);
    sandbox.data_mut()[TAIL..TAIL + tail.len()].copy_from_slice(tail);
    let mut states = vec![true; depth];
    // Lay out the buffers.
    let mut next_buffer = USER;
    let mut steps = Vec::new();
    for op in ops {
        steps.push(match op {
            Op::Write(bytes) => {
                sandbox.data_mut()[next_buffer..next_buffer + bytes.len()].copy_from_slice(bytes);
                let buf = data + next_buffer as u64;
                next_buffer += bytes.len();
                Some((buf, bytes.len() as u64))
            }
            Op::RunsIntoGuard { good, len } => Some((data + (DATA_LEN - good) as u64, *len)),
            Op::BadRange { buf, len } => Some((*buf, *len)),
            Op::SetState { .. } => None,
        });
        assert!(next_buffer <= TAIL);
    }
    let mut routine_calls = 0;
    let mut at = 0;
    while at < ops.len() {
        // State changes before the next call: the cells as the kernel
        // would leave them (0 = at a line's start).
        if let Op::SetState { level, at_start } = ops[at] {
            if level < depth {
                states[level] = at_start;
            }
            at += 1;
            continue;
        }
        for (i, state) in states.iter().enumerate() {
            sandbox.write_cell(CELLS + 8 * i, u64::from(!*state));
        }
        // A batch: every call up to the next state change.
        let batch: Vec<(usize, (u64, u64))> = (at..ops.len())
            .map_while(|i| steps[i].map(|s| (i, s)))
            .collect();
        for (k, &(_, (buf, len))) in batch.iter().enumerate() {
            sandbox.write_cell(TABLE + k * TABLE_ENTRY, buf);
            sandbox.write_cell(TABLE + k * TABLE_ENTRY + 8, len);
        }
        let cursor = sandbox.read_cell(CURSOR_CELL);
        let outcome = sandbox
            .call(
                sandbox.code_address() + DRIVER,
                &Registers {
                    rdi: data + TABLE as u64,
                    rsi: batch.len() as u64,
                    rdx: data + CURSOR_CELL as u64,
                    ..Registers::default()
                },
                &fixups,
            )
            .unwrap();
        assert!(outcome.is_callee_saved_intact);
        let ran = outcome.rax as usize;
        assert!(ran >= 1 && ran <= batch.len());
        let mut before = cursor;
        let mut cells_now = states.clone();
        for (k, &(index, (buf, len))) in batch.iter().take(ran).enumerate() {
            let result = sandbox.read_cell(TABLE + k * TABLE_ENTRY + 16);
            let after = sandbox.read_cell(TABLE + k * TABLE_ENTRY + 24);
            let output = sandbox.data()[(before - data) as usize..(after - data) as usize].to_vec();
            before = after;
            let (bytes, mapped) = user_bytes(sandbox.data(), data, buf, len);
            let in_range = buf
                .checked_add(len)
                .is_some_and(|end| end <= 0x0000_8000_0000_0000);
            let what = format!("call {index} ({:?}) through {prefixes:?}", ops[index]);
            if result == SLOW_PATH_SENTINEL {
                // The routine may not do it: too long, empty, levels in
                // different states, too many newlines, a fault while
                // counting. Nothing was put out.
                let newlines = bytes.iter().filter(|b| **b == b'\n').count() as u64;
                let uniform = states.iter().all(|s| *s == states[0]);
                assert!(
                    len > MAX_LEN
                        || len == 0
                        || !uniform
                        || newlines > u64::from(chain.max_newlines())
                        || !mapped,
                    "{what}: slow path for a call the routine does"
                );
                assert!(output.is_empty(), "{what}: output before the slow path");
                // The generic path does it (the bytes up to a fault).
                if in_range {
                    generic(prefixes, &mut states, &bytes);
                }
                continue;
            }
            routine_calls += 1;
            if !in_range {
                assert_eq!(result as i64, i64::from(BAD_ADDRESS), "{what}");
                assert!(output.is_empty(), "{what}");
                continue;
            }
            assert!(mapped, "{what}: a fault must go generic");
            let expected = generic(prefixes, &mut states, &bytes);
            assert_eq!(result, len, "{what}: result");
            assert_eq!(
                String::from_utf8_lossy(&output),
                String::from_utf8_lossy(&expected),
                "{what}: output"
            );
            cells_now.clone_from(&states);
        }
        // The cells hold the line state of the last call the routine did
        // (a call sent generic left them as they were).
        for (i, state) in cells_now.iter().enumerate() {
            assert_eq!(
                sandbox.read_cell(CELLS + 8 * i),
                u64::from(!*state),
                "batch from op {at} through {prefixes:?}: level {i}'s line state"
            );
        }
        at = batch[ran - 1].0 + 1;
    }
    routine_calls
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_folded_routine_matches_the_generic_walk(
        prefixes in chain(),
        ops in prop::collection::vec(op(), 64..=MAX_OPS),
        tail in prop::collection::vec(text_byte(), 0x100),
    ) {
        let calls = run_case(&prefixes, &ops, &tail);
        eprintln!("{calls} of {} ops by the routine ({} prefix bytes)", ops.len(),
            prefixes.iter().map(Vec::len).sum::<usize>());
    }
}
