//! Stackless synthesized calls under attack (`leaf-call`, mode 17): a
//! `read` of `/dev/zero`, `/dev/mem` or a RAM file, or a `write` of
//! `/dev/null`, made with a hostile RSP (the stackless routines run in
//! ring 0 on the user's stack, `crates/synth/templates/leaf.rs`) and a
//! good or bad buffer (a bad one faults inside the routine, at ring 0,
//! with that RSP: the kernel's `#PF` runs on its own IST stack). The call
//! must answer as the generic path would (the count, or `-BadAddress`),
//! give back RCX (the return address) and R11 (RFLAGS) as `syscall` set
//! them, and leave the program running.
//!
//! Param: bits 0..8 the object ([`OBJECTS`]), 8..16 the RSP kind
//! (`entry_state::rsp_value`; 0xff = the program's own stack), 16..24 the
//! buffer ([`buffer`]), bit 24 a 16-byte call instead of a 1-byte one.

use core::arch::asm;

use sk_user::abi::{Call, CallWord, OpenFlags, SysError};
use sk_user::{println, Sio};

use crate::entry_state::rsp_value;

/// The objects, by param bits 0..8: path, open flags, the call.
pub(crate) const OBJECTS: [(&str, Call); 4] = [
    ("/dev/zero", Call::Read),
    ("/dev/mem", Call::Read),
    ("/tmp/leaf", Call::Read),
    ("/dev/null", Call::Write),
];

/// Page the program never maps (well below its image at 0x200000).
const UNMAPPED: u64 = 0x10_0000;

/// The buffer by kind: 0 a good one, 1 an unmapped user page (the access
/// faults), 2 a kernel address, 3 non-canonical, 4 the last bytes below
/// the user end (unmapped; a 16-byte range crosses it).
fn buffer(kind: u64, good: u64) -> Option<u64> {
    Some(match kind {
        0 => good,
        1 => UNMAPPED,
        2 => 0xffff_8000_0010_0000,
        3 => 0x8000_0000_0000_0000,
        4 => 0x0000_7fff_ffff_fff8,
        _ => return None,
    })
}

/// What one hostile call returned: rax, and whether rcx and r11 came back
/// as `syscall` left them.
struct Outcome {
    rax: u64,
    rcx_ok: bool,
    r11_ok: bool,
}

/// `syscall` with `word`, `rdi` = `buf`, `rsi` = `len` on stack `rsp`
/// (`None`: the program's own).
fn call_on(rsp: Option<u64>, word: u64, buf: u64, len: u64) -> Outcome {
    let (rax, rcx, r11, expected_rip, flags): (u64, u64, u64, u64, u64);
    let stack = rsp.unwrap_or(0);
    let swap = u64::from(rsp.is_some());
    // SAFETY: rsp is parked in r12 across the `syscall` and restored right
    // after (only when `swap`); between, only the `syscall` runs. The
    // clobbers are declared; the flags are read before the call.
    unsafe {
        asm!(
            "pushfq",
            "pop {flags}",
            "lea {rip}, [rip + 3f]",
            "mov r12, rsp",
            "test {swap}, {swap}",
            "jz 2f",
            "mov rsp, {stack}",
            "2:",
            "syscall",
            "3:",
            "mov rsp, r12",
            flags = out(reg) flags,
            rip = out(reg) expected_rip,
            swap = in(reg) swap,
            stack = in(reg) stack,
            inlateout("rax") word => rax,
            inlateout("rdi") buf => _,
            inlateout("rsi") len => _,
            out("rcx") rcx, out("r11") r11,
            out("r12") _,
            out("rdx") _, out("r8") _, out("r9") _, out("r10") _,
        );
    }
    // syscall stores RFLAGS with RF cleared; sysret restores it.
    const RF: u64 = 1 << 16;
    Outcome {
        rax,
        rcx_ok: rcx == expected_rip,
        r11_ok: r11 & !RF == flags & !RF,
    }
}

/// Mode 17: true if every check passed.
pub(crate) fn leaf_call(param: u64) -> bool {
    let Some(&(path, call)) = OBJECTS.get((param & 0xff) as usize) else {
        println!("hostile: unknown object {param:#x}");
        return false;
    };
    let rsp_kind = (param >> 8) & 0xff;
    let rsp = if rsp_kind == 0xff {
        None
    } else {
        rsp_value(rsp_kind)
    };
    let mut data = [0xaa_u8; 16];
    let good = data.as_mut_ptr() as u64;
    let Some(buf) = buffer((param >> 16) & 0xff, good) else {
        println!("hostile: unknown buffer kind {param:#x}");
        return false;
    };
    let len = if param & (1 << 24) != 0 { 16 } else { 1 };
    let flags = if call == Call::Read {
        OpenFlags::READ | OpenFlags::CREATE
    } else {
        OpenFlags::WRITE
    };
    let flags = if path.starts_with("/dev") {
        flags - OpenFlags::CREATE
    } else {
        flags | OpenFlags::WRITE
    };
    let sio = match Sio::open(path, flags) {
        Ok(sio) => sio,
        Err(e) => {
            println!("hostile: open {path}: {e}");
            return false;
        }
    };
    if path == "/tmp/leaf" {
        let filled = sio.write(&[7; 32]).is_ok();
        if !filled || sio.seek(sk_user::abi::Whence::Set, 0).is_err() {
            println!("hostile: could not fill {path}");
            return false;
        }
    }
    let word = CallWord::new(sio.handle(), call).get();
    let outcome = call_on(rsp, word, buf, len);
    // Kernel and non-canonical addresses, and a range past the user end,
    // are refused; an unmapped page faults, except for /dev/null, which
    // never touches the bytes (as on the generic path).
    let kind = (param >> 16) & 0xff;
    let bad = matches!(kind, 2 | 3)
        || (kind == 4 && len > 1)
        || (matches!(kind, 1 | 4) && call == Call::Read);
    let expected = if bad {
        (-i64::from(SysError::BadAddress.code())) as u64
    } else {
        len
    };
    let _ = sio.close();
    if outcome.rax != expected || !outcome.rcx_ok || !outcome.r11_ok {
        println!(
            "hostile: leaf-call {path} rsp {rsp:?} buf {buf:#x} len {len}: rax {:#x} (expected {expected:#x}), rcx {}, r11 {}",
            outcome.rax,
            if outcome.rcx_ok { "kept" } else { "CHANGED" },
            if outcome.r11_ok { "kept" } else { "CHANGED" },
        );
        return false;
    }
    println!(
        "hostile: leaf-call {path} rsp {rsp:?} buf {buf:#x} len {len}: {:#x}, rcx and r11 kept",
        outcome.rax
    );
    true
}
