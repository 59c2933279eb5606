//! Threads and processes for the switch metrics, on Linux: a thread that
//! yields back (`sched_yield` between two threads of one process), a
//! forked process that yields back, a thread created and joined, and a
//! pipe ping-pong between two processes.
//!
//! Owns [`ThreadPartner`], [`ProcessPartner`], [`create_and_join_thread`]
//! and [`PingPong`]: the Linux side of the interface the native backend
//! offers with the same names. Thread stacks are two static buffers, each
//! handed to one thread at a time and taken back only once the kernel has
//! said that thread exited (the `CLONE_CHILD_CLEARTID` futex word).

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use super::syscall::{self, Errno, ThreadWork};

/// Bytes of each thread stack (the threads run a few instructions of
/// machine code; the kernel needs none of it).
const STACK_BYTES: usize = 16 * 1024;

/// A stack lent to one thread at a time.
struct ThreadStack {
    bytes: UnsafeCell<[u8; STACK_BYTES]>,
    is_lent: AtomicBool,
}

// SAFETY: the bytes are never reached through a Rust reference: only their
// address goes to `clone`, guarded by `is_lent`.
unsafe impl Sync for ThreadStack {}

impl ThreadStack {
    const fn new() -> Self {
        Self {
            bytes: UnsafeCell::new([0; STACK_BYTES]),
            is_lent: AtomicBool::new(false),
        }
    }

    /// The 16-byte aligned top, if no thread has it.
    fn lend(&self) -> Option<u64> {
        if self.is_lent.swap(true, Ordering::AcqRel) {
            return None;
        }
        let end = self.bytes.get() as u64 + STACK_BYTES as u64;
        Some(end & !15)
    }

    /// Takes it back: only once its thread has exited.
    fn give_back(&self) {
        self.is_lent.store(false, Ordering::Release);
    }
}

/// The partner of the yield metrics and the joined thread's stack.
static PARTNER_STACK: ThreadStack = ThreadStack::new();
static JOIN_STACK: ThreadStack = ThreadStack::new();
/// Non-zero: the partner thread exits.
static STOP: AtomicU32 = AtomicU32::new(0);
/// The partner thread's rounds (one per `sched_yield`).
static ROUNDS: AtomicU64 = AtomicU64::new(0);
/// The child-TID words the kernel clears at each thread's exit.
static PARTNER_TID: AtomicU32 = AtomicU32::new(0);
static JOIN_TID: AtomicU32 = AtomicU32::new(0);

/// Waits until the kernel has cleared `tid_word` (the thread exited).
fn join(tid_word: &AtomicU32) {
    loop {
        let value = tid_word.load(Ordering::Acquire);
        if value == 0 {
            return;
        }
        syscall::futex_wait(tid_word, value);
    }
}

/// Starts a thread on `stack` doing `work`, with `tid_word` as its
/// child-TID word.
fn start_thread(
    stack: &'static ThreadStack,
    tid_word: &'static AtomicU32,
    work: ThreadWork,
) -> Result<(), Errno> {
    const BUSY: Errno = Errno::BUSY;
    let top = stack.lend().ok_or(BUSY)?;
    // Non-zero until the kernel clears it at the thread's exit.
    tid_word.store(u32::MAX, Ordering::Release);
    // SAFETY: `top` ends a static buffer no other thread has (`lend`); it
    // is given back only after `join` saw the thread's exit. The two words
    // are statics.
    match unsafe { syscall::clone_thread(top, tid_word, &STOP, &ROUNDS, work) } {
        Ok(_) => Ok(()),
        Err(error) => {
            tid_word.store(0, Ordering::Release);
            stack.give_back();
            Err(error)
        }
    }
}

/// A thread of this process that `sched_yield`s until stopped.
#[derive(Debug)]
pub(crate) struct ThreadPartner(());

impl ThreadPartner {
    /// Starts it; with `uses_vector` it runs one SSE instruction per round.
    pub(crate) fn start(uses_vector: bool) -> Result<Self, Errno> {
        STOP.store(0, Ordering::Release);
        let work = if uses_vector {
            ThreadWork::YieldWithVector
        } else {
            ThreadWork::Yield
        };
        start_thread(&PARTNER_STACK, &PARTNER_TID, work).map(|()| Self(()))
    }

    /// Rounds of its loop so far (one yield each).
    pub(crate) fn rounds(&self) -> Option<u64> {
        Some(ROUNDS.load(Ordering::Acquire))
    }

    /// Stops it and waits for its exit.
    pub(crate) fn stop(self) -> Result<(), Errno> {
        STOP.store(1, Ordering::Release);
        join(&PARTNER_TID);
        PARTNER_STACK.give_back();
        Ok(())
    }
}

/// A thread that exits at once, started and joined.
pub(crate) fn create_and_join_thread() -> Result<(), Errno> {
    start_thread(&JOIN_STACK, &JOIN_TID, ThreadWork::ExitAtOnce)?;
    join(&JOIN_TID);
    JOIN_STACK.give_back();
    Ok(())
}

/// A forked process that `sched_yield`s until killed.
#[derive(Debug)]
pub(crate) struct ProcessPartner {
    pid: u64,
}

impl ProcessPartner {
    /// Forks it.
    pub(crate) fn start() -> Result<Self, Errno> {
        match syscall::fork()? {
            0 => loop {
                syscall::sched_yield();
            },
            pid => Ok(Self { pid }),
        }
    }

    /// Its rounds are not visible here (no shared memory).
    pub(crate) fn rounds(&self) -> Option<u64> {
        None
    }

    /// Kills and reaps it.
    pub(crate) fn stop(self) -> Result<(), Errno> {
        syscall::kill(self.pid)?;
        syscall::wait4(self.pid).map(drop)
    }
}

/// Two pipes and a forked child that answers each byte with one.
#[derive(Debug)]
pub(crate) struct PingPong {
    pid: u64,
    to_child: u64,
    from_child: u64,
}

impl PingPong {
    /// Makes the pipes and forks the child; `None` never (Linux has pipes).
    pub(crate) fn start() -> Result<Option<Self>, Errno> {
        let [child_reads, parent_writes] = syscall::pipe()?;
        let [parent_reads, child_writes] = syscall::pipe()?;
        match syscall::fork()? {
            0 => {
                let _ = syscall::close(parent_writes);
                let _ = syscall::close(parent_reads);
                let mut byte = [0_u8; 1];
                while syscall::read(child_reads, &mut byte) == Ok(1) {
                    if syscall::write(child_writes, &byte) != Ok(1) {
                        break;
                    }
                }
                syscall::exit_thread()
            }
            pid => {
                let _ = syscall::close(child_reads);
                let _ = syscall::close(child_writes);
                Ok(Some(Self {
                    pid,
                    to_child: parent_writes,
                    from_child: parent_reads,
                }))
            }
        }
    }

    /// One round trip: a byte to the child, its byte back.
    #[inline(always)]
    pub(crate) fn round_trip(&self, byte: &mut [u8; 1]) -> Result<(), Errno> {
        syscall::write(self.to_child, byte)?;
        syscall::read(self.from_child, byte).map(drop)
    }

    /// Closes the parent's ends (the child reads EOF and exits) and reaps it.
    pub(crate) fn stop(self) -> Result<(), Errno> {
        let _ = syscall::close(self.to_child);
        let _ = syscall::close(self.from_child);
        syscall::wait4(self.pid).map(drop)
    }
}

/// The echo thread's pipe ends: reads from the first, writes to the second.
static ECHO_FDS: [core::sync::atomic::AtomicU64; 2] =
    [const { core::sync::atomic::AtomicU64::new(0) }; 2];
static ECHO_TID: AtomicU32 = AtomicU32::new(0);
static ECHO_STACK: ThreadStack = ThreadStack::new();

/// The echo thread: each byte read is written back, until end of file.
extern "C" fn echo(_: u64) {
    let (from, to) = (
        ECHO_FDS[0].load(Ordering::Acquire),
        ECHO_FDS[1].load(Ordering::Acquire),
    );
    let mut byte = [0_u8; 1];
    while syscall::read(from, &mut byte) == Ok(1) {
        if syscall::write(to, &byte) != Ok(1) {
            break;
        }
    }
}

/// A thread of this process that echoes every byte from one pipe into
/// another (the thread ping-pong's partner).
#[derive(Debug)]
pub(crate) struct EchoThread(());

impl EchoThread {
    /// Starts it on `from` (read end) and `to` (write end).
    pub(crate) fn start(from: &super::File, to: &super::File) -> Result<Self, Errno> {
        ECHO_FDS[0].store(from.fd, Ordering::Release);
        ECHO_FDS[1].store(to.fd, Ordering::Release);
        let top = ECHO_STACK.lend().ok_or(Errno::BUSY)?;
        ECHO_TID.store(u32::MAX, Ordering::Release);
        // SAFETY: `top` ends a static buffer no other thread has (`lend`),
        // given back only after `join` saw the thread's exit; `echo` only
        // makes system calls on descriptors this program keeps open until
        // it joined.
        match unsafe { syscall::clone_thread_call(top, &ECHO_TID, echo, 0) } {
            Ok(_) => Ok(Self(())),
            Err(error) => {
                ECHO_TID.store(0, Ordering::Release);
                ECHO_STACK.give_back();
                Err(error)
            }
        }
    }

    /// Waits for it to end (the caller closed the write end it reads).
    pub(crate) fn join(self) {
        join(&ECHO_TID);
        ECHO_STACK.give_back();
    }
}

/// A new "port": a `SOCK_SEQPACKET` unix socket pair, (receive end, send
/// end): a 64-byte `write` on one is one message `read` whole on the other.
pub(crate) fn new_port() -> Result<(super::File, super::File), Errno> {
    let [receive, send] = syscall::seqpacket_pair()?;
    Ok((super::File { fd: receive }, super::File { fd: send }))
}

/// A new pipe: (read end, write end).
pub(crate) fn new_pipe() -> Result<(super::File, super::File), Errno> {
    let [read, write] = syscall::pipe()?;
    Ok((super::File { fd: read }, super::File { fd: write }))
}

/// Gives the CPU to another runnable thread: `sched_yield`.
#[inline(always)]
pub(crate) fn yield_now() {
    syscall::sched_yield();
}
