//! Code memory for synthesized routines: instantiating templates into the
//! arena, the shared error stubs, and the kernel's [`Mechanism`] (the
//! actions `sk-synth`'s policy asks for: install, store a table slot,
//! retire).
//!
//! Owns [`Routine`] and `KernelMechanism`. The arena itself (W^X pages,
//! quiescent-point retirement) is `sk-machine`'s `code_arena`.

use crate::synthesis::config;
use crate::thread::Thread;
use alloc::boxed::Box;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};
use sk_machine::code_arena::{self, InstalledBlock};
use sk_smach::IdMap;
use sk_synth::policy::{
    CacheRef, Cached, CodeCache, InstallError, Mechanism, RoutineHoles, Slot, SlotTarget,
};
use sk_synth::templates::{CallCounterHoles, ErrorStubHoles};
use sk_synth::{HoleSet, Imm32, Imm64, Instance, Smap, SynthError, Template};
use spin::Mutex;

/// Shared error stubs, one per result value (the null call's is 0).
static ERROR_STUBS: Mutex<Vec<(i32, Routine)>> = Mutex::new(Vec::new());

/// The code cache: SIO routines with the same template and hole values
/// share one block (`sk_synth::policy::CodeCache` decides; this file
/// performs). Taken with interrupts masked, inside the kernel lock, before
/// the arena's lock.
static CACHE: Mutex<CodeCache<Routine>> = Mutex::new(CodeCache::new());

/// A routine as an SIO holds it: through the cache, or its own block.
pub(crate) type HeldRoutine = CacheRef<Routine>;

/// Runs `f` on the routine `held` refers to (None if the hold is stale,
/// which the cache's rules exclude).
pub(crate) fn with_routine<R>(held: &HeldRoutine, f: impl FnOnce(&Routine) -> R) -> Option<R> {
    sk_machine::cpu::without_interrupts(|| CACHE.lock().block(held).map(f))
}

/// Retires every idle cached routine (no user). For leak checks, which
/// count live code blocks (an install out of memory flushes on its own).
#[cfg(feature = "ktest")]
pub(crate) fn flush_idle_routines() {
    let mut idle: Vec<Routine> = Vec::new();
    sk_machine::cpu::without_interrupts(|| {
        CACHE.lock().flush_idle(|routine| {
            if idle.try_reserve(1).is_ok() {
                idle.push(routine);
            }
            // Else it is dropped (retired) here, under the cache's lock:
            // retiring takes only the arena's, which never waits on it.
        })
    });
    drop(idle);
}

/// (cached routines with users, idle ones), for tests.
#[cfg(feature = "ktest")]
pub(crate) fn cache_counts() -> (usize, usize) {
    sk_machine::cpu::without_interrupts(|| CACHE.lock().counts())
}

/// A fault injected so the leak check can be seen to catch a lost
/// release: while set, a retired routine's hold is dropped without
/// telling the cache (its user count never comes down).
#[cfg(feature = "ktest")]
pub(crate) static INJECT_LOST_RELEASE: core::sync::atomic::AtomicBool =
    core::sync::atomic::AtomicBool::new(false);

pub(crate) fn smap() -> Smap {
    if sk_machine::usercopy::smap_enabled() {
        Smap::Enabled
    } else {
        Smap::Disabled
    }
}

/// One installed block of code: its block, its template, what it cost.
/// Dropping it retires the block (`InstalledBlock`'s Drop; freed after a
/// quiescent point).
///
/// Small on purpose: the policy moves routines around by value while it
/// reconciles slots, and under the instruction count every byte of a large
/// move is an instruction. What else describing one needs (its instance)
/// is recomputed from the spec it was made from.
pub(crate) struct Routine {
    pub(crate) block: InstalledBlock,
    pub(crate) template: &'static Template,
    /// TSC ticks spent synthesizing and installing it.
    pub(crate) cost_ticks: u64,
    /// With call counting: the counter and the counting thunk in front
    /// (one box, so the record stays at 40 bytes: it is moved by value).
    pub(crate) counting: Option<Box<Counting>>,
}

/// A routine's call counter and the counting thunk in front of it (the
/// thunk is made once the counter has its address).
pub(crate) type Counting = (AtomicU64, Option<Routine>);

impl core::fmt::Debug for Routine {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Routine")
            .field("template", &self.template.name)
            .finish_non_exhaustive()
    }
}

impl Routine {
    /// The address a table slot points at (the counter thunk if counting).
    pub(crate) fn entry(&self) -> u64 {
        self.counting
            .as_ref()
            .and_then(|counting| counting.1.as_ref())
            .map_or(self.block.address(), |thunk| thunk.block.address())
    }

    /// Calls counted so far (None when not counting).
    pub(crate) fn calls(&self) -> Option<u64> {
        self.counting
            .as_ref()
            .map(|counting| counting.0.load(Ordering::Relaxed))
    }
}

/// Instantiates `template` into a fresh arena block: `write(address, out)`
/// writes the instance's bytes for its final address (no [`Instance`]:
/// `sk_synth::instantiate_bytes`), `describe(address)` says what they
/// should be, and is called only where someone looks (the replay log, the
/// debug builds' decode check). The hot path is a free-list pop, a copy,
/// the holes' stores and the fault points read off the template's
/// precomputed list: no allocation, no decoding.
fn install_code(
    template: &'static Template,
    write: impl FnOnce(u64, &mut [u8]) -> Result<(), SynthError>,
    describe: impl FnOnce(u64) -> Instance,
) -> Result<Routine, InstallError> {
    let start = sk_machine::cpu::rdtsc();
    let len = template.bytes.len();
    // Dropping `block` on an error path releases it.
    let mut block = code_arena::reserve(len as u64).map_err(|_| InstallError::OutOfMemory)?;
    let address = block.address();
    // The instance is written straight into the reserved block (through
    // the direct map; nothing runs it before it is installed and a slot
    // points at it).
    let Some(out) = block.bytes_mut().get_mut(..len) else {
        return Err(InstallError::OutOfMemory);
    };
    write(address, out)?;
    if cfg!(debug_assertions) || config().log_installs {
        describe_and_check(template, &describe(address), out);
    }
    // Fault points as absolute addresses, read off the template's list
    // as the arena registers them (most routines have none).
    let fixups = template.fault_points.iter().map(|point| {
        (
            address + u64::from(point.access),
            address + u64::from(point.fixup),
        )
    });
    let block = code_arena::install_written(block, len as u64, fixups).map_err(|(_, unused)| {
        code_arena::release(unused);
        InstallError::OutOfMemory
    })?;
    Ok(Routine {
        block,
        template,
        cost_ticks: sk_machine::cpu::rdtsc().saturating_sub(start),
        counting: None,
    })
}

/// What only debug builds and the replay log do with a fresh instance:
/// log it (`synth.replay`) and, in debug builds, check the bytes decode
/// as its template. Out of line: release builds without the log never
/// describe an instance.
#[inline(never)]
#[cold]
fn describe_and_check(template: &'static Template, instance: &Instance, out: &[u8]) {
    if config().log_installs {
        log_install(instance, out);
    }
    if cfg!(debug_assertions) {
        if let Err(e) = verify(instance, out) {
            panic!(
                "instance of {} does not decode to its template: {e}",
                template.name
            );
        }
    }
}

/// Prints `instance`'s replay record and the bytes written for it (the
/// block's contents, which the arena then maps executable unchanged):
/// `synth-install ...` then `synth-bytes <address> <hex>`.
fn log_install(instance: &Instance, bytes: &[u8]) {
    struct Hex<'a>(&'a [u8]);
    impl core::fmt::Display for Hex<'_> {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
        }
    }
    sk_machine::println!("{}", sk_synth::replay::InstallRecord::from(instance));
    sk_machine::println!("synth-bytes {:#x} {}", instance.address(), Hex(bytes));
}

/// Templates (by name and SMAP mode) one instance of which decoded as
/// its template this boot (debug builds).
static DECODED: Mutex<Vec<(&'static str, Smap)>> = Mutex::new(Vec::new());

/// Debug builds' check of a fresh instance: the first instance of each
/// template (and SMAP mode) is decoded and compared instruction by
/// instruction (`verify_instance`); later ones byte by byte
/// (`verify_bytes`: every byte outside the holes as in the template, every
/// hole holding its value), which is as strong once one instance decoded
/// (hole constants never change an instruction's decoding) and keeps the
/// iced decode (most of a resynthesis in a debug kernel: ~90,000 of the
/// ~95,000 instructions of a first FP use's switch-code rebuild) off the
/// `#NM` path. Release builds check neither.
fn verify(instance: &Instance, bytes: &[u8]) -> Result<(), sk_synth::VerifyError> {
    let key = (instance.template().name, instance.smap());
    let decoded = sk_machine::cpu::without_interrupts(|| DECODED.lock().contains(&key));
    if decoded {
        return sk_synth::verify_bytes(instance, bytes);
    }
    sk_synth::verify_instance(instance, bytes)?;
    sk_machine::cpu::without_interrupts(|| {
        let mut list = DECODED.lock();
        if list.try_reserve(1).is_ok() {
            list.push(key);
        }
    });
    Ok(())
}

/// Instantiates a typed holes set (entry stubs, error stubs, counters).
pub(crate) fn install_holes<H: HoleSet>(holes: &H) -> Result<Routine, InstallError> {
    let smap = smap();
    install_code(
        H::TEMPLATE,
        |address, out| sk_synth::instantiate_bytes(holes, address, smap, out),
        |address| Instance::describe(H::TEMPLATE, holes.values(), address, smap),
    )
}

/// The kernel's side of the policy: arena installs, table stores, retirement.
pub(crate) struct KernelMechanism<'a> {
    pub(crate) threads: &'a IdMap<Thread>,
}

/// The kernel's raw mechanism (every install a new block), behind the cache.
struct Arena;

impl Mechanism for KernelMechanism<'_> {
    type Block = HeldRoutine;

    fn install(&mut self, holes: &RoutineHoles) -> Result<(HeldRoutine, u64), InstallError> {
        sk_machine::cpu::without_interrupts(|| {
            let mut cache = CACHE.lock();
            if cache.capacity_bytes() == 0 {
                cache.reserve();
                cache.keep_idle(config().keep_idle);
            }
            let mut raw = Arena;
            let first = Cached {
                cache: &mut cache,
                inner: &mut raw,
            }
            .install(holes);
            if first.is_ok() || cache.counts().1 == 0 {
                return first;
            }
            // Out of code memory: the idle routines go, then one retry.
            cache.flush_idle(drop);
            Cached {
                cache: &mut cache,
                inner: &mut raw,
            }
            .install(holes)
        })
    }

    fn retire(&mut self, block: HeldRoutine) {
        #[cfg(feature = "ktest")]
        if INJECT_LOST_RELEASE.load(core::sync::atomic::Ordering::Relaxed) {
            core::mem::forget(block);
            return;
        }
        // Dropping a routine the cache gives back retires its code (freed
        // after a quiescent point).
        let released = sk_machine::cpu::without_interrupts(|| CACHE.lock().release(block));
        drop(released);
    }

    fn store(&mut self, slot: Slot, target: SlotTarget) {
        if let Some(table) = self.threads.get(&slot.owner).and_then(|t| t.synth.as_ref()) {
            table.store(slot.index(), target);
        }
    }
}

impl Mechanism for Arena {
    type Block = Routine;

    fn install(&mut self, holes: &RoutineHoles) -> Result<(Routine, u64), InstallError> {
        let smap = smap();
        // A native thread's /dev/null, /dev/zero, /dev/mem and RAM-file
        // routines are entered stackless (`sk_synth::policy::leaf_twin`);
        // the tagged entry tells the table store (thread_entry.rs). The
        // call counter in front (`synth.count`) uses no stack either.
        let leaf = leaf_twin_of(holes);
        let mut routine = match &leaf {
            Some(leaf) => install_code(
                leaf.template(),
                |address, out| leaf.instantiate_bytes(address, smap, out),
                |address| leaf.describe(address, smap),
            )?,
            None => install_code(
                holes.template(),
                |address, out| holes.instantiate_bytes(address, smap, out),
                |address| holes.describe(address, smap),
            )?,
        };
        if config().count_calls && !holes.is_helper() {
            // The counter's address is baked into the thunk: boxed first.
            let mut counting: Box<Counting> = Box::new((AtomicU64::new(0), None));
            let thunk = install_holes(&CallCounterHoles {
                counter: Imm64(&counting.0 as *const AtomicU64 as u64),
                routine: Imm64(routine.block.address()),
            })?;
            counting.1 = Some(thunk);
            routine.counting = Some(counting);
        }
        let tag = if leaf.is_some() {
            sk_synth::policy::STACKLESS_TAG
        } else {
            0
        };
        let entry = routine.entry() | tag;
        Ok((routine, entry))
    }

    fn retire(&mut self, block: Routine) {
        // Dropping retires its code (freed after a quiescent point).
        drop(block);
    }

    fn store(&mut self, _: Slot, _: SlotTarget) {
        // Stores go through `KernelMechanism`, which knows the tables.
    }
}

/// The stackless twin a native thread's routine is installed as, if any
/// (`sk_synth::policy::leaf_twin` with the native slow path and error).
pub(crate) fn leaf_twin_of(holes: &RoutineHoles) -> Option<sk_synth::policy::LeafHoles> {
    sk_synth::policy::leaf_twin(
        holes,
        sk_machine::synth_entry::slow_path_address(),
        -(sk_abi::SysError::BadAddress.code() as i32),
        sk_machine::synth_entry::leaf_door_address(),
    )
}

/// The address an error stub returning `result` lives at (made once).
fn error_stub(result: i32) -> Option<u64> {
    sk_machine::cpu::without_interrupts(|| {
        let mut stubs = ERROR_STUBS.lock();
        if let Some((_, r)) = stubs.iter().find(|(v, _)| *v == result) {
            return Some(r.block.address());
        }
        let routine = install_holes(&ErrorStubHoles {
            result: Imm32(result),
        })
        .ok()?;
        stubs.try_reserve(1).ok()?;
        let address = routine.block.address();
        stubs.push((result, routine));
        Some(address)
    })
}

pub(crate) fn slot_address(target: SlotTarget) -> u64 {
    let slow = sk_machine::synth_entry::slow_path_address();
    match target {
        SlotTarget::Code(address) => address,
        SlotTarget::Generic => slow,
        SlotTarget::ErrorStub(result) => error_stub(result).unwrap_or(slow),
    }
}

/// Heap bytes held by the shared error stubs' and the decode check's lists
/// (their capacity): the leak check names them when they grew.
#[cfg(feature = "ktest")]
pub(crate) fn list_capacity_bytes() -> [(&'static str, usize); 3] {
    [
        (
            "code cache bytes",
            sk_machine::cpu::without_interrupts(|| CACHE.lock().capacity_bytes()),
        ),
        (
            "error stubs list",
            ERROR_STUBS.lock().capacity() * core::mem::size_of::<(i32, Routine)>(),
        ),
        (
            "decoded templates list",
            DECODED.lock().capacity() * core::mem::size_of::<(&'static str, Smap)>(),
        ),
    ]
}
