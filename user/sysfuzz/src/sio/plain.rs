//! Plain SIOs: one handle, no twin, no model of its contents; for the
//! files and devices other checks read from or write to (an SMEM filled
//! from `/dev/zero`, a shared handle, a statistics file).
//!
//! Owns [`Fuzzer::open_plain`] and [`Fuzzer::close_plain`].

use sk_abi::{Call, Kind};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{word, Expect, Fuzzer, Obj, SELF};

impl Fuzzer<'_> {
    /// Opens `path` as a plain SIO (not a twin); tracks it.
    pub(crate) fn open_plain(&mut self, path: &str, flags: sk_abi::OpenFlags) -> Option<u32> {
        if !self.objects.has_room(1) {
            return None;
        }
        let args = sk_abi::SioCreateArgs {
            path_ptr: path.as_ptr() as u64,
            path_len: path.len() as u64,
            flags: flags.bits(),
            _pad: 0,
        }
        .to_bytes();
        let ptr = args.as_ptr() as u64;
        let predicted = self.next_handle();
        let got = self.sys(
            word(SELF, Call::Create),
            &[u64::from(Kind::Sio), ptr, 24],
            [
                (ptr, ptr + 24),
                (
                    path.as_ptr() as u64,
                    path.as_ptr() as u64 + path.len() as u64,
                ),
            ],
            Cell::new(Call::Create, Some(Kind::Sio), true),
            "open",
            Expect::Ok,
        );
        let handle = self.check_new_handle("open", predicted, got.ok()?)?;
        self.objects.insert(handle, Obj::Sio);
        Some(handle)
    }

    /// Closes a plain SIO.
    pub(crate) fn close_plain(&mut self, handle: u32) {
        let cell = self.cell_of(handle, Call::Terminate);
        let _ = self.sys(
            word(handle, Call::Terminate),
            &[0],
            [(0, 0); 2],
            cell,
            "close",
            Expect::Is(Ok(0)),
        );
        self.objects.remove(handle);
    }
}
