//! Cases on the call word itself: the null call, bad call numbers, bad
//! handles, calls on the wrong kind.

use sk_abi::{Call, Handle, Kind, SioCreateArgs, SysError};
use sk_user::{null_call, OpenFlags, Prot, Sio, Smem};

use crate::support::{
    addr_of, addr_of_mut, expect_eq, expect_err, expect_err_in, must, sys, word, Outcome,
};

/// A handle number nothing in a fresh program uses.
const FAR_HANDLE: u32 = 1000;

pub(crate) fn null_call_returns_0() -> Outcome {
    expect_eq("null call", null_call(), Ok(0))
}

pub(crate) fn call_7_on_self_is_bad_call() -> Outcome {
    // SAFETY: call 7 is no call: the kernel does nothing.
    let got = unsafe { sys(word(0, Call::Null) | 7, [0; 3]) };
    expect_err("call 7 on handle 0", got, SysError::BadCall)
}

pub(crate) fn call_7_on_console_is_bad_call() -> Outcome {
    // SAFETY: call 7 is no call: the kernel does nothing.
    let got = unsafe { sys(word(1, Call::Null) | 7, [0; 3]) };
    expect_err("call 7 on handle 1", got, SysError::BadCall)
}

pub(crate) fn handle_out_of_range_is_bad_handle() -> Outcome {
    let got = Sio::from_handle(Handle::new(FAR_HANDLE)).query();
    expect_err("query on handle 1000", got, SysError::BadHandle)
}

pub(crate) fn handle_past_u32_is_bad_handle() -> Outcome {
    let mut out = [0_u8; 64];
    let query = word(0, Call::Query) | (1 << 35);
    // SAFETY: a query writes at most `out.len()` bytes into `out` (if the
    // kernel wrongly took this as handle 0).
    let got = unsafe { sys(query, [0, addr_of_mut(&mut out), 64]) };
    expect_err("query with handle 2^32", got, SysError::BadHandle)
}

pub(crate) fn closed_handle_is_bad_handle() -> Outcome {
    let null = must("open /dev/null", Sio::open("/dev/null", OpenFlags::READ))?;
    let handle = null.handle();
    must("close", null.close())?;
    let stale = Sio::from_handle(handle);
    expect_err("query after close", stale.query(), SysError::BadHandle)?;
    expect_err("close again", stale.close(), SysError::BadHandle)
}

/// `sk-abi` documents both codes for a call the kind lacks: `BadCall`
/// ("the call does not apply to the handle's kind (`read` on an SMEM)")
/// and `WrongKind` ("the handle's object is not a kind this call takes");
/// either passes until the ABI picks one.
const NOT_FOR_THIS_KIND: [SysError; 2] = [SysError::WrongKind, SysError::BadCall];

pub(crate) fn read_on_smem_is_wrong_kind() -> Outcome {
    let smem = must("create SMEM", Smem::create(4096, Prot::READ | Prot::WRITE))?;
    let mut buf = [0_u8; 16];
    let got = Sio::from_handle(smem.handle()).read(&mut buf);
    let _ = smem.free();
    expect_err_in("read on SMEM", got, &NOT_FOR_THIS_KIND)
}

pub(crate) fn write_on_self_is_wrong_kind() -> Outcome {
    let got = Sio::from_handle(Handle::SELF).write(b"x");
    expect_err_in("write on handle 0", got, &NOT_FOR_THIS_KIND)
}

pub(crate) fn create_on_console_is_wrong_kind() -> Outcome {
    let path = "/dev/null";
    let args = SioCreateArgs {
        path_ptr: addr_of(path),
        path_len: path.len() as u64,
        flags: OpenFlags::READ.bits(),
        _pad: 0,
    }
    .to_bytes();
    let create = word(1, Call::Create);
    // SAFETY: the kernel only reads `args` and the path; a wrongly
    // accepted open makes a handle, closed below.
    let got = unsafe { sys(create, [u64::from(Kind::Sio), addr_of(&args), 24]) };
    if let Ok(handle) = got {
        let _ = Handle::from_return(handle).map(|handle| Sio::from_handle(handle).close());
    }
    expect_err_in("create on handle 1", got, &NOT_FOR_THIS_KIND)
}
