//! `abitest`: the native ABI checked end to end, through real calls.
//!
//! Runs each case in [`CASES`] in order, printing one line per case:
//!
//! ```text
//! abitest: <name> ... ok
//! abitest: <name> ... FAILED: <detail>
//! abitest: <P> passed, <F> failed
//! ```
//!
//! and exits with status F. Cases cover every call on every kind, success
//! and error paths; the expected errors are the ones `sk-abi` documents.
//! Lines of the children it spawns (`worker`, `faulty`) appear between
//! its own. Files it leaves: `/tmp/abitest` (empty), `/tmp/notelf`.
//!
//! Arguments `sk-user`'s typed API cannot express (bad call words, bad
//! pointers, wrong sizes) go through one raw call, [`support::sys`]; every
//! such pointer is either a live buffer of this program or an address
//! where no Rust object lies, so a faulty kernel fails a case rather than
//! corrupting the test.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "raw calls with deliberately bad arguments, and SMEM bytes; SAFETY comments per block"
)]

mod support;

mod calls;
mod scpu;
mod sio;
mod smach;
mod smem;

use sk_user::println;
use support::Outcome;

sk_user::entry!(main);

/// A named check.
type Case = (&'static str, fn() -> Outcome);

/// Every case, in order (the SCPU ones share one thread, in sequence).
const CASES: &[Case] = &[
    ("null call returns 0", calls::null_call_returns_0),
    (
        "call 7 on self -> BadCall",
        calls::call_7_on_self_is_bad_call,
    ),
    (
        "call 7 on console -> BadCall",
        calls::call_7_on_console_is_bad_call,
    ),
    (
        "handle out of range -> BadHandle",
        calls::handle_out_of_range_is_bad_handle,
    ),
    (
        "handle past u32 -> BadHandle",
        calls::handle_past_u32_is_bad_handle,
    ),
    (
        "closed handle -> BadHandle",
        calls::closed_handle_is_bad_handle,
    ),
    (
        "read on SMEM -> WrongKind",
        calls::read_on_smem_is_wrong_kind,
    ),
    (
        "write on SMACH -> WrongKind",
        calls::write_on_self_is_wrong_kind,
    ),
    (
        "create on SIO -> WrongKind",
        calls::create_on_console_is_wrong_kind,
    ),
    ("console query -> Tty", sio::console_is_a_tty),
    (
        "console write of 0 bytes -> 0",
        sio::console_write_of_nothing_returns_0,
    ),
    (
        "/dev/null write returns len",
        sio::dev_null_write_returns_len,
    ),
    ("/dev/null read returns 0", sio::dev_null_read_returns_0),
    ("/dev/zero read fills zeros", sio::dev_zero_read_fills_zeros),
    (
        "/dev/mem read matches pattern",
        sio::dev_mem_reads_the_pattern,
    ),
    ("/dev/mem seek then read", sio::dev_mem_seek_then_read),
    ("/dev/mem EOF at 16 MiB", sio::dev_mem_ends_at_16_mib),
    (
        "/dev/mem write -> NotPermitted",
        sio::dev_mem_write_is_not_permitted,
    ),
    (
        "file write, seek, read back",
        sio::file_write_seek_read_back,
    ),
    (
        "file query size and position",
        sio::file_query_size_and_position,
    ),
    ("file seek End and Current", sio::file_seek_end_and_current),
    ("file grows with a zero hole", sio::file_grows_with_a_hole),
    (
        "reopen with TRUNCATE empties",
        sio::reopen_with_truncate_empties,
    ),
    ("APPEND writes at the end", sio::append_writes_at_the_end),
    (
        "negative seek -> BadOffset",
        sio::negative_seek_is_bad_offset,
    ),
    ("whence 3 -> BadValue", sio::bad_whence_is_bad_value),
    (
        "SIO selector 14 -> BadSelector",
        sio::bad_reconfigure_selector,
    ),
    (
        "TtyMode on a file -> WrongKind",
        sio::tty_mode_on_a_file_is_wrong_kind,
    ),
    (
        "query Info returns its size",
        sio::query_info_returns_its_size,
    ),
    (
        "query too small -> BadLength",
        sio::query_into_small_buffer_is_bad_length,
    ),
    ("query selector 7 -> BadSelector", sio::bad_query_selector),
    (
        "query Routines on the console -> text",
        sio::routines_query_describes_the_console,
    ),
    (
        "query Routines shows no kernel address",
        sio::routines_query_shows_no_kernel_address,
    ),
    ("open missing -> NotFound", sio::open_missing_is_not_found),
    (
        "EXCLUSIVE on existing -> Exists",
        sio::exclusive_on_existing_is_exists,
    ),
    ("bad open flags -> BadFlags", sio::bad_open_flags),
    (
        "open dir for writing -> IsDir",
        sio::directory_for_writing_is_is_dir,
    ),
    (
        "path through a file -> NotDir",
        sio::path_through_a_file_is_not_dir,
    ),
    (
        "empty/relative path -> BadPath",
        sio::malformed_paths_are_bad_path,
    ),
    (
        "4000-byte path: read whole, 260-byte path: opens",
        sio::paths_longer_than_256_bytes_are_read_whole,
    ),
    (
        "5000-byte path -> NameTooLong",
        sio::long_path_is_name_too_long,
    ),
    (
        "read on write-only -> NotPermitted",
        sio::read_on_write_only_is_not_permitted,
    ),
    (
        "create args size -> BadLength",
        sio::create_args_of_wrong_size_is_bad_length,
    ),
    (
        "create kind 4 -> WrongKind",
        sio::unknown_kind_is_wrong_kind,
    ),
    (
        "create _pad != 0 -> BadFlags",
        sio::nonzero_pad_is_bad_flags,
    ),
    (
        "path in kernel half -> BadAddress",
        sio::path_in_kernel_half_is_bad_address,
    ),
    (
        "args at kernel/null -> BadAddress",
        sio::args_in_kernel_half_is_bad_address,
    ),
    (
        "read into kernel/null -> BadAddress",
        sio::read_into_kernel_or_null_is_bad_address,
    ),
    (
        "write from bad ranges -> BadAddress",
        sio::write_from_bad_pointers_is_bad_address,
    ),
    (
        "query into kernel -> BadAddress",
        sio::query_into_kernel_is_bad_address,
    ),
    ("SMEM create and query", smem::create_and_query),
    (
        "SMEM length rounds up to pages",
        smem::length_rounds_up_to_pages,
    ),
    (
        "SMEM zeroed and writable",
        smem::memory_is_zeroed_and_writable,
    ),
    ("SMEM protect read-only", smem::protect_read_only),
    (
        "SMEM freed -> BadHandle",
        smem::free_then_query_is_bad_handle,
    ),
    ("SMEM W|X -> BadFlags", smem::write_execute_is_bad_flags),
    (
        "SMEM len 0/u64::MAX -> BadLength",
        smem::zero_or_huge_length_is_bad_length,
    ),
    (
        "SMEM bad placement -> BadAddress",
        smem::bad_placement_is_bad_address,
    ),
    (
        "SMEM FIXED address and overlap",
        smem::fixed_address_is_honoured,
    ),
    (
        "SMEM kernel placement skips FIXED",
        smem::kernel_placement_skips_fixed_regions,
    ),
    ("SCPU create runs the thread", scpu::creates_and_runs),
    ("SCPU query while running", scpu::query_running),
    ("SCPU suspend and resume", scpu::suspend_and_resume),
    ("SCPU priority", scpu::set_priority),
    ("SCPU quantum", scpu::set_quantum),
    ("SCPU terminate by handle", scpu::terminate_by_handle),
    (
        "SCPU terminate on its own handle ends it",
        scpu::terminate_self,
    ),
    (
        "SCPU bad entry -> BadAddress",
        scpu::bad_entry_is_bad_address,
    ),
    ("SMACH query self", smach::query_self),
    ("SMACH selector 11 -> BadSelector", smach::bad_self_selector),
    (
        "SMACH spawn worker, wait, free",
        smach::spawn_worker_and_wait,
    ),
    (
        "SMACH faulting child -> 137",
        smach::faulting_child_is_killed,
    ),
    (
        "SMACH spawn missing -> NotFound",
        smach::spawn_missing_is_not_found,
    ),
    (
        "SMACH spawn non-ELF -> BadElf",
        smach::spawn_non_elf_is_bad_elf,
    ),
    (
        "SMACH create flags -> BadFlags",
        smach::smach_flags_are_bad_flags,
    ),
];

fn main() -> i32 {
    let (mut passed, mut failed) = (0_i32, 0_i32);
    for &(name, case) in CASES {
        match case() {
            Ok(()) => {
                println!("abitest: {name} ... ok");
                passed += 1;
            }
            Err(detail) => {
                println!("abitest: {name} ... FAILED: {detail}");
                failed += 1;
            }
        }
    }
    println!("abitest: {passed} passed, {failed} failed");
    failed
}
