//! The busybox shell session (issue 12, acceptance check 1): `init`'s
//! `shell` command runs Debian's busybox `sh` as a Linux program on the
//! console, and the host types a script into the serial port and compares
//! what each command prints exactly.
//!
//! Owns [`SHELL`] (the script) and [`shell_session`], the `shell session`
//! stage of `cargo xtask test`. The boot is interactive
//! ([`crate::qemu::Boot::interactive`]): an idle guest waits in host time,
//! so `sleep 100` lasts until the typed Ctrl-C ends it.

use crate::accel::{self, Accel};
use crate::build;
use crate::qemu::Boot;
use crate::session::{run_script, Step};
use std::process::ExitCode;

/// busybox ash's prompt for root in `/` (`PS1='\w \$ '`).
const PROMPT: &str = "/ # ";

/// A command at [`PROMPT`] and exactly what it prints.
const fn command<'a>(line: &'a str, output: &'a str) -> Step<'a> {
    Step::Command {
        line,
        output,
        prompt: PROMPT,
    }
}

/// The script: the issue's list, in order.
pub const SHELL: &[Step<'static>] = &[
    Step::Expect(PROMPT),
    // The initrd's root. The clock starts at the epoch (no RTC is read),
    // so ls shows the time of day; directories have one link (the file
    // system keeps no `.`/`..` links); no /etc/passwd, so numeric owners.
    command(
        "ls -l /",
        "total 1\n\
         drwxr-xr-x    1 0        0                0 Jan  1 00:00 bin\n\
         drwxr-xr-x    1 0        0                0 Jan  1 00:00 dev\n\
         drwxr-xr-x    1 0        0                0 Jan  1 00:00 etc\n\
         drwxr-xr-x    1 0        0                0 Jan  1 00:00 tmp\n",
    ),
    command("echo hi > f; cat f", "hi\n"),
    command("cat f | wc -c", "3\n"),
    command(
        "for i in 1 2 3 4; do echo $((i * i + 1)); done",
        "2\n5\n10\n17\n",
    ),
    command("mkdir -p a/b && rm -r a && echo gone", "gone\n"),
    command("ls a", "ls: a: No such file or directory\n"),
    command(
        "printf 'pear\\napple\\nfig\\n' | sort",
        "apple\nfig\npear\n",
    ),
    command("printf 'one\\ntwo\\nthree\\n' | grep t", "two\nthree\n"),
    command("echo hello | sed s/l/L/g", "heLLo\n"),
    command(
        "mkdir -p d/e && echo x > d/e/x && find d && rm -r d",
        "d\nd/e\nd/e/x\n",
    ),
    // With job control the shell reports the finished job at the prompt.
    command(
        "true & wait; echo $?",
        "0\n[1]+  Done                       true\n",
    ),
    command("false; echo $?", "1\n"),
    // Ctrl-C ends the foreground `sleep` with SIGINT (status 128 + 2).
    Step::Send("sleep 100\r"),
    Step::Pause(3000),
    Step::Send("\x03"),
    Step::Expect(PROMPT),
    command("echo $?", "130\n"),
    Step::Send("exit 3\r"),
    Step::Expect("init: /bin/sh exited with status 3"),
];

/// Boots the test kernel with `init` running `shell` and plays [`SHELL`].
pub fn shell_session(requested: Option<Accel>) -> Result<ExitCode, String> {
    let kernel = build::kernel(build::Profile::Dev, build::TEST_FEATURES)?;
    let initrd = build::initrd()?;
    let accel = accel::choose(requested, &kernel);
    let boot = Boot::new(&kernel, accel, "log=warn -- shell")
        .initrd(&initrd)
        .interactive(true);
    println!(
        "xtask: shell session: busybox sh, {} steps typed and read",
        SHELL.len()
    );
    let transcript = run_script(&boot, SHELL)?;
    Ok(match transcript.failure {
        None => {
            println!("xtask: shell session: every command printed what it should");
            ExitCode::SUCCESS
        }
        Some(failure) => {
            println!("xtask: shell session FAILED: {failure}; the screen:");
            println!("{}", transcript.screen);
            ExitCode::FAILURE
        }
    })
}
