//! `struct stat` and `struct statx` as x86-64 Linux lays them out.
//!
//! Owns [`FileStat`] (what the emulation knows about a file, in Linux's
//! terms) and its two encodings, [`FileStat::to_stat`] (144 bytes, for
//! `stat`, `fstat`, `lstat`, `newfstatat`) and [`FileStat::to_statx`] (256
//! bytes). The mode bits ([`mode`]) are Linux's `S_IF*` and permissions.

/// `st_mode` file types and the permission bits the emulation reports.
pub mod mode {
    /// Regular file.
    pub const S_IFREG: u32 = 0o100_000;
    /// Directory.
    pub const S_IFDIR: u32 = 0o040_000;
    /// Character device (`/dev/null`, the console).
    pub const S_IFCHR: u32 = 0o020_000;
    /// FIFO (a pipe end).
    pub const S_IFIFO: u32 = 0o010_000;
    /// The file-type mask.
    pub const S_IFMT: u32 = 0o170_000;
}

/// `statx` mask bits: which fields were filled in.
pub mod statx_mask {
    /// Everything `stat` has (`STATX_BASIC_STATS`).
    pub const BASIC_STATS: u32 = 0x7ff;
}

/// A file's metadata in Linux's terms.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileStat {
    /// Device number (`st_dev`).
    pub dev: u64,
    /// Inode number (`st_ino`).
    pub ino: u64,
    /// Links (`st_nlink`).
    pub nlink: u64,
    /// Type and permissions (`st_mode`).
    pub mode: u32,
    /// Owner (`st_uid`).
    pub uid: u32,
    /// Group (`st_gid`).
    pub gid: u32,
    /// Device number of a device file (`st_rdev`).
    pub rdev: u64,
    /// Size in bytes (`st_size`).
    pub size: u64,
    /// Preferred I/O size (`st_blksize`).
    pub blksize: u64,
    /// 512-byte blocks allocated (`st_blocks`).
    pub blocks: u64,
    /// Last access, modification and status change: seconds and
    /// nanoseconds since the epoch.
    pub atime: (u64, u32),
    /// See `atime`.
    pub mtime: (u64, u32),
    /// See `atime`.
    pub ctime: (u64, u32),
}

/// Size of x86-64 Linux's `struct stat`.
pub const STAT_BYTES: usize = 144;
/// Size of `struct statx`.
pub const STATX_BYTES: usize = 256;

/// Little-endian writer at fixed offsets into a zeroed buffer.
struct Fields<const N: usize>([u8; N]);

impl<const N: usize> Fields<N> {
    fn put(&mut self, at: usize, bytes: &[u8]) {
        if let Some(field) = self.0.get_mut(at..at.saturating_add(bytes.len())) {
            field.copy_from_slice(bytes);
        }
    }
}

impl FileStat {
    /// `struct stat`: dev 0, ino 8, nlink 16, mode 24, uid 28, gid 32, rdev
    /// 40, size 48, blksize 56, blocks 64, atime 72/80, mtime 88/96, ctime
    /// 104/112, three reserved words.
    #[must_use]
    pub fn to_stat(&self) -> [u8; STAT_BYTES] {
        let mut f = Fields([0; STAT_BYTES]);
        f.put(0, &self.dev.to_le_bytes());
        f.put(8, &self.ino.to_le_bytes());
        f.put(16, &self.nlink.to_le_bytes());
        f.put(24, &self.mode.to_le_bytes());
        f.put(28, &self.uid.to_le_bytes());
        f.put(32, &self.gid.to_le_bytes());
        f.put(40, &self.rdev.to_le_bytes());
        f.put(48, &self.size.to_le_bytes());
        f.put(56, &self.blksize.to_le_bytes());
        f.put(64, &self.blocks.to_le_bytes());
        for (at, (seconds, nanos)) in [(72, self.atime), (88, self.mtime), (104, self.ctime)] {
            f.put(at, &seconds.to_le_bytes());
            f.put(at + 8, &u64::from(nanos).to_le_bytes());
        }
        f.0
    }

    /// `struct statx` with `STATX_BASIC_STATS`: mask 0, blksize 4, nlink
    /// 16, uid 20, gid 24, mode 28 (16 bits), ino 32, size 40, blocks 48,
    /// timestamps (seconds, nanoseconds) atime 64, ctime 96, mtime 112,
    /// rdev 128/132, dev 136/140 (major/minor).
    #[must_use]
    pub fn to_statx(&self) -> [u8; STATX_BYTES] {
        let mut f = Fields([0; STATX_BYTES]);
        f.put(0, &statx_mask::BASIC_STATS.to_le_bytes());
        f.put(4, &saturate_u32(self.blksize).to_le_bytes());
        f.put(16, &saturate_u32(self.nlink).to_le_bytes());
        f.put(20, &self.uid.to_le_bytes());
        f.put(24, &self.gid.to_le_bytes());
        // `stx_mode` is 16 bits: type and permissions fit.
        f.put(28, &(self.mode & 0xffff).to_le_bytes()[..2]);
        f.put(32, &self.ino.to_le_bytes());
        f.put(40, &self.size.to_le_bytes());
        f.put(48, &self.blocks.to_le_bytes());
        for (at, (seconds, nanos)) in [(64, self.atime), (96, self.ctime), (112, self.mtime)] {
            f.put(at, &seconds.to_le_bytes());
            f.put(at + 8, &nanos.to_le_bytes());
        }
        let (rdev_major, rdev_minor) = split_dev(self.rdev);
        let (dev_major, dev_minor) = split_dev(self.dev);
        f.put(128, &rdev_major.to_le_bytes());
        f.put(132, &rdev_minor.to_le_bytes());
        f.put(136, &dev_major.to_le_bytes());
        f.put(140, &dev_minor.to_le_bytes());
        f.0
    }
}

/// Linux's `dev_t` encoding (`gnu_dev_major`/`gnu_dev_minor`): major and
/// minor numbers.
#[must_use]
pub fn split_dev(dev: u64) -> (u32, u32) {
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & 0xffff_f000);
    let minor = (dev & 0xff) | ((dev >> 12) & 0xffff_ff00);
    (saturate_u32(major), saturate_u32(minor))
}

/// `value`, or `u32::MAX` if it does not fit.
fn saturate_u32(value: u64) -> u32 {
    u32::try_from(value).unwrap_or(u32::MAX)
}

/// The inverse of [`split_dev`] (`makedev`).
#[must_use]
pub const fn make_dev(major: u32, minor: u32) -> u64 {
    let (major, minor) = (major as u64, minor as u64);
    ((major & 0xfff) << 8) | ((major & !0xfff) << 32) | (minor & 0xff) | ((minor & !0xff) << 12)
}
