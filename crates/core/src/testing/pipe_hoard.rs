//! Pipes and ports hoarded until the heap cannot grow, and sleepers
//! registered by hand: the hostile reviews' probes of allocation failure
//! (split from `testing.rs`).

use crate::state;
use sk_abi::SysError;

/// Pipes (or ports) made as `/dev/pipe` makes them (both ends each), held
/// until dropped: the list is reserved at [`PipeHoard::new`], so
/// [`PipeHoard::fill`] allocates nothing but the pipes.
pub struct PipeHoard {
    pipes: alloc::vec::Vec<(state::Sio, state::Sio)>,
    crumbs: alloc::vec::Vec<alloc::vec::Vec<u8>>,
}

impl PipeHoard {
    /// Room for `max` pipes.
    ///
    /// # Errors
    /// [`SysError::NoMemory`] if the list cannot be reserved.
    pub fn new(max: usize) -> Result<Self, SysError> {
        let mut pipes = alloc::vec::Vec::new();
        pipes
            .try_reserve_exact(max)
            .map_err(|_| SysError::NoMemory)?;
        let mut crumbs = alloc::vec::Vec::new();
        crumbs
            .try_reserve_exact(max.saturating_mul(64))
            .map_err(|_| SysError::NoMemory)?;
        Ok(Self { pipes, crumbs })
    }

    /// Takes the heap's last crumbs (32 bytes at a time) until it has
    /// none or the list is full; returns how many it took.
    pub fn crumble(&mut self) -> usize {
        while self.crumbs.len() < self.crumbs.capacity() {
            let mut crumb = alloc::vec::Vec::new();
            if crumb.try_reserve_exact(32).is_err() {
                break;
            }
            self.crumbs.push(crumb);
        }
        self.crumbs.len()
    }

    /// Makes ports (both ends each, as `/dev/port` makes them) until one
    /// fails or the list is full; returns how many it holds and the
    /// failure.
    pub fn fill_ports(&mut self) -> (usize, Option<SysError>) {
        while self.pipes.len() < self.pipes.capacity() {
            match state::Sio::open_port(u64::MAX - self.pipes.len() as u64) {
                Ok(ends) => self.pipes.push(ends),
                Err(e) => return (self.pipes.len(), Some(e)),
            }
        }
        (self.pipes.len(), None)
    }

    /// Makes pipes until one fails or the list is full; returns how many
    /// it holds and the failure.
    pub fn fill(&mut self) -> (usize, Option<SysError>) {
        while self.pipes.len() < self.pipes.capacity() {
            match state::Sio::open_pipe(u64::MAX - self.pipes.len() as u64) {
                Ok(ends) => self.pipes.push(ends),
                Err(e) => return (self.pipes.len(), Some(e)),
            }
        }
        (self.pipes.len(), None)
    }
}

/// A sleeper registered on pipe `pipe` as a blocking read does it, then
/// forgotten again: what the registration returns (with the heap full,
/// `NoMemory`, never a panic).
///
/// # Errors
/// As `PipeWaiters::add`.
pub fn register_pipe_sleeper(pipe: u64, thread: u64) -> Result<(), SysError> {
    crate::state::with(|core| {
        let added = core.devices.pipe_waiters.add(pipe, true, thread);
        core.devices.pipe_waiters.forget(thread);
        added
    })
}
