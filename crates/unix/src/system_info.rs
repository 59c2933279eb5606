//! The small fixed structs Linux calls fill: `utsname`, `sysinfo`,
//! `timespec`/`timeval`, the terminal's `termios` and `winsize`.
//!
//! Owns their x86-64 layouts as encoders (and a decoder where the program
//! writes one: `timespec` for `nanosleep`, `termios` for `TCSETS*`).

use crate::errno::Errno;

/// `struct utsname`: six NUL-padded 65-byte fields.
pub const UTSNAME_BYTES: usize = 6 * 65;

/// What `uname` reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Uname<'a> {
    /// `sysname` (`"Linux"`: programs test it to pick code paths).
    pub sysname: &'a str,
    /// `nodename`.
    pub nodename: &'a str,
    /// `release` (a version programs accept, e.g. `"6.1.0-synthesis"`).
    pub release: &'a str,
    /// `version`.
    pub version: &'a str,
    /// `machine` (`"x86_64"`).
    pub machine: &'a str,
    /// `domainname`.
    pub domainname: &'a str,
}

impl Uname<'_> {
    /// The 390-byte struct; each field cut to 64 bytes and NUL-padded.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; UTSNAME_BYTES] {
        let mut out = [0; UTSNAME_BYTES];
        let fields = [
            self.sysname,
            self.nodename,
            self.release,
            self.version,
            self.machine,
            self.domainname,
        ];
        for (chunk, field) in out.chunks_exact_mut(65).zip(fields) {
            let bytes = field.as_bytes();
            let len = bytes.len().min(64);
            if let (Some(dst), Some(src)) = (chunk.get_mut(..len), bytes.get(..len)) {
                dst.copy_from_slice(src);
            }
        }
        out
    }
}

/// `struct sysinfo` (x86-64: 112 bytes).
pub const SYSINFO_BYTES: usize = 112;

/// What `sysinfo` reports (memory in bytes, `mem_unit` 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SystemInfo {
    /// Seconds since boot.
    pub uptime: u64,
    /// Total usable RAM.
    pub total_ram: u64,
    /// Free RAM.
    pub free_ram: u64,
    /// Number of processes.
    pub procs: u16,
}

impl SystemInfo {
    /// uptime 0, loads 8..32 (0), totalram 32, freeram 40, sharedram 48,
    /// bufferram 56, swap 64/72 (0), procs 80, totalhigh/freehigh 88/96
    /// (0), mem_unit 104 (1).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; SYSINFO_BYTES] {
        let mut out = [0; SYSINFO_BYTES];
        let fields: [(usize, &[u8]); 5] = [
            (0, &self.uptime.to_le_bytes()),
            (32, &self.total_ram.to_le_bytes()),
            (40, &self.free_ram.to_le_bytes()),
            (80, &self.procs.to_le_bytes()),
            (104, &1u32.to_le_bytes()),
        ];
        for (at, bytes) in fields {
            if let Some(dst) = out.get_mut(at..at.saturating_add(bytes.len())) {
                dst.copy_from_slice(bytes);
            }
        }
        out
    }
}

/// A `struct timespec` (or `timeval`, whose second word is microseconds).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimeSpec {
    /// Seconds.
    pub seconds: i64,
    /// Nanoseconds (microseconds in a `timeval`).
    pub fraction: i64,
}

impl TimeSpec {
    /// The 16 bytes.
    #[must_use]
    pub fn to_bytes(self) -> [u8; 16] {
        let mut out = [0; 16];
        let (seconds, fraction) = out.split_at_mut(8);
        seconds.copy_from_slice(&self.seconds.to_le_bytes());
        fraction.copy_from_slice(&self.fraction.to_le_bytes());
        out
    }

    /// Reads a `timespec` a program passed (`nanosleep`, `clock_nanosleep`,
    /// `ppoll`) and checks it as Linux does.
    ///
    /// # Errors
    /// `EINVAL` for a negative second count or nanoseconds outside
    /// `0..1_000_000_000`.
    pub fn from_timespec(bytes: [u8; 16]) -> Result<Self, Errno> {
        let (seconds, fraction) = bytes.split_at(8);
        let word = |b: &[u8]| -> i64 {
            let mut w = [0; 8];
            w.copy_from_slice(b);
            i64::from_le_bytes(w)
        };
        let spec = Self {
            seconds: word(seconds),
            fraction: word(fraction),
        };
        if spec.seconds < 0 || !(0..1_000_000_000).contains(&spec.fraction) {
            return Err(Errno::EINVAL);
        }
        Ok(spec)
    }

    /// Nanoseconds in all, saturating.
    #[must_use]
    pub fn as_nanos(self) -> u64 {
        u64::try_from(self.seconds)
            .unwrap_or(0)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::try_from(self.fraction).unwrap_or(0))
    }

    /// A `timespec` for `nanos` nanoseconds.
    #[must_use]
    pub fn from_nanos(nanos: u64) -> Self {
        Self {
            seconds: i64::try_from(nanos / 1_000_000_000).unwrap_or(i64::MAX),
            fraction: i64::try_from(nanos % 1_000_000_000).unwrap_or(0),
        }
    }
}

/// The kernel's `struct winsize` (`TIOCGWINSZ`): rows, columns, pixels.
#[must_use]
pub fn winsize(rows: u16, columns: u16) -> [u8; 8] {
    let mut out = [0; 8];
    let (r, rest) = out.split_at_mut(2);
    r.copy_from_slice(&rows.to_le_bytes());
    if let Some(c) = rest.get_mut(..2) {
        c.copy_from_slice(&columns.to_le_bytes());
    }
    out
}
