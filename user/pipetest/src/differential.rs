//! Mode 6, `differential`: a synthesized pipe (`pipe_read`/`pipe_write` in
//! this SCPU's table) against a generic one (`Sio::pipe_generic`), the
//! same random operations on both, results and bytes compared.
//!
//! One SCPU drives both pipes, so no call may block: the model counts the
//! bytes in the pipes and a write asks for at most the free room, a read
//! is made only when there are bytes (or the write end is closed). Sizes:
//! 0, 1, small, around the atomic size (4,096), up to 5,000, and exactly
//! the distance to the ring's wrap point (±1) for both ends. Some calls
//! use an unmapped buffer (both must say `BadAddress` and lose or add no
//! byte). Every [`ROUND`] operations the pipes end: the write ends close
//! and both read what is left, then end of file; or the read ends close
//! first and a write is `BrokenPipe` on both. Then new pipes.

use sk_user::abi::{Call, CallWord, SysError};
use sk_user::{routine_of, Sio};

use crate::{fail, Rng, UNMAPPED};

/// Operations in all.
const OPERATIONS: u64 = 100_000;
/// Operations per pair of pipes.
const ROUND: u64 = 20_000;
const CAPACITY: u64 = 16 * 1024;
const ATOMIC: u64 = 4096;
const MAX_SIZE: u64 = 5000;

/// Random source bytes for writes (a window of it per write).
static mut SOURCE: [u8; 8192] = [0; 8192];
/// What the two pipes' reads return.
static mut OUT_SYNTH: [u8; 8192] = [0; 8192];
static mut OUT_GENERIC: [u8; 8192] = [0; 8192];

/// The two pipes and the model.
struct Pair {
    synth: (Sio, Sio),
    generic: (Sio, Sio),
    /// Bytes written and read so far (the ring's counters, from 0).
    produced: u64,
    consumed: u64,
}

impl Pair {
    fn open() -> Option<Self> {
        let synth = Sio::pipe().map_err(|e| fail(format_args!("pipe: {e:?}")));
        let generic = Sio::pipe_generic().map_err(|e| fail(format_args!("pipe: {e:?}")));
        let pair = Self {
            synth: synth.ok()?,
            generic: generic.ok()?,
            produced: 0,
            consumed: 0,
        };
        for (sio, op) in [(&pair.synth.0, "read"), (&pair.synth.1, "write")] {
            let mut text = [0_u8; 256];
            let len = sio.routines(&mut text).unwrap_or(0).min(text.len());
            let text = text.get(..len).unwrap_or_default();
            let routine = routine_of(text, op);
            // Lazy synthesis: generic until the op's K-th call, then
            // synthesized (the differential crosses that point).
            if !sk_user::is_synthesized_or_pending(text, op) {
                fail(format_args!("pipe {op} is not synthesized: {routine:?}"));
                return None;
            }
        }
        Some(pair)
    }

    fn free(&self) -> u64 {
        CAPACITY - (self.produced - self.consumed)
    }

    fn held(&self) -> u64 {
        self.produced - self.consumed
    }

    /// A size for the next call: `to_wrap` is the distance from the end's
    /// counter to the next multiple of the capacity.
    fn size(rng: &mut Rng, to_wrap: u64) -> u64 {
        match rng.next() % 20 {
            0 => 0,
            1..=6 => 1,
            7..=11 => 2 + rng.next() % 63,
            12 | 13 => ATOMIC - 6 + rng.next() % 12,
            14..=16 => rng.next() % (MAX_SIZE + 1),
            _ => (to_wrap + rng.next() % 3).saturating_sub(1).min(MAX_SIZE),
        }
    }

    fn write(&mut self, rng: &mut Rng, op: u64) {
        let to_wrap = CAPACITY - self.produced % CAPACITY;
        let len = Self::size(rng, to_wrap).min(self.free());
        let start = (rng.next() % (8192 - MAX_SIZE)) as usize;
        // SAFETY: one thread uses SOURCE; no reference outlives this call.
        let source = unsafe { &*core::ptr::addr_of!(SOURCE) };
        let bytes = source.get(start..start + len as usize).unwrap_or_default();
        let faulting = rng.next().is_multiple_of(64) && len > 0;
        let (a, b) = if faulting {
            (
                raw(&self.synth.1, Call::Write, len, false),
                raw(&self.generic.1, Call::Write, len, true),
            )
        } else {
            (self.synth.1.write(bytes), self.generic.1.write(bytes))
        };
        if a != b {
            fail(format_args!(
                "op {op}: write of {len} (fault {faulting}): synthesized {a:?}, generic {b:?}"
            ));
            return;
        }
        match a {
            Ok(n) if n as u64 == len && !faulting => self.produced += len,
            Err(SysError::BadAddress) if faulting => {}
            other => fail(format_args!("op {op}: write of {len}: {other:?}")),
        }
    }

    fn read(&mut self, rng: &mut Rng, op: u64) {
        if self.held() == 0 {
            return;
        }
        let to_wrap = CAPACITY - self.consumed % CAPACITY;
        let len = Self::size(rng, to_wrap);
        let faulting = rng.next().is_multiple_of(64) && len > 0;
        // SAFETY: one thread uses the output buffers; no reference
        // outlives this call.
        let (out_a, out_b) = unsafe {
            (
                &mut *core::ptr::addr_of_mut!(OUT_SYNTH),
                &mut *core::ptr::addr_of_mut!(OUT_GENERIC),
            )
        };
        let len = len.min(out_a.len() as u64) as usize;
        out_a.get_mut(..len).unwrap_or_default().fill(0xaa);
        out_b.get_mut(..len).unwrap_or_default().fill(0x55);
        let (a, b) = if faulting {
            (
                raw(&self.synth.0, Call::Read, len as u64, false),
                raw(&self.generic.0, Call::Read, len as u64, true),
            )
        } else {
            (
                self.synth.0.read(out_a.get_mut(..len).unwrap_or_default()),
                self.generic
                    .0
                    .read(out_b.get_mut(..len).unwrap_or_default()),
            )
        };
        if a != b {
            fail(format_args!(
                "op {op}: read of {len} (fault {faulting}) with {} held: synthesized {a:?}, \
                 generic {b:?}",
                self.held()
            ));
            return;
        }
        let expected = (len as u64).min(self.held()).min(ATOMIC);
        match a {
            Ok(n) if n as u64 == expected && !faulting => {
                if out_a.get(..n) != out_b.get(..n) {
                    fail(format_args!("op {op}: read of {len}: the bytes differ"));
                }
                self.consumed += expected;
            }
            Err(SysError::BadAddress) if faulting => {}
            other => fail(format_args!(
                "op {op}: read of {len} ({expected} expected): {other:?}"
            )),
        }
    }

    /// Ends both pipes: the write ends first (drain, then end of file
    /// twice) or the read ends first (a write is a broken pipe).
    fn end(self, rng: &mut Rng) {
        let Self { synth, generic, .. } = self;
        if rng.next().is_multiple_of(2) {
            let _ = (synth.1.close(), generic.1.close());
            let mut a = [0_u8; 4096];
            let mut b = [0_u8; 4096];
            loop {
                let (x, y) = (synth.0.read(&mut a), generic.0.read(&mut b));
                if x != y || (x.is_ok() && a != b) {
                    fail(format_args!("drain: synthesized {x:?}, generic {y:?}"));
                    break;
                }
                if x != Ok(4096) {
                    break;
                }
            }
            for _ in 0..2 {
                let (x, y) = (synth.0.read(&mut a[..1]), generic.0.read(&mut b[..7]));
                if x != Ok(0) || y != Ok(0) {
                    fail(format_args!(
                        "end of file: synthesized {x:?}, generic {y:?}"
                    ));
                }
            }
            let _ = (synth.0.close(), generic.0.close());
        } else {
            let _ = (synth.0.close(), generic.0.close());
            for len in [1, 100] {
                let bytes = [7_u8; 100];
                let (x, y) = (synth.1.write(&bytes[..len]), generic.1.write(&bytes[..len]));
                if x != Err(SysError::BrokenPipe) || y != x {
                    fail(format_args!(
                        "broken pipe: synthesized {x:?}, generic {y:?}"
                    ));
                }
            }
            let _ = (synth.1.close(), generic.1.close());
        }
    }
}

/// `op` of `len` bytes at an unmapped buffer, on the table path or forced
/// generic.
fn raw(sio: &Sio, op: Call, len: u64, generic: bool) -> Result<usize, SysError> {
    let bits = if generic { CallWord::FORCE_GENERIC } else { 0 };
    let word = CallWord::new(sio.handle(), op).get() | bits;
    // SAFETY: the buffer is nobody's memory: the kernel's copy faults into
    // its fixup; no memory of ours is read or written.
    let rax = unsafe { sk_user::raw::syscall2(word, UNMAPPED, len) };
    SysError::decode_return(rax).map(|n| n as usize)
}

pub(crate) fn differential() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    // SAFETY: set up before any reader of SOURCE runs (one thread).
    let source = unsafe { &mut *core::ptr::addr_of_mut!(SOURCE) };
    for byte in source.iter_mut() {
        *byte = rng.next() as u8;
    }
    let mut op = 0;
    while op < OPERATIONS {
        let Some(mut pair) = Pair::open() else { return };
        for _ in 0..ROUND {
            if rng.next().is_multiple_of(2) {
                pair.write(&mut rng, op);
            } else {
                pair.read(&mut rng, op);
            }
            op += 1;
        }
        pair.end(&mut rng);
        if crate::FAILED.load(core::sync::atomic::Ordering::Relaxed) {
            return;
        }
    }
    sk_user::println!("pipetest: differential: {op} operations agree");
}
