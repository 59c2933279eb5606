//! Replug policy: what an SIO's table slots hold, as one function of facts.
//!
//! Policy on the host, mechanism in the kernel, never two copies of one
//! rule: [`plan()`] is the only statement of what is synthesized. After
//! any event that may change an SIO's facts the kernel gathers its
//! [`SioFacts`] and calls [`SioRoutines::replan`], which performs the fewest
//! [`Mechanism`] actions (install, store, retire) that make the slots agree
//! with the plan. A thread's entry stub and its table's first contents come
//! from [`ThreadEntryPlan`] and [`initial_slot`].
//!
//! Owns the facts ([`SioFacts`], [`SioTarget`], [`FileFacts`], [`PortFacts`], [`Env`],
//! [`Op`]), the plan ([`plan()`], [`SioPlan`], [`SlotPlan`]), the specs
//! ([`RoutineSpec`], [`RoutineHoles`], [`RamFileWriteSpec`], [`FileBasis`]),
//! reconciliation ([`SioRoutines`], [`Installed`]), the mechanism's
//! interface ([`Mechanism`], [`Slot`], [`SlotTarget`], [`InstallError`]) and
//! the thread entry. Tested on the host by `tests/policy.rs` (every kind and
//! flag, every event, a property test over random event sequences with
//! injected install failures) and `tests/differential.rs` (the routines
//! `replan` installs, executed).
//!
//! # What each routine bakes in
//!
//! A routine is planned only for a slot in a table (synthesis on, an owner
//! with a table, handle below [`Env::table_handles`]) of an SIO that is not
//! shared and was opened for the op. Its [`RoutineSpec`] holds every value
//! the code depends on; [`RoutineSpec::invariants`] names them.
//!
//! | Slot | Template | When | Bakes in |
//! |---|---|---|---|
//! | read | `dev_zero_read` | `/dev/zero` | nothing but the error code |
//! | read | `dev_mem_read` | `/dev/mem`, window below 2 GiB | window base and size, position cell; single owner |
//! | read | `ram_file_read` | RAM file, linked | data address, size cell, position cell, node and layout generation; single owner |
//! | write | `dev_null_write` | `/dev/null` | nothing but the error code |
//! | write | `tty_write` | `/dev/tty` in raw mode | UART ports |
//! | write | `tty_write_cooked` (`tty_cooked_line` + `uart_put`, spliced) | `/dev/tty` in cooked mode | UART ports; `'\n'` → `"\r\n"` |
//! | write | `tty_write_prefixed` (`tty_prefixed_line` + `uart_put`, spliced) | a chain of 1 to 4 prefix views over the cooked tty, shared or not | the folded prefix (immediates), every level's line-state cell, UART ports |
//! | write | `ram_file_write` + `generic_trampoline` | RAM file, linked, not append | data address, capacity, size cell, position cell, node and layout generation, handle (the trampoline's); single owner |
//! | read | `semaphore_p` | `/dev/semaphore`, shared or not | the cell's address, the slot's call word; installed in the table of every SCPU of the SMACH, and of every SCPU of a SMACH it is shared with (that holder's handle and rights) |
//! | write | `semaphore_v` | `/dev/semaphore`, shared or not | as P |
//! | read | `pipe_read` | a pipe's read end, ring of at most 2 GiB | buffer address, mask, `produced`/`consumed`/wait cell addresses, atomic size (the most one read returns); single owner |
//! | write | `pipe_write` | a pipe's write end, ring of at most 2 GiB | as `pipe_read` (the atomic size: longer writes go generic); single owner |
//!
//! Everything else is generic: reads of `/dev/null`, the tty (a blocking
//! line discipline) and directories; writes of `/dev/zero`, `/dev/mem`,
//! directories and append-mode files. Nothing bakes in the
//! position: both paths share the position cell.
//!
//! A *holder* (a SMACH an SIO was shared with, [`SioFacts::is_holder`]) is
//! planned per SCPU of the holder, for the holder's handle, with its rights
//! as `can_read`/`can_write`: an op its rights forbid is an error stub
//! returning `NotPermitted` (the generic path's answer); a revoked holder
//! ([`SioFacts::is_revoked`]) has error stubs returning `Revoked` in both
//! slots, whatever the kind.
//!
//! # What an event does
//!
//! Not a second table of rules: each line is what [`plan()`] yields for the
//! changed facts, and what [`SioRoutines::replan`] then does (the event
//! tests in `tests/policy.rs` check each line). The kernel replans the SIOs
//! whose facts an event changes: on a file-system event every SIO open on
//! that node; on a tty mode change every tty SIO; on use by another thread
//! that SIO; at open the new one.
//!
//! | Event | Fact that changes | Plan | Replan |
//! |---|---|---|---|
//! | growth past capacity (data moved) | data address, capacity, generation | new RAM-file read and write specs | install new code (write: trampoline first), store, retire old |
//! | truncate (and rename) | generation | new RAM-file specs, same holes | resynthesize as above (the file system declares older layouts stale) |
//! | unlink, free | `is_unlinked` | read and write generic | store generic, retire; for good (a node is never relinked) |
//! | use by a second thread | `is_shared` | every slot generic (a semaphore: unchanged) | store generic, retire; for good |
//! | an SCPU starts in a SMACH with semaphores | a new `owner` to plan for | P and V for its table | install and store in the new table |
//! | an SCPU ends | its table is gone | — | its semaphore slots' code retired |
//! | tty mode change (raw ↔ cooked) | `is_raw` | write: `tty_write` ↔ `tty_write_cooked` | install the other, store, retire the old |
//! | tty echo change | nothing the write depends on | unchanged | nothing (echo is input processing) |
//! | a pipe's other end closes | nothing (the ring's wait word gets a closed bit) | unchanged | nothing: `pipe_read`/`pipe_write` read the wait word on every call and take the generic path (end of file, broken pipe) once it is not 0 |
//! | a pipe end used by a second thread | `is_shared` | that end generic | store generic, retire; for good |
//! | seek | nothing | unchanged | nothing |
//! | share with another SMACH | owner: `is_shared`; a new holder (`is_holder`, its rights, its `owner` threads and `handle`) | owner: generic (a semaphore: unchanged); holder: a semaphore's P/V where its rights allow, stubs `NotPermitted` where not, else generic | owner: store generic, retire; holder: install and store in each of its tables |
//! | revoke (or the owner's close) | holder: `is_revoked` | holder: both slots `ErrorStub(Revoked)` | store the stub in every holder table, retire the holder's code; for good |
//! | a holder closes its handle | the holder's SIO record is gone | — | [`SioRoutines::close`] per holder table |
//! | close | the SIO is gone | — | [`SioRoutines::close`]: store generic, retire everything |
//! | handle reuse after close | a new SIO on the handle | a fresh plan | from generic slots (close left them so) |
//! | owner or handle change | `owner`, `handle` | other slots | old slots generic, code installed for the new ones |
//! | install failure | — | — | slot left generic (never stale), next replan retries |
//! | the `K`-th generic call of an op ([`lazy`]) | the SIO's [`Usage`] | unchanged | the routine `plan` chose and [`lazy::gate`] held back: install, store |
//! | a view's window reshaped, a level revoked, a parent closed, its file truncated or moved | the folded chain ([`ViewFacts`]) | read: `dev_mem_read` on the new window, generic, or `ErrorStub(Revoked)` | the kernel replans every view (and every holder of one): install new, store, retire old |
//!
//! # Lazy synthesis
//!
//! [`lazy::gate`] applies after `plan()` (and `linux::plan_for`): a routine
//! the plan chose stays generic until the SIO has made `K` generic calls of
//! that op (`synth.lazy=off|auto|K`; `auto`: the kind's break-even point).
//! Once a slot had its routine the gate never holds it back again, so the
//! event rules above are unchanged for it.
//!
//! # Views
//!
//! A *view* ([`SioTarget::View`], see `view.rs`) is planned from its
//! folded chain: a window of `/dev/mem`, or of a RAM file that covers it,
//! at any depth, reads with `dev_mem_read` (base and size of the folded
//! window, the view's own position cell), shared or not; a write is
//! generic, or `ErrorStub(NotPermitted)` where a level forbids it (a
//! read-only view); a revoked level makes both slots `ErrorStub(Revoked)`.
//! A chain of one to four prefix views over the cooked tty writes with
//! `tty_write_prefixed` (`prefix_chain.rs`: the prefixes folded into one
//! string of immediates, the levels' line-state cells, the UART ports);
//! a tty mode change, a revoked or closed level replan it like any view.

mod cache;
mod entry;
mod facts;
pub mod lazy;
pub mod linux;
mod mechanism;
mod plan;
pub mod prefix_chain;
mod routines;
mod spec;
mod stackless;
mod view;

pub use cache::{CacheRef, Cached, CodeCache};
pub use entry::{initial_slot, ThreadEntryPlan};
pub use facts::{Env, FileFacts, Op, PortFacts, SioFacts, SioTarget};
pub use lazy::{Lazy, LazyMode, RoutineCosts, RoutineKind, Usage};
pub use mechanism::{InstallError, Mechanism, Slot, SlotTarget};
pub use plan::{plan, SioPlan, SlotPlan};
pub use prefix_chain::{LevelPrefix, PrefixedChain};
pub use routines::{Installed, SioRoutines};
pub use spec::{FileBasis, RamFileWriteSpec, RoutineHoles, RoutineSpec};
pub use stackless::{leaf_twin, LeafHoles, STACKLESS_TAG};
pub use view::{chain_window, collapse, ViewBase, ViewFacts, ViewLevel, ViewWindow};
