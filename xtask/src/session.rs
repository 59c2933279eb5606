//! Scripted console sessions: the host types into the kernel's serial port
//! and reads the screen, as a user at a terminal would.
//!
//! Owns [`Step`], [`run_script`] (boots QEMU with its serial port on
//! pipes, then for each step sends bytes or waits for text to appear after
//! what the previous wait matched; a wait that does not see its text
//! within [`STEP_GUARD`] is a hang and fails the script), and the
//! `console session` stage of `cargo xtask test`
//! ([`ttyecho_session`]): `/bin/ttyecho` run by `init`, with line editing
//! (erase, erase word, kill line), raw mode and end of file typed in.

use crate::accel::{self, Accel};
use crate::build;
use crate::qemu::{Boot, Status};
use std::io::{Read, Write};
use std::process::{Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Wall-clock guard of one wait (a hang guard, not a measurement).
pub const STEP_GUARD: Duration = Duration::from_secs(120);

/// One step of a session.
#[derive(Clone, Copy, Debug)]
pub enum Step<'a> {
    /// Type these bytes.
    Send(&'a str),
    /// Wait until this text appears after the previous match.
    Expect(&'a str),
}

/// How a session went: the screen, and the first step that failed.
pub struct Transcript {
    /// Everything the kernel printed.
    pub screen: String,
    /// `None` if every step passed and QEMU ended well.
    pub failure: Option<String>,
}

/// Finds `text` in `screen` at or after `from`; returns where it ends.
pub fn find_after(screen: &str, from: usize, text: &str) -> Option<usize> {
    screen
        .get(from..)?
        .find(text)
        .map(|at| from + at + text.len())
}

/// Boots `boot` with the serial port on pipes and plays `steps`; then
/// waits for QEMU to exit (within [`STEP_GUARD`]).
pub fn run_script(boot: &Boot, steps: &[Step<'_>]) -> Result<Transcript, String> {
    let mut child = Command::new(crate::setup::QEMU)
        .args(boot.args())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", crate::setup::QEMU))?;
    let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let screen = Arc::new(Mutex::new(Vec::<u8>::new()));
    let reader = {
        let screen = Arc::clone(&screen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut s) = screen.lock() {
                    s.extend_from_slice(&buf[..n]);
                }
            }
        })
    };
    let text = |screen: &Arc<Mutex<Vec<u8>>>| {
        String::from_utf8_lossy(&screen.lock().map(|s| s.clone()).unwrap_or_default()).into_owned()
    };
    let mut failure = None;
    let mut from = 0;
    for (index, step) in steps.iter().enumerate() {
        match *step {
            Step::Send(bytes) => {
                // One byte at a time, as typed: the UART's receive FIFO
                // holds 16, and a real user types slower than the kernel
                // drains it.
                for byte in bytes.bytes() {
                    if stdin
                        .write_all(&[byte])
                        .and_then(|()| stdin.flush())
                        .is_err()
                    {
                        failure = Some(format!("step {index}: QEMU stopped reading input"));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            Step::Expect(wanted) => {
                let start = Instant::now();
                loop {
                    if let Some(end) = find_after(&text(&screen), from, wanted) {
                        from = end;
                        break;
                    }
                    if start.elapsed() > STEP_GUARD || child.try_wait().ok().flatten().is_some() {
                        failure = Some(format!("step {index}: never saw {wanted:?}"));
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
            }
        }
        if failure.is_some() {
            break;
        }
    }
    drop(stdin);
    if failure.is_some() {
        // No point waiting for the program: the script is off its rails.
        let _ = child.kill();
    }
    let start = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(_)) if failure.is_some() => break Status::TimedOut,
            Ok(Some(status)) => break Status::from_code(status.code()),
            Ok(None) if start.elapsed() > STEP_GUARD => {
                let _ = child.kill();
                let _ = child.wait();
                break Status::TimedOut;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(format!("waiting for QEMU: {e}")),
        }
    };
    let _ = reader.join();
    if failure.is_none() && !status.is_success() {
        failure = Some(format!("QEMU ended badly: {}", status.describe()));
    }
    Ok(Transcript {
        screen: text(&screen),
        failure,
    })
}

/// The session `cargo xtask test` plays: `/bin/ttyecho` with line editing,
/// raw mode and end of file typed in (the tty's input path end to end,
/// from the serial port's receive register to a program's cooked read).
pub const TTYECHO: &[Step<'static>] = &[
    Step::Expect("ttyecho: ready"),
    Step::Send("hello\r"),
    Step::Expect("ttyecho: line 1 [hello]"),
    // Erase (DEL and BS), erase word (^W), kill line (^U).
    Step::Send("abx\x7fc\r"),
    Step::Expect("ttyecho: line 2 [abc]"),
    Step::Send("one twx\x08o\r"),
    Step::Expect("ttyecho: line 3 [one two]"),
    Step::Send("one two\x17three\r"),
    Step::Expect("ttyecho: line 4 [one three]"),
    Step::Send("gone\x15kept\r"),
    Step::Expect("ttyecho: line 5 [kept]"),
    // Raw mode: bytes as typed, no line editing, no echo.
    Step::Send("raw\r"),
    Step::Expect("ttyecho: raw mode"),
    Step::Send("\x01\x7f\r"),
    Step::Expect("ttyecho: raw [01 7f 0d]"),
    // Ctrl-D at the start of a line: end of file.
    Step::Send("\x04"),
    Step::Expect("ttyecho: eof after 5 lines"),
    Step::Expect("init: /bin/ttyecho exited with status 0"),
];

/// Boots the test kernel with `init` running `/bin/ttyecho` and plays
/// [`TTYECHO`].
pub fn ttyecho_session(requested: Option<Accel>) -> Result<ExitCode, String> {
    let kernel = build::kernel(build::Profile::Dev, build::TEST_FEATURES)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(requested, &kernel);
    let boot = Boot::new(&kernel, accel, "log=warn -- run /bin/ttyecho").initrd(&initrd);
    println!(
        "xtask: console session: /bin/ttyecho, {} steps typed and read",
        TTYECHO.len()
    );
    let transcript = run_script(&boot, TTYECHO)?;
    Ok(match transcript.failure {
        None => {
            println!("xtask: console session: every step seen");
            ExitCode::SUCCESS
        }
        Some(failure) => {
            println!("xtask: console session FAILED: {failure}; the screen:");
            println!("{}", transcript.screen);
            ExitCode::FAILURE
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_match_in_order_only() {
        let screen = "ttyecho: ready\r\nttyecho: line 1 [a]\r\n";
        let after_ready = find_after(screen, 0, "ready").unwrap();
        assert!(find_after(screen, after_ready, "line 1 [a]").is_some());
        // Text before the last match does not satisfy a later wait.
        let after_line = find_after(screen, after_ready, "line 1").unwrap();
        assert_eq!(find_after(screen, after_line, "ready"), None);
    }
}
