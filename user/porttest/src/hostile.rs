//! Mode 3, `hostile`: bad flags, wrong lengths, the wrong end, bad
//! buffers, seek and the reserved selectors get their errors, and nothing
//! is lost or sent by a refused call.

use sk_user::abi::{
    Call, OpenFlags, SioKind, SioSelector, SysError, Whence, PORT_MESSAGE_BYTES, PORT_PATH,
};
use sk_user::Sio;

use crate::{fail, message, new_port, raw, send};

/// An address no program has mapped.
const UNMAPPED: u64 = 0x0000_6000_0000_0000;
/// A kernel address.
const KERNEL_ADDR: u64 = 0xffff_ffff_8000_0000;
const MESSAGE: u64 = PORT_MESSAGE_BYTES as u64;

pub(crate) fn run() {
    for flags in [
        OpenFlags::READ,
        OpenFlags::WRITE,
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE,
    ] {
        let got = Sio::open(PORT_PATH, flags);
        if got.as_ref().err() != Some(&SysError::BadFlags) {
            fail(format_args!("port open with {flags:?}: {got:?}"));
        }
    }
    let Some((r, s)) = new_port() else { return };
    let info = (r.query(), s.query());
    let kinds = (info.0.map(|i| i.kind), info.1.map(|i| i.kind));
    if kinds
        != (
            Ok(SioKind::PortReceive.number()),
            Ok(SioKind::PortSend.number()),
        )
    {
        fail(format_args!("query kinds: {kinds:?}"));
    }
    let mut buf = [0u8; 4096];
    let wrong = (
        raw(r.handle(), Call::Write, buf.as_ptr() as u64, MESSAGE),
        raw(s.handle(), Call::Read, buf.as_mut_ptr() as u64, MESSAGE),
    );
    if wrong != (Err(SysError::NotPermitted), Err(SysError::NotPermitted)) {
        fail(format_args!("the wrong end: {wrong:?}"));
    }
    // Wrong lengths: nothing sent.
    for len in [0, 1, 63, 65, 128, 4096] {
        let got = raw(s.handle(), Call::Write, buf.as_ptr() as u64, len);
        if got != Err(SysError::MessageSize) {
            fail(format_args!("send of {len} bytes: {got:?}"));
        }
    }
    // Bad buffers: nothing sent.
    for bad in [UNMAPPED, KERNEL_ADDR, u64::MAX - 8] {
        let got = raw(s.handle(), Call::Write, bad, MESSAGE);
        if got != Err(SysError::BadAddress) {
            fail(format_args!("send from {bad:#x}: {got:?}"));
        }
    }
    if r.query().map(|i| i.size) != Ok(0) {
        fail(format_args!("a refused send queued something"));
    }
    send(&s, &message(3, 0), "hostile");
    send(&s, &message(3, 1), "hostile");
    // Wrong lengths and bad buffers on receive: nothing taken.
    for len in [0, 1, 63, 65, 128, 4096] {
        let got = raw(r.handle(), Call::Read, buf.as_mut_ptr() as u64, len);
        if got != Err(SysError::MessageSize) {
            fail(format_args!("receive of {len} bytes: {got:?}"));
        }
    }
    for bad in [UNMAPPED, KERNEL_ADDR, u64::MAX - 8] {
        let got = raw(r.handle(), Call::Read, bad, MESSAGE);
        if got != Err(SysError::BadAddress) {
            fail(format_args!("receive into {bad:#x}: {got:?}"));
        }
    }
    if r.query().map(|i| i.size) != Ok(2 * MESSAGE) {
        fail(format_args!("size after refused receives: {:?}", r.query()));
    }
    let seek = (r.seek(Whence::Set, 0), s.seek(Whence::Current, 1));
    if seek != (Err(SysError::NotSupported), Err(SysError::NotSupported)) {
        fail(format_args!("seek on a port: {seek:?}"));
    }
    // Handle passing with bad arguments: rights 0 is `BadFlags`, a token
    // nobody sent `NotFound`; neither queues or takes a message.
    for (end, selector, want) in [
        (&s, SioSelector::PortAttachHandle, SysError::BadFlags),
        (&r, SioSelector::PortTakeHandle, SysError::NotFound),
    ] {
        let registers = [u64::from(selector.number()), 1, 0];
        // SAFETY: reconfigure reads no memory of ours.
        let rax = unsafe {
            sk_user::raw::syscall3(
                sk_user::abi::CallWord::new(end.handle(), Call::Reconfigure).get(),
                registers[0],
                registers[1],
                registers[2],
            )
        };
        let got = SysError::decode_return(rax);
        if got != Err(want) {
            fail(format_args!("handle passing {selector:?}: {got:?}"));
        }
    }
    // Both messages are still there, whole and in order.
    for seq in 0..2 {
        let got = r.read(&mut buf[..PORT_MESSAGE_BYTES]);
        if got != Ok(PORT_MESSAGE_BYTES) || buf[..PORT_MESSAGE_BYTES] != message(3, seq) {
            fail(format_args!(
                "after the refused calls, message {seq}: {got:?}"
            ));
        }
    }
    let _ = (r.close(), s.close());
}
