//! The raw calls `sk-user` does not wrap: a `syscall` with RFLAGS.TF set
//! (the call the kernel's single-step counter measures) and `query` with
//! the `LastTrace` and `Routines` selectors.
//!
//! The traced call is one `asm!` block, `pushfq; or qword ptr [rsp], 0x100;
//! popfq; syscall`: TF goes on immediately before the `syscall`, so no user
//! instruction runs with it set (the kernel clears it on the way back,
//! crates/abi `SmachSelector::TraceNextCall`).

use core::arch::asm;

use sk_user::abi::{Call, CallWord, Handle, QuerySelector, SysError};

/// Makes the call `word` with `rdi = arg0`, `rsi = arg1`, `rdx = arg2`
/// and TF set; returns `rax`. Only for `Null`, `Read` and `Write` with a
/// buffer that stays valid across the call (the caller holds its borrow),
/// `create(Kind::Sio)` with live argument bytes, and `terminate` of an SIO.
pub(super) fn traced_call(word: u64, arg0: u64, arg1: u64, arg2: u64) -> i64 {
    let result: i64;
    // SAFETY:
    // 1. The register convention of `sk_user::raw`: call word in rax,
    //    arguments in rdi, rsi and rdx, all six argument registers and rcx,
    //    r11 clobbered.
    // 2. `pushfq`/`popfq` use the stack (no `nostack`): the target has no
    //    red zone, so nothing of ours lives below rsp.
    // 3. The caller passes only Null, Read and Write words with a live
    //    buffer pointer and length (the kernel writes at most that many
    //    bytes into a buffer the caller holds exclusively, or only reads
    //    it), an SIO create whose argument bytes and path it holds (the
    //    kernel only reads them), or the terminate of an SIO it owns and no
    //    longer uses.
    // 4. TF is set only for the `syscall`: the kernel counts that call and
    //    returns with TF clear.
    unsafe {
        asm!(
            "pushfq",
            "or qword ptr [rsp], 0x100",
            "popfq",
            "syscall",
            inlateout("rax") word => result,
            inlateout("rdi") arg0 => _, inlateout("rsi") arg1 => _,
            inlateout("rdx") arg2 => _,
            lateout("r10") _, lateout("r8") _, lateout("r9") _,
            lateout("rcx") _, lateout("r11") _,
        );
    }
    result
}

/// `query(handle 0, LastTrace, 0, 0)`: the kernel instructions of the last
/// traced call.
pub(super) fn last_trace() -> Result<u64, SysError> {
    let word = CallWord::new(Handle::SELF, Call::Query).get();
    // SAFETY: a zero-length output buffer: the kernel writes no user memory.
    let rax = unsafe { sk_user::raw::syscall3(word, u64::from(QuerySelector::LastTrace), 0, 0) };
    SysError::decode_return(rax)
}

/// `query(handle, Routines, out)`: the SIO's routines as text; returns the
/// bytes written.
pub(super) fn query_routines(handle: Handle, out: &mut [u8]) -> Result<usize, SysError> {
    let word = CallWord::new(handle, Call::Query).get();
    // SAFETY: the kernel writes at most `out.len()` bytes into `out`, a live
    // exclusive slice.
    let rax = unsafe {
        sk_user::raw::syscall3(
            word,
            u64::from(QuerySelector::Routines),
            out.as_mut_ptr() as u64,
            out.len() as u64,
        )
    };
    SysError::decode_return(rax).map(|n| usize::try_from(n).unwrap_or(0).min(out.len()))
}
