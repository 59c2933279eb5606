//! Build-time half of Collapsing Layers: which lower fragment goes into
//! which upper fragment, and the checked layout of the result.
//!
//! Owns [`Collapse`], [`Collapsed`], [`all`] and [`compose`]. For each pair
//! the fragments are assembled like any template; [`compose`] checks the
//! lower fragment's contract (no user access, no `stac`/`clac`, no exit, no
//! hole-carried branch, every branch inside itself), finds every internal
//! relative branch of the upper fragment (from the decoded bytes: these are
//! what the splice re-aims) and splices with `src/splice.rs` — the very
//! code the kernel runs at instantiation. The result is an ordinary
//! [`Assembled`] (holes: the upper's then the lower's, the lower's with one
//! site per copy; fault points and SMAP sites moved), so `build.rs` checks
//! its clobbers and taint, emits it as a `Template` (the layout the kernel's
//! spliced instance is verified against, and its golden file) and emits a
//! `Collapsed` const naming the fragments, the sites and the branches.

#[path = "../src/splice.rs"]
#[allow(dead_code)]
pub mod splice;

use super::assembly::{assemble, Assembled, PlacedHole};
use super::builder::{Kind, TemplateAsm, TemplateSource};
use super::{tty_cooked, tty_prefixed};
use iced_x86::{Decoder, DecoderOptions, FlowControl, IcedError, OpKind};
use splice::{splice_bytes, spliced_offset, spliced_size, Branch};

/// One collapsed routine to build: its description and its two layers.
pub struct Collapse {
    /// Snake-case name of the collapsed routine.
    pub name: &'static str,
    /// Its rustdoc.
    pub doc: &'static str,
    /// Invariant kinds it bakes in.
    pub invariants: &'static [&'static str],
    /// Registers read.
    pub reads: &'static [&'static str],
    /// Registers clobbered (the upper's and the lower's).
    pub clobbers: &'static [&'static str],
    /// The upper layer.
    pub upper: TemplateSource,
    /// The lower layer.
    pub lower: TemplateSource,
}

/// A collapsed routine: the fragments, the layout, the splice facts.
pub struct Collapsed {
    /// The upper fragment, assembled.
    pub upper: Assembled,
    /// The lower fragment, assembled.
    pub lower: Assembled,
    /// The collapsed routine's layout (an ordinary template).
    pub layout: Assembled,
    /// The upper fragment's internal relative branches.
    pub branches: Vec<Branch>,
}

/// Every collapsed routine. The sink variant exists for host tests: the
/// same upper fragment with a memory sink as its lower layer.
pub fn all() -> Result<Vec<Collapse>, IcedError> {
    const READS: &[&str] = &["Rdi", "Rsi"];
    const CLOBBERS: &[&str] = &["Rax", "Rcx", "Rdx", "Rdi", "R8", "R9", "R11"];
    const PREFIXED_CLOBBERS: &[&str] = &["Rax", "Rcx", "Rdx", "Rdi", "R8", "R9", "R10", "R11"];
    Ok(vec![
        Collapse {
            name: "tty_write_cooked",
            doc: "Cooked `/dev/tty` write, collapsed: `tty_cooked_line` (the line discipline's \
                  output processing, `'\\n'` → `\"\\r\\n\"`) with `uart_put` (the 16550 driver) \
                  spliced in at both of its put points at instantiation. One routine, no calls \
                  between layers, port numbers as immediates. Returns `len`.\n\n\
                  Arguments: `rdi` = user buffer, `rsi` = length.\n\n\
                  Guards: longer than `max_len` goes to the generic path (`slow_path`); user \
                  range, else `bad_address`. Fault point: the byte load (`stac`/`clac` around it \
                  only, never around the polling); fixup `clac` + `bad_address` (bytes already \
                  sent stay sent).\n\n\
                  Technique: Collapsing Layers (Synthesis §2.2): the lower layer's code is \
                  copied into the upper layer's (`COLLAPSED_TTY_WRITE_COOKED`, \
                  `instantiate_collapsed`), its holes patched and the upper's branches re-aimed.",
            invariants: &["DeviceKind", "OpenForWrite"],
            reads: READS,
            clobbers: CLOBBERS,
            upper: tty_cooked::line_source()?,
            lower: tty_cooked::uart_put_source()?,
        },
        Collapse {
            name: "tty_write_cooked_sink",
            doc: "`tty_cooked_line` collapsed with `memory_sink_put` instead of `uart_put`: the \
                  cooked tty write into a memory buffer, for host tests (the same upper bytes \
                  and splice as `tty_write_cooked`). Never installed by the kernel.",
            invariants: &["DeviceKind", "OpenForWrite"],
            reads: READS,
            clobbers: CLOBBERS,
            upper: tty_cooked::line_source()?,
            lower: tty_cooked::memory_sink_put_source()?,
        },
        Collapse {
            name: "tty_write_prefixed",
            doc: "A prefix view's write, collapsed: `tty_prefixed_line` (the chain of prefix \
                  levels folded into one prefix, and the line discipline's `'\\n'` → \
                  `\"\\r\\n\"`) with `uart_put` (the 16550 driver) spliced in at its three put \
                  points. One routine for a chain of any depth up to four levels: the prefixes \
                  are immediates, the levels' line-state cells addresses. Returns `len`.\n\n\
                  Arguments: `rdi` = user buffer, `rsi` = length.\n\n\
                  Guards and fault points: as `tty_prefixed_line`.\n\n\
                  Technique: Collapsing Layers (Synthesis §2.2) over Factoring Invariants: the \
                  view levels, the line discipline and the UART driver in one loop.",
            invariants: &["DeviceKind", "PrefixChain", "OpenForWrite"],
            reads: READS,
            clobbers: PREFIXED_CLOBBERS,
            upper: tty_prefixed::line_source()?,
            lower: tty_cooked::uart_put_source()?,
        },
        Collapse {
            name: "tty_write_prefixed_sink",
            doc: "`tty_prefixed_line` collapsed with `memory_sink_put` instead of `uart_put`: a \
                  prefix view's write into a memory buffer, for host tests (the same upper bytes \
                  and splice as `tty_write_prefixed`). Never installed by the kernel.",
            invariants: &["DeviceKind", "PrefixChain", "OpenForWrite"],
            reads: READS,
            clobbers: PREFIXED_CLOBBERS,
            upper: tty_prefixed::line_source()?,
            lower: tty_cooked::memory_sink_put_source()?,
        },
    ])
}

/// Assembles both fragments of `collapse`, checks them and splices.
pub fn compose(collapse: Collapse) -> Collapsed {
    let name = collapse.name;
    let upper = assemble(collapse.upper);
    let lower = assemble(collapse.lower);
    check_lower(name, &lower);
    let sites = &upper.splice_sites;
    assert!(
        !sites.is_empty() && sites.windows(2).all(|w| w[0] < w[1]),
        "{name}: the upper fragment needs sorted splice points"
    );
    let branches = internal_branches(name, &upper);
    let lower_len = u32::try_from(lower.bytes.len()).expect("small fragment");
    let mut bytes = vec![0; spliced_size(upper.bytes.len(), sites.len(), lower.bytes.len())];
    splice_bytes(&upper.bytes, sites, &branches, &lower.bytes, &mut bytes)
        .unwrap_or_else(|e| panic!("{name}: splice failed: {e:?}"));
    let moved = |offset: u32| spliced_offset(sites, lower_len, offset);

    let mut asm = TemplateAsm::new().expect("assembler");
    let mut holes = Vec::new();
    for hole in &upper.holes {
        let decl = &upper.source.asm.holes[hole.declaration];
        asm.hole(decl.name, decl.kind, decl.doc);
        holes.push(PlacedHole {
            declaration: holes.len(),
            offsets: hole.offsets.iter().map(|&o| moved(o)).collect(),
        });
    }
    for hole in &lower.holes {
        let decl = &lower.source.asm.holes[hole.declaration];
        asm.hole(decl.name, decl.kind, decl.doc);
        let mut offsets = Vec::new();
        for &site in sites {
            offsets.extend(hole.offsets.iter().map(|&o| moved(site) + o));
        }
        offsets.sort_unstable();
        holes.push(PlacedHole {
            declaration: holes.len(),
            offsets,
        });
    }
    let fault_points = upper
        .fault_points
        .iter()
        .map(|&(access, fixup)| (moved(access), moved(fixup)))
        .collect();
    let smap_sites = upper.smap_sites.iter().map(|&s| moved(s)).collect();
    let instruction_count = Decoder::with_ip(64, &bytes, 0, DecoderOptions::NONE)
        .into_iter()
        .inspect(|i| assert!(!i.is_invalid(), "{name}: invalid spliced code"))
        .count();
    let layout = Assembled {
        source: TemplateSource {
            name,
            doc: collapse.doc,
            invariants: collapse.invariants,
            reads: collapse.reads,
            clobbers: collapse.clobbers,
            asm,
        },
        bytes,
        holes,
        fault_points,
        smap_sites,
        instruction_count,
        splice_sites: Vec::new(),
    };
    Collapsed {
        upper,
        lower,
        layout,
        branches,
    }
}

/// A lower fragment touches no user memory, has no exit and no branch out
/// of itself, and ends by falling through (so it can sit anywhere).
fn check_lower(name: &str, lower: &Assembled) {
    let lower_name = lower.source.name;
    assert!(
        lower.fault_points.is_empty() && lower.smap_sites.is_empty(),
        "{name}: lower fragment {lower_name} touches user memory"
    );
    assert!(
        lower
            .holes
            .iter()
            .all(|h| lower.source.asm.holes[h.declaration].kind != Kind::Rel32),
        "{name}: lower fragment {lower_name} branches out through a hole"
    );
    let len = lower.bytes.len() as u64;
    let mut last = None;
    for instruction in Decoder::with_ip(64, &lower.bytes, 0, DecoderOptions::NONE) {
        match instruction.flow_control() {
            FlowControl::Next => {}
            FlowControl::ConditionalBranch | FlowControl::UnconditionalBranch => {
                assert!(
                    instruction.op0_kind() == OpKind::NearBranch64
                        && instruction.near_branch_target() < len,
                    "{name}: lower fragment {lower_name} branches out of itself"
                );
            }
            other => panic!("{name}: lower fragment {lower_name} has a {other:?} instruction"),
        }
        last = Some(instruction.flow_control());
    }
    assert_eq!(
        last,
        Some(FlowControl::Next),
        "{name}: lower fragment {lower_name} must fall through at its end"
    );
}

/// Every relative branch of the upper fragment aimed inside it (a branch
/// out must be a `Rel32` hole, patched from its absolute target instead).
fn internal_branches(name: &str, upper: &Assembled) -> Vec<Branch> {
    let rel32_holes: Vec<u32> = upper
        .holes
        .iter()
        .filter(|h| upper.source.asm.holes[h.declaration].kind == Kind::Rel32)
        .flat_map(|h| h.offsets.iter().copied())
        .collect();
    let len = upper.bytes.len() as u64;
    let mut branches = Vec::new();
    let mut decoder = Decoder::with_ip(64, &upper.bytes, 0, DecoderOptions::NONE);
    while decoder.can_decode() {
        let instruction = decoder.decode();
        let is_relative =
            (0..instruction.op_count()).any(|op| instruction.op_kind(op) == OpKind::NearBranch64);
        if !is_relative {
            continue;
        }
        let constants = decoder.get_constant_offsets(&instruction);
        let start = u32::try_from(instruction.ip()).expect("small");
        let displacement = start + u32::try_from(constants.immediate_offset()).expect("small");
        let width = u8::try_from(constants.immediate_size()).expect("small");
        assert!(matches!(width, 1 | 4), "{name}: odd branch width");
        if rel32_holes.contains(&displacement) {
            continue;
        }
        let target = instruction.near_branch_target();
        assert!(
            target <= len,
            "{name}: upper fragment branches out of itself without a Rel32 hole"
        );
        branches.push(Branch {
            displacement,
            width,
            target: u32::try_from(target).expect("small"),
        });
    }
    branches
}
