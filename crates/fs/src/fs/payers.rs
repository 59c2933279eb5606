//! Who pays for a file's memory, and the grant its growth must fit.
//!
//! Each file node carries a payer tag ([`NO_PAYER`]: nobody), an opaque
//! number the kernel chooses (a SMACH id) when the file is made. The file
//! system reports what a payer's files hold ([`FileSystem::paid_frames`],
//! their buffer capacities in 4 KiB frames), passes a payer's files to an
//! heir ([`FileSystem::pass_charges`]), and refuses the growth of a paid
//! file unless the kernel granted that payer enough frames for the call
//! ([`FileSystem::with_growth_grant`]): a refusal is
//! [`FsError::OverBudget`] with what it wanted left in
//! [`FileSystem::take_refused_growth`], so the kernel can decide (its
//! budget rule, `sk_smach::budget`) and retry once. Files nobody pays for
//! grow as before, with no grant. Counting by scan, not by a second
//! ledger: what a payer holds is whatever its live files hold.

use crate::inode::NodeBody;
use crate::{FileSystem, FsError, NodeId};

/// The payer tag of a file nobody pays for (the kernel's, a root's).
pub const NO_PAYER: u64 = 0;

/// Bytes of one frame of a payer's charge.
pub const FRAME_BYTES: u64 = 4096;

/// Frames a buffer of `capacity_bytes` is charged.
#[must_use]
pub const fn frames_of(capacity_bytes: u64) -> u64 {
    capacity_bytes.div_ceil(FRAME_BYTES)
}

/// A growth refused for want of a grant: the payer and the frames it
/// needed at least and would have liked (the growth policy's doubling).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RefusedGrowth {
    /// Whose files.
    pub payer: u64,
    /// Frames the growth needs at least.
    pub needed_frames: u64,
    /// Frames the growth would take if it may.
    pub preferred_frames: u64,
}

/// The grant of the call in progress and the last refusal.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Grants {
    /// (payer, frames) that payer's files may still grow by in this call.
    grant: Option<(u64, u64)>,
    refused: Option<RefusedGrowth>,
}

impl Grants {
    /// Checks a growth of a file paid by `payer` from `old_bytes` of
    /// capacity to `preferred_bytes`, or at least `needed_bytes`; returns
    /// the capacity it may grow to and takes its frames from the grant.
    ///
    /// # Errors
    /// [`FsError::OverBudget`] (the refusal recorded) if the grant cannot
    /// hold `needed_bytes`.
    pub(crate) fn admit(
        &mut self,
        payer: u64,
        old_bytes: u64,
        preferred_bytes: u64,
        needed_bytes: u64,
    ) -> Result<u64, FsError> {
        if payer == NO_PAYER {
            return Ok(preferred_bytes);
        }
        let old = frames_of(old_bytes);
        let needed = frames_of(needed_bytes).saturating_sub(old);
        let preferred = frames_of(preferred_bytes).saturating_sub(old);
        let granted = match self.grant {
            Some((p, frames)) if p == payer => frames,
            _ => 0,
        };
        if needed > granted {
            self.refused = Some(RefusedGrowth {
                payer,
                needed_frames: needed,
                preferred_frames: preferred.max(needed),
            });
            return Err(FsError::OverBudget);
        }
        let (bytes, frames) = if preferred <= granted {
            (preferred_bytes, preferred)
        } else {
            (needed_bytes, needed)
        };
        self.grant = Some((payer, granted.saturating_sub(frames)));
        Ok(bytes)
    }
}

impl FileSystem {
    /// Makes `payer` pay for file `node` from now on.
    ///
    /// # Errors
    /// [`FsError::StaleNode`]; [`FsError::IsDir`].
    pub fn set_payer(&mut self, node: NodeId, payer: u64) -> Result<(), FsError> {
        let entry = self.nodes.get_mut(node)?;
        match entry.body {
            NodeBody::File(_) => {
                entry.payer = payer;
                Ok(())
            }
            NodeBody::Directory(_) => Err(FsError::IsDir),
        }
    }

    /// Who pays for file `node` ([`NO_PAYER`] for a directory).
    ///
    /// # Errors
    /// [`FsError::StaleNode`].
    pub fn payer(&self, node: NodeId) -> Result<u64, FsError> {
        Ok(self.nodes.get(node)?.payer)
    }

    /// Frames `payer`'s live files hold (linked or still open), by their
    /// capacities. 0 for [`NO_PAYER`]. One pass over the nodes.
    #[must_use]
    pub fn paid_frames(&self, payer: u64) -> u64 {
        if payer == NO_PAYER {
            return 0;
        }
        self.nodes
            .iter()
            .filter(|n| n.payer == payer)
            .map(|n| match &n.body {
                NodeBody::File(data) => frames_of(data.capacity()),
                NodeBody::Directory(_) => 0,
            })
            .fold(0, u64::saturating_add)
    }

    /// Makes `heir` pay for every file `payer` paid for; returns how many.
    pub fn pass_charges(&mut self, payer: u64, heir: u64) -> usize {
        if payer == NO_PAYER {
            return 0;
        }
        let mut passed = 0_usize;
        for node in self.nodes.iter_mut().filter(|n| n.payer == payer) {
            node.payer = heir;
            passed = passed.saturating_add(1);
        }
        passed
    }

    /// Runs `f` with `payer`'s files allowed to grow by `frames` in all
    /// (the grant ends with `f`, used or not).
    pub fn with_growth_grant<R>(
        &mut self,
        payer: u64,
        frames: u64,
        f: impl FnOnce(&mut Self) -> R,
    ) -> R {
        self.grant_growth(payer, frames);
        let result = f(self);
        self.end_growth_grant();
        result
    }

    /// Allows `payer`'s files to grow by `frames` in all until
    /// [`end_growth_grant`](Self::end_growth_grant) (for a caller that
    /// cannot pass a closure; prefer [`with_growth_grant`](Self::with_growth_grant)).
    pub fn grant_growth(&mut self, payer: u64, frames: u64) {
        self.grants.grant = Some((payer, frames));
    }

    /// Ends the grant: paid files need a new one to grow.
    pub fn end_growth_grant(&mut self) {
        self.grants.grant = None;
    }

    /// The last growth refused for want of a grant, forgotten once taken.
    pub fn take_refused_growth(&mut self) -> Option<RefusedGrowth> {
        self.grants.refused.take()
    }
}
