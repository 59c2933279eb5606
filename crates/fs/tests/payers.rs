//! Who pays for a file's memory (`fs::payers`): a paid file grows only
//! within its payer's grant, the refusal says what it wanted, a payer's
//! charge is what its live files hold (unlink and last close return it),
//! and an heir takes a payer's files.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use proptest::prelude::*;
use sk_fs::{
    frames_of, CreateMode, FileSystem, FsError, RefusedGrowth, Room, FRAME_BYTES, NO_PAYER,
};

const PAYER: u64 = 7;
const HEIR: u64 = 3;

fn paid_file(fs: &mut FileSystem, path: &str) -> sk_fs::NodeId {
    let node = fs.create(path, CreateMode::Exclusive).unwrap();
    fs.set_payer(node, PAYER).unwrap();
    node
}

#[test]
fn an_unpaid_file_grows_without_a_grant() {
    let mut fs = FileSystem::new().unwrap();
    let node = fs.create("/free", CreateMode::Exclusive).unwrap();
    assert_eq!(fs.payer(node), Ok(NO_PAYER));
    assert_eq!(fs.write(node, 0, &[1; 10_000]), Ok(10_000));
    assert_eq!(fs.paid_frames(NO_PAYER), 0);
    assert_eq!(fs.take_refused_growth(), None);
}

#[test]
fn a_paid_file_grows_only_within_its_grant() {
    let mut fs = FileSystem::new().unwrap();
    let node = paid_file(&mut fs, "/paid");
    // No grant: refused, nothing changed, the refusal says what it wanted.
    assert_eq!(fs.write(node, 0, &[1; 5000]), Err(FsError::OverBudget));
    assert_eq!(fs.stat(node).unwrap().capacity_bytes, 0);
    let refused = fs.take_refused_growth().unwrap();
    assert_eq!(refused.payer, PAYER);
    assert_eq!(refused.needed_frames, 2);
    assert!(refused.preferred_frames >= 2);
    assert_eq!(fs.take_refused_growth(), None, "taken once");
    // A grant of one frame is too small for two.
    let small = fs.with_growth_grant(PAYER, 1, |fs| fs.write(node, 0, &[1; 5000]));
    assert_eq!(small, Err(FsError::OverBudget));
    // Two frames are enough, whatever the doubling would have liked.
    let ok = fs.with_growth_grant(PAYER, 2, |fs| fs.write(node, 0, &[1; 5000]));
    assert_eq!(ok, Ok(5000));
    assert_eq!(fs.paid_frames(PAYER), 2);
    // The grant ended with the call.
    assert_eq!(fs.write(node, 5000, &[1; 8000]), Err(FsError::OverBudget));
    // A grant for another payer does not count.
    let other = fs.with_growth_grant(HEIR, 100, |fs| fs.write(node, 5000, &[1; 8000]));
    assert_eq!(other, Err(FsError::OverBudget));
    // Truncate and reserve are growth too.
    assert_eq!(fs.truncate(node, 1 << 20), Err(FsError::OverBudget));
    assert_eq!(fs.reserve(node, 1 << 20), Err(FsError::OverBudget));
    assert_eq!(fs.paid_frames(PAYER), 2);
}

#[test]
fn make_room_takes_what_the_grant_allows() {
    let mut fs = FileSystem::new().unwrap();
    let node = paid_file(&mut fs, "/steps");
    let got = fs.with_growth_grant(PAYER, 3, |fs| fs.make_room(node, 3 * FRAME_BYTES));
    assert_eq!(got, Ok(Room::Ready));
    assert!(fs.paid_frames(PAYER) <= 3);
    let more = fs.with_growth_grant(PAYER, 0, |fs| fs.make_room(node, 4 * FRAME_BYTES));
    assert_eq!(more, Err(FsError::OverBudget));
}

#[test]
fn unlink_and_last_close_return_the_charge_and_an_heir_takes_it() {
    let mut fs = FileSystem::new().unwrap();
    let a = paid_file(&mut fs, "/a");
    let b = paid_file(&mut fs, "/b");
    for node in [a, b] {
        fs.with_growth_grant(PAYER, 4, |fs| fs.write(node, 0, &[2; 4 * 4096]))
            .unwrap();
    }
    assert_eq!(fs.paid_frames(PAYER), 8);
    let open = fs.open(b).unwrap();
    fs.unlink("/a").unwrap();
    fs.unlink("/b").unwrap();
    // `b` is still open: still held, still paid for.
    assert_eq!(fs.paid_frames(PAYER), 4);
    assert_eq!(fs.pass_charges(PAYER, HEIR), 1);
    assert_eq!((fs.paid_frames(PAYER), fs.paid_frames(HEIR)), (0, 4));
    fs.close(open).unwrap();
    assert_eq!(fs.paid_frames(HEIR), 0);
    assert_eq!(
        fs.pass_charges(NO_PAYER, HEIR),
        0,
        "nobody's files pass to no one"
    );
}

#[test]
fn a_directory_has_no_payer() {
    let mut fs = FileSystem::new().unwrap();
    let dir = fs.mkdir("/d").unwrap();
    assert_eq!(fs.set_payer(dir, PAYER), Err(FsError::IsDir));
}

proptest! {
    /// Random writes and truncates of paid files under random grants: a
    /// file's capacity never grows by more frames than its grant in one
    /// call, a refused call changes nothing and leaves a refusal, and the
    /// payer's charge is always the frames of its files' capacities.
    #[test]
    fn growth_never_passes_the_grant(
        ops in proptest::collection::vec((0_usize..3, 0_u64..40_000, 1_usize..9000, 0_u64..12, any::<bool>()), 1..40)
    ) {
        let mut fs = FileSystem::new().unwrap();
        let nodes: Vec<_> = (0..3).map(|i| paid_file(&mut fs, &format!("/f{i}"))).collect();
        for (which, offset, len, grant, truncate) in ops {
            let node = nodes[which];
            let before = fs.stat(node).unwrap();
            let result = fs.with_growth_grant(PAYER, grant, |fs| {
                if truncate {
                    fs.truncate(node, offset).map(|()| 0)
                } else {
                    fs.write(node, offset, &vec![9; len])
                }
            });
            let after = fs.stat(node).unwrap();
            let grew = frames_of(after.capacity_bytes) - frames_of(before.capacity_bytes);
            prop_assert!(grew <= grant, "grew {grew} frames on a grant of {grant}");
            match result {
                Err(FsError::OverBudget) => {
                    prop_assert_eq!(after, before);
                    let refused: Option<RefusedGrowth> = fs.take_refused_growth();
                    prop_assert!(refused.is_some_and(|r| r.payer == PAYER && r.needed_frames > grant));
                }
                other => prop_assert!(other.is_ok(), "{other:?}"),
            }
            let held: u64 = nodes
                .iter()
                .map(|&n| frames_of(fs.stat(n).unwrap().capacity_bytes))
                .sum();
            prop_assert_eq!(fs.paid_frames(PAYER), held);
        }
    }
}
