//! The Linux personality of a SMACH (docs/unix.md, phase 1): what the
//! kernel keeps for a Linux process and how one is made.
//!
//! Owns [`LinuxProcess`] (its descriptors, address map, signal state,
//! `set_tid_address` pointer) and [`build`]: load a
//! static Linux ELF (`ET_EXEC`, or static-PIE at [`PIE_BASE`]) with
//! `sk_smach::load_linux_image`, build
//! the Linux initial stack with `sk_unix` (argc, argv, envp, auxv), and
//! make the main thread with a Linux entry stub and table
//! (`thread_entry::for_new_linux_thread`). The calls are `linux_calls.rs`.

use crate::state::{Core, Smach};
use crate::synthesis::{config, EntryMode};
use crate::thread::Thread;
use sk_abi::{Handle, SysError};
use sk_scpu::{Scpu, UserStart};
use sk_smach::{USER_STACK_BYTES, USER_STACK_TOP};
use sk_unix::address_map::{AddressMap, MmapRequest};
use sk_unix::vma::map;

/// Where a static-PIE program is loaded (Linux's `ELF_ET_DYN_BASE`).
pub(crate) const PIE_BASE: u64 = 0x0000_5555_5555_4000;
/// `mmap` searches top-down below this (well under the stack).
const MMAP_BASE: u64 = 0x0000_7f00_0000_0000;
/// Slots of a Linux routine table: every Linux x86-64 call number (0..=450).
pub(crate) const LINUX_TABLE_SLOTS: u32 = 451;
/// The most the initial stack (strings, vectors) may take.
const STACK_IMAGE_LIMIT: usize = 64 * 1024;
/// `PROT_*` bits (`mmap(2)`).
const PROT_READ: u64 = 1;
const PROT_WRITE: u64 = 2;
const PROT_EXEC: u64 = 4;

/// What the kernel keeps for one Linux process (one SMACH).
pub(crate) struct LinuxProcess {
    /// Descriptors, working directory, `umask` (`linux_fds.rs`: every
    /// change of a descriptor goes through its functions).
    pub(crate) files: crate::linux_fds::Files,
    /// The user address map (`mmap`, `brk`): `sk_unix`'s, the kernel only
    /// performs its actions.
    pub(crate) map: AddressMap,
    /// `set_tid_address`'s pointer (recorded; used by thread exit later).
    pub(crate) clear_child_tid: u64,
    /// Signal actions, and each thread's mask, pending set and alternate
    /// stack (`linux_signals.rs`). Boxed: the action table alone is
    /// kilobytes, and a `LinuxProcess` moves through the kernel stack of
    /// every SMACH creation (`smach::create_as`).
    pub(crate) signals: alloc::boxed::Box<crate::linux_signals::LinuxSignals>,
}

impl LinuxProcess {
    fn new(map: AddressMap) -> Self {
        Self {
            files: crate::linux_fds::Files::new(),
            map,
            clear_child_tid: 0,
            signals: alloc::boxed::Box::default(),
        }
    }

    /// The handle descriptor `fd` names.
    pub(crate) fn handle(&self, fd: u32) -> Option<Handle> {
        self.files.handle(fd)
    }
}

/// 16 bytes for `AT_RANDOM` and `getrandom`: a SplitMix64 stream seeded
/// from the TSC. Not a cryptographic source (there is none yet).
pub(crate) fn random_bytes(out: &mut [u8]) {
    static STATE: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);
    for chunk in out.chunks_mut(8) {
        let seed = STATE.fetch_add(0x9e37_79b9_7f4a_7c15, core::sync::atomic::Ordering::Relaxed)
            ^ sk_machine::cpu::rdtsc();
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        let bytes = z.to_le_bytes();
        chunk.copy_from_slice(bytes.get(..chunk.len()).unwrap_or(&[]));
    }
}

/// Records an already mapped range (the image, the stack) in the map so
/// `mmap` avoids it and `mprotect` (RELRO) applies to it.
fn record(map: &mut AddressMap, start: u64, end: u64, prot: u64) -> Result<(), SysError> {
    let request = MmapRequest {
        addr: start,
        len: end.saturating_sub(start),
        prot,
        flags: map::PRIVATE | map::ANONYMOUS | map::FIXED,
        offset: 0,
        file: None,
    };
    map.mmap(&request).map(|_| ()).map_err(|_| SysError::BadElf)
}

/// Loads the Linux program `bytes` into `smach` (run as `path` with
/// `argv`), installs its console handles, and makes its main thread.
///
/// # Errors
/// [`SysError::BadElf`] for an ELF `sk_elf` refuses or a stack that does
/// not fit; [`SysError::NotSupported`] in the per-CPU-slot entry mode
/// (its door clobbers `r9`, a Linux argument); [`SysError::NoMemory`].
pub(crate) fn build(
    core: &mut Core,
    smach: &mut Smach,
    bytes: &[u8],
    path: &str,
    argv: &[&str],
) -> Result<(Thread, LinuxProcess), SysError> {
    let cfg = config();
    if cfg.enabled && cfg.entry == EntryMode::PerCpuSlot {
        return Err(SysError::NotSupported);
    }
    let aspace = smach.aspace.as_mut().ok_or(SysError::NoMemory)?;
    let (image, load) = sk_smach::load_linux_image(&mut smach.regions, aspace, bytes, PIE_BASE)?;
    let mut image_end = 0;
    let mut ranges = alloc::vec::Vec::new();
    for range in image.pages() {
        image_end = image_end.max(range.end);
        let prot = PROT_READ
            | if range.writable { PROT_WRITE } else { 0 }
            | if range.executable { PROT_EXEC } else { 0 };
        ranges.push((range.start, range.end, prot));
    }
    let mut address_map = AddressMap::new(MMAP_BASE, image_end).map_err(|_| SysError::BadElf)?;
    for (start, end, prot) in ranges {
        record(&mut address_map, start, end, prot)?;
    }
    let stack_bottom = USER_STACK_TOP - USER_STACK_BYTES;
    record(
        &mut address_map,
        stack_bottom,
        USER_STACK_TOP,
        PROT_READ | PROT_WRITE,
    )?;

    let mut random = [0u8; 16];
    random_bytes(&mut random);
    let argv_bytes: alloc::vec::Vec<&[u8]> = argv.iter().map(|a| a.as_bytes()).collect();
    let args = sk_unix::StackArgs {
        path: path.as_bytes(),
        argv: &argv_bytes,
        envp: &[],
        random,
        aux: sk_unix::ProgramAux {
            phdr: load.phdr,
            phent: load.phent,
            phnum: load.phnum,
            entry: image.entry(),
            hwcap: u64::from(sk_machine::cpu::cpuid(1, 0).edx),
            uid: 0,
            gid: 0,
        },
    };
    let stack = sk_unix::build_initial_stack(USER_STACK_TOP, &args, STACK_IMAGE_LIMIT)
        .map_err(|_| SysError::BadElf)?;
    sk_smach::map_stack(&mut smach.regions, aspace, &stack.bytes)?;

    let id = crate::smach::install_self_and_console(core, smach)?;
    // The thread enters at rsp = stack_top - 8: the initial stack's rsp
    // (argc) is what a Linux program must start with.
    let start = UserStart {
        entry: image.entry(),
        stack_top: stack.rsp + 8,
        arg: 0,
    };
    let thread = Thread::user_linux(Scpu::new_main(crate::thread::new_id(), id, start))?;
    Ok((thread, LinuxProcess::new(address_map)))
}
