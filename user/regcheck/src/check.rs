//! One checked call: the registers we pass, the result we want, and the
//! rules every register must satisfy after the `syscall`.
//!
//! Owns [`Call`] (a call word and its six argument registers, every
//! register we do not pass a value in set to a recognisable mark),
//! [`Want`], and [`Checker`], which makes each call through
//! [`crate::capture`], checks it, prints one line per failed call and
//! counts. The rules, for every call:
//!
//! - `rax` is the result we want;
//! - `rbx`, `rbp`, `r12`–`r15` and `rsp` are what they were;
//! - `rcx` is the address after the `syscall`, `r11` RFLAGS at the `syscall`;
//! - each of `rdi`, `rsi`, `rdx`, `r8`, `r9`, `r10` is its input value, 0,
//!   or an address inside the call's own buffer `[buf, buf + len]` (the
//!   synthesized copies leave `rdi`/`rsi` advanced through it, and a fault
//!   at a user access leaves its address in `rdx`: user values, never
//!   kernel ones);
//! - no register holds a value `>= 0xffff_8000_0000_0000` (a kernel-half
//!   address), except `rax` when it is an error code (`-4095..=-1`) and a
//!   register still holding the caller's own input (a kernel pointer the
//!   caller passed).

use core::fmt::Write as _;

use sk_abi::{CallWord, SysError};
use sk_user::check::Msg;
use sk_user::println;

use crate::capture::{
    self, Capture, Regs, NAMES, R10, R11, R12, R13, R14, R15, R8, R9, RAX, RBP, RBX, RCX, RDI, RDX,
    RSI, RSP, TRAP_FLAG,
};

/// First address of the kernel half.
pub(crate) const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// The value we put in register `index` when the call takes nothing there:
/// a user-half pattern, distinct per register (`0x5e65` reads "regs").
pub(crate) const fn mark(index: usize) -> u64 {
    0x0000_5e65_0000_0000 | ((index as u64) * 0x0101_0101)
}

/// Which path a call is sent down.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Path {
    /// The thread's routine table (a synthesized routine where there is one).
    Table,
    /// [`CallWord::FORCE_GENERIC`]: the entry stub's slow path.
    Generic,
}

impl Path {
    /// Both, table first.
    pub(crate) const BOTH: [Path; 2] = [Path::Table, Path::Generic];

    /// The bits to OR into the call word.
    pub(crate) const fn bits(self) -> u64 {
        match self {
            Path::Table => 0,
            Path::Generic => CallWord::FORCE_GENERIC,
        }
    }

    /// Suffix for case names.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Path::Table => "table",
            Path::Generic => "FORCE_GENERIC",
        }
    }
}

/// The result a call must return in `rax`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Want {
    /// Exactly this value.
    Value(u64),
    /// Any success (`rax >= 0`): a new handle, a child's exit status.
    Success,
    /// This error.
    Error(SysError),
}

/// One call's registers at the `syscall`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    regs: Regs,
    /// `[start, end]`: argument registers may come back pointing here.
    buffer: Option<(u64, u64)>,
}

impl Call {
    /// `word` on `path`, every other register a mark.
    pub(crate) fn new(word: u64, path: Path) -> Self {
        let mut regs: Regs = core::array::from_fn(mark);
        regs[RAX] = word | path.bits();
        Self { regs, buffer: None }
    }

    /// Sets the first arguments (`rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`).
    #[must_use]
    pub(crate) fn args(mut self, args: &[u64]) -> Self {
        for (&register, &value) in [RDI, RSI, RDX, R10, R8, R9].iter().zip(args) {
            self.regs[register] = value;
        }
        self
    }

    /// A read or write of `len` bytes at `buf`: `rdi`, `rsi`, and the
    /// buffer the argument registers may point into afterwards.
    #[must_use]
    pub(crate) fn io(self, buf: u64, len: u64) -> Self {
        let mut call = self.args(&[buf, len]);
        call.buffer = Some((buf, buf.saturating_add(len)));
        call
    }
}

/// Makes calls, checks them, counts.
pub(crate) struct Checker {
    pub(crate) passed: u32,
    pub(crate) failed: u32,
}

impl Checker {
    pub(crate) const fn new() -> Self {
        Self {
            passed: 0,
            failed: 0,
        }
    }

    /// Records a failure that is not about registers (a setup step).
    pub(crate) fn fail(&mut self, name: &str, detail: core::fmt::Arguments<'_>) {
        self.failed += 1;
        println!("regcheck: FAIL {name}: {detail}");
    }

    /// Makes `call`, checks it against `want` and the register rules;
    /// returns `rax`.
    ///
    /// # Safety
    /// As for [`capture::syscall_capture`]: every pointer among the
    /// arguments is a live buffer of the caller, big enough for what the
    /// call does with it, or an address where no Rust object lies.
    pub(crate) unsafe fn check(&mut self, name: &str, path: Path, call: &Call, want: Want) -> u64 {
        // SAFETY: forwarded from the caller.
        unsafe { self.check_traced(name, path, call, want, false) }
    }

    /// [`Checker::check`], with the call single-stepped by the kernel's
    /// counter when `traced` (the caller armed it).
    ///
    /// # Safety
    /// As for [`Checker::check`].
    pub(crate) unsafe fn check_traced(
        &mut self,
        name: &str,
        path: Path,
        call: &Call,
        want: Want,
        traced: bool,
    ) -> u64 {
        // SAFETY: forwarded from the caller.
        let capture = unsafe { capture::syscall_capture(&call.regs, traced) };
        match broken_rules(call, &capture, want, traced) {
            None => self.passed += 1,
            Some(detail) => {
                self.failed += 1;
                println!("regcheck: FAIL {name} [{}]: {detail}", path.name());
            }
        }
        capture.after[RAX]
    }
}

/// Whether `rax` is an error code.
fn is_error_code(rax: u64) -> bool {
    let value = rax as i64;
    (-4095..0).contains(&value)
}

/// Every rule of the module docs: `None` if all hold, else each broken one.
fn broken_rules(call: &Call, capture: &Capture, want: Want, traced: bool) -> Option<Msg<320>> {
    let before = &call.regs;
    let after = &capture.after;
    let mut detail: Msg<320> = Msg::new(format_args!(""));
    let mut ok = true;
    let mut note = |args: core::fmt::Arguments<'_>| {
        if !ok {
            let _ = detail.write_str("; ");
        }
        ok = false;
        let _ = detail.write_fmt(args);
    };

    let rax = after[RAX];
    let rax_ok = match want {
        Want::Value(value) => rax == value,
        Want::Success => (rax as i64) >= 0,
        Want::Error(error) => rax as i64 == error.to_return(),
    };
    if !rax_ok {
        note(format_args!(
            "rax {:#x} ({}), want {want:?}",
            rax, rax as i64
        ));
    }
    for register in [RBX, RBP, R12, R13, R14, R15] {
        if after[register] != before[register] {
            note(format_args!(
                "{} {:#x} not preserved (was {:#x})",
                NAMES[register], after[register], before[register]
            ));
        }
    }
    if after[RSP] != capture.rsp {
        note(format_args!(
            "rsp {:#x} not preserved (was {:#x})",
            after[RSP], capture.rsp
        ));
    }
    if after[RCX] != capture.return_address {
        note(format_args!(
            "rcx {:#x}, want the return address {:#x}",
            after[RCX], capture.return_address
        ));
    }
    let flags = capture.flags | if traced { TRAP_FLAG } else { 0 };
    if after[R11] != flags {
        note(format_args!(
            "r11 {:#x}, want RFLAGS {flags:#x}",
            after[R11]
        ));
    }
    for register in [RDI, RSI, RDX, R8, R9, R10] {
        let value = after[register];
        let in_buffer = call
            .buffer
            .is_some_and(|(start, end)| (start..=end).contains(&value));
        if value != before[register] && value != 0 && !in_buffer && value < KERNEL_HALF {
            note(format_args!(
                "{} {value:#x}: neither its input {:#x}, 0, nor in the buffer",
                NAMES[register], before[register]
            ));
        }
    }
    for (register, &value) in after.iter().enumerate() {
        // The caller's own value (a kernel pointer passed as an argument
        // and left alone) reveals nothing.
        let exempt = (register == RAX && is_error_code(value)) || value == before[register];
        if value >= KERNEL_HALF && !exempt {
            note(format_args!(
                "{} {value:#x} is a kernel value",
                NAMES[register]
            ));
        }
    }
    (!ok).then_some(detail)
}
