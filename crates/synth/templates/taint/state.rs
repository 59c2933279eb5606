//! The abstract machine state of the taint check: each general register
//! and each stack slot the template pushed is clean or holds a kernel
//! value, with where that value came from.
//!
//! Owns [`State`] (before one instruction), [`Taint`], [`Origin`] and the
//! register numbers the rules name. `transfer.rs` computes the state after
//! an instruction; `fixpoint.rs` joins states where paths meet.

/// Register names by number (iced's `Register::number` for 64-bit GPRs).
pub(super) const NAMES: [&str; 16] = [
    "rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
    "r14", "r15",
];
pub(super) const RAX: usize = 0;
pub(super) const RCX: usize = 1;
pub(super) const RDX: usize = 2;
pub(super) const RSP: usize = 4;
pub(super) const RSI: usize = 6;
pub(super) const RDI: usize = 7;
pub(super) const R9: usize = 9;
pub(super) const R11: usize = 11;

/// Where a kernel value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Origin {
    /// The kernel stack pointer a routine is entered with.
    EntryStack,
    /// The table address a stackless routine is entered with in `r9`.
    EntryTable,
    /// The instruction at this offset.
    At(u32),
    /// What the callee of the `call` at this offset may leave.
    Callee(u32),
}

/// Clean, or a kernel value from somewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Taint {
    Clean,
    Kernel(Origin),
}

impl Taint {
    pub(super) fn join(self, other: Self) -> Self {
        match (self, other) {
            (Taint::Clean, x) | (x, Taint::Clean) => x,
            (Taint::Kernel(a), Taint::Kernel(b)) => Taint::Kernel(a.min(b)),
        }
    }
}

/// The abstract machine state before an instruction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct State {
    pub(super) regs: [Taint; 16],
    /// What the template pushed and has not popped, bottom first.
    pub(super) stack: Vec<Taint>,
    /// Slots popped from below where the stack was at entry (a routine's
    /// return address), not pushed back yet.
    pub(super) below: usize,
    /// Per register: bit 0 set if it still holds the `rcx` the template
    /// was entered with, bit 1 the entry `r11` (stackless routines must
    /// leave both where they found them).
    pub(super) same: [u8; 16],
}

impl State {
    pub(super) fn push(&mut self, value: Taint) {
        if self.stack.is_empty() && self.below > 0 {
            self.below -= 1;
        } else {
            self.stack.push(value);
        }
    }

    /// The popped slot's taint; `None` below the entry stack.
    pub(super) fn pop(&mut self) -> Option<Taint> {
        let value = self.stack.pop();
        if value.is_none() {
            self.below += 1;
        }
        value
    }

    pub(super) fn new_stack(&mut self) {
        self.stack.clear();
        self.below = 0;
    }

    /// Joins `other` in; `Err` if the stack depths differ.
    pub(super) fn join(&mut self, other: &State) -> Result<bool, ()> {
        if self.stack.len() != other.stack.len() || self.below != other.below {
            return Err(());
        }
        let before = self.clone();
        for (mine, theirs) in self.regs.iter_mut().zip(other.regs) {
            *mine = mine.join(theirs);
        }
        for (mine, theirs) in self.same.iter_mut().zip(other.same) {
            *mine &= theirs;
        }
        for (mine, theirs) in self.stack.iter_mut().zip(&other.stack) {
            *mine = mine.join(*theirs);
        }
        Ok(*self != before)
    }
}
