//! The console (handle 1): query, seek (not supported), raw mode (which
//! synthesizes the console write) and back, empty writes.

use sk_abi::{Call, Kind, SioKind, SioReconfigure, SysError, TtyMode, Whence};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer, CONSOLE};

impl Fuzzer<'_> {
    /// The console (handle 1): query, seek (not supported), a mode change
    /// (raw, which synthesizes the console write) and back, empty writes.
    pub(crate) fn console_op(&mut self) {
        let cell = Cell::new(Call::Query, Some(Kind::Sio), true);
        match self.rng.below(4) {
            0 | 1 => {
                let generic_path = self.rng.percent(50);
                if let Some(info) = self.query_sio(CONSOLE, generic_path) {
                    if info.kind != SioKind::Tty.number() {
                        self.fail("console", format_args!("query: {info:?}"));
                    }
                }
            }
            2 => {
                let registers = SioReconfigure::Seek {
                    whence: Whence::Set,
                    offset: 0,
                }
                .to_registers();
                let cell = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
                let _ = self.sys(
                    word(CONSOLE, Call::Reconfigure),
                    &registers,
                    [(0, 0); 2],
                    cell,
                    "console seek",
                    Expect::Err(SysError::NotSupported),
                );
            }
            _ => {
                let raw = TtyMode::RAW
                    | if self.rng.percent(50) {
                        TtyMode::ECHO
                    } else {
                        TtyMode::empty()
                    };
                let cell_re = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
                let cell_wr = Cell::new(Call::Write, Some(Kind::Sio), true);
                let to_raw = SioReconfigure::TtyMode(raw).to_registers();
                let _ = self.sys(
                    word(CONSOLE, Call::Reconfigure),
                    &to_raw,
                    [(0, 0); 2],
                    cell_re,
                    "console raw",
                    Expect::Is(Ok(0)),
                );
                let buf = self.arena.source_addr(0);
                let _ = self.sys(
                    word(CONSOLE, Call::Write),
                    &[buf, 0],
                    [(buf, buf), (0, 0)],
                    cell_wr,
                    "console write 0 (raw)",
                    Expect::Is(Ok(0)),
                );
                let _ = self.sys(
                    generic(word(CONSOLE, Call::Write)),
                    &[buf, 0],
                    [(buf, buf), (0, 0)],
                    cell_wr,
                    "console write 0 (raw, FORCE_GENERIC)",
                    Expect::Is(Ok(0)),
                );
                let back = SioReconfigure::TtyMode(TtyMode::DEFAULT).to_registers();
                let _ = self.sys(
                    word(CONSOLE, Call::Reconfigure),
                    &back,
                    [(0, 0); 2],
                    cell_re,
                    "console cooked",
                    Expect::Is(Ok(0)),
                );
                let _ = cell;
            }
        }
    }
}
