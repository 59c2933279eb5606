//! Helpers for tests of the native ABI on the generic path: calls made by
//! the test thread on behalf of a [`TestMachine`].

use sk_abi::{Call, CallWord, Handle, SysError};
use sk_core::testing::TEST_BUFFER;

/// Makes one call with up to five arguments.
pub fn sys(handle: u32, call: Call, args: &[u64]) -> Result<u64, SysError> {
    let mut a = [0u64; 5];
    for (slot, v) in a.iter_mut().zip(args) {
        *slot = *v;
    }
    sk_core::call(CallWord::new(Handle::new(handle), call).get(), a)
}

/// Puts `bytes` at `offset` of the test buffer; returns their user address.
pub fn put(offset: u64, bytes: &[u8]) -> u64 {
    let addr = TEST_BUFFER + offset;
    sk_machine::usercopy::copy_to_user(addr, bytes).expect("test buffer is mapped");
    addr
}

/// Reads `len` bytes at `offset` of the test buffer.
pub fn get(offset: u64, len: usize) -> alloc::vec::Vec<u8> {
    let mut v = alloc::vec![0u8; len];
    sk_machine::usercopy::copy_from_user(&mut v, TEST_BUFFER + offset)
        .expect("test buffer is mapped");
    v
}

/// Opens `path` with `flags`; the argument struct and path go in the
/// buffer's last page.
pub fn open(path: &str, flags: sk_abi::OpenFlags) -> Result<u32, SysError> {
    let p = put(0x3000, path.as_bytes());
    let args = sk_abi::SioCreateArgs {
        path_ptr: p,
        path_len: path.len() as u64,
        flags: flags.bits(),
        _pad: 0,
    };
    let a = put(0x3800, &args.to_bytes());
    sys(
        0,
        Call::Create,
        &[
            sk_abi::Kind::Sio.number().into(),
            a,
            sk_abi::SioCreateArgs::SIZE as u64,
        ],
    )
    .map(|h| h as u32)
}
