//! SIO views (`/bin/viewtest`, see its module doc for each mode), each on
//! the synthesized path and with every call forced down the generic path:
//! windows at depths 1-3, hostile cases, a differential fuzz aimed at the
//! window edges, invalidation while a child loops, a file truncated and
//! grown under a window.

use super::programs::run;
use alloc::string::String;
use sk_ktest::{ensure_eq, ktest};

fn viewtest(mode: u64, generic: bool, param: u64) -> Result<i32, String> {
    run(
        "/bin/viewtest",
        (mode << 40) | (u64::from(generic) << 32) | (param & 0xffff_ffff),
    )
}

fn both(mode: u64, param: u64) -> Result<(), String> {
    for generic in [false, true] {
        ensure_eq!(viewtest(mode, generic, param)?, 0);
    }
    Ok(())
}

ktest!(
    fn views_windows_of_a_file_and_dev_mem_at_depth_1_to_3() {
        both(0, 0)
    }
);

ktest!(
    fn views_hostile_closed_parent_revoked_view_bad_buffer() {
        both(1, 0)
    }
);

ktest!(
    fn views_fuzz_synthesized_and_generic_agree_at_the_window_edges() {
        // The fuzz compares the table route with the forced generic one
        // itself: one run.
        ensure_eq!(viewtest(2, false, 1500)?, 0);
        Ok(())
    }
);

ktest!(
    fn views_shrink_and_revoke_while_a_child_loops_replug_its_routines() {
        both(3, 0)
    }
);

ktest!(
    fn views_truncate_and_growth_of_the_file_replug_a_window() {
        both(4, 0)
    }
);

/// What `viewtest` mode 5 writes through its prefix views, as the console
/// carries it (cooked: `\n` as `\r\n`): each line with the prefixes of
/// the chain it went through, the tty's nearest first.
const PREFIXED: &[u8] =
    b"[child-a] hello\r\n[child-a] world\r\n[child-a] [x] deep\r\n[child-a] \r\n";

ktest!(
    fn views_prefix_views_prefix_every_line_byte_for_byte() {
        for generic in [false, true] {
            sk_core::testing::start_console_capture();
            let status = viewtest(5, generic, 0);
            let out = sk_core::testing::take_console_capture();
            ensure_eq!(status?, 0);
            ensure_eq!(
                alloc::string::String::from_utf8_lossy(&out),
                alloc::string::String::from_utf8_lossy(PREFIXED)
            );
        }
        Ok(())
    }
);

/// Makes `/jail` (with `/jail/inside`) and `/secret` for `viewtest` mode 6.
fn make_jail() -> Result<(), String> {
    sk_core::with_fs(|fs| {
        for dir in ["/jail"] {
            match fs.mkdir(dir) {
                Ok(_) | Err(sk_fs::FsError::Exists) => {}
                Err(e) => return Err(alloc::format!("mkdir {dir}: {e:?}")),
            }
        }
        for (path, bytes) in [
            ("/jail/inside", &b"inside the jail"[..]),
            ("/secret", b"SECRET"),
        ] {
            let node = fs
                .create(path, sk_fs::CreateMode::OpenExisting)
                .map_err(|e| alloc::format!("create {path}: {e:?}"))?;
            fs.write(node, 0, bytes)
                .map_err(|e| alloc::format!("write {path}: {e:?}"))?;
        }
        Ok(())
    })
}

ktest!(
    fn views_a_directory_as_a_childs_root_is_never_escaped() {
        make_jail()?;
        both(6, 0)?;
        // The child's `../made` landed inside the jail, not at the top.
        let (inside, outside) =
            sk_core::with_fs(|fs| (fs.lookup("/jail/made").is_ok(), fs.lookup("/made").is_ok()));
        ensure_eq!((inside, outside), (true, false));
        Ok(())
    }
);
