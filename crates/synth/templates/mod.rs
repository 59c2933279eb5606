//! Template sources, assembled on the host by `build.rs` (never compiled into
//! `sk-synth` itself). One file per template; `builder.rs` is the assembler
//! with holes; `user_range.rs` and `copy_out.rs` are snippets spliced into
//! several templates. `tty_cooked.rs` holds layer fragments that
//! `collapse.rs` splices into collapsed routines. `assembly.rs` turns a source into bytes and checked
//! offsets; `taint.rs` checks that no template leaves a kernel value in a
//! register at an exit.
//!
//! Stackless routines (`leaf.rs`: the error stub and the `*_leaf` twins)
//! are entered by the entry stub's `jmp` on the user's stack and return
//! with `sysretq`; `leaf.rs` has their contract.
//!
//! Routine convention (entered by the entry stub's door's `call`): `rax` = index,
//! arguments `rdi`, `rsi`, `rdx`, `r10`, `r8` (read/write: `rdi` = buffer,
//! `rsi` = length), result in `rax` (`>= 0` or `-(error code)`); may clobber
//! `rax`, `rcx`, `rdx`, `rsi`, `rdi`, `r8`–`r11`; preserves `rbx`, `rbp`,
//! `r12`–`r15`, `rsp`.

pub mod assembly;
pub mod builder;
mod call_counter;
pub mod collapse;
mod copy_out;
mod dev_mem_read;
mod dev_mem_read_leaf;
mod dev_null_write;
mod dev_null_write_leaf;
mod dev_zero_read;
mod dev_zero_read_leaf;
mod entry_stub;
mod error_stub;
mod generic_trampoline;
pub mod leaf;
mod linux_entry_stub;
mod linux_fd_dispatch;
mod linux_slow_path;
mod pipe;
mod port;
mod ram_file_read;
mod ram_file_read_leaf;
mod ram_file_write;
mod semaphore;
pub mod switch;
pub mod taint;
mod tty_cooked;
mod tty_prefixed;
mod tty_write;
mod user_range;
pub mod yield_caller;

use builder::TemplateSource;
use iced_x86::IcedError;

/// Every template, in the order they are emitted.
pub fn all() -> Result<Vec<TemplateSource>, IcedError> {
    let mut all = vec![
        entry_stub::source()?,
        dev_null_write::source()?,
        dev_zero_read::source()?,
        dev_mem_read::source()?,
        ram_file_read::source()?,
        dev_null_write_leaf::source()?,
        dev_zero_read_leaf::source()?,
        dev_mem_read_leaf::source()?,
        ram_file_read_leaf::source()?,
        ram_file_write::source()?,
        tty_write::source()?,
        error_stub::source()?,
        generic_trampoline::source()?,
        call_counter::source()?,
        semaphore::p_source()?,
        semaphore::v_source()?,
        yield_caller::source()?,
        pipe::write_source()?,
        pipe::read_source()?,
        port::send_source()?,
        port::receive_source()?,
        linux_entry_stub::source()?,
        linux_fd_dispatch::source()?,
        linux_slow_path::source()?,
    ];
    all.extend(switch::sources()?);
    Ok(all)
}
