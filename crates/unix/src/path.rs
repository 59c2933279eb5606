//! Linux path resolution over the native name space.
//!
//! Owns [`resolve`]: a path a program passed (absolute, or relative to
//! the working directory or an `openat` directory), walked component by
//! component the way Linux does without symbolic links: `.` stays, `..`
//! goes up (never above `/`), every component before the last must be an
//! existing directory (`ENOENT`, `ENOTDIR`), a trailing slash demands a
//! directory, and the limits are Linux's (`PATH_MAX` 4,096 bytes with the
//! NUL, `NAME_MAX` 255). The result is the normalized absolute path the
//! native file system opens.

use crate::errno::Errno;
use alloc::string::String;
use alloc::vec::Vec;

/// Longest path with its NUL.
pub const PATH_MAX: usize = 4096;
/// Longest component.
pub const NAME_MAX: usize = 255;

/// What a name is, as far as resolution cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeType {
    /// A directory: resolution may go through it.
    Directory,
    /// Anything else.
    Other,
}

/// Where the native names live: the type of the node at an absolute,
/// normalized path, or `None` if nothing is there.
pub trait NameSpace {
    /// The node at `path`.
    fn node_type(&self, path: &str) -> Option<NodeType>;
}

/// Whether the last component must exist.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last {
    /// It must exist (`open` without `O_CREAT`, `stat`, `chdir`).
    MustExist,
    /// It may be missing (`open` with `O_CREAT`, `mkdir`, the new name of
    /// `rename`); its parent must exist and be a directory.
    MayBeMissing,
}

/// A resolved path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// The normalized absolute path (`/` alone for the root).
    pub path: String,
    /// The node there, if any.
    pub node: Option<NodeType>,
}

/// Resolves `path` relative to `base` (an absolute, normalized directory:
/// the working directory, or the directory of an `*at` call's `dirfd`).
///
/// # Errors
/// `ENOENT` for an empty path or a missing component; `ENOTDIR` when a
/// component before the last, or a last one followed by `/`, is not a
/// directory; `ENAMETOOLONG`; `EILSEQ` for bytes that are not UTF-8 (the
/// native file system's names are UTF-8).
pub fn resolve(
    names: &impl NameSpace,
    base: &str,
    path: &[u8],
    last: Last,
) -> Result<Resolved, Errno> {
    if path.is_empty() {
        return Err(Errno::ENOENT);
    }
    if path.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let path = core::str::from_utf8(path).map_err(|_| Errno::EILSEQ)?;
    let wants_directory = path.ends_with('/');
    let mut parts: Vec<&str> = Vec::new();
    if !path.starts_with('/') {
        parts.extend(base.split('/').filter(|c| !c.is_empty()));
    }
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let mut current = join(&parts);
    for (index, component) in components.iter().enumerate() {
        if component.len() > NAME_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        let is_last = index + 1 == components.len();
        match *component {
            "." => {}
            ".." => {
                parts.pop();
            }
            name => parts.push(name),
        }
        current = join(&parts);
        let node = names.node_type(&current);
        if !is_last {
            match node {
                Some(NodeType::Directory) => {}
                Some(NodeType::Other) => return Err(Errno::ENOTDIR),
                None => return Err(Errno::ENOENT),
            }
        }
    }
    let node = names.node_type(&current);
    match (node, last) {
        (None, Last::MustExist) => return Err(Errno::ENOENT),
        (Some(NodeType::Other), _) if wants_directory => return Err(Errno::ENOTDIR),
        _ => {}
    }
    if current.len() >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    Ok(Resolved {
        path: current,
        node,
    })
}

/// `/a/b` from `["a", "b"]`; `/` from nothing.
fn join(parts: &[&str]) -> String {
    if parts.is_empty() {
        return String::from("/");
    }
    let mut out = String::new();
    for part in parts {
        out.push('/');
        out.push_str(part);
    }
    out
}
