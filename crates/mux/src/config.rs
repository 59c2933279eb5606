//! The multiplexor's configuration: one child per line,
//!
//! ```text
//! # name   program       budget weight views...
//! reader   /bin/muxwork  64     1      window=/etc/mux/poem.txt@0+120
//! inner    /bin/mux      4096   3      ro=/etc/mux/inner.conf
//! ```
//!
//! `budget` is the child's memory budget in 4 KiB frames (carved from
//! the multiplexor's own), `weight` its weight (1..=1000) in the
//! multiplexor's weighted division. Views (SIOs the child gets, as
//! handles 3, 4, ... in order; handle 2 is always the run flag):
//!
//! | view | what the child gets |
//! |---|---|
//! | `window=PATH@OFFSET+LENGTH` | a writable window of a file |
//! | `ro=PATH` | a read-only view of a whole file (a `mux` child's first one is its configuration) |
//! | `root=DIR` | no handle: the directory becomes the child's root (every path it opens resolves inside it) |
//! | `tty` | a prefix view of the multiplexor's tty (its own prefix view, or the console): every line the child writes through it starts with `[name] ` |
//!
//! Blank lines and lines starting with `#` are skipped.

use core::fmt;

/// Longest child name (its name is the start argument: 8 bytes).
pub const MAX_NAME: usize = 8;
/// Most views one child gets.
pub const MAX_VIEWS: usize = 4;
/// Largest weight the kernel takes.
pub const MAX_WEIGHT: u32 = 1000;

/// One child of the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Child<'a> {
    /// Its name (at most [`MAX_NAME`] bytes, printable ASCII).
    pub name: &'a str,
    /// The program's path in the initrd.
    pub program: &'a str,
    /// Its memory budget in frames.
    pub budget: u64,
    /// Its weight.
    pub weight: u32,
    /// Its views, `views[..view_count]`.
    pub views: [View<'a>; MAX_VIEWS],
    /// How many of `views` are given.
    pub view_count: usize,
}

impl<'a> Child<'a> {
    /// The views it gets, in handle order.
    #[must_use]
    pub fn views(&self) -> &[View<'a>] {
        &self.views[..self.view_count]
    }

    /// Its name packed into a start argument (little-endian bytes).
    #[must_use]
    pub fn name_arg(&self) -> u64 {
        pack_name(self.name)
    }

    /// The configuration of a `mux` child: its first read-only view.
    #[must_use]
    pub fn nested_config(&self) -> Option<&'a str> {
        self.views().iter().find_map(|v| match v {
            View::ReadOnly { path } => Some(*path),
            _ => None,
        })
    }
}

/// A view given to a child.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View<'a> {
    /// None (an unused slot).
    #[default]
    None,
    /// A writable window of a file.
    Window {
        /// The file.
        path: &'a str,
        /// Where the window starts.
        offset: u64,
        /// Its length.
        length: u64,
    },
    /// A read-only view of a whole file.
    ReadOnly {
        /// The file.
        path: &'a str,
    },
    /// A prefix view of the multiplexor's tty (`[name] ` before each line).
    Tty,
    /// A directory as the child's root (no handle in the child).
    Root {
        /// The directory.
        path: &'a str,
    },
}

/// What is wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigError<'a> {
    /// Fewer than four words.
    TooFewWords,
    /// The name is empty, too long or not printable ASCII.
    BadName(&'a str),
    /// The program is no absolute path.
    BadProgram(&'a str),
    /// The budget is no number.
    BadBudget(&'a str),
    /// The weight is no number in 1..=1000.
    BadWeight(&'a str),
    /// A view is none of the known forms.
    BadView(&'a str),
    /// More than [`MAX_VIEWS`] views.
    TooManyViews,
}

impl fmt::Display for ConfigError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooFewWords => write!(f, "expected `name program budget weight [views...]`"),
            Self::BadName(n) => write!(
                f,
                "name {n:?}: 1 to {MAX_NAME} printable characters expected"
            ),
            Self::BadProgram(p) => write!(f, "program {p:?}: an absolute path expected"),
            Self::BadBudget(b) => write!(f, "budget {b:?}: a number of frames expected"),
            Self::BadWeight(w) => write!(f, "weight {w:?}: a number in 1..={MAX_WEIGHT} expected"),
            Self::BadView(v) => write!(
                f,
                "view {v:?}: `window=PATH@OFFSET+LENGTH`, `ro=PATH`, `root=DIR` or `tty` expected"
            ),
            Self::TooManyViews => write!(f, "more than {MAX_VIEWS} views"),
        }
    }
}

/// Parses one line: `Ok(None)` for a blank or comment line.
///
/// # Errors
/// The first thing wrong with it ([`ConfigError`]).
pub fn parse_line(line: &str) -> Result<Option<Child<'_>>, ConfigError<'_>> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let mut words = line.split_ascii_whitespace();
    let (Some(name), Some(program), Some(budget), Some(weight)) =
        (words.next(), words.next(), words.next(), words.next())
    else {
        return Err(ConfigError::TooFewWords);
    };
    if name.is_empty() || name.len() > MAX_NAME || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ConfigError::BadName(name));
    }
    if !program.starts_with('/') {
        return Err(ConfigError::BadProgram(program));
    }
    let budget = budget
        .parse::<u64>()
        .map_err(|_| ConfigError::BadBudget(budget))?;
    let weight = match weight.parse::<u32>() {
        Ok(w) if (1..=MAX_WEIGHT).contains(&w) => w,
        _ => return Err(ConfigError::BadWeight(weight)),
    };
    let mut child = Child {
        name,
        program,
        budget,
        weight,
        views: [View::None; MAX_VIEWS],
        view_count: 0,
    };
    for word in words {
        if child.view_count == MAX_VIEWS {
            return Err(ConfigError::TooManyViews);
        }
        child.views[child.view_count] = parse_view(word).ok_or(ConfigError::BadView(word))?;
        child.view_count += 1;
    }
    Ok(Some(child))
}

fn parse_view(word: &str) -> Option<View<'_>> {
    if word == "tty" {
        return Some(View::Tty);
    }
    if let Some(path) = word.strip_prefix("root=") {
        return path.starts_with('/').then_some(View::Root { path });
    }
    if let Some(path) = word.strip_prefix("ro=") {
        return path.starts_with('/').then_some(View::ReadOnly { path });
    }
    let rest = word.strip_prefix("window=")?;
    let (path, range) = rest.rsplit_once('@')?;
    let (offset, length) = range.split_once('+')?;
    let (offset, length) = (offset.parse().ok()?, length.parse().ok()?);
    (path.starts_with('/') && length > 0).then_some(View::Window {
        path,
        offset,
        length,
    })
}

/// `name`'s bytes (at most 8) as a little-endian word.
#[must_use]
pub fn pack_name(name: &str) -> u64 {
    let mut bytes = [0_u8; 8];
    for (slot, b) in bytes.iter_mut().zip(name.bytes()) {
        *slot = b;
    }
    u64::from_le_bytes(bytes)
}

/// The name packed by [`pack_name`] into `buf`; `None` if it is not
/// printable ASCII (an argument that is no name).
#[must_use]
pub fn unpack_name(arg: u64, buf: &mut [u8; 8]) -> Option<&str> {
    *buf = arg.to_le_bytes();
    let len = buf.iter().position(|&b| b == 0).unwrap_or(8);
    let name = &buf[..len];
    if name.is_empty() || !name.iter().all(u8::is_ascii_graphic) {
        return None;
    }
    core::str::from_utf8(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_child_line_with_views_parses() {
        let c = parse_line("reader /bin/muxwork 64 3 window=/etc/a@8+120 ro=/etc/b tty root=/r")
            .unwrap()
            .unwrap();
        assert_eq!(
            (c.name, c.program, c.budget, c.weight),
            ("reader", "/bin/muxwork", 64, 3)
        );
        assert_eq!(
            c.views(),
            &[
                View::Window {
                    path: "/etc/a",
                    offset: 8,
                    length: 120
                },
                View::ReadOnly { path: "/etc/b" },
                View::Tty,
                View::Root { path: "/r" }
            ]
        );
        assert_eq!(c.nested_config(), Some("/etc/b"));
    }

    #[test]
    fn blank_and_comment_lines_are_skipped() {
        assert_eq!(parse_line("   "), Ok(None));
        assert_eq!(parse_line("# a b c d"), Ok(None));
    }

    #[test]
    fn each_bad_line_says_what_is_wrong() {
        assert_eq!(parse_line("a /bin/x 1"), Err(ConfigError::TooFewWords));
        assert_eq!(
            parse_line("toolongname /bin/x 1 1"),
            Err(ConfigError::BadName("toolongname"))
        );
        assert_eq!(
            parse_line("a bin/x 1 1"),
            Err(ConfigError::BadProgram("bin/x"))
        );
        assert_eq!(
            parse_line("a /bin/x -1 1"),
            Err(ConfigError::BadBudget("-1"))
        );
        assert_eq!(parse_line("a /bin/x 1 0"), Err(ConfigError::BadWeight("0")));
        assert_eq!(
            parse_line("a /bin/x 1 1001"),
            Err(ConfigError::BadWeight("1001"))
        );
        assert_eq!(
            parse_line("a /bin/x 1 1 window=/f@1"),
            Err(ConfigError::BadView("window=/f@1"))
        );
        assert_eq!(
            parse_line("a /bin/x 1 1 window=/f@1+0"),
            Err(ConfigError::BadView("window=/f@1+0"))
        );
        assert_eq!(
            parse_line("a /bin/x 1 1 ro=f"),
            Err(ConfigError::BadView("ro=f"))
        );
        assert_eq!(
            parse_line("a /bin/x 1 1 ro=/a ro=/a ro=/a ro=/a ro=/a"),
            Err(ConfigError::TooManyViews)
        );
    }

    proptest! {
        #[test]
        fn names_survive_the_start_argument(name in "[!-~]{1,8}") {
            let mut buf = [0; 8];
            prop_assert_eq!(unpack_name(pack_name(&name), &mut buf), Some(name.as_str()));
        }

        #[test]
        fn no_line_panics(line in "\\PC{0,80}") {
            let _ = parse_line(&line);
        }
    }

    #[test]
    fn a_word_that_is_no_name_is_refused() {
        let mut buf = [0; 8];
        assert_eq!(unpack_name(0, &mut buf), None);
        assert_eq!(unpack_name(1, &mut buf), None);
    }
}
