//! The content-addressed code cache: routines with the same template and
//! the same hole values share one installed block.
//!
//! Owns [`CodeCache`], [`CacheRef`] and [`Cached`] (a [`Mechanism`] that
//! puts the cache in front of another). The key is the whole
//! [`RoutineHoles`] (template and every hole value): two instantiations
//! with the same key are the same bytes, so sharing one block changes no
//! code anyone runs. The rules, decided here and property-tested on the
//! host (`tests/cache.rs`):
//!
//! - a key is installed at most once while it has users; every user gets
//!   the same entry address;
//! - a block is retired only when its last user lets go (never while a
//!   [`CacheRef`] to it lives), and exactly once;
//! - a block nobody uses is kept *idle* (up to [`CodeCache::IDLE`] of
//!   them, the oldest retired first) so a reopen finds it; [`CodeCache::flush_idle`]
//!   retires them all (memory pressure, leak checks);
//! - a full cache installs privately (the block belongs to its one user):
//!   never an error, never shared.
//!
//! The kernel keeps one cache and performs what it says (`code_memory.rs`);
//! nothing here allocates after [`CodeCache::reserve`].

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::{InstallError, Mechanism, RoutineHoles, Slot, SlotTarget};

/// A user's hold on a block: shared through the cache, or its own.
#[derive(Debug)]
pub enum CacheRef<B> {
    /// Entry `index` of the cache (with its address, to check the entry
    /// is the one taken).
    Shared {
        /// The entry's number.
        index: u32,
        /// Its address (checked on release).
        entry: u64,
    },
    /// A block installed outside the cache (the cache was full), boxed:
    /// a hold stays two words (an SIO's record, which the kernel moves at
    /// open and close, holds up to four).
    Private(Box<[B]>),
}

#[derive(Debug)]
struct Entry<B> {
    key: RoutineHoles,
    block: B,
    entry: u64,
    users: u32,
}

/// Installed blocks by content, with user counts.
#[derive(Debug)]
pub struct CodeCache<B> {
    /// Slots; `None` is free.
    entries: Vec<Option<Entry<B>>>,
    /// Open-addressed index (linear probing): entry number + 1, 0 = empty.
    index: Vec<u32>,
    /// Idle entries (no user), oldest first.
    idle: Vec<u32>,
    /// Free slots of `entries` below its length.
    free: Vec<u32>,
    /// Idle entries kept at most (`IDLE`, or 0: a block goes with its
    /// last user).
    idle_limit: usize,
}

impl<B> Default for CodeCache<B> {
    fn default() -> Self {
        Self::new()
    }
}

/// The hash of a key: its template's size and hole count, and its hole
/// values (equal keys hash equal; templates that collide are told apart
/// by the key's equality).
fn hash(key: &RoutineHoles) -> u64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let template = key.template();
    let mut h = (template.bytes.len() as u64) << 8 | template.holes.len() as u64;
    for value in key.values().as_slice() {
        h = (h.rotate_left(5) ^ value.as_u64()).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// Where `key`'s probe run starts in an index of `mask + 1` slots (a
/// power of two below 2^32).
fn home(key: &RoutineHoles, mask: usize) -> usize {
    let low = u32::try_from(hash(key) & 0xffff_ffff).unwrap_or(0);
    low as usize & mask
}

impl<B> CodeCache<B> {
    /// Entries a cache holds (then installs privately).
    pub const CAPACITY: usize = 1024;
    /// Idle entries kept for reuse.
    pub const IDLE: usize = 32;
    const SLOTS: usize = 2 * Self::CAPACITY;

    /// An empty cache; nothing is reserved until [`reserve`](Self::reserve).
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
            index: Vec::new(),
            idle: Vec::new(),
            free: Vec::new(),
            idle_limit: Self::IDLE,
        }
    }

    /// Whether blocks nobody uses are kept for a reopen (the default) or
    /// retired with their last user (a measurement option: every reopen
    /// synthesizes again).
    pub fn keep_idle(&mut self, keep: bool) {
        self.idle_limit = if keep { Self::IDLE } else { 0 };
    }

    /// Reserves its memory once (fallible); afterwards nothing allocates.
    /// Returns false if the heap refused (the cache then stays unused:
    /// every install is private).
    pub fn reserve(&mut self) -> bool {
        if self.index.len() == Self::SLOTS {
            return true;
        }
        if self.entries.try_reserve_exact(Self::CAPACITY).is_err()
            || self.index.try_reserve_exact(Self::SLOTS).is_err()
            || self.idle.try_reserve_exact(Self::IDLE).is_err()
            || self.free.try_reserve_exact(Self::CAPACITY).is_err()
        {
            return false;
        }
        self.index.resize(Self::SLOTS, 0);
        true
    }

    /// Heap bytes it holds (its reserved capacity).
    pub fn capacity_bytes(&self) -> usize {
        self.entries.capacity() * core::mem::size_of::<Option<Entry<B>>>()
            + self.index.capacity() * 4
            + self.idle.capacity() * 4
            + self.free.capacity() * 4
    }

    /// Entries with at least one user, and idle ones.
    pub fn counts(&self) -> (usize, usize) {
        let live = self.entries.iter().flatten().count();
        (live - self.idle.len(), self.idle.len())
    }

    /// The index slot holding `key`'s entry, or the empty slot where it
    /// would go.
    fn probe(&self, key: &RoutineHoles) -> Option<(usize, Option<u32>)> {
        let mask = self.index.len().checked_sub(1)?;
        let mut at = home(key, mask);
        for _ in 0..self.index.len() {
            match self.index[at] {
                0 => return Some((at, None)),
                n => {
                    let number = n - 1;
                    let hit = self
                        .entries
                        .get(number as usize)
                        .and_then(Option::as_ref)
                        .is_some_and(|e| e.key == *key);
                    if hit {
                        return Some((at, Some(number)));
                    }
                }
            }
            at = (at + 1) & mask;
        }
        None
    }

    /// The block for `key`: the cached one (one more user), or a new one
    /// from `install`, cached if there is room. Returns the user's hold
    /// and the address a slot (or a `Rel32`) targets.
    ///
    /// # Errors
    /// What `install` returned; nothing is held then.
    pub fn acquire(
        &mut self,
        key: &RoutineHoles,
        install: impl FnOnce(&RoutineHoles) -> Result<(B, u64), InstallError>,
    ) -> Result<(CacheRef<B>, u64), InstallError> {
        let Some((at, found)) = self.probe(key) else {
            let (block, entry) = install(key)?;
            return Ok((private(block)?, entry));
        };
        if let Some(number) = found {
            if let Some(Some(e)) = self.entries.get_mut(number as usize) {
                if e.users == 0 {
                    // From the newest: a reopen takes what its close just
                    // left idle.
                    if let Some(at) = self.idle.iter().rposition(|&i| i == number) {
                        self.idle.remove(at);
                    }
                }
                e.users += 1;
                let entry = e.entry;
                return Ok((
                    CacheRef::Shared {
                        index: number,
                        entry,
                    },
                    entry,
                ));
            }
        }
        let (block, entry) = install(key)?;
        let number = match self.free.pop() {
            Some(n) => n as usize,
            None if self.entries.len() < self.entries.capacity() => {
                self.entries.push(None);
                self.entries.len() - 1
            }
            None => return Ok((private(block)?, entry)),
        };
        self.entries[number] = Some(Entry {
            key: *key,
            block,
            entry,
            users: 1,
        });
        // Fits: `number < CAPACITY`.
        let index = u32::try_from(number).unwrap_or(u32::MAX - 1);
        self.index[at] = index + 1;
        Ok((CacheRef::Shared { index, entry }, entry))
    }

    /// A user lets go of `held`. Returns the blocks to retire now: a
    /// private block, or the oldest idle entry's when keeping this one
    /// idle overflows [`IDLE`](Self::IDLE).
    pub fn release(&mut self, held: CacheRef<B>) -> Option<B> {
        let (index, entry) = match held {
            CacheRef::Private(block) => return block.into_vec().pop(),
            CacheRef::Shared { index, entry } => (index, entry),
        };
        let e = self.entries.get_mut(index as usize)?.as_mut()?;
        debug_assert_eq!(e.entry, entry, "a hold on another entry");
        e.users = e.users.checked_sub(1)?;
        if e.users > 0 {
            return None;
        }
        if self.idle.len() < self.idle_limit {
            self.idle.push(index);
            return None;
        }
        if self.idle.is_empty() {
            return self.remove(index);
        }
        // Full: the oldest idle entry goes, this one stays idle.
        let oldest = self.idle.remove(0);
        self.idle.push(index);
        self.remove(oldest)
    }

    /// Retires every idle entry: `retire` gets each block.
    pub fn flush_idle(&mut self, mut retire: impl FnMut(B)) {
        while let Some(number) = self.idle.pop() {
            if let Some(block) = self.remove(number) {
                retire(block);
            }
        }
    }

    /// The block of a hold, if the hold is live.
    pub fn block<'a>(&'a self, held: &'a CacheRef<B>) -> Option<&'a B> {
        match held {
            CacheRef::Private(block) => block.first(),
            CacheRef::Shared { index, .. } => self
                .entries
                .get(*index as usize)?
                .as_ref()
                .map(|e| &e.block),
        }
    }

    /// Takes entry `number` out (no user) and its index slot, keeping
    /// every other key findable (backward-shift deletion).
    fn remove(&mut self, number: u32) -> Option<B> {
        let e = self.entries.get_mut(number as usize)?.take()?;
        // Room: `free` holds at most CAPACITY numbers (reserved).
        if self.free.len() < self.free.capacity() {
            self.free.push(number);
        }
        let mask = self.index.len() - 1;
        let mut at = home(&e.key, mask);
        while self.index[at] != number + 1 {
            at = (at + 1) & mask;
        }
        // Shift later members of the probe run back into the hole.
        let mut hole = at;
        let mut next = (hole + 1) & mask;
        while self.index[next] != 0 {
            let n = self.index[next] - 1;
            let home = self
                .entries
                .get(n as usize)
                .and_then(Option::as_ref)
                .map_or(next, |other| home(&other.key, mask));
            // Moves back if its home is not in (hole, next].
            let distance_home = next.wrapping_sub(home) & mask;
            let distance_hole = next.wrapping_sub(hole) & mask;
            if distance_home >= distance_hole {
                self.index[hole] = self.index[next];
                hole = next;
            }
            next = (next + 1) & mask;
        }
        self.index[hole] = 0;
        Some(e.block)
    }
}

/// `block` as a private hold (boxed without a panic on a full heap).
///
/// # Errors
/// [`InstallError::OutOfMemory`] if the heap refused the box: the block is
/// dropped (the mechanism's blocks retire on drop, or leak, never run).
fn private<B>(block: B) -> Result<CacheRef<B>, InstallError> {
    let mut boxed = Vec::new();
    boxed
        .try_reserve_exact(1)
        .map_err(|_| InstallError::OutOfMemory)?;
    boxed.push(block);
    Ok(CacheRef::Private(boxed.into_boxed_slice()))
}

/// A [`Mechanism`] with the cache in front of `inner`: installs go through
/// [`CodeCache::acquire`], retirements through [`CodeCache::release`];
/// stores pass through.
pub struct Cached<'a, M: Mechanism> {
    /// The cache.
    pub cache: &'a mut CodeCache<M::Block>,
    /// The mechanism that really installs and retires.
    pub inner: &'a mut M,
}

impl<M: Mechanism> Mechanism for Cached<'_, M> {
    type Block = CacheRef<M::Block>;

    fn install(&mut self, holes: &RoutineHoles) -> Result<(Self::Block, u64), InstallError> {
        let inner = &mut *self.inner;
        self.cache.acquire(holes, |h| inner.install(h))
    }

    fn retire(&mut self, block: Self::Block) {
        if let Some(block) = self.cache.release(block) {
            self.inner.retire(block);
        }
    }

    fn store(&mut self, slot: Slot, target: SlotTarget) {
        self.inner.store(slot, target);
    }
}
