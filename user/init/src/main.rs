//! `init`: the first program, running the paper's demo.
//!
//! Prints a banner, then spawns `/bin/prog1` and `/bin/prog2` one after
//! the other, waits for each and reports its status:
//!
//! ```text
//! init: Synthesis demo: Programs 1 and 2 of the paper (/bin/prog1, /bin/prog2)
//! ...the child's output...
//! init: prog1 exited with status 0
//! ...
//! init: prog2 exited with status 0
//! ```
//!
//! A child that cannot be spawned or waited for gets one line
//! `init: <name> failed: <error>` instead. Exit status 0 if both children
//! exited with 0, else 1. `init` takes no start argument.
#![no_std]
#![no_main]

use sk_user::{println, Smach, SysError};

sk_user::entry!(main);

/// The demo's programs, in order: (name, path in the initrd).
const PROGRAMS: [(&str, &str); 2] = [("prog1", "/bin/prog1"), ("prog2", "/bin/prog2")];

fn main() -> i32 {
    println!("init: Synthesis demo: Programs 1 and 2 of the paper (/bin/prog1, /bin/prog2)");
    let mut is_all_ok = true;
    for (name, path) in PROGRAMS {
        match run(path) {
            Ok(status) => {
                println!("init: {name} exited with status {status}");
                is_all_ok &= status == 0;
            }
            Err(error) => {
                println!("init: {name} failed: {error}");
                is_all_ok = false;
            }
        }
    }
    i32::from(!is_all_ok)
}

/// Spawns `path`, waits for it, frees its handle; returns its exit status.
fn run(path: &str) -> Result<i32, SysError> {
    let child = Smach::spawn(path)?;
    let status = child.wait();
    // The exited child's handle stays until terminated; free it either way.
    let _ = child.terminate();
    status
}
