//! The attacker's review of ports: modes 5 to 7.
//!
//! - 5, `own_close`: an SCPU blocked in a receive (queue empty) or a send
//!   (queue full) while a sibling closes the very end it waits on wakes
//!   with `BadHandle` at once (before the fix it slept until the other
//!   end moved, forever if it never did).
//! - 6, `shared` (with its child, mode 7): the receive end shared
//!   read-only and the send end write-only with a child SMACH started
//!   suspended (escalating rights is `NotPermitted`); the holder sends,
//!   receives its own message back, then blocks in a receive on the empty
//!   queue; the owner's revoke wakes it with `Revoked` (before the fix a
//!   holder's receive on an empty port failed with `WrongKind`, and a
//!   holder asleep on a port was not woken by a revoke); its send end,
//!   not revoked, still works; the owner's port too.

use core::sync::atomic::Ordering;

use sk_user::abi::{Handle, OpenFlags, SysError, PORT_MESSAGE_BYTES};
use sk_user::{Sio, Smach};

use crate::{end, fail, finish, message, new_port, start, yield_a_while, DONE, GENERIC};
use crate::{CAPACITY, RECEIVE_END, RESULT, SEND_END};

/// Yields until `n` workers are done, at most `tries` times; true if they
/// are.
fn done_within(n: u32, tries: u32) -> bool {
    for _ in 0..tries {
        if DONE.load(Ordering::Acquire) >= n {
            return true;
        }
        let _ = sk_user::yield_now();
    }
    DONE.load(Ordering::Acquire) >= n
}

fn code(result: Result<usize, SysError>) -> u64 {
    match result {
        Ok(n) => n as u64,
        Err(e) => 1000 + u64::from(e.code()),
    }
}

extern "C" fn blocked_receiver(_: u64) -> ! {
    let mut m = [0u8; PORT_MESSAGE_BYTES];
    RESULT.store(code(end(&RECEIVE_END).read(&mut m)), Ordering::Release);
    finish()
}

extern "C" fn blocked_sender(_: u64) -> ! {
    RESULT.store(
        code(end(&SEND_END).write(&message(5, 99))),
        Ordering::Release,
    );
    finish()
}

/// Mode 5.
pub(crate) fn own_close() {
    for receiver in [true, false] {
        let Some((r, s)) = new_port() else { return };
        if !receiver {
            for seq in 0..CAPACITY as u64 {
                if s.write(&message(5, seq)) != Ok(PORT_MESSAGE_BYTES) {
                    fail(format_args!("own_close: filling the port"));
                }
            }
        }
        RESULT.store(u64::MAX, Ordering::Release);
        let done = DONE.load(Ordering::Acquire);
        let entry = if receiver {
            blocked_receiver
        } else {
            blocked_sender
        };
        if start(entry, 0).is_none() {
            return;
        }
        yield_a_while();
        let (own, other) = if receiver { (r, s) } else { (s, r) };
        if DONE.load(Ordering::Acquire) != done {
            fail(format_args!(
                "own_close: the worker did not block (result {})",
                RESULT.load(Ordering::Acquire)
            ));
        }
        let _ = own.close();
        if !done_within(done + 1, 2000) {
            fail(format_args!(
                "own_close (receiver {receiver}): the worker still sleeps on the end its sibling closed"
            ));
            // Rescue it: the other end's close wakes it.
            let _ = other.close();
            let _ = done_within(done + 1, 2_000_000);
            continue;
        }
        let result = RESULT.load(Ordering::Acquire);
        if result != 1000 + u64::from(SysError::BadHandle.code()) {
            fail(format_args!(
                "own_close (receiver {receiver}): the woken call gave {result}, not BadHandle"
            ));
        }
        let _ = other.close();
    }
}

/// The child's start argument for `generic`.
fn child_arg() -> u64 {
    (7 << 8) | u64::from(GENERIC.load(Ordering::Relaxed))
}

/// Mode 6: the owner.
pub(crate) fn shared() {
    let Some((r, s)) = new_port() else { return };
    let Some((acks, ack_send)) = new_port() else {
        return;
    };
    let child = match Smach::spawn_suspended("/bin/porttest", child_arg()) {
        Ok(c) => c,
        Err(e) => return fail(format_args!("shared: spawn: {e:?}")),
    };
    // Escalation: the receive end has no WRITE to give, the send end no
    // READ.
    let escalate = (
        r.share(&child, OpenFlags::WRITE),
        s.share(&child, OpenFlags::READ),
        r.share(&child, OpenFlags::READ | OpenFlags::WRITE),
    );
    let refused = Err(SysError::NotPermitted);
    if escalate != (refused, refused, refused) {
        fail(format_args!("shared: escalating shares gave {escalate:?}"));
    }
    let given = (
        r.share(&child, OpenFlags::READ),
        s.share(&child, OpenFlags::WRITE),
        ack_send.share(&child, OpenFlags::WRITE),
    );
    if given != (Ok(Handle::new(2)), Ok(Handle::new(3)), Ok(Handle::new(4))) {
        let _ = child.terminate();
        return fail(format_args!("shared: shares gave {given:?}"));
    }
    if let Err(e) = child.resume() {
        return fail(format_args!("shared: resume: {e:?}"));
    }
    // The child's first ack: it sent and received its own message.
    if !ack_within(&acks, 1) {
        let _ = child.terminate();
        return fail(format_args!("shared: no first ack from the holder"));
    }
    // It is (or soon is) asleep in a receive on the empty queue.
    yield_a_while();
    match r.revoke() {
        Ok(1) => {}
        other => fail(format_args!("shared: revoke gave {other:?}")),
    }
    if !ack_within(&acks, 1) {
        fail(format_args!(
            "shared: the holder asleep in a port receive was not woken by the revoke"
        ));
        let _ = child.terminate();
        return;
    }
    match child.wait() {
        Ok(0) => {}
        other => fail(format_args!("shared: the holder exited with {other:?}")),
    }
    // The holder's last send (its send end was not revoked) is there.
    let mut m = [0u8; PORT_MESSAGE_BYTES];
    if r.read(&mut m) != Ok(PORT_MESSAGE_BYTES) || m != message(7, 1) {
        fail(format_args!(
            "shared: the holder's send after the revoke is missing"
        ));
    }
    if r.query().map(|i| i.size) != Ok(0) {
        fail(format_args!("shared: a message too many in the port"));
    }
    for sio in [r, s, acks, ack_send] {
        let _ = sio.close();
    }
}

/// Yields until one ack is there (at most a bounded number of times), and
/// takes it.
fn ack_within(acks: &Sio, count: u64) -> bool {
    for _ in 0..200_000 {
        if acks.query().map(|i| i.size) == Ok(count * PORT_MESSAGE_BYTES as u64) {
            let mut m = [0u8; PORT_MESSAGE_BYTES];
            return acks.read(&mut m) == Ok(PORT_MESSAGE_BYTES);
        }
        let _ = sk_user::yield_now();
    }
    false
}

/// Mode 7: the holder (handles 2: receive end, read-only; 3: send end,
/// write-only; 4: the owner's acks). Its exit status names the first
/// step that went wrong (0: none).
pub(crate) fn shared_child() -> i32 {
    let path = |sio: Sio| {
        if GENERIC.load(Ordering::Relaxed) {
            sio.generic()
        } else {
            sio
        }
    };
    let r = path(Sio::from_handle(Handle::new(2)));
    let s = path(Sio::from_handle(Handle::new(3)));
    let acks = path(Sio::from_handle(Handle::new(4)));
    let mut m = [0u8; PORT_MESSAGE_BYTES];
    if s.write(&message(7, 0)) != Ok(PORT_MESSAGE_BYTES) {
        return 10;
    }
    // Read-only stays read-only, write-only stays write-only.
    if r.write(&message(7, 9)) != Err(SysError::NotPermitted) {
        return 11;
    }
    if s.read(&mut m) != Err(SysError::NotPermitted) {
        return 12;
    }
    match r.read(&mut m) {
        Ok(PORT_MESSAGE_BYTES) if m == message(7, 0) => {}
        other => {
            sk_user::println!("porttest: holder's first receive: {other:?}");
            return 13;
        }
    }
    if acks.write(&message(7, 100)) != Ok(PORT_MESSAGE_BYTES) {
        return 14;
    }
    // The queue is empty: this sleeps until the owner revokes.
    let woken = r.read(&mut m);
    if woken != Err(SysError::Revoked) {
        sk_user::println!("porttest: holder's blocked receive gave {woken:?}");
        return 15;
    }
    if r.read(&mut m) != Err(SysError::Revoked) {
        return 16;
    }
    if s.write(&message(7, 1)) != Ok(PORT_MESSAGE_BYTES) {
        return 17;
    }
    if acks.write(&message(7, 101)) != Ok(PORT_MESSAGE_BYTES) {
        return 18;
    }
    0
}
