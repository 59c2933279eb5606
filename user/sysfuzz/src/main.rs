//! `sysfuzz`: random system calls, to show the kernel survives them and
//! gives back what they took.
//!
//! Start argument: the seed, or `(calls << 32) | seed` (see
//! [`Plan::from_arg`]; 1,000,000 calls by default). It maps a 64 KiB
//! arena (an SMEM at [`ARENA_ADDR`]) as the valid buffer, then issues the
//! calls [`Generator`] makes, redrawing those [`is_allowed`] refuses (so
//! it never ends, suspends or waits on itself, touches the console beyond
//! `query`, or starts threads or programs; see the library docs). Handles
//! its `create`s return are closed every 1,024 calls, when 16 are open,
//! and at the end; its files `/tmp/fuzz0`..`3` are then truncated (the ABI
//! cannot remove files), so the kernel's free memory can return to where
//! it was.
//!
//! Output:
//!
//! ```text
//! sysfuzz: seed <seed>, <N> calls, arena at <addr>
//! sysfuzz: <N> calls, <ok> ok, <errors> errors, seed <seed>
//! sysfuzz: error <code> <Name>: <count>        (one per code seen)
//! sysfuzz: <k> objects created, all closed
//! ```
//!
//! Exit status 0 once all calls are made; 1 if the arena cannot be set up.
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "raw system calls with random arguments; the SAFETY comment says why they cannot break this program"
)]

use sk_abi::{Call, CallWord, Handle, SysError};
use sk_user::{println, raw, OpenFlags, Prot, Sio, Smem};
use sk_user_sysfuzz::{
    is_allowed, Generator, Plan, Scratch, ARENA_ADDR, ARENA_LEN, FUZZ_FILES, GAP_LEN,
};

sk_user::entry!(main);

/// Most handles kept open between cleanups.
const MAX_OPEN: usize = 16;

/// Calls between cleanups.
const CLEANUP_EVERY: u64 = 1024;

/// Tally slots: index = error code (1..=26), [`OTHER`] for the rest.
const SLOTS: usize = 28;

/// The tally slot for codes this build does not know.
const OTHER: usize = SLOTS - 1;

/// An address in the program image, for the layout check.
static IMAGE_PROBE: u8 = 0;

fn main() -> i32 {
    let plan = Plan::from_arg(sk_user::start_arg());
    let Some(arena) = map_arena() else {
        return 1;
    };
    let arena_addr = arena.addr();
    let arena_handle = u64::from(arena.handle());
    println!(
        "sysfuzz: seed {}, {} calls, arena at {arena_addr:#x}",
        plan.seed, plan.calls
    );

    let mut generator = Generator::new(plan.seed, arena_addr);
    let mut scratch: Scratch = [0; 32];
    let mut tally = [0_u64; SLOTS];
    let mut ok = 0_u64;
    let mut open = Open::new(arena_handle);
    let mut made = 0_u64;
    while made < plan.calls {
        let scratch_addr = scratch.as_ptr() as u64;
        let call = generator.next(&mut scratch, scratch_addr);
        if !is_allowed(&call, arena_addr, arena_handle) {
            continue;
        }
        // SAFETY: `is_allowed` passed, so this call cannot break this
        // program:
        // 1. It does not end, suspend, reconfigure or wait on this SMACH,
        //    close or reconfigure the console or the arena, or create an
        //    SCPU or SMACH: no code starts, and all memory Rust uses stays
        //    mapped with its protection.
        // 2. The kernel writes user memory only for `read` and `query`,
        //    whose destinations start in the arena or the gap after it
        //    (memory no Rust object uses, checked by `map_arena`), the never
        //    mapped null page, or outside user space (refused); copies run
        //    forward and stop at the first unmapped byte.
        // 3. Everything else the kernel only reads (argument structs in
        //    `scratch`, paths in statics, buffers), or maps and unmaps the
        //    fuzzer's own SMEMs.
        let rax = unsafe { raw::syscall6(call.word, call.args) };
        made += 1;
        match SysError::decode_return(rax) {
            Ok(value) => {
                ok += 1;
                if call.is(Call::Create) {
                    open.push(value);
                }
            }
            Err(error) => {
                let slot = usize::try_from(error.code()).map_or(OTHER, |code| code.min(OTHER));
                tally[slot] += 1;
            }
        }
        if open.is_full() || made.is_multiple_of(CLEANUP_EVERY) {
            open.close_all();
        }
    }
    open.close_all();
    let _ = arena.free();
    for path in FUZZ_FILES {
        if let Ok(file) = Sio::open(path, OpenFlags::WRITE | OpenFlags::TRUNCATE) {
            let _ = file.close();
        }
    }

    let errors = made - ok;
    println!(
        "sysfuzz: {made} calls, {ok} ok, {errors} errors, seed {}",
        plan.seed
    );
    for (slot, &count) in tally.iter().enumerate() {
        if count == 0 {
            continue;
        }
        let code = u32::try_from(slot).unwrap_or(u32::MAX);
        let error = SysError::from_code(code).unwrap_or(SysError::Unknown);
        println!("sysfuzz: error {code} {error:?}: {count}");
    }
    println!("sysfuzz: {} objects created, all closed", open.created);
    0
}

/// Maps the arena at [`ARENA_ADDR`] (or where the kernel likes, if that
/// fails) and checks that neither the stack nor the image lies within
/// 16 MiB of it or its gap. Prints why and returns `None` if not.
fn map_arena() -> Option<Smem> {
    let read_write = Prot::READ | Prot::WRITE;
    let arena = match Smem::create_at(ARENA_ADDR, ARENA_LEN, read_write) {
        Ok(arena) => arena,
        Err(error) => {
            println!(
                "sysfuzz: arena at {ARENA_ADDR:#x} failed ({error:?}); letting the kernel place it"
            );
            match Smem::create(ARENA_LEN, read_write) {
                Ok(arena) => arena,
                Err(error) => {
                    println!("sysfuzz: cannot map the arena: {error:?}");
                    return None;
                }
            }
        }
    };
    let margin = 16 << 20;
    let zone = arena.addr().saturating_sub(margin)
        ..arena
            .addr()
            .saturating_add(ARENA_LEN + GAP_LEN)
            .saturating_add(margin);
    let stack_probe = 0_u8;
    let stack = core::ptr::from_ref(&stack_probe) as u64;
    let image = core::ptr::from_ref(&IMAGE_PROBE) as u64;
    if zone.contains(&stack) || zone.contains(&image) {
        println!(
            "sysfuzz: arena {:#x} too close to the stack {stack:#x} or image {image:#x}",
            arena.addr()
        );
        let _ = arena.free();
        return None;
    }
    Some(arena)
}

/// Handles the fuzzer's `create`s returned, to close.
struct Open {
    handles: [u64; MAX_OPEN],
    len: usize,
    /// Never closed here, whatever a `create` claims.
    arena_handle: u64,
    /// Objects created in all.
    created: u64,
}

impl Open {
    const fn new(arena_handle: u64) -> Self {
        Self {
            handles: [0; MAX_OPEN],
            len: 0,
            arena_handle,
            created: 0,
        }
    }

    fn is_full(&self) -> bool {
        self.len == MAX_OPEN
    }

    /// Records a handle `create` returned (closing all first if full).
    fn push(&mut self, handle: u64) {
        if self.is_full() {
            self.close_all();
        }
        if let Some(slot) = self.handles.get_mut(self.len) {
            *slot = handle;
            self.len += 1;
            self.created += 1;
        }
    }

    /// Terminates every recorded handle (a fuzz call may have closed some
    /// already: those fail with `BadHandle`, which is fine).
    fn close_all(&mut self) {
        for &handle in self.handles.iter().take(self.len) {
            let is_protected = handle <= 1 || handle == self.arena_handle;
            let Ok(handle) = u32::try_from(handle) else {
                continue;
            };
            if is_protected {
                continue;
            }
            let word = CallWord::new(Handle::new(handle), Call::Terminate).get();
            // SAFETY: `handle` is an object a fuzz `create` made (an SIO or
            // SMEM, never 0, 1 or the arena): closing it frees nothing
            // Rust code uses.
            let _ = unsafe { raw::syscall1(word, 0) };
        }
        self.len = 0;
    }
}
