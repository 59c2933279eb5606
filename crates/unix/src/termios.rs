//! The terminal settings `TCGETS`/`TCSETS*` move: the kernel's
//! `struct termios` (x86-64: four 32-bit flag words, the line discipline
//! byte, 19 control characters; 36 bytes).
//!
//! Owns [`Termios`]: its bytes, Linux's defaults for a console, and what
//! the native console can honour of it ([`Termios::is_canonical`],
//! [`Termios::is_echo`]; the rest is stored and reported back unchanged).

/// Size of the kernel's `struct termios`.
pub const TERMIOS_BYTES: usize = 36;

/// `c_lflag` bits the console honours.
pub mod lflag {
    /// Signals from INTR/QUIT/SUSP characters.
    pub const ISIG: u32 = 0o1;
    /// Canonical (line-edited) input.
    pub const ICANON: u32 = 0o2;
    /// Echo input.
    pub const ECHO: u32 = 0o10;
    /// Echo erase as backspace-space-backspace.
    pub const ECHOE: u32 = 0o20;
    /// Echo a newline after the kill character.
    pub const ECHOK: u32 = 0o40;
    /// Echo control characters as `^X`.
    pub const ECHOCTL: u32 = 0o1000;
    /// Erase a killed line visually.
    pub const ECHOKE: u32 = 0o4000;
    /// Extended input processing.
    pub const IEXTEN: u32 = 0o100_000;
}

/// Indices into `c_cc`.
pub mod cc {
    /// Interrupt (Ctrl-C).
    pub const VINTR: usize = 0;
    /// Erase a character (DEL).
    pub const VERASE: usize = 2;
    /// Kill the line (Ctrl-U).
    pub const VKILL: usize = 3;
    /// End of file (Ctrl-D).
    pub const VEOF: usize = 4;
    /// Non-canonical read timeout (tenths of a second).
    pub const VTIME: usize = 5;
    /// Non-canonical read minimum.
    pub const VMIN: usize = 6;
}

/// A terminal's settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Termios {
    /// Input modes.
    pub iflag: u32,
    /// Output modes.
    pub oflag: u32,
    /// Control modes.
    pub cflag: u32,
    /// Local modes ([`lflag`]).
    pub lflag: u32,
    /// Line discipline (0).
    pub line: u8,
    /// Control characters ([`cc`]).
    pub cc: [u8; 19],
}

impl Termios {
    /// Linux's settings for a fresh console: `ICRNL IXON`, `OPOST ONLCR`,
    /// `B38400 CS8 CREAD HUPCL`, `ISIG ICANON ECHO ECHOE ECHOK ECHOCTL
    /// ECHOKE IEXTEN`, and the usual control characters.
    pub const CONSOLE: Self = Self {
        iflag: 0o400 | 0o2000,
        oflag: 0o1 | 0o4,
        cflag: 0o17 | 0o60 | 0o200 | 0o2000,
        lflag: lflag::ISIG
            | lflag::ICANON
            | lflag::ECHO
            | lflag::ECHOE
            | lflag::ECHOK
            | lflag::ECHOCTL
            | lflag::ECHOKE
            | lflag::IEXTEN,
        line: 0,
        cc: [
            3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0,
        ],
    };

    /// The 36 bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; TERMIOS_BYTES] {
        let mut out = [0; TERMIOS_BYTES];
        let words = [self.iflag, self.oflag, self.cflag, self.lflag];
        for (chunk, word) in out.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        if let Some(line) = out.get_mut(16) {
            *line = self.line;
        }
        if let Some(cc) = out.get_mut(17..) {
            cc.copy_from_slice(&self.cc);
        }
        out
    }

    /// Reads the 36 bytes a program passed to `TCSETS*`.
    #[must_use]
    pub fn from_bytes(bytes: &[u8; TERMIOS_BYTES]) -> Self {
        let word = |at: usize| {
            let mut w = [0; 4];
            if let Some(src) = bytes.get(at..at + 4) {
                w.copy_from_slice(src);
            }
            u32::from_le_bytes(w)
        };
        let mut cc = [0; 19];
        if let Some(src) = bytes.get(17..) {
            cc.copy_from_slice(src);
        }
        Self {
            iflag: word(0),
            oflag: word(4),
            cflag: word(8),
            lflag: word(12),
            line: bytes.get(16).copied().unwrap_or(0),
            cc,
        }
    }

    /// Line-edited input (`ICANON`): the console's cooked mode.
    #[must_use]
    pub const fn is_canonical(&self) -> bool {
        self.lflag & lflag::ICANON != 0
    }

    /// Input echoed (`ECHO`).
    #[must_use]
    pub const fn is_echo(&self) -> bool {
        self.lflag & lflag::ECHO != 0
    }

    /// Ctrl-C raises SIGINT (`ISIG`).
    #[must_use]
    pub const fn is_signals(&self) -> bool {
        self.lflag & lflag::ISIG != 0
    }
}
