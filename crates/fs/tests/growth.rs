//! File growth: in place when the store can (the address stays, nothing
//! is copied), and bounded per call with `make_room` (at most
//! `GROWTH_STEP_BYTES` of new capacity, progress on every step).
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

mod support;

use sk_fs::{CreateMode, EventKind, FileSystem, FsError, Limits, NodeId, Room, GROWTH_STEP_BYTES};
use support::Reserving;

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;

/// A file system whose buffers come from a fresh fake with reservations of
/// 1 MiB and 1 GiB (the kernel's), and a file in it.
fn with_reserving(limits: Limits) -> (FileSystem, &'static Reserving, NodeId) {
    let allocator = Reserving::leaked(MIB as usize, 1 << 30);
    let mut fs = FileSystem::with_limits(limits).unwrap();
    fs.set_data_allocator(allocator);
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    (fs, allocator, file)
}

fn data_moved(fs: &mut FileSystem) -> usize {
    fs.take_events()
        .filter(|event| event.kind == EventKind::DataMoved)
        .count()
}

#[test]
fn growth_keeps_the_data_address_and_never_copies() {
    let (mut fs, allocator, file) = with_reserving(Limits::DEFAULT);
    let piece = vec![0x5a_u8; 64 * KIB as usize];
    let mut addresses = Vec::new();
    let mut capacities = Vec::new();
    for index in 0..128_u64 {
        fs.write(file, index * 64 * KIB, &piece).unwrap();
        let layout = fs.data_layout(file).unwrap();
        if capacities.last() != Some(&layout.capacity) {
            addresses.push(layout.data_addr);
            capacities.push(layout.capacity);
        }
    }
    // 64 KiB doubled to 1 MiB in its small reservation, then one move to
    // a large one (a copy of 1 MiB), then 1 MiB steps in place.
    let expected: Vec<u64> = [64 * KIB, 128 * KIB, 256 * KIB, 512 * KIB]
        .into_iter()
        .chain((1..=8).map(|mib| mib * MIB))
        .collect();
    assert_eq!(capacities, expected);
    assert_eq!(
        allocator.log().allocations,
        [(64 * KIB as usize, 64 * KIB as usize), (2 << 20, 2 << 20)],
        "one store in each reservation class: the only copy is of the 1 MiB file"
    );
    assert!(addresses[..5].iter().all(|&a| a == addresses[0]));
    assert!(addresses[5..].iter().all(|&a| a == addresses[5]));
    assert_ne!(addresses[0], addresses[5]);
    assert!(allocator
        .log()
        .growths
        .iter()
        .all(|&bytes| bytes as u64 <= GROWTH_STEP_BYTES));
    assert_eq!(data_moved(&mut fs), expected.len());
    let mut back = vec![0_u8; 8 * MIB as usize];
    assert_eq!(fs.read(file, 0, &mut back).unwrap(), back.len());
    assert!(back.iter().all(|&b| b == 0x5a));
}

#[test]
fn a_far_write_gets_a_large_reservation_at_once() {
    let (mut fs, allocator, file) = with_reserving(Limits::DEFAULT);
    fs.write(file, 64 * MIB, b"z").unwrap();
    assert_eq!(
        allocator.log().allocations,
        [(64 * MIB as usize + 1, 64 * MIB as usize + 1)]
    );
    let address = fs.data_layout(file).unwrap().data_addr;
    fs.write(file, 64 * MIB + 1, &[1; 4096]).unwrap();
    let layout = fs.data_layout(file).unwrap();
    assert_eq!(layout.data_addr, address, "grown in place");
    assert_eq!(layout.capacity, 65 * MIB + 1);
    let mut gap = vec![0xff_u8; 4096];
    fs.read(file, 32 * MIB, &mut gap).unwrap();
    assert!(gap.iter().all(|&b| b == 0));
}

/// Calls `make_room` toward `end` until it is ready; checks every step
/// grew the capacity by 1..=GROWTH_STEP_BYTES; returns the steps that said
/// `Growing`.
fn make_room_all_the_way(fs: &mut FileSystem, file: NodeId, end: u64) -> usize {
    let mut growing = 0;
    loop {
        let before = fs.data_layout(file).unwrap().capacity;
        let room = fs.make_room(file, end).unwrap();
        let after = fs.data_layout(file).unwrap().capacity;
        assert!(
            after > before || (room == Room::Ready && before >= end),
            "every call that is not ready grows"
        );
        assert!(after - before <= GROWTH_STEP_BYTES, "{before} -> {after}");
        match room {
            Room::Ready => {
                assert!(after >= end);
                return growing;
            }
            Room::Growing => {
                assert!(after < end);
                growing += 1;
            }
        }
    }
}

#[test]
fn make_room_grows_by_at_most_one_step_in_place() {
    let (mut fs, allocator, file) = with_reserving(Limits::DEFAULT);
    let end = 64 * MIB + 1;
    assert_eq!(make_room_all_the_way(&mut fs, file, end), 64);
    assert_eq!(
        allocator.log().allocations,
        [(MIB as usize, end as usize)],
        "a large reservation at once: the reach says where it is going"
    );
    assert_eq!(data_moved(&mut fs), 65, "one event per growth");
    assert_eq!(fs.stat(file).unwrap().size_bytes, 0, "room is not size");
    // Ready without growth: no event.
    assert_eq!(fs.make_room(file, end), Ok(Room::Ready));
    assert_eq!(data_moved(&mut fs), 0);
    fs.write(file, end - 1, b"!").unwrap();
    assert_eq!(data_moved(&mut fs), 0, "the room was made");
    let mut gap = [0xff_u8; 64];
    fs.read(file, 32 * MIB, &mut gap).unwrap();
    assert_eq!(gap, [0; 64]);
}

#[test]
fn make_room_is_bounded_on_the_heap_too() {
    // Heap buffers move on every growth, but still by at most one step.
    let mut fs = FileSystem::new().unwrap();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.write(file, 0, b"kept").unwrap();
    assert_eq!(make_room_all_the_way(&mut fs, file, 5 * MIB), 4);
    let mut kept = [0_u8; 4];
    fs.read(file, 0, &mut kept).unwrap();
    assert_eq!(&kept, b"kept");
}

#[test]
fn make_room_doubles_small_files() {
    let (mut fs, _, file) = with_reserving(Limits::DEFAULT);
    assert_eq!(fs.make_room(file, 10), Ok(Room::Ready));
    assert_eq!(fs.data_layout(file).unwrap().capacity, 4096);
    assert_eq!(fs.make_room(file, 5000), Ok(Room::Ready));
    assert_eq!(fs.data_layout(file).unwrap().capacity, 8192);
    assert_eq!(fs.make_room(file, 300 * KIB), Ok(Room::Ready));
    assert_eq!(fs.data_layout(file).unwrap().capacity, 300 * KIB);
    assert_eq!(fs.make_room(file, 300 * KIB + 1), Ok(Room::Ready));
    assert_eq!(fs.data_layout(file).unwrap().capacity, 600 * KIB);
}

#[test]
fn make_room_settles_for_what_is_needed_when_memory_is_short() {
    let (mut fs, allocator, file) = with_reserving(Limits::DEFAULT);
    fs.write(file, 4 * MIB - 1, b"x").unwrap();
    assert_eq!(fs.data_layout(file).unwrap().capacity, 4 * MIB);
    allocator.set_budget(100 * KIB as usize);
    // The policy prefers 5 MiB; 64 KiB more is all there is room for.
    assert_eq!(fs.make_room(file, 4 * MIB + 64 * KIB), Ok(Room::Ready));
    assert_eq!(fs.data_layout(file).unwrap().capacity, 4 * MIB + 64 * KIB);
    // Past the budget: nothing changes, no event.
    fs.take_events().for_each(drop);
    assert_eq!(
        fs.make_room(file, 4 * MIB + 128 * KIB),
        Err(FsError::OutOfMemory)
    );
    assert_eq!(fs.data_layout(file).unwrap().capacity, 4 * MIB + 64 * KIB);
    assert_eq!(fs.pending_events(), 0);
}

#[test]
fn make_room_errors_change_nothing() {
    let limits = Limits {
        max_file_bytes: 8 * MIB,
        max_total_bytes: 3 * MIB,
        ..Limits::DEFAULT
    };
    let (mut fs, _, file) = with_reserving(limits);
    fs.take_events().for_each(drop);
    let generation = fs.stat(file).unwrap().layout_generation;
    assert_eq!(fs.make_room(file, 8 * MIB + 1), Err(FsError::FileTooLarge));
    // The quota is checked against the end, before any step.
    assert_eq!(fs.make_room(file, 4 * MIB), Err(FsError::NoSpace));
    assert_eq!(fs.data_layout(file).unwrap().capacity, 0);
    assert_eq!(fs.make_room(fs.root(), 1), Err(FsError::IsDir));
    assert_eq!(fs.pending_events(), 0);
    assert_eq!(fs.stat(file).unwrap().layout_generation, generation);
    fs.unlink("/f").unwrap();
    assert_eq!(fs.make_room(file, 1), Err(FsError::StaleNode));
}

#[test]
fn buffers_go_back_to_the_allocator() {
    let (mut fs, allocator, file) = with_reserving(Limits::DEFAULT);
    allocator.set_budget(16 * MIB as usize);
    make_room_all_the_way(&mut fs, file, 3 * MIB);
    let other = fs.create("/g", CreateMode::Exclusive).unwrap();
    let mut room = Ok(Room::Growing);
    while room == Ok(Room::Growing) {
        room = fs.make_room(other, 14 * MIB);
    }
    assert_eq!(room, Err(FsError::OutOfMemory));
    assert_eq!(fs.data_layout(other).unwrap().capacity, 13 * MIB);
    fs.unlink("/f").unwrap();
    assert_eq!(make_room_all_the_way(&mut fs, other, 16 * MIB), 2);
}

#[test]
fn cut_toward_cuts_one_step_at_a_time_and_keeps_the_rest() {
    let (mut fs, _, file) = with_reserving(Limits::DEFAULT);
    let size = 5 * MIB + 123;
    let bytes: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    fs.write(file, 0, &bytes).unwrap();
    fs.take_events().for_each(drop);
    let mut sizes = Vec::new();
    while fs.cut_toward(file, 0).unwrap() == sk_fs::Cut::Cutting {
        let now = fs.stat(file).unwrap().size_bytes;
        sizes.push(now);
        let truncated = fs
            .take_events()
            .filter(|event| event.kind == EventKind::Truncated)
            .count();
        assert_eq!(truncated, 1, "each cut raises one Truncated event");
    }
    assert_eq!(
        sizes,
        [4 * MIB + 123, 3 * MIB + 123, 2 * MIB + 123, MIB + 123, 123]
    );
    let mut kept = vec![0_u8; 123];
    assert_eq!(fs.read(file, 0, &mut kept).unwrap(), kept.len());
    assert_eq!(kept, bytes[..kept.len()], "the bytes below the cut stay");
    // The cut-off bytes were zeroed: growing the size again shows zeros.
    fs.truncate(file, 2 * MIB).unwrap();
    let mut regrown = vec![0xff_u8; MIB as usize];
    fs.read(file, 123, &mut regrown).unwrap();
    assert!(
        regrown.iter().all(|&b| b == 0),
        "cut-off bytes read as zero"
    );
    assert_eq!(fs.cut_toward(file, MIB).unwrap(), sk_fs::Cut::Near);
    assert_eq!(fs.cut_toward(file, 0).unwrap(), sk_fs::Cut::Cutting);
    assert_eq!(fs.stat(file).unwrap().size_bytes, MIB);
    assert_eq!(fs.cut_toward(file, 0).unwrap(), sk_fs::Cut::Near);
}
