//! SIOs the SCPUs of one SMACH use at once.
//!
//! Owns [`Shared`]: a few slots, each holding a handle its owner (the
//! SMACH's first fuzzer) opened and published. Every fuzzer of the SMACH
//! reads, writes, seeks and queries published handles; the first call by
//! an SCPU other than the opener makes the SIO *shared*, a fact the
//! synthesized routines depend on, and the kernel must send the opener's
//! calls to the generic path from then on. The owner checks exactly that
//! when it takes a handle back (its routines must read `generic` once
//! another SCPU used it), closes it, and later publishes a new one (often
//! on the same handle number: replugged again).
//!
//! A handle is never closed while in use: users count themselves in
//! (`users`) before loading the handle and out after the call; the owner
//! unpublishes, and closes the handle at a later turn once `users` is 0.
//!
//! Results of calls on a shared handle depend on what the other SCPUs did
//! to its position, so they are checked for what they can be: `/dev/zero`
//! reads give zeros, `/dev/mem` reads a run of its pattern, a shared file
//! holds only zeros and its fill byte, `/dev/null` reads nothing.

use core::sync::atomic::{AtomicU32, AtomicU64, Ordering};

use sk_abi::{Call, Kind, OpenFlags, QuerySelector, SioInfo, SioReconfigure, SysError, Whence};
use sk_user::routine_of;
use sk_user_sysfuzz::model::{self, Target};
use sk_user_sysfuzz::stats::Cell;

use crate::format::format_into;
use crate::fuzzer::{generic, word, Expect, Fuzzer};

/// Published handles at most.
pub(crate) const SLOTS: usize = 4;

/// Positions a shared file's fuzzers stay below (plus one write).
const SHARED_FILE_SPAN: u64 = 64 << 10;

/// One published SIO.
pub(crate) struct Slot {
    handle: AtomicU32,
    /// A handle taken back, to close once `users` is 0 (the owner's).
    retired: AtomicU32,
    target: AtomicU32,
    users: AtomicU32,
    uses: AtomicU64,
}

/// The published SIOs of one SMACH.
pub(crate) struct Shared {
    slots: [Slot; SLOTS],
}

impl Shared {
    /// No SIO published.
    pub(crate) const fn new() -> Self {
        Self {
            slots: [const {
                Slot {
                    handle: AtomicU32::new(0),
                    retired: AtomicU32::new(0),
                    target: AtomicU32::new(0),
                    users: AtomicU32::new(0),
                    uses: AtomicU64::new(0),
                }
            }; SLOTS],
        }
    }

    /// Whether `handle` is published now.
    pub(crate) fn is_published(&self, handle: u32) -> bool {
        handle != 0
            && self
                .slots
                .iter()
                .any(|slot| slot.handle.load(Ordering::SeqCst) == handle)
    }
}

/// The target slot `index` always holds.
const fn slot_target(index: usize) -> Target {
    match index {
        0 => Target::Mem,
        1 => Target::Zero,
        2 => Target::Null,
        _ => Target::File,
    }
}

/// The byte a shared file is filled with.
const FILL: u8 = 0x5a;

/// Numbers for targets in an atomic.
const fn target_number(target: Target) -> u32 {
    match target {
        Target::Null => 1,
        Target::Zero => 2,
        Target::Mem => 3,
        Target::File => 4,
        Target::Dir => 5,
    }
}

const fn target_of(number: u32) -> Option<Target> {
    match number {
        1 => Some(Target::Null),
        2 => Some(Target::Zero),
        3 => Some(Target::Mem),
        4 => Some(Target::File),
        _ => None,
    }
}

impl Fuzzer<'_> {
    /// One operation on the shared SIOs: as their owner, sometimes publish
    /// or take one back; as anyone, use one.
    pub(crate) fn shared_op(&mut self) {
        let Some(shared) = self.shared else {
            return;
        };
        let index = self.rng.index(SLOTS);
        let Some(slot) = shared.slots.get(index) else {
            return;
        };
        let published = slot.handle.load(Ordering::SeqCst);
        if self.owns_shared {
            if self.close_retired(index, false) {
                return;
            }
            let retired = slot.retired.load(Ordering::SeqCst);
            if published == 0 && retired == 0 {
                self.publish(index);
                return;
            }
            if published != 0 && self.rng.percent(8) {
                self.unpublish(index);
                return;
            }
        }
        slot.users.fetch_add(1, Ordering::SeqCst);
        let handle = slot.handle.load(Ordering::SeqCst);
        let target = target_of(slot.target.load(Ordering::SeqCst));
        if let (true, Some(target)) = (handle != 0, target) {
            let moved = self.use_shared(handle, target);
            if moved && !self.owns_shared {
                slot.uses.fetch_add(1, Ordering::SeqCst);
            }
        }
        slot.users.fetch_sub(1, Ordering::SeqCst);
    }

    /// Opens slot `index`'s SIO, checks the owner got synthesized
    /// routines, and publishes it.
    fn publish(&mut self, index: usize) {
        let Some(shared) = self.shared else {
            return;
        };
        let target = slot_target(index);
        let mut path_buf = [0_u8; 48];
        let path: &str = match target {
            Target::Mem => "/dev/mem",
            Target::Zero => "/dev/zero",
            Target::Null => "/dev/null",
            _ => {
                let len = format_into(
                    &mut path_buf,
                    format_args!("/tmp/fz-{:06x}-shared", self.tag),
                );
                core::str::from_utf8(path_buf.get(..len).unwrap_or_default())
                    .unwrap_or("/tmp/fz-shared")
            }
        };
        let flags = match target {
            Target::Mem => OpenFlags::READ,
            Target::File => OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE,
            _ => OpenFlags::READ | OpenFlags::WRITE,
        };
        let Some(handle) = self.open_plain(path, flags) else {
            return;
        };
        if handle < 64 {
            if let Some(text) = self.routines_text(handle) {
                let want_read = target != Target::Null;
                let want_write = matches!(target, Target::Null | Target::File);
                for (op, want) in [("read", want_read), ("write", want_write)] {
                    let got = routine_of(text, op).map(|r| r.is_synthesized());
                    // Lazy synthesis: generic until the op's K-th call.
                    let is_pending =
                        sk_user::pending_of(text, op).is_some_and(|(calls, k)| calls < k);
                    if got == Some(true) && want {
                        self.stats.synthesized += 1;
                    } else if got == Some(false) && want && is_pending {
                        // Not yet synthesized: nothing to lose at sharing.
                    } else if got != Some(want) {
                        self.fail(
                            "shared SIO routines",
                            format_args!(
                                "{path} at {handle}: {op} synthesized {got:?} before sharing"
                            ),
                        );
                    }
                }
            }
        }
        let _ = self.use_shared(handle, target);
        if let Some(slot) = shared.slots.get(index) {
            slot.uses.store(0, Ordering::SeqCst);
            slot.target.store(target_number(target), Ordering::SeqCst);
            slot.handle.store(handle, Ordering::SeqCst);
        }
    }

    /// Takes slot `index`'s SIO back: no one loads it from now on; it is
    /// closed once its last user left ([`Fuzzer::close_retired`]).
    pub(crate) fn unpublish(&mut self, index: usize) {
        let Some(slot) = self.shared.and_then(|shared| shared.slots.get(index)) else {
            return;
        };
        let handle = slot.handle.swap(0, Ordering::SeqCst);
        if handle != 0 {
            slot.retired.store(handle, Ordering::SeqCst);
        }
    }

    /// If slot `index` holds a handle taken back and no one uses it any
    /// more (or `wait`: once no one does), checks its routines went generic
    /// if another SCPU used it, and closes it. Returns whether it closed
    /// one.
    fn close_retired(&mut self, index: usize, wait: bool) -> bool {
        let Some(slot) = self.shared.and_then(|shared| shared.slots.get(index)) else {
            return false;
        };
        let handle = slot.retired.load(Ordering::SeqCst);
        if handle == 0 {
            return false;
        }
        let mut spins = 0_u64;
        while slot.users.load(Ordering::SeqCst) != 0 {
            if !wait {
                return false;
            }
            spins += 1;
            let _ = sk_user::null_call();
            if spins > 50_000_000 {
                self.fail(
                    "shared SIO",
                    format_args!("users never left handle {handle}"),
                );
                break;
            }
        }
        slot.retired.store(0, Ordering::SeqCst);
        if slot.uses.load(Ordering::SeqCst) > 0 && handle < 64 {
            if let Some(text) = self.routines_text(handle) {
                for op in ["read", "write"] {
                    let got = routine_of(text, op).map(|r| r.is_synthesized());
                    if got == Some(true) {
                        self.fail("shared SIO routines", format_args!("handle {handle}: {op} still synthesized after another SCPU used it"));
                    }
                }
            }
        }
        self.close_plain(handle);
        true
    }

    /// Takes every published SIO back and closes it (the other SCPUs are
    /// done: no one is left using one).
    pub(crate) fn unpublish_all(&mut self) {
        for index in 0..SLOTS {
            self.unpublish(index);
            self.close_retired(index, true);
        }
    }

    /// One call on a shared handle, checked for what it can be. Returns
    /// whether it was a read, write or seek (the calls that use the SIO's
    /// position: after one by a second SCPU, its routines must be generic).
    fn use_shared(&mut self, handle: u32, target: Target) -> bool {
        let zone = self.arena.zone();
        let buf = zone.buf_a();
        let cell = Cell::new(Call::Read, Some(Kind::Sio), true);
        let path_bit = if self.rng.percent(30) {
            sk_abi::CallWord::FORCE_GENERIC
        } else {
            0
        };
        match self.rng.below(10) {
            0..=3 => {
                let len = self.rng.range(1, 8192);
                let bad = self.rng.percent(5);
                let addr = if bad { self.unmapped_addr() } else { buf };
                let got = self.sys(
                    word(handle, Call::Read) | path_bit,
                    &[addr, len],
                    [(addr, addr + len), (0, 0)],
                    cell,
                    "shared read",
                    Expect::Any,
                );
                let ok = match (got, bad) {
                    (Err(SysError::BadAddress), true) | (Ok(0), true) => true,
                    (Ok(n), false) if n <= len => {
                        let bytes = self.arena.buffer(buf, n);
                        match target {
                            Target::Null => n == 0,
                            Target::Zero => n == len && bytes.iter().all(|&b| b == 0),
                            Target::Mem => model::is_dev_mem_run(bytes),
                            Target::File | Target::Dir => {
                                bytes.iter().all(|&b| b == 0 || b == FILL)
                            }
                        }
                    }
                    _ => false,
                };
                if !ok {
                    self.fail(
                        "shared read",
                        format_args!("{target:?} handle {handle} len {len}: {got:?}"),
                    );
                }
                true
            }
            4..=5 => {
                let len = self.rng.range(1, 4096);
                if target == Target::File {
                    let at = self.rng.below(SHARED_FILE_SPAN) as i64;
                    let registers = SioReconfigure::Seek {
                        whence: Whence::Set,
                        offset: at,
                    }
                    .to_registers();
                    let cell = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
                    let _ = self.sys(
                        word(handle, Call::Reconfigure) | path_bit,
                        &registers,
                        [(0, 0); 2],
                        cell,
                        "shared seek",
                        Expect::Is(Ok(at as u64)),
                    );
                }
                self.arena.buffer(buf, len).fill(FILL);
                let want = if target == Target::Mem {
                    Err(SysError::NotPermitted)
                } else {
                    Ok(len)
                };
                let cell = Cell::new(Call::Write, Some(Kind::Sio), true);
                let _ = self.sys(
                    word(handle, Call::Write) | path_bit,
                    &[buf, len],
                    [(buf, buf + len), (0, 0)],
                    cell,
                    "shared write",
                    Expect::Is(want),
                );
                true
            }
            6..=7 => {
                let at = match target {
                    Target::Mem => self.rng.below(sk_abi::DEV_MEM_BYTES),
                    _ => self.rng.below(SHARED_FILE_SPAN),
                };
                let want = if matches!(target, Target::Null | Target::Zero) {
                    0
                } else {
                    at
                };
                let registers = SioReconfigure::Seek {
                    whence: Whence::Set,
                    offset: at as i64,
                }
                .to_registers();
                let cell = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
                let _ = self.sys(
                    word(handle, Call::Reconfigure) | path_bit,
                    &registers,
                    [(0, 0); 2],
                    cell,
                    "shared seek",
                    Expect::Is(Ok(want)),
                );
                true
            }
            _ => {
                let len = 24;
                let cell = Cell::new(Call::Query, Some(Kind::Sio), true);
                if self
                    .sys(
                        generic(word(handle, Call::Query)),
                        &[u64::from(QuerySelector::Info), buf, len],
                        [(buf, buf + len), (0, 0)],
                        cell,
                        "shared query",
                        Expect::Is(Ok(24)),
                    )
                    .is_ok()
                {
                    let info = SioInfo::from_bytes(self.arena.buffer(buf, 24)).ok();
                    let kind_ok = info.is_some_and(|i| {
                        let kind = i.kind().ok();
                        matches!(
                            (target, kind),
                            (Target::Mem, Some(sk_abi::SioKind::Mem))
                                | (Target::Zero, Some(sk_abi::SioKind::Zero))
                                | (Target::Null, Some(sk_abi::SioKind::Null))
                                | (Target::File, Some(sk_abi::SioKind::File))
                        )
                    });
                    if !kind_ok {
                        self.fail(
                            "shared query",
                            format_args!("{target:?} handle {handle}: {info:?}"),
                        );
                    }
                }
                false
            }
        }
    }
}
