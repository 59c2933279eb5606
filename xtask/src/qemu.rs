//! Booting the kernel in QEMU: the command line, a wall-clock guard, and
//! the meaning of QEMU's exit status.
//!
//! The kernel exits through `isa-debug-exit` (status = value * 2 + 1):
//! 33 success, 35 failure, 37 "continue with the next test". Status 0 is a
//! triple fault under `-no-reboot` (or a plain power-off): never a pass.

use crate::accel::Accel;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How a boot ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// The kernel reported success (QEMU status 33).
    Success,
    /// The kernel reported failure or panicked (35).
    Failure,
    /// A test ended the boot on purpose; go on with the next (37).
    Continue,
    /// QEMU exited 0: a triple fault under `-no-reboot`.
    TripleFault,
    /// Any other QEMU status (QEMU's own error, a signal).
    Other(i32),
    /// The wall-clock guard killed QEMU.
    TimedOut,
}

impl Status {
    pub fn from_code(code: Option<i32>) -> Self {
        match code {
            Some(33) => Status::Success,
            Some(35) => Status::Failure,
            Some(37) => Status::Continue,
            Some(0) => Status::TripleFault,
            Some(c) => Status::Other(c),
            None => Status::Other(-1),
        }
    }

    /// True only for the kernel's explicit success.
    pub fn is_success(self) -> bool {
        self == Status::Success
    }

    /// Human-readable description.
    pub fn describe(self) -> String {
        match self {
            Status::Success => "kernel reported success (status 33)".into(),
            Status::Failure => "kernel reported failure or panicked (status 35)".into(),
            Status::Continue => {
                "kernel ended the boot to continue with the next test (status 37)".into()
            }
            Status::TripleFault => {
                "QEMU exited 0: triple fault (machine reset under -no-reboot)".into()
            }
            Status::Other(c) => format!("QEMU exited with unexpected status {c}"),
            Status::TimedOut => "hang: killed by the wall-clock guard".into(),
        }
    }
}

/// The result of one boot.
pub struct Outcome {
    /// How it ended.
    pub status: Status,
    /// Everything the kernel printed (and QEMU's stderr).
    pub output: String,
}

/// One QEMU boot of the kernel.
pub struct Boot {
    kernel: PathBuf,
    accel: Accel,
    cmdline: String,
    echo: bool,
    gdb: bool,
    timeout: Duration,
    progress: Option<fn(&str) -> bool>,
    initrd: Option<PathBuf>,
    devices: Vec<String>,
    interactive: bool,
    label: String,
}

/// Guest memory.
pub const MEMORY: &str = "1G";

impl Boot {
    /// A boot of `kernel` under `accel` with `cmdline`.
    pub fn new(kernel: &Path, accel: Accel, cmdline: &str) -> Self {
        Boot {
            kernel: kernel.to_path_buf(),
            accel,
            cmdline: cmdline.to_string(),
            echo: false,
            gdb: false,
            timeout: Duration::from_secs(300),
            progress: None,
            initrd: None,
            devices: Vec::new(),
            interactive: false,
            label: String::new(),
        }
    }

    /// Copy the console to our stdout as it arrives.
    pub fn echo(mut self, on: bool) -> Self {
        self.echo = on;
        self
    }

    /// Put `label` in front of every echoed line (boots that run at once).
    pub fn label(mut self, label: &str) -> Self {
        self.label = label.to_string();
        self
    }

    /// Start halted with a gdb stub on :1234.
    pub fn gdb(mut self, on: bool) -> Self {
        self.gdb = on;
        self
    }

    /// The wall-clock guard.
    pub fn timeout_secs(mut self, secs: u64) -> Self {
        self.timeout = Duration::from_secs(secs);
        self
    }

    /// Restart the wall-clock guard at every console line `is_progress`
    /// accepts (the test driver: each test gets the whole guard, so a
    /// boot that runs many tests is not cut short, and one that stops
    /// making progress still is).
    pub fn progress(mut self, is_progress: fn(&str) -> bool) -> Self {
        self.progress = Some(is_progress);
        self
    }

    /// More QEMU arguments (devices and their backends).
    pub fn devices(mut self, args: &[String]) -> Self {
        self.devices.extend_from_slice(args);
        self
    }

    /// A session with a person or a script at the console: guest time
    /// waits in host time when the guest is idle (`sleep 100` lasts),
    /// Ctrl-C typed on the host's terminal goes to the guest as a byte
    /// (QEMU's `signal=off`), and no wall-clock guard (a person may take
    /// their time; scripts keep their own per-step guards).
    pub fn interactive(mut self, on: bool) -> Self {
        self.interactive = on;
        if on {
            self.timeout = Duration::from_secs(7 * 24 * 3600);
        }
        self
    }

    /// Pass an initrd as a PVH module.
    pub fn initrd(mut self, path: &Path) -> Self {
        self.initrd = Some(path.to_path_buf());
        self
    }

    /// The full QEMU argument list.
    pub fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["-M".into(), "pc".into()];
        if let Some(bios) = crate::setup::qboot() {
            a.extend(["-bios".into(), bios.into()]);
        }
        a.extend(self.accel.qemu_args_for(if self.interactive {
            crate::accel::Clock::WallWhenIdle
        } else {
            crate::accel::Clock::Instructions
        }));
        a.extend(
            [
                "-m",
                MEMORY,
                "-smp",
                "1",
                "-no-reboot",
                "-display",
                "none",
                "-monitor",
                "none",
            ]
            .map(String::from),
        );
        if self.interactive {
            a.extend(
                [
                    "-chardev",
                    "stdio,id=console,signal=off",
                    "-serial",
                    "chardev:console",
                ]
                .map(String::from),
            );
        } else {
            a.extend(["-serial", "stdio"].map(String::from));
        }
        a.extend([
            "-device".into(),
            "isa-debug-exit,iobase=0xf4,iosize=0x04".into(),
        ]);
        a.extend(self.devices.iter().cloned());
        a.extend(["-kernel".into(), self.kernel.display().to_string()]);
        if !self.cmdline.is_empty() {
            a.extend(["-append".into(), self.cmdline.clone()]);
        }
        if let Some(initrd) = &self.initrd {
            a.extend(["-initrd".into(), initrd.display().to_string()]);
        }
        if self.gdb {
            a.extend(["-s".into(), "-S".into()]);
        }
        a
    }

    /// Boots and waits for QEMU to exit or the guard to fire.
    pub fn run(&self) -> Result<Outcome, String> {
        self.run_streaming(|_| {})
    }

    /// As [`Boot::run`], handing each console line (with its newline) to
    /// `on_line` as it arrives.
    pub fn run_streaming(&self, on_line: impl FnMut(&str)) -> Result<Outcome, String> {
        let mut child = Command::new(crate::setup::QEMU)
            .args(self.args())
            .stdin(if self.gdb || self.echo {
                Stdio::inherit()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("starting {}: {e}", crate::setup::QEMU))?;
        let stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let echo = self.echo;
        let label = self.label.clone();
        let (tx, rx) = mpsc::channel::<String>();
        if echo && self.interactive {
            // A prompt has no newline: the screen gets bytes as they come.
            let reader = std::thread::spawn(move || pass_through(stdout, &tx));
            return self.wait_for(child, stderr, reader, rx, on_line);
        }
        let reader = std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut buf = Vec::new();
            let mut tty_runs = crate::tty_output::EchoFilter::default();
            while reader.read_until(b'\n', &mut buf).is_ok_and(|n| n > 0) {
                let line = String::from_utf8_lossy(&buf).into_owned();
                // Replay records and bytes (`synth.replay`) and the tty
                // output runs' bytes are data for the host's checks, not
                // for the reader.
                if echo {
                    let text = tty_runs.filter(&line).and_then(crate::replay::for_reader);
                    if let Some(text) = text {
                        print!("{label}{text}");
                    }
                }
                let _ = tx.send(line);
                buf.clear();
            }
        });
        self.wait_for(child, stderr, reader, rx, on_line)
    }

    /// Waits for QEMU (`child`) to exit or the guard to fire, handing
    /// each line `reader` sends on `rx` to `on_line`.
    fn wait_for(
        &self,
        mut child: std::process::Child,
        mut stderr: std::process::ChildStderr,
        reader: std::thread::JoinHandle<()>,
        rx: mpsc::Receiver<String>,
        mut on_line: impl FnMut(&str),
    ) -> Result<Outcome, String> {
        let echo = self.echo;
        let err_reader = std::thread::spawn(move || {
            let mut s = String::new();
            let _ = stderr.read_to_string(&mut s);
            s
        });
        let timeout = self.timeout;
        let progress = self.progress;
        let deadline = std::cell::Cell::new(Instant::now() + timeout);
        let mut output = String::new();
        let mut take = |line: String| {
            if progress.is_some_and(|is_progress| is_progress(&line)) {
                deadline.set(Instant::now() + timeout);
            }
            on_line(&line);
            output.push_str(&line);
        };
        let status = loop {
            rx.try_iter().for_each(&mut take);
            match child.try_wait() {
                Ok(Some(st)) => break Status::from_code(st.code()),
                Ok(None) if Instant::now() >= deadline.get() => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break Status::TimedOut;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => return Err(format!("waiting for QEMU: {e}")),
            }
        };
        let _ = reader.join();
        rx.try_iter().for_each(&mut take);
        let err = err_reader.join().unwrap_or_default();
        if !err.trim().is_empty() {
            if echo {
                eprint!("{err}");
            }
            output.push_str(&err);
        }
        if let Some(names) = crate::backtrace::symbolize(&output, &self.kernel) {
            println!(
                "{}{}",
                self.label,
                names.trim_end().replace('\n', &format!("\n{}", self.label))
            );
            output.push_str(&names);
        }
        Ok(Outcome { status, output })
    }
}

/// Copies QEMU's console to our stdout byte by byte as it arrives, and
/// sends it on `tx` line by line.
fn pass_through(mut stdout: std::process::ChildStdout, tx: &mpsc::Sender<String>) {
    let mut buf = [0u8; 4096];
    let mut line = Vec::new();
    let mut screen = std::io::stdout();
    while let Ok(n) = stdout.read(&mut buf) {
        let Some(bytes) = buf.get(..n).filter(|b| !b.is_empty()) else {
            break;
        };
        let _ = screen.write_all(bytes).and_then(|()| screen.flush());
        for &byte in bytes {
            line.push(byte);
            if byte == b'\n' {
                let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
                line.clear();
            }
        }
    }
    if !line.is_empty() {
        let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
    }
}
