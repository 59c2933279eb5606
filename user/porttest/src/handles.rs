//! Modes 8 and 9: passing a handle through a port to another SMACH.
//!
//! The parent (mode 8) shares a port's receive end with a suspended child
//! (mode 9, same program), sends it two handles in messages (a RAM file,
//! read-only; a second file it then closes), and checks the hostile
//! sends; the child takes the first (reads what the parent wrote, cannot
//! write, cannot take it twice) and finds the second's grant dead. A
//! third port, kept in the parent, checks a take in the sender's own
//! SMACH (the sender's handle comes back).

use sk_user::abi::{Handle, OpenFlags, PortHandleMessage, SysError, Whence, PORT_MESSAGE_BYTES};
use sk_user::{println, Sio, Smach};

/// What the child must read.
const CONTENT: &[u8] = b"granted bytes";

type Check = Result<(), &'static str>;

fn ensure(ok: bool, what: &'static str) -> Check {
    if ok {
        Ok(())
    } else {
        Err(what)
    }
}

fn file(name: &str) -> Result<Sio, &'static str> {
    let flags = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    Sio::open(name, flags).map_err(|_| "open a file")
}

/// Receives one message on `r` and reads it as a handle message.
fn receive_grant(r: &Sio) -> Result<PortHandleMessage, &'static str> {
    let mut m = [0u8; PORT_MESSAGE_BYTES];
    ensure(r.read(&mut m) == Ok(PORT_MESSAGE_BYTES), "receive")?;
    PortHandleMessage::from_bytes(&m).ok_or("a message without a handle")
}

fn parent(generic: u64) -> Check {
    let (r, s) = Sio::port().map_err(|_| "port")?;
    let f = file("/tmp/port-handle")?;
    ensure(f.write(CONTENT) == Ok(CONTENT.len()), "write the file")?;
    // The handle passed names this open, position included: rewind.
    ensure(f.seek(Whence::Set, 0) == Ok(0), "rewind")?;
    let g = file("/tmp/port-handle-2")?;
    // Hostile sends: nothing is queued by any of them.
    let bad = Sio::from_handle(Handle::new(999));
    ensure(
        s.send_handle(&bad, OpenFlags::READ) == Err(SysError::BadHandle),
        "pass a bad handle",
    )?;
    ensure(
        r.send_handle(&f, OpenFlags::READ) == Err(SysError::WrongKind),
        "send on the receive end",
    )?;
    ensure(
        f.send_handle(&f, OpenFlags::READ) == Err(SysError::WrongKind),
        "send on a file",
    )?;
    ensure(
        r.query().map(|i| i.size) == Ok(0),
        "hostile sends queued nothing",
    )?;
    // The child gets the receive end at its handle 2.
    let child = Smach::spawn_suspended("/bin/porttest", (9 << 8) | generic).map_err(|_| "spawn")?;
    ensure(
        r.share(&child, OpenFlags::READ) == Ok(Handle::new(2)),
        "share the receive end",
    )?;
    ensure(s.send_handle(&f, OpenFlags::READ).is_ok(), "send the file")?;
    ensure(
        s.send_handle(&g, OpenFlags::READ | OpenFlags::WRITE)
            .is_ok(),
        "send the second file",
    )?;
    g.close().map_err(|_| "close the second file")?;
    child.resume().map_err(|_| "resume")?;
    ensure(child.wait() == Ok(0), "the child failed (see its line)")?;
    // In the sender's own SMACH a take gives the sender's handle back.
    let (r2, s2) = Sio::port().map_err(|_| "second port")?;
    ensure(s2.send_handle(&f, OpenFlags::READ).is_ok(), "send to self")?;
    let grant = receive_grant(&r2)?;
    let back = r2
        .take_handle(grant.token)
        .map_err(|_| "take in the same SMACH")?;
    ensure(back.handle() == f.handle(), "the sender's own handle")?;
    // A full queue: WouldBlock, and no grant left behind (the receive end's
    // close frees the rest; the leak check of the ktest sees the heap).
    let mut sent = 0;
    while s2.send_handle(&f, OpenFlags::READ).is_ok() {
        sent += 1;
    }
    ensure(
        s2.send_handle(&f, OpenFlags::READ) == Err(SysError::WouldBlock),
        "a full queue",
    )?;
    ensure(sent == 16, "the queue holds 16")?;
    Ok(())
}

fn child() -> Check {
    let r = Sio::from_handle(Handle::new(2));
    let grant = receive_grant(&r)?;
    ensure(
        grant.rights == OpenFlags::READ.bits(),
        "the rights in the message",
    )?;
    ensure(
        r.take_handle(grant.token ^ 0xffff) == Err(SysError::NotFound),
        "a forged token",
    )?;
    let f = r.take_handle(grant.token).map_err(|_| "take the file")?;
    ensure(
        r.take_handle(grant.token) == Err(SysError::NotFound),
        "take twice",
    )?;
    let mut b = [0u8; 32];
    ensure(f.read(&mut b) == Ok(CONTENT.len()), "read the passed file")?;
    ensure(&b[..CONTENT.len()] == CONTENT, "its contents")?;
    ensure(
        f.write(b"x") == Err(SysError::NotPermitted),
        "read-only stays read-only",
    )?;
    let second = receive_grant(&r)?;
    ensure(
        r.take_handle(second.token) == Err(SysError::BadHandle),
        "a grant of a closed file",
    )?;
    Ok(())
}

/// Runs mode 8 (`parent`) or 9 (`child`); exit status 0 if it passed.
pub(crate) fn run(mode: u64, generic: u64) -> i32 {
    let result = if mode == 8 { parent(generic) } else { child() };
    match result {
        Ok(()) => 0,
        Err(what) => {
            println!("porttest: handles (mode {mode}): {what}");
            1
        }
    }
}
