//! A SMACH's root directory: the rule that maps the paths it names into
//! that directory, and the directory's current path.
//!
//! Owns [`confine`] (portable, the one copy of the rule; property-tested
//! below: no path resolves outside the root) and
//! [`FileSystem::path_of`]. The kernel keeps a rooted SMACH's root as a
//! directory node and confines every path the SMACH names with the
//! root's path at the time of the call (so a renamed root stays its
//! root). The file system has no symbolic links, so a lexical rule is
//! the whole rule: `..` at the root stays at the root.

use crate::path::MAX_PATH_BYTES;
use crate::{FileSystem, FsError, NodeId};
use alloc::string::String;
use alloc::vec::Vec;

/// The path of `path` named by a SMACH whose root is the directory at
/// `root` (an absolute path as [`FileSystem::path_of`] gives it):
/// absolute and relative paths alike start at the root; empty components
/// (repeated slashes) and `.` are dropped; `..` drops the component before
/// it, and at the root does nothing. The result is `root` itself or lies
/// below it, and has no `.`, `..` or empty component.
///
/// # Errors
/// [`FsError::BadPath`] for an empty path or a NUL byte;
/// [`FsError::NameTooLong`] past [`MAX_PATH_BYTES`] (of the input or the
/// result); [`FsError::OutOfMemory`].
pub fn confine(root: &str, path: &str) -> Result<String, FsError> {
    if path.is_empty() || path.contains('\0') {
        return Err(FsError::BadPath);
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(FsError::NameTooLong);
    }
    let mut kept: Vec<&str> = Vec::new();
    for name in path.split('/') {
        match name {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            name => {
                kept.try_reserve(1).map_err(|_| FsError::OutOfMemory)?;
                kept.push(name);
            }
        }
    }
    let base = root.trim_end_matches('/');
    let len = kept
        .iter()
        .try_fold(base.len(), |n, name| {
            n.checked_add(name.len())?.checked_add(1)
        })
        .ok_or(FsError::NameTooLong)?;
    if len > MAX_PATH_BYTES {
        return Err(FsError::NameTooLong);
    }
    let mut out = String::new();
    out.try_reserve(len.max(1))
        .map_err(|_| FsError::OutOfMemory)?;
    out.push_str(base);
    for name in kept {
        out.push('/');
        out.push_str(name);
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

impl FileSystem {
    /// The absolute path of directory `dir` now (`/` for the root).
    ///
    /// # Errors
    /// [`FsError::NotDir`] if `dir` is no directory; [`FsError::NotFound`]
    /// if it is no longer linked; [`FsError::OutOfMemory`].
    pub fn path_of(&self, dir: NodeId) -> Result<String, FsError> {
        let mut names: Vec<&str> = Vec::new();
        let mut current = dir;
        // Bounded by the node count: a corrupted chain cannot hang us.
        for _ in 0..=self.nodes.live() {
            let Some(parent) = self.directory(current)?.parent else {
                // Only the file system's root has no parent by right: a
                // directory removed while open (rmdir drops its parent
                // link) names nothing, not "/", or a root set on it
                // would widen to the whole tree.
                if current != self.root() {
                    return Err(FsError::NotFound);
                }
                let mut path = String::new();
                for name in names.iter().rev() {
                    path.try_reserve(name.len().saturating_add(1))
                        .map_err(|_| FsError::OutOfMemory)?;
                    path.push('/');
                    path.push_str(name);
                }
                if path.is_empty() {
                    path.push('/');
                }
                return Ok(path);
            };
            let name = self
                .directory(parent)?
                .iter()
                .find_map(|(name, id)| (id == current).then_some(name))
                .ok_or(FsError::NotFound)?;
            names.try_reserve(1).map_err(|_| FsError::OutOfMemory)?;
            names.push(name);
            current = parent;
        }
        Err(FsError::NotFound)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn tricks_stay_inside_the_root() {
        for (path, want) in [
            ("../..", "/jail"),
            ("/..", "/jail"),
            ("/../../etc", "/jail/etc"),
            ("a/../../b", "/jail/b"),
            ("//a///b/", "/jail/a/b"),
            ("./a/./b/..", "/jail/a"),
            ("/", "/jail"),
            ("x", "/jail/x"),
        ] {
            assert_eq!(confine("/jail", path).unwrap(), want, "{path}");
        }
        assert_eq!(confine("/", "/../a").unwrap(), "/a");
        assert_eq!(confine("/", "..").unwrap(), "/");
        assert_eq!(confine("/jail/", "a").unwrap(), "/jail/a");
        assert_eq!(confine("/jail", ""), Err(FsError::BadPath));
        assert_eq!(confine("/jail", "a\0b"), Err(FsError::BadPath));
        let long = "a/".repeat(MAX_PATH_BYTES);
        assert_eq!(confine("/jail", &long), Err(FsError::NameTooLong));
        let near = "a/".repeat(MAX_PATH_BYTES / 2 - 1);
        assert_eq!(confine("/jail", &near), Err(FsError::NameTooLong));
    }

    #[test]
    fn path_of_names_a_directory_and_follows_renames() {
        let mut fs = FileSystem::new().unwrap();
        let jail = fs.mkdir("/jail").unwrap();
        fs.mkdir("/jail/in").unwrap();
        let inner = fs.lookup("/jail/in").unwrap();
        assert_eq!(fs.path_of(fs.lookup("/").unwrap()).unwrap(), "/");
        assert_eq!(fs.path_of(inner).unwrap(), "/jail/in");
        fs.rename("/jail", "/cell").unwrap();
        assert_eq!(fs.path_of(jail).unwrap(), "/cell");
        assert_eq!(fs.path_of(inner).unwrap(), "/cell/in");
    }

    #[test]
    fn a_removed_directory_has_no_path() {
        // Held open (a child's root), then removed: it must not turn
        // into "/" (the hostile review's escape), nor may anything under
        // a removed ancestor keep a path.
        let mut fs = FileSystem::new().unwrap();
        let jail = fs.mkdir("/jail").unwrap();
        let open = fs.open(jail).unwrap();
        fs.rmdir("/jail").unwrap();
        assert_eq!(fs.path_of(jail), Err(FsError::NotFound));
        fs.close(open).unwrap();
        assert_eq!(fs.path_of(fs.root()).unwrap(), "/");
    }

    fn component() -> impl Strategy<Value = &'static str> {
        prop::sample::select(&["..", ".", "", "a", "b", "jail", "..."][..])
    }

    proptest! {
        /// A random path never resolves outside the root: the result is
        /// the root or below it, with no `.`, `..` or empty component,
        /// and the node it names (if any) lies within the root directory.
        #[test]
        fn a_random_path_never_resolves_outside_the_root(
            parts in prop::collection::vec(component(), 0..24),
            absolute in any::<bool>(),
        ) {
            let mut fs = FileSystem::new().unwrap();
            let jail = fs.mkdir("/jail").unwrap();
            fs.mkdir("/jail/a").unwrap();
            fs.mkdir("/jail/a/b").unwrap();
            fs.mkdir("/a").unwrap();
            fs.mkdir("/b").unwrap();
            let mut path = parts.join("/");
            if absolute || path.is_empty() {
                path.insert(0, '/');
            }
            let root = fs.path_of(jail).unwrap();
            let out = confine(&root, &path).unwrap();
            prop_assert!(out == "/jail" || out.starts_with("/jail/"), "{} -> {}", path, out);
            for name in out.split('/').skip(1) {
                prop_assert!(!matches!(name, "" | "." | ".."), "{} -> {}", path, out);
            }
            if let Ok(node) = fs.lookup(&out) {
                if fs.directory(node).is_ok() {
                    prop_assert!(fs.is_within(node, jail));
                }
            }
        }
    }
}
