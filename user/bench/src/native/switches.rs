//! Threads and SMACHs for the switch metrics, on Synthesis: an SCPU that
//! yields back, a child SMACH that yields back (this program started with
//! [`PARTNER_ARG`]), an SCPU created and joined, and pipe ping-pongs
//! (between two SCPUs, and between two SMACHs: pipe ends shared with a
//! child started with [`PINGPONG_ARG`]).
//!
//! Owns [`ThreadPartner`], [`ProcessPartner`], [`create_and_join_thread`],
//! [`PingPong`] and [`yield_now`]: the native side of the interface the
//! Linux backend offers with the same names. A yield is
//! `reconfigure(YieldCaller)` on the SMACH's own handle, which any SCPU can
//! make (the first one has no SCPU handle of its own).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{Handle, SysError};
use sk_user::{Scpu, Smach, Stack};

/// The start argument that makes this program a [`ProcessPartner`].
pub(crate) const PARTNER_ARG: u64 = 2;

/// Bytes per thread stack.
const STACK_BYTES: usize = 16 * 1024;

/// The yield partners' stacks (each metric starts its partner once).
static PARTNER_STACK: Stack<STACK_BYTES> = Stack::new();
static VECTOR_PARTNER_STACK: Stack<STACK_BYTES> = Stack::new();

/// Gives the CPU to the other ready SCPUs.
#[inline(always)]
pub(crate) fn yield_now() {
    let _ = sk_user::yield_now();
}

/// The partner thread's rounds (one per yield).
static ROUNDS: AtomicU64 = AtomicU64::new(0);

/// The partner threads' loop: yield forever (the creator kills it); with
/// a non-zero `uses_vector`, one SSE instruction per round.
extern "C" fn yield_forever(uses_vector: u64) -> ! {
    let mut value = uses_vector;
    loop {
        ROUNDS.fetch_add(1, Ordering::Relaxed);
        if uses_vector != 0 {
            value = crate::vector::touch(value);
        }
        yield_now();
    }
}

/// An SCPU of this SMACH that yields back.
#[derive(Debug)]
pub(crate) struct ThreadPartner {
    scpu: Scpu,
}

impl ThreadPartner {
    /// Starts it; with `uses_vector` it runs one SSE instruction per round.
    pub(crate) fn start(uses_vector: bool) -> Result<Self, SysError> {
        let stack = if uses_vector {
            &VECTOR_PARTNER_STACK
        } else {
            &PARTNER_STACK
        };
        let stack = stack.take().ok_or(SysError::Busy)?;
        let scpu = Scpu::create(yield_forever, stack, u64::from(uses_vector))?;
        Ok(Self { scpu })
    }

    /// Rounds of its loop so far (one yield each).
    pub(crate) fn rounds(&self) -> Option<u64> {
        Some(ROUNDS.load(Ordering::Acquire))
    }

    /// Kills it.
    pub(crate) fn stop(self) -> Result<(), SysError> {
        self.scpu.terminate(0)
    }
}

/// A child SMACH (this program, [`PARTNER_ARG`]) that yields back.
#[derive(Debug)]
pub(crate) struct ProcessPartner {
    smach: Smach,
}

impl ProcessPartner {
    /// Spawns it.
    pub(crate) fn start() -> Result<Self, SysError> {
        let smach = Smach::spawn_with_arg("/bin/bench", PARTNER_ARG)?;
        Ok(Self { smach })
    }

    /// Its rounds are not visible here (no memory shared between SMACHs
    /// yet).
    pub(crate) fn rounds(&self) -> Option<u64> {
        None
    }

    /// Kills it.
    pub(crate) fn stop(self) -> Result<(), SysError> {
        self.smach.terminate()
    }
}

/// What a [`PARTNER_ARG`] start runs: yield forever.
pub(crate) fn be_process_partner() -> ! {
    loop {
        yield_now();
    }
}

/// The joined thread's stack: lent to one SCPU at a time.
struct JoinStack {
    bytes: UnsafeCell<[u8; STACK_BYTES]>,
    is_lent: AtomicBool,
}

// SAFETY: the bytes are reached only through `lend`, one `&mut` at a time,
// guarded by `is_lent`.
unsafe impl Sync for JoinStack {}

static JOIN_STACK: JoinStack = JoinStack {
    bytes: UnsafeCell::new([0; STACK_BYTES]),
    is_lent: AtomicBool::new(false),
};

impl JoinStack {
    /// The memory, if no SCPU has it.
    #[allow(
        clippy::mut_from_ref,
        reason = "the atomic flag hands out the one `&mut` at a time"
    )]
    fn lend(&'static self) -> Option<&'static mut [u8]> {
        if self.is_lent.swap(true, Ordering::AcqRel) {
            return None;
        }
        // SAFETY: `is_lent` was clear: either never lent, or given back by
        // `create_and_join_thread` after the kernel said the SCPU it was
        // lent to is gone (its handle no longer answers: it made its last
        // user-mode instruction, the `terminate`). The `&mut` lent then
        // was moved into `Scpu::create`, which only read its bounds; so
        // this is the only reference.
        Some(unsafe { &mut *self.bytes.get() })
    }

    fn give_back(&self) {
        self.is_lent.store(false, Ordering::Release);
    }
}

/// The joined SCPU's own handle index + 1 (0: not yet known to it).
static JOIN_HANDLE: AtomicU32 = AtomicU32::new(0);

/// The joined SCPU: ends itself as soon as it knows its handle.
extern "C" fn end_at_once(_: u64) -> ! {
    loop {
        if let Some(index) = JOIN_HANDLE.load(Ordering::Acquire).checked_sub(1) {
            let _ = Scpu::from_handle(Handle::new(index)).terminate(0);
        }
        yield_now();
    }
}

/// An SCPU that ends itself at once, started and joined: the creator
/// yields until the SCPU's handle is gone.
pub(crate) fn create_and_join_thread() -> Result<(), SysError> {
    JOIN_HANDLE.store(0, Ordering::Release);
    let stack = JOIN_STACK.lend().ok_or(SysError::Busy)?;
    let scpu = match Scpu::create(end_at_once, stack, 0) {
        Ok(scpu) => scpu,
        Err(error) => {
            JOIN_STACK.give_back();
            return Err(error);
        }
    };
    let handle = scpu.handle();
    JOIN_HANDLE.store(handle.index() + 1, Ordering::Release);
    loop {
        yield_now();
        match Scpu::from_handle(handle).query() {
            Ok(_) => {}
            Err(SysError::BadHandle) => break,
            Err(error) => return Err(error),
        }
    }
    JOIN_STACK.give_back();
    Ok(())
}

/// The echo SCPU's pipe ends (handle indices): reads the first, writes
/// the second.
static ECHO_HANDLES: [AtomicU32; 2] = [const { AtomicU32::new(0) }; 2];
static ECHO_STACK: Stack<STACK_BYTES> = Stack::new();

/// The echo SCPU: each byte read is written back, until end of file; then
/// it ends itself (its handle is in `ECHO_SELF`).
extern "C" fn echo(_: u64) -> ! {
    let from = sk_user::Sio::from_handle(Handle::new(ECHO_HANDLES[0].load(Ordering::Acquire)));
    let to = sk_user::Sio::from_handle(Handle::new(ECHO_HANDLES[1].load(Ordering::Acquire)));
    let mut byte = [0_u8; 1];
    while from.read(&mut byte) == Ok(1) {
        if to.write(&byte) != Ok(1) {
            break;
        }
    }
    ECHO_DONE.store(true, Ordering::Release);
    loop {
        let _ = sk_user::sleep_ns(1 << 40);
    }
}

/// Set by the echo SCPU when its pipe reached end of file.
static ECHO_DONE: AtomicBool = AtomicBool::new(false);

/// An SCPU of this SMACH that echoes every byte from one pipe into
/// another (the thread ping-pong's partner).
#[derive(Debug)]
pub(crate) struct EchoThread {
    scpu: Scpu,
}

impl EchoThread {
    /// Starts it on `from` (read end) and `to` (write end).
    pub(crate) fn start(from: &super::File, to: &super::File) -> Result<Self, SysError> {
        ECHO_HANDLES[0].store(from.handle().index(), Ordering::Release);
        ECHO_HANDLES[1].store(to.handle().index(), Ordering::Release);
        ECHO_DONE.store(false, Ordering::Release);
        let stack = ECHO_STACK.take().ok_or(SysError::Busy)?;
        let scpu = Scpu::create(echo, stack, 0)?;
        Ok(Self { scpu })
    }

    /// Waits for it to see end of file (the caller closed the write end it
    /// reads), then ends it.
    pub(crate) fn join(self) {
        while !ECHO_DONE.load(Ordering::Acquire) {
            yield_now();
        }
        let _ = self.scpu.terminate(0);
    }
}

/// A new pipe: (read end, write end).
pub(crate) fn new_pipe() -> Result<(super::File, super::File), SysError> {
    let (read, write) = sk_user::Sio::pipe()?;
    Ok((super::File::from_sio(read), super::File::from_sio(write)))
}

/// A new port: (receive end, send end), synthesized send and receive.
pub(crate) fn new_port() -> Result<(super::File, super::File), SysError> {
    let (receive, send) = sk_user::Sio::port()?;
    Ok((super::File::from_sio(receive), super::File::from_sio(send)))
}

/// A pipe ping-pong between two SMACHs: a child SMACH (this program
/// started with [`PINGPONG_ARG`], suspended until the ends are shared)
/// gets the read end of one pipe (handle 2) and the write end of another
/// (handle 3) and echoes every byte back.
#[derive(Debug)]
pub(crate) struct PingPong {
    child: Smach,
    there_w: sk_user::Sio,
    back_r: sk_user::Sio,
    there_r: sk_user::Sio,
    back_w: sk_user::Sio,
}

/// The start argument that makes this program the ping-pong's echo.
pub(crate) const PINGPONG_ARG: u64 = 3;

impl PingPong {
    /// Makes the pipes, shares the child's ends with it, starts it.
    pub(crate) fn start() -> Result<Option<Self>, SysError> {
        let (there_r, there_w) = sk_user::Sio::pipe()?;
        let (back_r, back_w) = sk_user::Sio::pipe()?;
        let child = Smach::spawn_suspended("/bin/bench", PINGPONG_ARG)?;
        let shared = (
            there_r.share(&child, sk_user::abi::OpenFlags::READ),
            back_w.share(&child, sk_user::abi::OpenFlags::WRITE),
        );
        if shared != (Ok(Handle::new(2)), Ok(Handle::new(3))) {
            let _ = child.terminate();
            return Err(SysError::BadHandle);
        }
        child.resume()?;
        Ok(Some(Self {
            child,
            there_w,
            back_r,
            there_r,
            back_w,
        }))
    }

    /// One byte there and back.
    #[inline(always)]
    pub(crate) fn round_trip(&self, byte: &mut [u8; 1]) -> Result<(), SysError> {
        self.there_w.write(byte)?;
        self.back_r.read(byte).map(drop)
    }

    /// Closes the child's input (it sees end of file and exits), waits for
    /// it, closes the rest.
    pub(crate) fn stop(self) -> Result<(), SysError> {
        self.there_w.close()?;
        let status = self.child.wait();
        self.there_r.close()?;
        self.back_r.close()?;
        self.back_w.close()?;
        match status? {
            0 => Ok(()),
            _ => Err(SysError::Interrupted),
        }
    }
}

/// What a [`PINGPONG_ARG`] start runs: echo handle 2 into handle 3 until
/// end of file.
pub(crate) fn be_pipe_echo() -> ! {
    let (from, to) = (
        sk_user::Sio::from_handle(Handle::new(2)),
        sk_user::Sio::from_handle(Handle::new(3)),
    );
    let mut byte = [0_u8; 1];
    while from.read(&mut byte) == Ok(1) {
        if to.write(&byte) != Ok(1) {
            sk_user::exit(1);
        }
    }
    sk_user::exit(0)
}
