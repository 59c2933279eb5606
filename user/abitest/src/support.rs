//! What the cases share: failure messages, expectations, raw calls.
//!
//! Owns the `expect_err*` helpers and [`sys`] (the harness itself, `Msg`,
//! `fail!` and `ensure!`, is `sk_user::check`), the one
//! raw system call the cases use for arguments `sk-user`'s typed API
//! cannot express (bad words, bad pointers, odd sizes).

use core::fmt::Debug;

use sk_abi::{Call, CallWord, Handle, SysError};
use sk_user::raw;

pub(crate) use sk_user::check::{expect_eq, must, Msg, Outcome};
pub(crate) use sk_user::{ensure, fail};

/// Passes if `got` is the error `want`.
pub(crate) fn expect_err<T: Debug>(
    what: &str,
    got: Result<T, SysError>,
    want: SysError,
) -> Outcome {
    expect_err_in(what, got, &[want])
}

/// Passes if `got` is one of the errors `wants`.
pub(crate) fn expect_err_in<T: Debug>(
    what: &str,
    got: Result<T, SysError>,
    wants: &[SysError],
) -> Outcome {
    match got {
        Err(error) if wants.contains(&error) => Ok(()),
        other => fail!("{what}: got {other:?}, want Err({wants:?})"),
    }
}

/// The call word for `call` on handle `handle`.
pub(crate) const fn word(handle: u32, call: Call) -> u64 {
    CallWord::new(Handle::new(handle), call).get()
}

/// `syscall` with `rax = word` and `rdi, rsi, rdx = args`, decoded.
///
/// # Safety
/// Whatever the kernel does with these arguments must not break Rust's
/// rules: it may write only to memory the caller passes for writing (or
/// memory no Rust object uses), must not start code, and must not unmap
/// or re-protect memory Rust code uses. Each call site says why.
pub(crate) unsafe fn sys(word: u64, args: [u64; 3]) -> Result<u64, SysError> {
    let [rdi, rsi, rdx] = args;
    // SAFETY: the caller vouches for the call's effects.
    SysError::decode_return(unsafe { raw::syscall3(word, rdi, rsi, rdx) })
}

/// The address of `value`, as a register.
pub(crate) fn addr_of<T: ?Sized>(value: &T) -> u64 {
    core::ptr::from_ref(value).cast::<u8>() as u64
}

/// The address of `value`, as a register, for the kernel to write.
pub(crate) fn addr_of_mut<T: ?Sized>(value: &mut T) -> u64 {
    core::ptr::from_mut(value).cast::<u8>() as u64
}

/// Byte `offset` of `/dev/mem` (the ABI's definition).
pub(crate) use sk_abi::dev_mem_byte as mem_byte;

/// A kernel-half address: the start of the higher half.
pub(crate) const KERNEL_LOW: u64 = 0xffff_8000_0000_0000;

/// A kernel-half address: where the kernel is linked.
pub(crate) const KERNEL_TEXT: u64 = 0xffff_ffff_8000_0000;

/// A non-canonical address.
pub(crate) const NON_CANONICAL: u64 = 0x1234_5678_9abc_def0;
