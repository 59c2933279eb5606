//! Fixup entries for generated code: the code arena registers the fault
//! points of each installed routine here, and removes them on retirement.
//!
//! Owns a fixed-capacity table searched after the static `.extable`.
//! Crate-private: an entry makes a page fault at `insn` resume at `fixup`,
//! so only the code arena registers entries, for code it installed, with
//! both addresses inside the block.

use crate::extable::FixupKind;
use spin::Mutex;

const CAPACITY: usize = 16384;

struct Table {
    entries: [(u64, u64); CAPACITY],
    len: usize,
}

static TABLE: Mutex<Table> = Mutex::new(Table {
    entries: [(0, 0); CAPACITY],
    len: 0,
});

/// Why a fixup could not be registered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TableFull;

/// Registers a fault point of generated code and its fixup.
pub(crate) fn insert(insn: u64, fixup: u64) -> Result<(), TableFull> {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let mut t = TABLE.lock();
        let n = t.len;
        let slot = t.entries.get_mut(n).ok_or(TableFull)?;
        *slot = (insn, fixup);
        t.len += 1;
        Ok(())
    })
}

/// Removes every fault point inside `start..end` (a retired routine).
pub(crate) fn remove_range(start: u64, end: u64) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let mut t = TABLE.lock();
        let mut i = 0;
        while i < t.len {
            if (start..end).contains(&t.entries[i].0) {
                let last = t.len - 1;
                t.entries[i] = t.entries[last];
                t.len -= 1;
            } else {
                i += 1;
            }
        }
    })
}

pub(crate) fn find(rip: u64, kind: FixupKind) -> Option<u64> {
    if kind != FixupKind::Instruction {
        return None;
    }
    // Called from the page-fault handler: the lock is only ever taken with
    // interrupts masked, so it cannot be held by the interrupted code on
    // this CPU unless that code faulted inside `insert`/`remove_range`
    // (which touch no user or unmapped memory: a kernel bug, such as a
    // stack overflow there). Then no entry is found, rather than a hang
    // with interrupts off: the fault takes the fatal path.
    let t = TABLE.try_lock()?;
    t.entries
        .iter()
        .take(t.len)
        .find(|e| e.0 == rip)
        .map(|e| e.1)
}
