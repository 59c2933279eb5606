//! Mode 10: hostile handle passing inside one SMACH (review6).
//!
//! Guessed and foreign tokens (0, `u64::MAX`, another port's), a take on
//! the send end, rights beyond the open's (WRITE of a read-only open), a
//! grant whose handle was closed and its number reused by a new open
//! (`BadHandle`, never the new open), and ports passed through
//! themselves (send end and receive end in flight on their own port, then
//! both ends closed: the ktest's leak check sees what stays).

use sk_user::abi::{OpenFlags, PortHandleMessage, SysError, PORT_MESSAGE_BYTES};
use sk_user::{println, Sio};

type Check = Result<(), &'static str>;

fn ensure(ok: bool, what: &'static str) -> Check {
    if ok {
        Ok(())
    } else {
        Err(what)
    }
}

fn receive_grant(r: &Sio) -> Result<PortHandleMessage, &'static str> {
    let mut m = [0u8; PORT_MESSAGE_BYTES];
    ensure(r.read(&mut m) == Ok(PORT_MESSAGE_BYTES), "receive")?;
    PortHandleMessage::from_bytes(&m).ok_or("a message without a handle")
}

fn scenario() -> Check {
    let rw = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let f = Sio::open("/tmp/port-grants", rw).map_err(|_| "open")?;
    let (r, s) = Sio::port().map_err(|_| "port")?;
    let (r2, s2) = Sio::port().map_err(|_| "second port")?;
    ensure(s.send_handle(&f, OpenFlags::READ).is_ok(), "send")?;
    let grant = receive_grant(&r)?;
    for forged in [0, u64::MAX, grant.token + 1, grant.token.wrapping_sub(1)] {
        ensure(
            r.take_handle(forged) == Err(SysError::NotFound),
            "a guessed token",
        )?;
    }
    ensure(
        r2.take_handle(grant.token) == Err(SysError::NotFound),
        "another port's token",
    )?;
    ensure(
        s.take_handle(grant.token) == Err(SysError::WrongKind),
        "a take on the send end",
    )?;
    ensure(
        s2.take_handle(grant.token) == Err(SysError::WrongKind),
        "a take on another port's send end",
    )?;
    // The foreign attempts consumed nothing.
    ensure(
        r.take_handle(grant.token).map(|h| h.handle()) == Ok(f.handle()),
        "the grant survives the forgeries",
    )?;
    // Rights beyond the open's.
    let ro = Sio::open("/tmp/port-grants", OpenFlags::READ).map_err(|_| "open read-only")?;
    for rights in [
        OpenFlags::WRITE,
        OpenFlags::READ | OpenFlags::WRITE,
        OpenFlags::READ | OpenFlags::CREATE,
    ] {
        ensure(
            s.send_handle(&ro, rights).is_err(),
            "rights beyond the open's",
        )?;
    }
    ensure(
        r.query().map(|i| i.size) == Ok(0),
        "refused sends queued nothing",
    )?;
    // A grant whose handle is closed and its number reused.
    ensure(
        s.send_handle(&ro, OpenFlags::READ).is_ok(),
        "send read-only",
    )?;
    let number = ro.handle();
    ro.close().map_err(|_| "close read-only")?;
    let reused = Sio::open("/tmp/port-grants", rw).map_err(|_| "reopen")?;
    ensure(reused.handle() == number, "the number is reused")?;
    let grant = receive_grant(&r)?;
    ensure(
        r.take_handle(grant.token) == Err(SysError::BadHandle),
        "a grant of a closed and reused handle",
    )?;
    // Ports through themselves; both ends then close with grants queued.
    ensure(
        s2.send_handle(&s2, OpenFlags::WRITE).is_ok(),
        "send end through itself",
    )?;
    ensure(
        s2.send_handle(&r2, OpenFlags::READ).is_ok(),
        "receive end through itself",
    )?;
    ensure(
        s2.send_handle(&r2, OpenFlags::WRITE).is_err(),
        "WRITE of a receive end",
    )?;
    let through = receive_grant(&r2)?;
    ensure(
        r2.take_handle(through.token).map(|h| h.handle()) == Ok(s2.handle()),
        "the send end comes back",
    )?;
    s2.close().map_err(|_| "close s2")?;
    r2.close().map_err(|_| "close r2")?;
    // Grants in flight on r when it closes (s still open).
    ensure(s.send_handle(&f, OpenFlags::READ).is_ok(), "send again")?;
    ensure(
        s.send_handle(&r, OpenFlags::READ).is_ok(),
        "send r through r",
    )?;
    r.close().map_err(|_| "close r")?;
    ensure(
        s.send_handle(&f, OpenFlags::READ) == Err(SysError::BrokenPipe),
        "a send after the receive end closed",
    )?;
    s.close().map_err(|_| "close s")?;
    reused.close().map_err(|_| "close reused")?;
    f.close().map_err(|_| "close f")?;
    Ok(())
}

/// Runs mode 10; exit status 0 if it passed.
pub(crate) fn run() -> i32 {
    match scenario() {
        Ok(()) => 0,
        Err(what) => {
            println!("porttest: grants (mode 10): {what}");
            1
        }
    }
}
