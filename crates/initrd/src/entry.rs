//! One archive member, borrowed from the archive.
//!
//! Owns [`Entry`] (name, mode, data, all zero-copy) and [`EntryKind`], the
//! file type decoded from the mode's `S_IFMT` bits (`man 7 inode`).

/// The `S_IFMT` mask and the type values it selects.
const TYPE_MASK: u32 = 0o170_000;
const TYPE_SOCKET: u32 = 0o140_000;
const TYPE_SYMLINK: u32 = 0o120_000;
const TYPE_FILE: u32 = 0o100_000;
const TYPE_BLOCK_DEVICE: u32 = 0o060_000;
const TYPE_DIRECTORY: u32 = 0o040_000;
const TYPE_CHAR_DEVICE: u32 = 0o020_000;
const TYPE_FIFO: u32 = 0o010_000;

/// Permission bits (`rwx` for user, group, other, plus setuid, setgid and
/// sticky).
pub(crate) const PERMISSION_MASK: u32 = 0o7777;
/// Mode type bits of a regular file.
#[cfg(feature = "writer")]
pub(crate) const MODE_FILE: u32 = TYPE_FILE;
/// Mode type bits of a directory.
#[cfg(feature = "writer")]
pub(crate) const MODE_DIRECTORY: u32 = TYPE_DIRECTORY;

/// The file type of an entry. Only files and directories mean anything to
/// the kernel; the others are reported so the caller can skip or refuse them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file: its data is the file's contents.
    File,
    /// A directory (no data).
    Directory,
    /// A symbolic link: its data is the target path.
    Symlink,
    /// A character device node.
    CharDevice,
    /// A block device node.
    BlockDevice,
    /// A named pipe.
    Fifo,
    /// A Unix domain socket.
    Socket,
    /// Type bits that name no file type; holds the `S_IFMT` bits.
    Unknown(u32),
}

impl EntryKind {
    /// The file type encoded in `mode`.
    #[must_use]
    pub const fn from_mode(mode: u32) -> Self {
        match mode & TYPE_MASK {
            TYPE_FILE => Self::File,
            TYPE_DIRECTORY => Self::Directory,
            TYPE_SYMLINK => Self::Symlink,
            TYPE_CHAR_DEVICE => Self::CharDevice,
            TYPE_BLOCK_DEVICE => Self::BlockDevice,
            TYPE_FIFO => Self::Fifo,
            TYPE_SOCKET => Self::Socket,
            other => Self::Unknown(other),
        }
    }
}

/// One member of an archive; `name` and `data` point into the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The path as stored, without its NUL (for example `bin/init`).
    pub name: &'a str,
    /// The full mode: file type bits and permission bits.
    pub mode: u32,
    /// The entry's data: file contents, or a symlink's target.
    pub data: &'a [u8],
}

impl Entry<'_> {
    /// The file type, from the mode.
    #[must_use]
    pub const fn kind(&self) -> EntryKind {
        EntryKind::from_mode(self.mode)
    }

    /// The permission bits of the mode (`0o7777`).
    #[must_use]
    pub const fn permissions(&self) -> u32 {
        self.mode & PERMISSION_MASK
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_every_file_type() {
        let cases = [
            (0o100_644, EntryKind::File),
            (0o040_755, EntryKind::Directory),
            (0o120_777, EntryKind::Symlink),
            (0o020_600, EntryKind::CharDevice),
            (0o060_600, EntryKind::BlockDevice),
            (0o010_600, EntryKind::Fifo),
            (0o140_600, EntryKind::Socket),
            (0o000_644, EntryKind::Unknown(0)),
            (0o170_644, EntryKind::Unknown(0o170_000)),
        ];
        for (mode, kind) in cases {
            assert_eq!(EntryKind::from_mode(mode), kind, "mode {mode:o}");
        }
    }

    #[test]
    fn permissions_strip_the_type() {
        let entry = Entry {
            name: "x",
            mode: 0o104_755,
            data: &[],
        };
        assert_eq!(entry.permissions(), 0o4755);
        assert_eq!(entry.kind(), EntryKind::File);
    }
}
