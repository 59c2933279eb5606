//! Bad SIO `create` (open) arguments: empty, too long, unmapped, non-UTF-8,
//! relative or missing paths, a directory or `/dev/mem` for writing, a
//! file used as a directory, bad flags, a non-zero pad.

use sk_abi::{Kind, OpenFlags, SioCreateArgs, SysError};

use crate::fuzzer::{Expect, Fuzzer};

/// A path that is not UTF-8.
static NOT_UTF8: [u8; 6] = [b'/', b't', b'm', b'p', b'/', 0xff];

/// A path longer than `PATH_MAX`.
static TOO_LONG: [u8; 4100] = [b'a'; 4100];

impl Fuzzer<'_> {
    /// An SIO `create` with a path and flags, wanting `want`.
    fn open_bad(
        &mut self,
        path: &[u8],
        path_len: u64,
        flags: u32,
        pad: u32,
        what: &str,
        want: Expect,
    ) {
        let args = SioCreateArgs {
            path_ptr: path.as_ptr() as u64,
            path_len,
            flags,
            _pad: pad,
        }
        .to_bytes();
        let ptr = args.as_ptr() as u64;
        let path_range = (
            path.as_ptr() as u64,
            path.as_ptr() as u64 + path.len() as u64,
        );
        self.create_raw(u64::from(Kind::Sio), ptr, 24, path_range, what, want);
    }

    /// An open with a bad argument (`draw` 3 to 14).
    pub(super) fn bad_open(&mut self, draw: u64) {
        let rw = (OpenFlags::READ | OpenFlags::WRITE).bits();
        let read = OpenFlags::READ.bits();
        let file_name = *b"/tmp/fz-bad/none";
        match draw {
            3 => self.open_bad(
                b"/dev/null",
                0,
                rw,
                0,
                "open, empty path",
                Expect::Err(SysError::BadPath),
            ),
            4 => self.open_bad(
                &TOO_LONG,
                4097,
                rw,
                0,
                "open, path too long",
                Expect::Err(SysError::NameTooLong),
            ),
            5 => {
                let addr = self.unmapped_addr();
                let args = SioCreateArgs {
                    path_ptr: addr,
                    path_len: 9,
                    flags: read,
                    _pad: 0,
                }
                .to_bytes();
                let ptr = args.as_ptr() as u64;
                self.create_raw(
                    3,
                    ptr,
                    24,
                    (addr, addr + 9),
                    "open, path at a bad address",
                    Expect::Err(SysError::BadAddress),
                );
            }
            6 => self.open_bad(
                &NOT_UTF8,
                6,
                read,
                0,
                "open, path not UTF-8",
                Expect::Err(SysError::BadPath),
            ),
            7 => self.open_bad(
                b"relative/path",
                13,
                read,
                0,
                "open, relative path",
                Expect::AnyErr,
            ),
            8 => self.open_bad(
                b"/nonexistent/dir/file",
                21,
                read,
                0,
                "open, missing directory",
                Expect::Err(SysError::NotFound),
            ),
            9 => self.open_bad(
                &file_name,
                16,
                read,
                0,
                "open, missing file",
                Expect::Err(SysError::NotFound),
            ),
            10 => self.open_bad(
                b"/tmp",
                4,
                rw,
                0,
                "open a directory for writing",
                Expect::Err(SysError::IsDir),
            ),
            11 => self.open_bad(
                b"/dev/mem",
                8,
                rw,
                0,
                "open /dev/mem for writing",
                Expect::Err(SysError::NotPermitted),
            ),
            12 => {
                let flags = self.rng.pick_u32(&[
                    0,
                    1 << 6,
                    1 << 31,
                    (OpenFlags::READ | OpenFlags::EXCLUSIVE).bits(),
                    (OpenFlags::READ | OpenFlags::TRUNCATE).bits(),
                    (OpenFlags::READ | OpenFlags::APPEND).bits(),
                ]);
                self.open_bad(
                    b"/dev/zero",
                    9,
                    flags,
                    0,
                    "open, bad flags",
                    Expect::Err(SysError::BadFlags),
                );
            }
            13 => {
                let pad = 1 + self.rng.below_u32(9);
                self.open_bad(
                    b"/dev/zero",
                    9,
                    read,
                    pad,
                    "open, pad not zero",
                    Expect::Err(SysError::BadFlags),
                );
            }
            // 14
            _ => {
                // A path through a file.
                let name = self.files.first().map(|f| f.name(0)).unwrap_or("/tmp/fz");
                let mut path = [0_u8; 48];
                let len = crate::format::format_into(&mut path, format_args!("{name}/sub"));
                let want = match self.files.first().and_then(|f| f.exists_a()) {
                    Some(true) => Expect::Err(SysError::NotDir),
                    Some(false) => Expect::Err(SysError::NotFound),
                    None => Expect::AnyErr,
                };
                self.open_bad(
                    &path,
                    len as u64,
                    read,
                    0,
                    "open, a file as a directory",
                    want,
                );
            }
        }
    }
}
