//! `regcheck`: after every kind of call, no register holds a kernel value.
//!
//! For each call it sets all 15 general registers but `rsp` to values of
//! its own (the call's arguments, a distinct user-half mark in every other
//! one), executes `syscall` and captures all 16 after it
//! ([`capture`]), then checks the rules of [`check`]: the result in `rax`;
//! `rbx`, `rbp`, `r12`–`r15`, `rsp` preserved; `rcx` the return address and
//! `r11` the RFLAGS of the `syscall`; each argument register its input, 0,
//! or a pointer into the call's own buffer; no kernel-half value anywhere
//! but an error code in `rax`.
//!
//! Calls, each on the routine table (synthesized where the kernel made a
//! routine) and with `CallWord::FORCE_GENERIC` (the entry stub's slow
//! path into the kernel's Rust handler): the null call; read and write of
//! 1 and 1000 bytes on `/dev/null`, `/dev/zero`, `/dev/mem`, `/dev/tty` in
//! raw and cooked mode, prefix views of the tty at depths 1 and 2
//! (`tty_write_prefixed`), and a RAM file (read, write in place, write past the capacity,
//! which the synthesized write hands to its generic trampoline), a pipe
//! (transfers, end of file and broken pipe through the routines' slow-path
//! jumps) and port sends and receives (fast path, slow path, faults, ends
//! closed); unmapped
//! buffers (the templates' fault fixups) and kernel buffers; unused,
//! closed and far handles, call 7; `create`, `query`, `reconfigure` and
//! `terminate` on every kind (the SMACH wait blocks in the kernel); pipe
//! ends ([`pipes`], [`pipe_review`]), a pipe end whose reader is the
//! console ([`pipe_console`]); then
//! the kernel instructions of one call of each kind ([`counts`]).
//!
//! Output: one line per failed call (`regcheck: FAIL <call> [<path>]:
//! <every broken rule>`), the instruction counts, then
//! `regcheck: <P> passed, <F> failed`. Exit status 0 only if all passed.
//! The tty cases print dots and a newline. Files it leaves: `/tmp/regcheck`,
//! `/tmp/regcheck-grow-*`.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "the captured syscall (naked asm) and raw calls with bad buffers; SAFETY comments per block"
)]

mod capture;
mod check;
mod counts;
mod io;
mod objects;
mod pipe_console;
mod pipe_review;
mod pipes;
mod ports;
mod prefix_views;
mod sched;

use sk_user::println;

sk_user::entry!(main);

fn main() -> i32 {
    let mut run = check::Checker::new();
    io::null_calls(&mut run);
    io::devices(&mut run);
    io::bad_handles(&mut run);
    io::files(&mut run);
    io::tty(&mut run);
    prefix_views::all(&mut run);
    pipes::pipes(&mut run);
    ports::all(&mut run);
    objects::all(&mut run);
    pipe_review::all(&mut run);
    pipe_console::all(&mut run);
    sched::all(&mut run);
    counts::all(&mut run);
    println!("regcheck: {} passed, {} failed", run.passed, run.failed);
    i32::from(run.failed != 0)
}
