//! Path syntax: absolute, `/`-separated, checked once.
//!
//! Owns [`Path`], a borrowed path that has passed every syntactic check, and
//! the limits [`MAX_NAME_BYTES`] and [`MAX_PATH_BYTES`]. The namespace code in
//! `fs::namespace` walks a `Path`'s components and never re-checks syntax
//! (`validate-once`).
//!
//! Rules, all enforced by [`Path::parse`]:
//! - a path starts with `/`; `/` alone is the root directory;
//! - components are separated by exactly one `/`: no empty component, so
//!   `//`, and a trailing `/` after a name, are rejected;
//! - `.` and `..` are **rejected**, not interpreted: callers (`sk-unix`)
//!   resolve the current directory and dot-dot before calling us, which keeps
//!   this crate free of cwd state and of `..`-through-rename races;
//! - no NUL byte anywhere;
//! - a component is at most [`MAX_NAME_BYTES`] bytes, the whole path at most
//!   [`MAX_PATH_BYTES`] bytes (Linux's `NAME_MAX` and `PATH_MAX`).

use crate::FsError;

/// Longest allowed path component, in bytes (Linux `NAME_MAX`).
pub const MAX_NAME_BYTES: usize = 255;

/// Longest allowed path, in bytes (Linux `PATH_MAX`).
pub const MAX_PATH_BYTES: usize = 4096;

/// An absolute path that passed every syntactic check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Path<'a>(&'a str);

impl<'a> Path<'a> {
    /// The root directory, `/`.
    pub const ROOT: Path<'static> = Path("/");

    /// Checks `text` against the rules in the module doc.
    ///
    /// # Errors
    /// [`FsError::NameTooLong`] if the path or a component is too long;
    /// [`FsError::BadPath`] for any other violation.
    pub fn parse(text: &'a str) -> Result<Self, FsError> {
        if text.len() > MAX_PATH_BYTES {
            return Err(FsError::NameTooLong);
        }
        let rest = text.strip_prefix('/').ok_or(FsError::BadPath)?;
        if rest.is_empty() {
            return Ok(Self(text));
        }
        for name in rest.split('/') {
            check_name(name)?;
        }
        Ok(Self(text))
    }

    /// The path as text.
    pub fn as_str(&self) -> &'a str {
        self.0
    }

    /// Whether this is the root directory.
    pub fn is_root(&self) -> bool {
        self.0 == "/"
    }

    /// The components from the root down; empty for the root itself.
    pub fn components(&self) -> impl Iterator<Item = &'a str> + use<'a> {
        let rest = self.0.strip_prefix('/').unwrap_or(self.0);
        rest.split('/').filter(|name| !name.is_empty())
    }

    /// Splits `/a/b/c` into the parent `/a/b` and the last name `c`;
    /// `None` for the root, which has no parent.
    pub fn split_last(&self) -> Option<(Path<'a>, &'a str)> {
        let (parent, name) = self.0.rsplit_once('/')?;
        if name.is_empty() {
            return None;
        }
        let parent = if parent.is_empty() { "/" } else { parent };
        Some((Path(parent), name))
    }
}

/// Checks one path component.
///
/// # Errors
/// [`FsError::NameTooLong`] past [`MAX_NAME_BYTES`]; [`FsError::BadPath`] for
/// an empty name, `.`, `..`, or a name containing `/` or NUL.
/// The path of the entry `name` of the directory at `dir` (a path as
/// [`Path::parse`] takes it): `name` must be one component (no `/`, no
/// NUL, not empty, `.` or `..`), so the result names a child of `dir` and
/// nothing else.
///
/// # Errors
/// [`FsError::BadPath`] for a name that is not one component or a `dir`
/// that is no path; [`FsError::NameTooLong`] past [`MAX_NAME_BYTES`] or
/// [`MAX_PATH_BYTES`]; [`FsError::OutOfMemory`].
pub fn entry_path(dir: &str, name: &str) -> Result<alloc::string::String, FsError> {
    check_name(name)?;
    let dir = Path::parse(dir)?;
    let mut out = alloc::string::String::new();
    out.try_reserve(
        dir.as_str()
            .len()
            .saturating_add(name.len())
            .saturating_add(1),
    )
    .map_err(|_| FsError::OutOfMemory)?;
    if !dir.is_root() {
        out.push_str(dir.as_str());
    }
    out.push('/');
    out.push_str(name);
    Path::parse(&out)?;
    Ok(out)
}

fn check_name(name: &str) -> Result<(), FsError> {
    if name.len() > MAX_NAME_BYTES {
        return Err(FsError::NameTooLong);
    }
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(FsError::BadPath);
    }
    Ok(())
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]
mod tests {
    use super::*;
    use alloc::string::String;
    use alloc::vec::Vec;

    #[test]
    fn an_entry_path_is_one_child_of_its_directory() {
        assert_eq!(entry_path("/", "a").unwrap(), "/a");
        assert_eq!(entry_path("/jail/sub", "made").unwrap(), "/jail/sub/made");
        for bad in ["", ".", "..", "a/b", "/a", "a/", "../secret", "a\0b"] {
            assert_eq!(entry_path("/jail", bad), Err(FsError::BadPath), "{bad:?}");
        }
        assert_eq!(entry_path("jail", "a"), Err(FsError::BadPath));
        let long = "x".repeat(MAX_NAME_BYTES + 1);
        assert_eq!(entry_path("/", &long), Err(FsError::NameTooLong));
        let deep = alloc::format!("/{}", "d".repeat(MAX_PATH_BYTES - 2));
        assert_eq!(entry_path(&deep, "ab"), Err(FsError::NameTooLong));
    }

    #[test]
    fn parses_root_and_nested_paths() {
        let root = Path::parse("/").unwrap();
        assert!(root.is_root());
        assert_eq!(root.components().count(), 0);
        assert_eq!(root.split_last(), None);

        let path = Path::parse("/a/bb/c").unwrap();
        assert_eq!(path.components().collect::<Vec<_>>(), ["a", "bb", "c"]);
        let (parent, name) = path.split_last().unwrap();
        assert_eq!((parent.as_str(), name), ("/a/bb", "c"));
        let (parent, name) = Path::parse("/x").unwrap().split_last().unwrap();
        assert!(parent.is_root());
        assert_eq!(name, "x");
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "", "a", "a/b", "//", "/a//b", "/a/", "/.", "/a/..", "/a\0b", "/./a",
        ] {
            assert_eq!(Path::parse(bad), Err(FsError::BadPath), "{bad:?}");
        }
        // Dots inside a longer name are ordinary characters.
        assert!(Path::parse("/.hidden/a..b/...").is_ok());
    }

    #[test]
    fn enforces_length_limits() {
        let longest_name: String = "n".repeat(MAX_NAME_BYTES);
        assert!(Path::parse(&alloc::format!("/{longest_name}")).is_ok());
        let too_long_name = alloc::format!("/{longest_name}n");
        assert_eq!(Path::parse(&too_long_name), Err(FsError::NameTooLong));

        let mut long_path = "/abcdefg".repeat(MAX_PATH_BYTES / 8);
        assert_eq!(long_path.len(), MAX_PATH_BYTES);
        assert!(Path::parse(&long_path).is_ok());
        long_path.push('h');
        assert_eq!(Path::parse(&long_path), Err(FsError::NameTooLong));
    }
}
