//! `porttest`: ports (`/dev/port`) between SCPUs of one SMACH, one
//! scenario per mode; every mode also runs with every call forced down the
//! generic path (`generic` = 1).
//!
//! The start argument is `mode << 8 | generic`.
//!
//! | mode | name | passes when |
//! |---|---|---|
//! | 0 | `transfers` | 200 messages (the queue holds 16) sent by one SCPU and received by another arrive intact and in order; once with the receiver first (it blocks on empty), once with the sender first (it blocks on full) |
//! | 1 | `ends` | messages sent then the send end closed: received, then 0 (end of stream) twice; a receiver blocked on empty wakes with 0 when the send end closes; a sender blocked on full wakes with `BrokenPipe` when the receive end closes, and so does the next send |
//! | 2 | `many` | 4 sender SCPUs send 300 tagged messages each through one send handle: with 1 receiver every sender's messages arrive exactly once and in its order; with 3 receiver SCPUs every message arrives exactly once and each receiver sees each sender's messages in order |
//! | 3 | `hostile` | open flags other than READ and WRITE: `BadFlags`; lengths 0, 1, 63, 65, 128, 4096: `MessageSize`, nothing moved; read on the send end and write on the receive end: `NotPermitted`; an unmapped or kernel buffer: `BadAddress`, no message lost or sent; seek: `NotSupported`; handle passing with a handle of 1 and rights 0: `BadFlags`, a take of token 1: `NotFound`; query: kinds 9 and 10, size = bytes queued |
//! | 4 | `differential` | 100,000 random operations (sends of random contents, receives, wrong lengths, bad buffers, queries) applied to a port on the table path (synthesized `port_send`/`port_receive`, checked in its routines text) and to a twin forced generic: every result and every received message agree with each other and with a model queue |
//! | 5 | `own_close` | an SCPU blocked in a receive (empty) or a send (full) wakes with `BadHandle` when a sibling closes the end it waits on (`review.rs`) |
//! | 6 | `shared` | the receive end shared read-only and the send end write-only with a child (mode 7, started suspended): escalation refused, the holder sends and receives, blocks in a receive, and the owner's revoke wakes it with `Revoked`; its unrevoked send end still works (`review.rs`) |
//! | 8 | `handles` | handle passing to a child SMACH (mode 9): a read-only file arrives and reads, cannot be written or taken twice, a forged token is `NotFound`, a closed file's grant `BadHandle`; hostile sends; a take in the sender's own SMACH gives its handle back; a full queue is `WouldBlock` |
//! | 10 | `grants` | hostile handle passing in one SMACH (`grants.rs`): guessed and foreign tokens `NotFound` and consume nothing, takes on a send end `WrongKind`, rights beyond the open refused, a closed and reused handle number `BadHandle`, ports passed through themselves and closed with grants in flight |
//!
//! Exit status: 0 = passed, 1 = a check failed (the line says which),
//! 2 = unknown mode.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "raw calls with buffers that are not ours; SAFETY per block"
)]
#![allow(
    clippy::cast_possible_truncation,
    reason = "x86-64 only; narrowing random bits and bounded sizes on purpose"
)]

mod differential;
mod grants;
mod handles;
mod hostile;
mod review;

use core::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

use sk_user::abi::{Call, CallWord, Handle, SysError, PORT_MESSAGE_BYTES};
use sk_user::{println, Scpu, Sio, Stack};

sk_user::entry!(main);

/// One message.
pub(crate) type Message = [u8; PORT_MESSAGE_BYTES];
/// Messages a port holds (`sk_sio::PORT_CAPACITY`).
pub(crate) const CAPACITY: usize = 16;

const THREADS: usize = 16;
static STACKS: [Stack<16384>; THREADS] = [const { Stack::new() }; THREADS];
static NEXT_STACK: AtomicU32 = AtomicU32::new(0);

static FAILED: AtomicBool = AtomicBool::new(false);
pub(crate) static GENERIC: AtomicBool = AtomicBool::new(false);
/// The port ends the workers use (handle indices).
pub(crate) static RECEIVE_END: AtomicU32 = AtomicU32::new(0);
pub(crate) static SEND_END: AtomicU32 = AtomicU32::new(0);
/// What a worker reports.
pub(crate) static RESULT: AtomicU64 = AtomicU64::new(0);
pub(crate) static DONE: AtomicU32 = AtomicU32::new(0);

const TRANSFER_MESSAGES: u64 = 200;
const SENDERS: u64 = 4;
const PER_SENDER: u64 = 300;
const RECEIVERS: u64 = 3;
/// Every (sender, sequence) received, one bit each.
static SEEN: [AtomicU64; (SENDERS * PER_SENDER).div_ceil(64) as usize] =
    [const { AtomicU64::new(0) }; (SENDERS * PER_SENDER).div_ceil(64) as usize];
static RECEIVED: AtomicU64 = AtomicU64::new(0);

pub(crate) fn fail(what: core::fmt::Arguments<'_>) {
    println!("porttest: FAILED: {what}");
    FAILED.store(true, Ordering::Relaxed);
}

pub(crate) fn is_failed() -> bool {
    FAILED.load(Ordering::Relaxed)
}

pub(crate) fn end(cell: &AtomicU32) -> Sio {
    let sio = Sio::from_handle(Handle::new(cell.load(Ordering::Acquire)));
    if GENERIC.load(Ordering::Relaxed) {
        sio.generic()
    } else {
        sio
    }
}

/// A new port on this run's path: (receive end, send end).
pub(crate) fn new_port() -> Option<(Sio, Sio)> {
    let port = if GENERIC.load(Ordering::Relaxed) {
        Sio::port_generic()
    } else {
        Sio::port()
    };
    match port {
        Ok((r, s)) => {
            RECEIVE_END.store(r.handle().index(), Ordering::Release);
            SEND_END.store(s.handle().index(), Ordering::Release);
            Some((r, s))
        }
        Err(e) => {
            fail(format_args!("port: {e:?}"));
            None
        }
    }
}

pub(crate) fn start(entry: extern "C" fn(u64) -> !, arg: u64) -> Option<Scpu> {
    let index = NEXT_STACK.fetch_add(1, Ordering::Relaxed) as usize;
    let stack = STACKS.get(index)?.take()?;
    match Scpu::create_with(entry, stack, arg, 4, 100) {
        Ok(scpu) => Some(scpu),
        Err(e) => {
            fail(format_args!("create SCPU: {e:?}"));
            None
        }
    }
}

/// Ends a worker after counting it done.
pub(crate) fn finish() -> ! {
    DONE.fetch_add(1, Ordering::Release);
    loop {
        let _ = sk_user::sleep_ns(1 << 40);
    }
}

/// Yields until `n` workers are done (or too long: a hang is a failure).
fn wait_done(n: u32) {
    for _ in 0..20_000_000u64 {
        if DONE.load(Ordering::Acquire) >= n {
            return;
        }
        let _ = sk_user::yield_now();
    }
    fail(format_args!(
        "workers did not finish ({} of {n})",
        DONE.load(Ordering::Acquire)
    ));
}

pub(crate) fn yield_a_while() {
    for _ in 0..50 {
        let _ = sk_user::yield_now();
    }
}

/// The message `seq` of sender `sender`: tagged, then a pattern.
pub(crate) fn message(sender: u64, seq: u64) -> Message {
    let mut m = [0u8; PORT_MESSAGE_BYTES];
    m[..8].copy_from_slice(&sender.to_le_bytes());
    m[8..16].copy_from_slice(&seq.to_le_bytes());
    for (i, b) in m[16..].iter_mut().enumerate() {
        *b = (sender as u8) ^ (seq as u8).wrapping_mul(31) ^ (i as u8);
    }
    m
}

/// (sender, seq) of a message that is whole, else `None`.
fn decode(m: &Message) -> Option<(u64, u64)> {
    let mut word = [0u8; 8];
    word.copy_from_slice(&m[..8]);
    let sender = u64::from_le_bytes(word);
    word.copy_from_slice(&m[8..16]);
    let seq = u64::from_le_bytes(word);
    (*m == message(sender, seq)).then_some((sender, seq))
}

fn send(s: &Sio, m: &Message, what: &str) -> bool {
    match s.write(m) {
        Ok(PORT_MESSAGE_BYTES) => true,
        other => {
            fail(format_args!("{what}: send gave {other:?}"));
            false
        }
    }
}

fn main() -> i32 {
    let arg = sk_user::start_arg();
    GENERIC.store(arg & 1 != 0, Ordering::Relaxed);
    match arg >> 8 {
        0 => transfers(),
        1 => ends(),
        2 => many(),
        3 => hostile::run(),
        4 => differential::run(),
        5 => review::own_close(),
        6 => review::shared(),
        7 => return review::shared_child(),
        10 => return grants::run(),
        8 | 9 => return handles::run(arg >> 8, arg & 1),
        mode => {
            println!("porttest: unknown mode {mode}");
            return 2;
        }
    }
    i32::from(FAILED.load(Ordering::Relaxed))
}

// ---- 0: transfers -----------------------------------------------------------

extern "C" fn sender(id: u64) -> ! {
    let s = end(&SEND_END);
    for seq in 0..TRANSFER_MESSAGES {
        if !send(&s, &message(id, seq), "transfer") {
            break;
        }
    }
    finish()
}

fn transfers() {
    for receiver_first in [true, false] {
        let Some((r, s)) = new_port() else { return };
        let done = DONE.load(Ordering::Acquire);
        let _ = start(sender, 7);
        if !receiver_first {
            // The sender fills the queue and blocks on full.
            yield_a_while();
            if r.query().map(|i| i.size) != Ok((CAPACITY * PORT_MESSAGE_BYTES) as u64) {
                fail(format_args!("the sender did not fill the port"));
            }
        }
        let mut m = [0u8; PORT_MESSAGE_BYTES];
        for seq in 0..TRANSFER_MESSAGES {
            match r.read(&mut m) {
                Ok(PORT_MESSAGE_BYTES) if decode(&m) == Some((7, seq)) => {}
                other => {
                    fail(format_args!("transfer {seq}: {other:?} {:?}", decode(&m)));
                    return;
                }
            }
        }
        wait_done(done + 1);
        let _ = (r.close(), s.close());
    }
}

// ---- 1: ends ---------------------------------------------------------------

extern "C" fn blocked_receiver(_: u64) -> ! {
    let r = end(&RECEIVE_END);
    let mut m = [0u8; PORT_MESSAGE_BYTES];
    let result = match r.read(&mut m) {
        Ok(n) => n as u64,
        Err(e) => 1000 + u64::from(e.code()),
    };
    RESULT.store(result, Ordering::Release);
    finish()
}

extern "C" fn blocked_sender(_: u64) -> ! {
    let s = end(&SEND_END);
    let mut sent = 0;
    let result = loop {
        match s.write(&message(1, sent)) {
            Ok(_) => sent += 1,
            Err(e) => break 1_000_000 * sent + u64::from(e.code()),
        }
    };
    RESULT.store(result, Ordering::Release);
    finish()
}

fn ends() {
    // Sent, then the send end closed: the messages, then end of stream.
    let Some((r, s)) = new_port() else { return };
    for seq in 0..3 {
        send(&s, &message(2, seq), "ends");
    }
    let _ = s.close();
    let mut m = [0u8; PORT_MESSAGE_BYTES];
    for seq in 0..3 {
        let got = r.read(&mut m);
        if got != Ok(PORT_MESSAGE_BYTES) || decode(&m) != Some((2, seq)) {
            fail(format_args!("after close, message {seq}: {got:?}"));
        }
    }
    let got = (r.read(&mut m), r.read(&mut m));
    if got != (Ok(0), Ok(0)) {
        fail(format_args!("end of stream: {got:?}"));
    }
    let _ = r.close();
    // A receiver blocked on empty wakes with end of stream at the close.
    let Some((r, s)) = new_port() else { return };
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let _ = start(blocked_receiver, 0);
    yield_a_while();
    if RESULT.load(Ordering::Acquire) != u64::MAX {
        fail(format_args!("the receiver did not block on an empty port"));
    }
    let _ = s.close();
    wait_done(done + 1);
    if RESULT.load(Ordering::Acquire) != 0 {
        fail(format_args!(
            "blocked receiver woke with {} (want 0)",
            RESULT.load(Ordering::Acquire)
        ));
    }
    let _ = r.close();
    // A sender blocked on full wakes with a broken port at the close.
    let Some((r, s)) = new_port() else { return };
    RESULT.store(u64::MAX, Ordering::Release);
    let done = DONE.load(Ordering::Acquire);
    let _ = start(blocked_sender, 0);
    yield_a_while();
    if RESULT.load(Ordering::Acquire) != u64::MAX {
        fail(format_args!("the sender did not block on a full port"));
    }
    let _ = r.close();
    wait_done(done + 1);
    let want = 1_000_000 * CAPACITY as u64 + u64::from(SysError::BrokenPipe.code());
    if RESULT.load(Ordering::Acquire) != want {
        fail(format_args!(
            "blocked sender: {} (want {want}: {CAPACITY} sent, then BrokenPipe)",
            RESULT.load(Ordering::Acquire)
        ));
    }
    let again = s.write(&message(0, 0));
    if again != Err(SysError::BrokenPipe) {
        fail(format_args!("send after the receive end closed: {again:?}"));
    }
    let _ = s.close();
}

// ---- 2: many ---------------------------------------------------------------

extern "C" fn many_sender(id: u64) -> ! {
    let s = end(&SEND_END);
    for seq in 0..PER_SENDER {
        if !send(&s, &message(id, seq), "many") {
            break;
        }
    }
    finish()
}

extern "C" fn many_receiver(_: u64) -> ! {
    receive_all(false);
    finish()
}

/// Receives until the end of the stream, checking exactly-once delivery
/// and each sender's order (as this receiver sees it; `strict`: no gaps,
/// there is no other receiver).
fn receive_all(strict: bool) {
    let r = end(&RECEIVE_END);
    let mut next = [0u64; SENDERS as usize];
    let mut m = [0u8; PORT_MESSAGE_BYTES];
    loop {
        match r.read(&mut m) {
            Ok(0) => break,
            Ok(PORT_MESSAGE_BYTES) => {
                let Some((sender, seq)) =
                    decode(&m).filter(|(s, q)| *s < SENDERS && *q < PER_SENDER)
                else {
                    fail(format_args!("many: a torn or foreign message"));
                    break;
                };
                let expected = &mut next[sender as usize];
                if seq < *expected || (strict && seq != *expected) {
                    fail(format_args!(
                        "many: sender {sender} seq {seq} after {}",
                        *expected
                    ));
                }
                *expected = seq + 1;
                let bit = sender * PER_SENDER + seq;
                let before = SEEN[(bit / 64) as usize].fetch_or(1 << (bit % 64), Ordering::Relaxed);
                if before & (1 << (bit % 64)) != 0 {
                    fail(format_args!("many: sender {sender} seq {seq} twice"));
                }
                RECEIVED.fetch_add(1, Ordering::Relaxed);
            }
            other => {
                fail(format_args!("many: receive: {other:?}"));
                break;
            }
        }
    }
}

fn many() {
    for receivers in [1, RECEIVERS] {
        for cell in &SEEN {
            cell.store(0, Ordering::Relaxed);
        }
        RECEIVED.store(0, Ordering::Relaxed);
        let Some((r, _send_end)) = new_port() else {
            return;
        };
        let done = DONE.load(Ordering::Acquire);
        // The main SCPU is one receiver; the others are workers.
        for id in 1..receivers {
            let _ = start(many_receiver, id);
        }
        for id in 0..SENDERS {
            let _ = start(many_sender, id);
        }
        let closer = start(close_when_sent, done as u64);
        receive_all(receivers == 1);
        wait_done(done + (receivers - 1 + SENDERS + 1) as u32);
        let received = RECEIVED.load(Ordering::Relaxed);
        if received != SENDERS * PER_SENDER {
            fail(format_args!(
                "many ({receivers} receivers): {received} received"
            ));
        }
        let _ = (closer, r.close());
    }
}

/// Closes the send end once every sender is done (the receivers then see
/// the end of the stream).
extern "C" fn close_when_sent(done: u64) -> ! {
    let mut spins = 0u64;
    while u64::from(DONE.load(Ordering::Acquire)) < done + SENDERS {
        spins += 1;
        let _ = sk_user::yield_now();
        if spins > 20_000_000 {
            fail(format_args!("many: the senders did not finish"));
            break;
        }
    }
    let _ = end(&SEND_END).close();
    finish()
}

// ---- raw calls -------------------------------------------------------------

/// `op` on `handle` with a buffer at `addr` and length `len` (an address
/// that may not be ours: unmapped, or the kernel's).
pub(crate) fn raw(handle: Handle, op: Call, addr: u64, len: u64) -> Result<usize, SysError> {
    let bits = if GENERIC.load(Ordering::Relaxed) {
        CallWord::FORCE_GENERIC
    } else {
        0
    };
    raw_by(handle, op, addr, len, bits)
}

/// As [`raw`], on the table path (`bits` 0) or forced generic.
pub(crate) fn raw_by(
    handle: Handle,
    op: Call,
    addr: u64,
    len: u64,
    bits: u64,
) -> Result<usize, SysError> {
    // SAFETY: `addr` is a buffer of ours at least `len` bytes long, or
    // unmapped, or a kernel address: the kernel refuses it or its copy
    // faults into the kernel's fixup; no memory but the buffer is touched.
    let rax = unsafe { sk_user::raw::syscall2(CallWord::new(handle, op).get() | bits, addr, len) };
    SysError::decode_return(rax).map(|n| n as usize)
}
