//! Using two handles from a second SCPU, once.
//!
//! Owns [`probe`]: it starts a thread that makes one call on A (normal)
//! and one on B (forced generic) — a read of [`PROBE_LEN`] bytes, or for the
//! tty a write of one `.` — stores each result and an FNV-1a hash of the
//! bytes read in statics, raises a flag and spins; the caller waits for the
//! flag and then terminates the thread. After it, the kernel must serve A's
//! owner from the generic path for good.
//!
//! Each probe uses a fresh static stack (a `&'static mut` stack is never
//! given back), so a run can probe at most [`STACKS`] times.

use core::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, AtomicUsize, Ordering};

use sk_abi::SysError;
use sk_user::{rdtsc, Handle, Scpu, Sio, Stack};
use sk_user_synthtest::fnv1a;

use crate::support::{fail, must, Msg};

/// Bytes the thread reads from each handle.
pub(crate) const PROBE_LEN: usize = 64;

/// Probes a run can make.
const STACKS: usize = 8;

/// How long to wait for the thread, in TSC ticks (seconds at GHz rates;
/// generous for emulation).
const WAIT_TICKS: u64 = 20_000_000_000;

static THREAD_STACKS: [Stack<16384>; STACKS] = [const { Stack::new() }; STACKS];
static NEXT_STACK: AtomicUsize = AtomicUsize::new(0);

/// The job: A's and B's handles, and whether to write instead of read.
static JOB_A: AtomicU32 = AtomicU32::new(0);
static JOB_B: AtomicU32 = AtomicU32::new(0);
static JOB_WRITES: AtomicBool = AtomicBool::new(false);

/// The thread's results (`rax` encoding) and hashes, then the flag.
static RESULT_A: AtomicI64 = AtomicI64::new(0);
static RESULT_B: AtomicI64 = AtomicI64::new(0);
static HASH_A: AtomicU64 = AtomicU64::new(0);
static HASH_B: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicBool = AtomicBool::new(false);

/// What the second SCPU got from one handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Use {
    /// The call's result.
    pub(crate) result: Result<u64, SysError>,
    /// FNV-1a of the bytes read (of nothing, for a write).
    pub(crate) hash: u64,
}

/// Has a second SCPU call `a` (normally) and `b` (forced generic) once
/// each: a read of [`PROBE_LEN`] bytes, or a one-byte write if `writes`.
/// Returns what each call got.
pub(crate) fn probe(a: &Sio, b: &Sio, writes: bool) -> Result<(Use, Use), Msg> {
    let slot = NEXT_STACK.fetch_add(1, Ordering::Relaxed);
    let Some(stack) = THREAD_STACKS.get(slot).and_then(Stack::take) else {
        fail!("no thread stack left ({STACKS} probes per run)");
    };
    JOB_A.store(a.handle().index(), Ordering::Relaxed);
    JOB_B.store(b.handle().index(), Ordering::Relaxed);
    // Release, paired with the thread's first load: it sees the whole job.
    JOB_WRITES.store(writes, Ordering::Release);
    DONE.store(false, Ordering::Relaxed);
    let thread = must("create SCPU", Scpu::create(worker, stack, 0))?;
    let start = rdtsc();
    while !DONE.load(Ordering::Acquire) {
        if rdtsc().wrapping_sub(start) > WAIT_TICKS {
            let _ = thread.terminate(0);
            fail!("second SCPU did not finish");
        }
        core::hint::spin_loop();
    }
    must("terminate SCPU", thread.terminate(0))?;
    let get = |result: &AtomicI64, hash: &AtomicU64| Use {
        result: SysError::decode_return(result.load(Ordering::Relaxed)),
        hash: hash.load(Ordering::Relaxed),
    };
    Ok((get(&RESULT_A, &HASH_A), get(&RESULT_B, &HASH_B)))
}

/// The second SCPU: one call on each handle, then report and spin.
extern "C" fn worker(_arg: u64) -> ! {
    let writes = JOB_WRITES.load(Ordering::Acquire);
    let a = Sio::from_handle(Handle::new(JOB_A.load(Ordering::Relaxed)));
    let b = Sio::from_handle(Handle::new(JOB_B.load(Ordering::Relaxed))).generic();
    let (result_a, hash_a) = use_once(&a, writes);
    let (result_b, hash_b) = use_once(&b, writes);
    RESULT_A.store(result_a, Ordering::Relaxed);
    RESULT_B.store(result_b, Ordering::Relaxed);
    HASH_A.store(hash_a, Ordering::Relaxed);
    HASH_B.store(hash_b, Ordering::Relaxed);
    DONE.store(true, Ordering::Release);
    loop {
        core::hint::spin_loop();
    }
}

/// One call on `sio`: the result as `rax` and the hash of what it read.
fn use_once(sio: &Sio, writes: bool) -> (i64, u64) {
    let mut buf = [0_u8; PROBE_LEN];
    let result = if writes {
        sio.write(b".")
    } else {
        sio.read(&mut buf)
    };
    let read = match result {
        Ok(len) if !writes => buf.get(..len).unwrap_or_default(),
        _ => &[],
    };
    let result = result.map(|len| len as u64);
    (SysError::encode_result(result), fnv1a(read))
}
