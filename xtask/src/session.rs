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
    /// Type `line` and Enter at a shell whose prompt is `prompt`; what the
    /// command prints (from the end of the echoed line to the next
    /// prompt, `\r\n` read as `\n`) must be exactly `output`.
    Command {
        line: &'a str,
        output: &'a str,
        prompt: &'a str,
    },
    /// Let this many milliseconds of host time pass (for a command to get
    /// going before a key interrupts it; never a measurement).
    Pause(u64),
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
    let mut failure = None;
    let mut from = 0;
    for (index, step) in steps.iter().enumerate() {
        match *step {
            Step::Send(bytes) => {
                if type_bytes(&mut stdin, bytes).is_err() {
                    failure = Some(format!("step {index}: QEMU stopped reading input"));
                }
            }
            Step::Expect(wanted) => match wait_for(&mut child, &screen, from, wanted) {
                Some(end) => from = end,
                None => failure = Some(format!("step {index}: never saw {wanted:?}")),
            },
            Step::Command {
                line,
                output,
                prompt,
            } => {
                if type_bytes(&mut stdin, &format!("{line}\r")).is_err() {
                    failure = Some(format!("step {index}: QEMU stopped reading input"));
                } else {
                    match command_output(&mut child, &screen, from, line, prompt) {
                        Ok((seen, end)) if seen == output => from = end,
                        Ok((seen, _)) => {
                            failure = Some(format!(
                                "step {index}: `{line}` printed {seen:?}, expected {output:?}"
                            ));
                        }
                        Err(why) => failure = Some(format!("step {index}: `{line}`: {why}")),
                    }
                }
            }
            Step::Pause(ms) => std::thread::sleep(Duration::from_millis(ms)),
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
        screen: screen_text(&screen),
        failure,
    })
}

/// Types `bytes` one at a time, as a person would: the UART's receive
/// FIFO holds 16, and a real user types slower than the kernel drains it.
fn type_bytes(stdin: &mut std::process::ChildStdin, bytes: &str) -> std::io::Result<()> {
    for byte in bytes.bytes() {
        stdin.write_all(&[byte])?;
        stdin.flush()?;
        std::thread::sleep(Duration::from_millis(2));
    }
    Ok(())
}

/// The screen so far, as text.
fn screen_text(screen: &Mutex<Vec<u8>>) -> String {
    String::from_utf8_lossy(&screen.lock().map(|s| s.clone()).unwrap_or_default()).into_owned()
}

/// Waits (within [`STEP_GUARD`], while QEMU runs) for `wanted` after
/// `from`; returns where it ends.
fn wait_for(
    child: &mut std::process::Child,
    screen: &Mutex<Vec<u8>>,
    from: usize,
    wanted: &str,
) -> Option<usize> {
    let start = Instant::now();
    loop {
        if let Some(end) = find_after(&screen_text(screen), from, wanted) {
            return Some(end);
        }
        if start.elapsed() > STEP_GUARD || child.try_wait().ok().flatten().is_some() {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// After `line` was typed at `from`: waits for its echo and the end of
/// that line, then for the next `prompt`; returns what the command
/// printed in between (`\r\n` as `\n`) and where the prompt ends.
fn command_output(
    child: &mut std::process::Child,
    screen: &Mutex<Vec<u8>>,
    from: usize,
    line: &str,
    prompt: &str,
) -> Result<(String, usize), String> {
    let echoed = wait_for(child, screen, from, line).ok_or("never echoed")?;
    let start = wait_for(child, screen, echoed, "\n").ok_or("no new line after the echo")?;
    let end = wait_for(child, screen, start, prompt).ok_or("the prompt never came back")?;
    let text = screen_text(screen);
    let printed = text
        .get(start..end.saturating_sub(prompt.len()))
        .unwrap_or("");
    Ok((normalize(printed), end))
}

/// Terminal output as text lines: `\r\n` (the tty's ONLCR) as `\n`.
pub fn normalize(printed: &str) -> String {
    printed.replace("\r\n", "\n")
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
