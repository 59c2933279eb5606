//! What becomes of a SMACH's children that no handle holds (the Linux
//! personality's forks) when it exits (docs/nesting.md, "Linux
//! processes in the tree").
//!
//! Owns [`OrphanFate`] and [`orphan_fate`]. A child made by `create` is
//! held by its parent's handle and dies when that handle closes; a fork
//! is a child of the forking process's SMACH held by no handle, so the
//! kernel asks this rule for each one still running when its parent
//! exits. A fork stays in the subtree of whoever made the Linux process
//! tree: it is never freed from a budget, a group or a subtree kill by
//! its parent's exit.

/// Where a surviving unheld child goes when its parent exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrphanFate {
    /// It lives on as a child of this SMACH (None: a root, as the
    /// kernel's own Linux processes' orphans always were).
    Adopt(Option<u64>),
    /// It is killed with its parent.
    Kill,
}

/// The state of the exiting SMACH's own parent, as the rule needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Grandparent {
    /// The exiting SMACH is a root.
    None,
    /// It has a parent that still runs.
    Live(u64),
    /// Its parent is exiting too (a subtree kill) or gone.
    Ending,
}

/// The fate of an unheld child of an exiting SMACH. `exiting_is_linux`:
/// the exiting SMACH is a Linux process whose exit is an ordinary Linux
/// exit as far as its forks are concerned (they are orphans, adopted as
/// Linux adopts them, within the same subtree). A native SMACH's unheld
/// children, and any child whose grandparent is ending, die: killing a
/// nesting parent kills the whole Linux process tree below it.
#[must_use]
pub fn orphan_fate(exiting_is_linux: bool, grandparent: Grandparent) -> OrphanFate {
    if !exiting_is_linux {
        return OrphanFate::Kill;
    }
    match grandparent {
        Grandparent::None => OrphanFate::Adopt(None),
        Grandparent::Live(id) => OrphanFate::Adopt(Some(id)),
        Grandparent::Ending => OrphanFate::Kill,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_linux_exit_hands_its_forks_to_its_own_parent() {
        assert_eq!(
            orphan_fate(true, Grandparent::Live(7)),
            OrphanFate::Adopt(Some(7))
        );
    }

    #[test]
    fn a_root_linux_process_leaves_root_orphans_as_before_nesting() {
        assert_eq!(
            orphan_fate(true, Grandparent::None),
            OrphanFate::Adopt(None)
        );
    }

    #[test]
    fn a_subtree_kill_takes_every_fork_with_it() {
        assert_eq!(orphan_fate(true, Grandparent::Ending), OrphanFate::Kill);
        for g in [Grandparent::None, Grandparent::Live(3), Grandparent::Ending] {
            assert_eq!(orphan_fate(false, g), OrphanFate::Kill);
        }
    }

    #[test]
    fn no_fate_escapes_to_a_root_from_inside_a_subtree() {
        // Only a root's orphans become roots: a fork of a nested process
        // is adopted inside the subtree or dies.
        for linux in [false, true] {
            for g in [Grandparent::Live(3), Grandparent::Ending] {
                assert_ne!(orphan_fate(linux, g), OrphanFate::Adopt(None));
            }
        }
    }
}
