//! The text `query(Routines)` returns.
//!
//! Owns [`BoundedText`] and [`describe`]: per op, which routine serves it
//! and the facts it baked in (no addresses); with `synth.show`, each
//! routine's annotated disassembly with addresses and hole values.

use crate::code_memory::{smap, Routine};
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
    // The facts each routine baked in (node, layout generation, capacity,
    // owner: no addresses), and what each routine cost to make and how
    // often it ran, after the header.
    let owner = sio.opener().unwrap_or(0);
    for op in Op::ALL {
        if let Some(x) = r.and_then(|r| r.installed(op)) {
            let name = if op == Op::Read { "read" } else { "write" };
            let _ = writeln!(s, "{name} facts: {:?}", x.spec().invariants(owner));
            let parts = [("", Some(x.block())), (" fallback", x.helper())];
            for (what, routine) in parts {
                let Some(routine) = routine else { continue };
                let _ = writeln!(
                    s,
                    "{name}{what}: {} bytes, created in {} TSC ticks, calls: {}",
                    routine.template.size(),
                    routine.cost_ticks,
                    CallCount(routine.calls()),
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
        let helper_entry = x.helper().map_or(0, |h| h.block.address());
        let parts = [
            ("", Some((x.block(), x.spec().routine(helper_entry)))),
            (" fallback", x.helper().zip(x.spec().helper())),
        ];
        for (what, part) in parts {
            let Some((routine, holes)) = part else {
                continue;
            };
            let _ = writeln!(
                s,
                "\n== {op:?}{what}: {} of thread {owner} at {:#x}: {} bytes",
                routine.template.name,
                routine.block.address(),
                routine.template.size(),
            );
            // The instance again (the same holes at the same address), and
            // the bytes as installed. (A debugging option: this allocates.)
            let mut scratch = alloc::vec![0u8; routine.template.size()];
            if let Ok(instance) = holes.instantiate(routine.block.address(), smap(), &mut scratch) {
                s.push_str(&sk_synth::disassemble(&instance, &routine_bytes(routine)));
            }
        }
    }
    Ok(s)
}

/// A routine's call count as `query(Routines)` prints it.
struct CallCount(Option<u64>);

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
