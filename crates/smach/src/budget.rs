//! Memory budgets of nested SMACHs: a parent's frames are carved into its
//! children's budgets (docs/nesting.md).
//!
//! Owns [`Usage`], [`admit`], [`headroom`] and [`rebudget`]; the kernel gathers the
//! usage (mapped frames from each SMACH's regions, carved frames from its
//! live children) and performs the answer. A SMACH without a budget (a
//! root, or a child of one that set none) is limited by its nearest
//! budgeted ancestor: its growth is that ancestor's.

use sk_abi::SysError;

/// One SMACH's memory, in 4 KiB frames, as the budget sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Usage {
    /// Its budget (None: unlimited unless an ancestor's).
    pub budget: Option<u64>,
    /// Frames it maps itself.
    pub mapped: u64,
    /// What its live children take from it ([`Usage::carve`] of each).
    pub carved: u64,
}

impl Usage {
    /// Frames it uses or has handed on.
    #[must_use]
    pub fn committed(&self) -> u64 {
        self.mapped.saturating_add(self.carved)
    }

    /// What it takes from its parent: its budget, or without one what it
    /// commits.
    #[must_use]
    pub fn carve(&self) -> u64 {
        self.budget.unwrap_or_else(|| self.committed())
    }
}

/// Whether `more` frames fit. `chain` is the SMACH asking, then its
/// ancestors, nearest first: the first with a budget decides (budgets
/// above it are carved already).
///
/// # Errors
/// [`SysError::OverBudget`].
pub fn admit(chain: impl IntoIterator<Item = Usage>, more: u64) -> Result<(), SysError> {
    match deciding(chain) {
        // Already over (a child carved past it): not even 0 more fits.
        Some((budget, usage)) if usage.committed().saturating_add(more) > budget => {
            Err(SysError::OverBudget)
        }
        _ => Ok(()),
    }
}

/// How many frames more [`admit`] would take (None: no limit; 0 when
/// full or already over). The grant a paid file's growth gets
/// (`sk_fs::FileSystem::with_growth_grant`).
#[must_use]
pub fn headroom(chain: impl IntoIterator<Item = Usage>) -> Option<u64> {
    deciding(chain).map(|(budget, usage)| budget.saturating_sub(usage.committed()))
}

/// The first budget of `chain` and the usage it limits.
fn deciding(chain: impl IntoIterator<Item = Usage>) -> Option<(u64, Usage)> {
    chain
        .into_iter()
        .find_map(|usage| usage.budget.map(|budget| (budget, usage)))
}

/// A child's budget set to `frames`: the frames its parent must admit
/// (with [`admit`] on the parent's chain) for it; a shrink needs none.
///
/// # Errors
/// [`SysError::OverBudget`] if the child commits more than `frames`.
pub fn rebudget(child: &Usage, frames: u64) -> Result<u64, SysError> {
    if frames < child.committed() {
        return Err(SysError::OverBudget);
    }
    Ok(frames.saturating_sub(child.carve()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(budget: Option<u64>, mapped: u64, carved: u64) -> Usage {
        Usage {
            budget,
            mapped,
            carved,
        }
    }

    #[test]
    fn the_nearest_budget_decides() {
        let child = usage(Some(10), 8, 0);
        let parent = usage(Some(1000), 0, 10);
        assert_eq!(admit([child, parent], 2), Ok(()));
        assert_eq!(admit([child, parent], 3), Err(SysError::OverBudget));
        // Unbudgeted: the parent's budget limits it.
        let free = usage(None, 8, 0);
        let parent = usage(Some(20), 4, 8);
        assert_eq!(admit([free, parent], 8), Ok(()));
        assert_eq!(admit([free, parent], 9), Err(SysError::OverBudget));
        // Roots are unlimited.
        assert_eq!(admit([usage(None, 1 << 40, 0)], u64::MAX), Ok(()));
        assert_eq!(headroom([usage(None, 1 << 40, 0)]), None);
        // Headroom is what admit takes, and nothing past a full budget.
        assert_eq!(headroom([child, usage(Some(1000), 0, 10)]), Some(2));
        assert_eq!(headroom([usage(Some(5), 4, 3)]), Some(0));
        // Already over: nothing more, not even 0 (a carve that passed it).
        assert_eq!(admit([usage(Some(5), 4, 3)], 0), Err(SysError::OverBudget));
        assert_eq!(admit([usage(Some(7), 4, 3)], 0), Ok(()));
    }

    #[test]
    fn a_budget_grows_from_the_parent_and_never_below_use() {
        let child = usage(Some(10), 6, 3);
        assert_eq!(rebudget(&child, 8), Err(SysError::OverBudget));
        assert_eq!(rebudget(&child, 9), Ok(0));
        assert_eq!(rebudget(&child, 25), Ok(15));
        let unbudgeted = usage(None, 6, 3);
        assert_eq!(rebudget(&unbudgeted, 20), Ok(11));
        assert_eq!(unbudgeted.carve(), 9);
    }
}
