//! The text `query(Routines)` returns.
//!
//! Owns [`BoundedText`] and [`describe`]: per op, which routine serves it
//! and the facts it baked in (no addresses); with `synth.show`, each
//! routine's annotated disassembly with addresses and hole values.

use crate::code_memory::{smap, with_routine, Routine};
use crate::state::Sio;
use crate::synthesis::config;
use alloc::vec::Vec;
use sk_abi::SysError;
use sk_machine::code_arena;
use sk_synth::policy::Op;

/// Text into a buffer reserved up front (fallibly): what does not fit is
/// cut, nothing is allocated while formatting.
pub(crate) struct BoundedText(Vec<u8>);

impl BoundedText {
    fn with_capacity(bytes: usize) -> Result<Self, SysError> {
        let mut v = Vec::new();
        v.try_reserve_exact(bytes).map_err(|_| SysError::NoMemory)?;
        Ok(Self(v))
    }

    /// The text.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    fn push_str(&mut self, text: &str) {
        let _ = core::fmt::Write::write_str(self, text);
    }
}

impl core::fmt::Write for BoundedText {
    fn write_str(&mut self, text: &str) -> core::fmt::Result {
        let room = self.0.capacity() - self.0.len();
        self.0
            .extend_from_slice(&text.as_bytes()[..text.len().min(room)]);
        Ok(())
    }
}

/// The text `query(Routines)` returns, at most `max_bytes` of it: a line per
/// op, the facts each routine baked in, then (with `synth.show`) each
/// routine's disassembly with addresses and holes.
pub(crate) fn describe(sio: &Sio, max_bytes: usize) -> Result<BoundedText, SysError> {
    use core::fmt::Write;
    let mut s = BoundedText::with_capacity(max_bytes)?;
    let r = sio.routines.as_ref();
    for op in Op::ALL {
        let name = match op {
            Op::Read => "read",
            Op::Write => "write",
        };
        let _ = match r.and_then(|r| r.installed(op)) {
            Some(x) => writeln!(s, "{name}: synthesized {}", x.spec().template().name),
            None => writeln!(s, "{name}: generic"),
        };
    }
    // Lazy synthesis and break-even right after the header (short lines:
    // a reader with a small buffer still sees whether a generic op waits
    // for its K-th call).
    if let Some(r) = r {
        describe_usage(&mut s, r);
    }
    // The facts each routine baked in (node, layout generation, capacity,
    // owner: no addresses), and what each routine cost to make and how
    // often it ran, after the header.
    let owner = sio.opener().unwrap_or(0);
    for op in Op::ALL {
        if let Some(x) = r.and_then(|r| r.installed(op)) {
            let name = if op == Op::Read { "read" } else { "write" };
            let _ = writeln!(s, "{name} facts: {:?}", x.spec().invariants(owner));
            let parts = [("", Some(x.block())), (" fallback", x.helper())];
            for (what, held) in parts {
                let Some(held) = held else { continue };
                let line = with_routine(held, |routine| {
                    (
                        routine.template.size(),
                        routine.cost_ticks,
                        CallCount(routine.calls()),
                    )
                });
                let Some((size, cost, calls)) = line else {
                    continue;
                };
                let _ = writeln!(
                    s,
                    "{name}{what}: {size} bytes, created in {cost} TSC ticks, calls: {calls}",
                );
            }
        }
    }
    #[cfg(feature = "ktest")]
    let shown = config().show_addresses || crate::testing::routine_addresses_shown();
    #[cfg(not(feature = "ktest"))]
    let shown = config().show_addresses;
    if !shown {
        // Addresses and hole values are kernel addresses: only with
        // `synth.show`.
        return Ok(s);
    }
    let Some(r) = r else { return Ok(s) };
    for op in Op::ALL {
        let Some(x) = r.installed(op) else { continue };
        let helper_entry = x
            .helper()
            .and_then(|h| with_routine(h, |r| r.block.address()))
            .unwrap_or(0);
        let parts = [
            ("", Some((x.block(), x.spec().routine(helper_entry)))),
            (" fallback", x.helper().zip(x.spec().helper())),
        ];
        for (what, part) in parts {
            let Some((held, holes)) = part else {
                continue;
            };
            // The routine's facts and bytes, copied out of the cache (the
            // copy allocates under its lock: the heap never takes it).
            let Some((template, address, bytes)) =
                with_routine(held, |r| (r.template, r.block.address(), routine_bytes(r)))
            else {
                continue;
            };
            let _ = writeln!(
                s,
                "\n== {op:?}{what}: {} of thread {owner} at {address:#x}: {} bytes",
                template.name,
                template.size(),
            );
            // The instance again (the same holes at the same address), and
            // the bytes as installed. (A debugging option: this allocates.)
            // A native thread's routine may be installed as its stackless
            // twin (code_memory::leaf_twin_of): describe what was installed.
            let twin = crate::code_memory::leaf_twin_of(&holes)
                .filter(|twin| twin.template().name == template.name);
            if let Some(twin) = twin {
                let instance = twin.describe(address, smap());
                s.push_str(&sk_synth::disassemble(&instance, &bytes));
                continue;
            }
            let mut scratch = alloc::vec![0u8; template.size()];
            if let Ok(instance) = holes.instantiate(address, smap(), &mut scratch) {
                s.push_str(&sk_synth::disassemble(&instance, &bytes));
            }
        }
    }
    Ok(s)
}

/// A routine's call count as `query(Routines)` prints it.
struct CallCount(Option<u64>);

/// Break-even accounting, a line per op the SIO has a routine for or
/// waits to synthesize (`lazy` and `break-even`): calls on each path,
/// what its synthesis cost (TSC ticks: kernel instructions under TCG with
/// icount), the per-call saving (kernel instructions, the cost table's),
/// the break-even point (calls on the routine) and whether it has paid.
fn describe_usage(s: &mut BoundedText, r: &crate::state::Routines) {
    use core::fmt::Write;
    let lazy = crate::synthesis::lazy();
    for op in Op::ALL {
        let name = if op == Op::Read { "read" } else { "write" };
        let usage = r.usage.op(op);
        let Some(x) = r.installed(op) else {
            if usage.due_at != u32::MAX {
                let _ = writeln!(
                    s,
                    "{name} lazy: generic calls {}, synthesized at generic call {}",
                    usage.generic_calls, usage.due_at
                );
            }
            continue;
        };
        let kind = x.spec().kind();
        let costs = lazy.costs(kind);
        let saving = costs.saving();
        let calls = with_routine(x.block(), |r| r.calls()).flatten();
        let break_even = match saving {
            0 => None,
            saving => Some(usage.synthesis_ticks.div_ceil(u64::from(saving)).max(1)),
        };
        let _ = writeln!(
            s,
            "{name} lazy: synthesized after {} generic calls (K {}), generic calls {}, synthesized calls {}",
            usage.synthesized_after,
            lazy.threshold(kind),
            usage.generic_calls,
            CallCount(calls),
        );
        let paid = match (calls, break_even) {
            (Some(n), Some(b)) if n >= b => "yes",
            (Some(_), _) => "no",
            (None, _) => "unknown (boot with synth.count)",
        };
        let _ = match break_even {
            Some(b) => writeln!(
                s,
                "{name} break-even: synthesis cost {} ticks, saving {saving} instructions per call, break-even {b} calls, paid off {paid}",
                usage.synthesis_ticks,
            ),
            None => writeln!(
                s,
                "{name} break-even: synthesis cost {} ticks, saving none, never pays",
                usage.synthesis_ticks,
            ),
        };
    }
}

impl core::fmt::Display for CallCount {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("not counted (boot with synth.count)"),
        }
    }
}

/// Reads a routine's bytes back from the arena.
fn routine_bytes(r: &Routine) -> Vec<u8> {
    let mut v = alloc::vec![0u8; r.template.size()];
    code_arena::read(&r.block, &mut v);
    v
}

/// The text `query(Routines)` returns for an SCPU: the scheduler, the
/// thread's place in the ring (the ring in order, from the running
/// thread, by thread id), and with `synth.show` its switch-out and
/// switch-in as annotated disassembly, the switch-out's patched jump named
/// by the thread whose switch-in it enters.
/// `query(Routines)` on a holder's handle (an SIO shared with the
/// caller's SMACH): what the calling SCPU's own table holds for it
/// (`routines`: that SCPU's), one header line per op: `synthesized
/// <template>`, `error stub <value>` (a revoked holder, an op its rights
/// forbid) or `generic`. Answered for a revoked handle too (it shows the
/// stubs).
pub(crate) fn describe_holder(
    routines: Option<&crate::state::Routines>,
    max_bytes: usize,
) -> Result<BoundedText, SysError> {
    use core::fmt::Write;
    use sk_synth::policy::SlotTarget;
    let mut s = BoundedText::with_capacity(max_bytes)?;
    for op in Op::ALL {
        let name = if op == Op::Read { "read" } else { "write" };
        let _ = match (
            routines.and_then(|r| r.target(op)),
            routines.and_then(|r| r.installed(op)),
        ) {
            (Some((_, SlotTarget::Code(_))), Some(x)) => {
                writeln!(s, "{name}: synthesized {}", x.spec().template().name)
            }
            (Some((_, SlotTarget::ErrorStub(value))), _) => {
                writeln!(s, "{name}: error stub {value}")
            }
            _ => writeln!(s, "{name}: generic"),
        };
    }
    Ok(s)
}

pub(crate) fn describe_thread(
    core: &crate::state::Core,
    id: crate::state::ThreadId,
    max_bytes: usize,
) -> Result<BoundedText, SysError> {
    use core::fmt::Write;
    let mut s = BoundedText::with_capacity(max_bytes)?;
    let state = core
        .threads
        .get(&id)
        .map(|t| t.scpu.state())
        .ok_or(SysError::BadHandle)?;
    let _ = writeln!(s, "scpu: thread {id}, {state:?}");
    let Some(ring) = core.ring.as_ref() else {
        let _ = writeln!(
            s,
            "scheduler: generic (Rust round robin; synth=off or sched=generic): no switch code"
        );
        return Ok(s);
    };
    let _ = writeln!(s, "scheduler: ring (the executable ready queue)");
    let name = |t: crate::state::ThreadId| -> alloc::string::String {
        if t == core.idle {
            alloc::format!("{t} (idle)")
        } else if t == core.current {
            alloc::format!("{t} (running)")
        } else {
            alloc::format!("{t}")
        }
    };
    // The ring in the code's order: from the running thread, each
    // switch-out's jump read back and named by its switch-in's thread.
    let by_entry: alloc::collections::BTreeMap<u64, crate::state::ThreadId> = ring
        .code
        .iter()
        .map(|(&t, c)| (c.inn.block.address(), t))
        .collect();
    let jump_of = |t: crate::state::ThreadId| {
        ring.code
            .get(&t)
            .and_then(|c| c.jump_target())
            .and_then(|a| by_entry.get(&a).copied())
    };
    #[cfg(feature = "ktest")]
    let shown = config().show_addresses || crate::testing::routine_addresses_shown();
    #[cfg(not(feature = "ktest"))]
    let shown = config().show_addresses;
    // Other programs' threads are named only under `synth.show` (a debug
    // option): without it the ring lists this SMACH's threads alone, so
    // no program learns another's scheduling state.
    let smach_of = |t: crate::state::ThreadId| core.threads.get(&t).and_then(|t| t.scpu.smach());
    let caller = core.current_smach_id().ok();
    let visible = |t: crate::state::ThreadId| shown || (caller.is_some() && smach_of(t) == caller);
    if shown {
        let _ = write!(s, "ring: {}", name(core.current));
    } else {
        let _ = write!(
            s,
            "ring (this SMACH's threads, in order): {}",
            name(core.current)
        );
    }
    let mut at = core.current;
    for _ in 0..ring.code.len() {
        match jump_of(at) {
            Some(next) if next == core.current => {
                let _ = write!(s, " -> back to {}", name(next));
                break;
            }
            Some(next) => {
                if visible(next) {
                    let _ = write!(s, " -> {}", name(next));
                }
                at = next;
            }
            None => {
                let _ = write!(s, " -> (no switch-in)");
                break;
            }
        }
    }
    let _ = writeln!(s);
    let Some(code) = ring.code.get(&id) else {
        let _ = writeln!(s, "thread {id} has no switch code");
        return Ok(s);
    };
    let member = ring.policy.is_member(id);
    let next = jump_of(id);
    let _ = writeln!(
        s,
        "thread {id}: {} in the ring; its switch-out jumps to the switch-in of thread {}; quantum {} ticks; switch-out {} ({} bytes, {} instructions), switch-in {} ({} bytes, {} instructions)",
        if member { "member" } else { "not" },
        next.map_or_else(
            || alloc::string::String::from("?"),
            |t| if visible(t) { name(t) } else { alloc::string::String::from("of another SMACH") }
        ),
        code.facts.quantum_ticks,
        code.out.template.name,
        code.out.template.size(),
        code.out.template.instruction_count,
        code.inn.template.name,
        code.inn.template.size(),
        code.inn.template.instruction_count,
    );
    if !shown {
        // Code addresses and hole values are kernel addresses: only with
        // `synth.show`.
        return Ok(s);
    }
    // The switch-out's `next` as patched (read back), not as built.
    let target = code.jump_target().unwrap_or(0);
    let mut values: Vec<sk_synth::HoleValue> = code.out_values.as_slice().to_vec();
    for v in &mut values {
        if let sk_synth::HoleValue::Rel32(t) = v {
            *t = target;
        }
    }
    let widen = |v: &sk_synth::HoleValues<{ sk_synth::SWITCH_HOLE_VALUES }>| {
        v.resized()
            .unwrap_or_else(|| sk_synth::HoleValues::from_array([]))
    };
    let out_values = sk_synth::HoleValues::from_slice(&values).unwrap_or(widen(&code.out_values));
    let parts = [
        ("switch-out", &code.out, out_values),
        ("switch-in", &code.inn, widen(&code.in_values)),
    ];
    for (what, routine, holes) in parts {
        let _ = writeln!(
            s,
            "\n== {what} of thread {id}: {} at {:#x}: {} bytes",
            routine.template.name,
            routine.block.address(),
            routine.template.size(),
        );
        let mut scratch = alloc::vec![0u8; routine.template.size()];
        let Ok(instance) = sk_synth::instantiate_values(
            routine.template,
            holes,
            routine.block.address(),
            smap(),
            &mut scratch,
        ) else {
            continue;
        };
        let text = sk_synth::disassemble(&instance, &routine_bytes(routine));
        // Name the jump's target by thread.
        let hole = alloc::format!("hole next = {target:#x}");
        let named = match by_entry.get(&target) {
            Some(&t) => alloc::format!("{hole} (switch-in of thread {})", name(t)),
            None => alloc::format!("{hole} (no thread's switch-in!)"),
        };
        s.push_str(&text.replace(&hole, &named));
    }
    // The yield every thread enters through its table slot of
    // `reconfigure` on handle 0: it calls the running thread's switch-out.
    let shared = &ring.shared.yield_routine;
    let _ = writeln!(
        s,
        "\n== yield (shared by every thread: its table slot of reconfigure on handle 0): {} at {:#x}: {} bytes",
        shared.template.name,
        shared.block.address(),
        shared.template.size(),
    );
    let mut scratch = alloc::vec![0u8; shared.template.size()];
    if let Ok(instance) = sk_synth::instantiate_values(
        shared.template,
        ring.shared.yield_values,
        shared.block.address(),
        smap(),
        &mut scratch,
    ) {
        s.push_str(&sk_synth::disassemble(&instance, &routine_bytes(shared)));
    }
    Ok(s)
}
