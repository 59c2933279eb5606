//! The kernel command line: `ktest [ktest.start=N] [ktest.inject]`,
//! `probe`, `log=SPEC`. Unknown words are ignored (and logged).

/// What this boot does after bring-up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BootMode {
    /// The default demo.
    Demo,
    /// In-kernel tests from index `start`; `inject` adds the self-check's
    /// failing and panicking tests.
    Test { start: usize, inject: bool },
    /// The accelerator probe (ring-3 `syscall` round trip).
    Probe,
}

/// Parsed options.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    pub mode: BootMode,
    pub log: Option<&'static str>,
}

impl Options {
    pub fn parse(line: &'static str) -> Self {
        let mut options = Options {
            mode: BootMode::Demo,
            log: None,
        };
        let mut test = false;
        let mut start = 0;
        let mut inject = false;
        for word in line.split_ascii_whitespace() {
            match word.split_once('=') {
                None if word == "ktest" => test = true,
                None if word == "ktest.inject" => inject = true,
                None if word == "probe" => options.mode = BootMode::Probe,
                Some(("ktest.start", n)) => start = n.parse().unwrap_or(0),
                Some(("log", spec)) => options.log = Some(spec),
                _ => {}
            }
        }
        if test {
            options.mode = BootMode::Test { start, inject };
        }
        options
    }
}
