//! Modes 1-6: an SCPU ends itself (`terminate` on its own handle) from
//! every state the attacker can arrange: many times over with its handle
//! number reused, while another SCPU is between two pieces of a long call
//! on the SIO it opened, racing a kill by handle, racing the SMACH's exit,
//! and while the parent suspends and resumes the SMACH.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{Call, Handle, SmachState, SysError};
use sk_user::{println, OpenFlags, Scpu, Smach, Whence};

use crate::support::{
    big_file, region, show, small_file, spin, start_on, wait_flag, wait_gone, word, COUNT, MISSED,
    SETUP, SPIN_LIMIT,
};

/// The handle a self-ending thread ends itself with (0: not told yet).
static MY_HANDLE: AtomicU32 = AtomicU32::new(0);
/// Threads that started running.
static RAN: AtomicU64 = AtomicU64::new(0);
/// What `terminate` on its own handle returned to a thread (0: it never
/// returned, as it must not; else the raw `rax`, never 0 as an error... or
/// `u64::MAX` for a success).
static RETURNED: AtomicU64 = AtomicU64::new(0);
/// The handle of the SIO a self-ending thread opened.
static OPENED: AtomicU32 = AtomicU32::new(0);
/// Raised by `main` to let a thread go on.
static GO: AtomicU64 = AtomicU64::new(0);
/// Raised by a self-ending thread just before its `terminate`.
static ABOUT_TO_END: AtomicU64 = AtomicU64::new(0);

/// Waits for its handle in [`MY_HANDLE`] (and [`GO`], when `wait_go`),
/// then ends itself with `status`; records a return in [`RETURNED`].
fn end_myself(status: i32, wait_go: bool) -> ! {
    let handle = loop {
        let h = MY_HANDLE.load(Ordering::SeqCst);
        if h != 0 && (!wait_go || GO.load(Ordering::SeqCst) != 0) {
            break Handle::new(h);
        }
        core::hint::spin_loop();
    };
    ABOUT_TO_END.store(1, Ordering::SeqCst);
    let result = Scpu::from_handle(handle).terminate(status);
    let code = match result {
        Ok(()) => u64::MAX,
        Err(e) => e as u64 + 1,
    };
    RETURNED.store(code, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// Checks no self-ending thread came back from `terminate`.
fn never_returned(what: &str) -> Result<(), i32> {
    match RETURNED.load(Ordering::SeqCst) {
        0 => Ok(()),
        u64::MAX => {
            println!(
                "reaper: FINDING: {what}: terminate on its own handle returned Ok to the thread"
            );
            Err(12)
        }
        code => {
            println!(
                "reaper: FINDING: {what}: terminate on its own handle returned error {} to the thread",
                code - 1
            );
            Err(12)
        }
    }
}

// ---- mode 1: end itself, again and again, on a reused handle ----

const OWN_FILE: &str = "/tmp/rp.own";
const OWN_BYTES: &[u8; 16] = b"0123456789abcdef";
/// Generations of self-ending threads.
const GENERATIONS: u64 = 24;

/// Opens [`OWN_FILE`] (so it is the SIO's opener: its routines are made
/// for this thread's table), reads through it once, leaves it open, then
/// ends itself.
extern "C" fn opener_ends_itself(generation: u64) -> ! {
    if let Ok(f) = sk_user::Sio::open(OWN_FILE, OpenFlags::READ) {
        let mut buf = [0u8; 16];
        if f.read(&mut buf) == Ok(16) && &buf == OWN_BYTES {
            OPENED.store(f.handle().index(), Ordering::SeqCst);
        }
    }
    RAN.fetch_add(1, Ordering::SeqCst);
    end_myself(i32::try_from(generation).unwrap_or(0), false)
}

/// Mode 1: [`GENERATIONS`] threads in turn open a file, end themselves
/// with `terminate` on their own handle, and leave the handle number to
/// the next. Each must end (handle gone), never return, run once; the
/// SIO it opened must still read right from `main` (its routines were
/// retired with the thread, the SIO stays).
pub(crate) fn reuse() -> Result<(), i32> {
    small_file(OWN_FILE, OWN_BYTES)?;
    let mut first: Option<Handle> = None;
    for generation in 0..GENERATIONS {
        MY_HANDLE.store(0, Ordering::SeqCst);
        OPENED.store(0, Ordering::SeqCst);
        // SAFETY: the previous generation's thread is gone (wait_gone).
        let scpu = unsafe { start_on(0, opener_ends_itself, generation, 4) }?;
        let handle = scpu.handle();
        match first {
            None => first = Some(handle),
            Some(h) if h == handle => {}
            Some(h) => {
                println!(
                    "reaper: generation {generation} got handle {} not {} (the freed number was not reused)",
                    handle.index(),
                    h.index()
                );
                return Err(SETUP);
            }
        }
        MY_HANDLE.store(handle.index(), Ordering::SeqCst);
        wait_gone(handle, 11)?;
        never_returned("reuse")?;
        let ran = RAN.load(Ordering::SeqCst);
        if ran != generation + 1 {
            println!(
                "reaper: FINDING: after {} generations, {ran} threads ran",
                generation + 1
            );
            return Err(13);
        }
        match Scpu::from_handle(handle).terminate(0) {
            Err(SysError::BadHandle) => {}
            other => {
                println!("reaper: FINDING: terminate on the ended thread's handle: {other:?}");
                return Err(14);
            }
        }
        let opened = OPENED.load(Ordering::SeqCst);
        if opened == 0 {
            println!("reaper: generation {generation} could not open and read {OWN_FILE}");
            return Err(SETUP);
        }
        let f = sk_user::Sio::from_handle(Handle::new(opened));
        let mut buf = [0u8; 16];
        let again = f.seek(Whence::Set, 0).and_then(|_| f.read(&mut buf));
        if again != Ok(16) || &buf != OWN_BYTES {
            println!("reaper: FINDING: the SIO a self-ended thread opened reads {again:?} {buf:?}");
            return Err(15);
        }
        f.close().map_err(|_| SETUP)?;
    }
    println!(
        "reaper: reuse: {GENERATIONS} threads ended themselves on handle {}; none returned, each ran once",
        first.map_or(0, Handle::index)
    );
    Ok(())
}

// ---- mode 2: end itself while another SCPU is mid-call on its SIO ----

const MIB: u64 = 1 << 20;
/// Length of the long call.
const LEN: u64 = 16 * MIB;
const SRC: &str = "/tmp/rp.src";

/// The handle of the shared SIO (0: not open yet).
static SHARED: AtomicU32 = AtomicU32::new(0);
static IN_CALL: AtomicU64 = AtomicU64::new(0);
static DONE: AtomicU64 = AtomicU64::new(0);
static RESULT: AtomicU64 = AtomicU64::new(0);
static BUF: AtomicU64 = AtomicU64::new(0);

/// Whether the reader was still in its call when the opener ended itself
/// (0: not known yet, 1: in the call, 2: the call was over).
static MID_CALL: AtomicU64 = AtomicU64::new(0);

/// Opens [`SRC`], reads a byte (the SIO is its own: routines for its
/// table), seeks back, publishes the handle; then, at its first turn after
/// the reader entered its call, notes whether the call is still running
/// and ends itself (the witness is taken by the opener itself, just
/// before its `terminate`: main's view, a turn later, would be too late).
extern "C" fn opener_then_ends(_arg: u64) -> ! {
    if let Ok(f) = sk_user::Sio::open(SRC, OpenFlags::READ) {
        let mut b = [0u8; 1];
        if f.read(&mut b) == Ok(1) && f.seek(Whence::Set, 0) == Ok(0) {
            SHARED.store(f.handle().index(), Ordering::SeqCst);
        }
    }
    while IN_CALL.load(Ordering::SeqCst) == 0 {
        core::hint::spin_loop();
    }
    let running = DONE.load(Ordering::SeqCst) == 0;
    MID_CALL.store(if running { 1 } else { 2 }, Ordering::SeqCst);
    end_myself(0, true)
}

/// Waits for a fresh quantum, reads [`LEN`] bytes through [`SHARED`].
extern "C" fn long_reader(_arg: u64) -> ! {
    let seen = COUNT.load(Ordering::SeqCst);
    while COUNT.load(Ordering::SeqCst) == seen {
        core::hint::spin_loop();
    }
    IN_CALL.store(1, Ordering::SeqCst);
    let handle = Handle::new(SHARED.load(Ordering::SeqCst));
    // SAFETY: BUF is a region of LEN bytes mapped read-write for the whole
    // call; no Rust reference to it lives meanwhile.
    let got = unsafe {
        sk_user::raw::syscall2(word(handle, Call::Read), BUF.load(Ordering::SeqCst), LEN)
    };
    RESULT.store(got as u64, Ordering::SeqCst);
    DONE.store(1, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

/// Mode 2: thread O opens a 16 MiB file of `B`; thread C (priority 0)
/// reads all of it through O's handle; between two pieces of C's call, O
/// ends itself (its routines are retired, the SIO stays). C's read must
/// return the whole file, all `B`; the SIO must read right afterwards.
pub(crate) fn mid_shared_call() -> Result<(), i32> {
    big_file(SRC, LEN, b'B')?;
    let mut dst = region(LEN, 0xa5)?;
    BUF.store(dst.addr(), Ordering::SeqCst);
    // SAFETY: slot 1 was never used in this program.
    let opener = unsafe { start_on(1, opener_then_ends, 0, 4) }?;
    MY_HANDLE.store(opener.handle().index(), Ordering::SeqCst);
    GO.store(1, Ordering::SeqCst);
    wait_flag_u32(&SHARED)?;
    // SAFETY: slot 0 was never used in this program.
    let reader = unsafe { start_on(0, long_reader, 0, 0) }?;
    while IN_CALL.load(Ordering::SeqCst) == 0 {
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    if DONE.load(Ordering::SeqCst) != 0 {
        println!("reaper: the long read was over before main ran");
        return Err(MISSED);
    }
    wait_gone(opener.handle(), 11)?;
    let mid_call = MID_CALL.load(Ordering::SeqCst) == 1;
    never_returned("mid-shared-call")?;
    wait_flag(&DONE, 16, "the end of the long read")?;
    let got = RESULT.load(Ordering::SeqCst) as i64;
    // SAFETY: mapped read-write; the call is over.
    let bytes = unsafe { dst.as_mut_slice() };
    let not_b = bytes.iter().filter(|&&b| b != b'B').count();
    println!(
        "reaper: mid-shared-call: the opener ended itself {} the 16 MiB read through its SIO; the read returned {got} ({}), {not_b} bytes not B",
        if mid_call { "during" } else { "after" },
        show(got)
    );
    if !mid_call {
        return Err(MISSED);
    }
    if u64::try_from(got).ok() != Some(LEN) || not_b != 0 {
        println!("reaper: FINDING: the read through the SIO of a thread that ended itself came back wrong");
        return Err(17);
    }
    let f = sk_user::Sio::from_handle(Handle::new(SHARED.load(Ordering::SeqCst)));
    let mut again = [0u8; 64];
    let r = f.seek(Whence::Set, 0).and_then(|_| f.read(&mut again));
    if r != Ok(64) || again.iter().any(|&b| b != b'B') {
        println!("reaper: FINDING: the SIO reads {r:?} after its opener ended itself");
        return Err(18);
    }
    reader.terminate(0).map_err(|_| SETUP)?;
    let _ = f.close();
    let _ = dst.free();
    Ok(())
}

fn wait_flag_u32(flag: &AtomicU32) -> Result<(), i32> {
    for _ in 0..SPIN_LIMIT {
        if flag.load(Ordering::SeqCst) != 0 {
            return Ok(());
        }
        COUNT.fetch_add(1, Ordering::SeqCst);
    }
    println!("reaper: the opener never opened its SIO");
    Err(SETUP)
}

// ---- mode 3: end itself while main kills it by handle ----

/// Rounds of mode 3.
const ROUNDS: u64 = 32;

extern "C" fn ends_itself_on_go(_arg: u64) -> ! {
    RAN.fetch_add(1, Ordering::SeqCst);
    end_myself(3, true)
}

/// Mode 3: a thread ends itself as soon as `GO` is raised; `main` raises
/// it, then terminates the thread by handle: in even rounds after a spin
/// a little longer each round (mostly within main's turn: the thread has
/// not run), in odd rounds once the thread said it is about to end (it
/// runs in the thread's turn: mostly gone by then). Whoever comes first,
/// `main`'s call must answer `Ok` (it killed the thread) or `BadHandle`
/// (the thread was gone), the thread must never return, and the handle
/// must be gone. Both outcomes must be seen (else `MISSED`).
pub(crate) fn vs_kill() -> Result<(), i32> {
    let (mut killed, mut ended_first) = (0u64, 0u64);
    for round in 0..ROUNDS {
        GO.store(0, Ordering::SeqCst);
        ABOUT_TO_END.store(0, Ordering::SeqCst);
        MY_HANDLE.store(0, Ordering::SeqCst);
        // SAFETY: the previous round's thread is gone (wait_gone).
        let scpu = unsafe { start_on(0, ends_itself_on_go, 0, 4) }?;
        let handle = scpu.handle();
        MY_HANDLE.store(handle.index(), Ordering::SeqCst);
        GO.store(1, Ordering::SeqCst);
        if round % 2 == 0 {
            spin(round * 60_000);
        } else {
            wait_flag(&ABOUT_TO_END, SETUP, "the thread's terminate")?;
        }
        match scpu.terminate(9) {
            Ok(()) => killed += 1,
            Err(SysError::BadHandle) => ended_first += 1,
            Err(e) => {
                println!("reaper: FINDING: terminate of a thread ending itself: {e:?}");
                return Err(12);
            }
        }
        wait_gone(handle, 11)?;
        never_returned("vs-kill")?;
    }
    println!(
        "reaper: vs-kill: {ROUNDS} rounds: main killed the thread {killed} times, it ended itself first {ended_first} times"
    );
    if killed == 0 || ended_first == 0 {
        return Err(MISSED);
    }
    Ok(())
}

// ---- mode 4: end itself while the SMACH exits ----

/// Mode 4: a thread ends itself on `GO`; `main` raises it, spins `param`
/// times 10,000 iterations, and exits the SMACH with 42 (the thread is not
/// the last one: the status must be 42 whoever comes first).
pub(crate) fn vs_exit(param: u64) -> Result<(), i32> {
    // SAFETY: slot 0 was never used in this program.
    let scpu = unsafe { start_on(0, ends_itself_on_go, 0, 4) }?;
    MY_HANDLE.store(scpu.handle().index(), Ordering::SeqCst);
    GO.store(1, Ordering::SeqCst);
    spin(param * 10_000);
    sk_user::exit(42)
}

// ---- modes 5 and 6: end themselves while the parent suspends ----

/// Threads of mode 6.
const CHILD_THREADS: usize = 6;

extern "C" fn child_ender(slot: u64) -> ! {
    spin(slot * 40_000 + 10_000);
    let handle = loop {
        let h = CHILD_HANDLES[usize::try_from(slot).unwrap_or(0) % CHILD_THREADS]
            .load(Ordering::SeqCst);
        if h != 0 {
            break Handle::new(h);
        }
        core::hint::spin_loop();
    };
    let _ = Scpu::from_handle(handle).terminate(i32::try_from(slot).unwrap_or(0));
    RETURNED.store(u64::MAX, Ordering::SeqCst);
    loop {
        core::hint::spin_loop();
    }
}

static CHILD_HANDLES: [AtomicU32; CHILD_THREADS] = [const { AtomicU32::new(0) }; CHILD_THREADS];

/// Mode 6 (run by mode 5 as a child): six threads end themselves at
/// staggered times; `main` waits until all are gone and exits with 7 (or
/// 12 if one came back).
pub(crate) fn child_self_enders() -> Result<(), i32> {
    let mut handles = [Handle::new(0); CHILD_THREADS];
    for (slot, h) in handles.iter_mut().enumerate() {
        // SAFETY: each slot is used once in this program.
        let scpu = unsafe { start_on(slot, child_ender, slot as u64, 4) }?;
        *h = scpu.handle();
        CHILD_HANDLES[slot].store(h.index(), Ordering::SeqCst);
    }
    for h in handles {
        wait_gone(h, 11)?;
    }
    never_returned("child")?;
    sk_user::exit(7)
}

/// Mode 5: spawns mode 6 as a child and suspends and resumes it over and
/// over until it has exited; its status must be 7.
pub(crate) fn suspend_parent() -> Result<(), i32> {
    let child = Smach::spawn_with_arg("/bin/reaper", 6).map_err(|e| {
        println!("reaper: spawn: {e:?}");
        SETUP
    })?;
    let mut rounds = 0u64;
    loop {
        child.suspend().map_err(|e| {
            println!("reaper: suspend: {e:?}");
            SETUP
        })?;
        let info = child.query().map_err(|_| SETUP)?;
        if info.state().ok() == Some(SmachState::Exited) {
            break;
        }
        spin(3_000);
        child.resume().map_err(|e| {
            println!("reaper: resume: {e:?}");
            SETUP
        })?;
        spin(20_000);
        rounds += 1;
        if rounds > 200_000 {
            println!("reaper: FINDING: the child never exited");
            return Err(19);
        }
    }
    let status = child.wait();
    println!("reaper: suspend-parent: the child exited after {rounds} suspend/resume rounds with {status:?}");
    if status != Ok(7) {
        println!("reaper: FINDING: the child's status is {status:?}, want Ok(7)");
        return Err(20);
    }
    let _ = child.terminate();
    Ok(())
}
