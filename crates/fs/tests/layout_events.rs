//! The synthesizer's contract: stable data layout, size cell, invalidation
//! events, and a file of at least 64 MiB.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use core::sync::atomic::Ordering;

use sk_fs::{CreateMode, EventKind, FileSystem, FsError, FsEvent, NodeId};

fn kinds(fs: &mut FileSystem) -> Vec<(NodeId, EventKind)> {
    fs.take_events()
        .map(|event| (event.node, event.kind))
        .collect()
}

#[test]
fn growth_within_capacity_keeps_layout_and_raises_nothing() {
    let mut fs = FileSystem::new().unwrap();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.reserve(file, 1 << 16).unwrap();
    assert_eq!(kinds(&mut fs), [(file, EventKind::DataMoved)]);
    let layout = fs.data_layout(file).unwrap();
    assert_eq!(layout.capacity, 1 << 16);
    for chunk in 0..64_u64 {
        fs.write(file, chunk * 1024, &[chunk as u8; 1024]).unwrap();
    }
    fs.truncate(file, 100).unwrap();
    fs.truncate(file, 1 << 16).unwrap();
    assert_eq!(fs.data_layout(file).unwrap().data_addr, layout.data_addr);
    assert_eq!(fs.data_layout(file).unwrap().capacity, layout.capacity);
    assert_eq!(
        kinds(&mut fs),
        [(file, EventKind::Truncated), (file, EventKind::Truncated)]
    );
}

#[test]
fn growth_past_capacity_moves_data_and_bumps_generation() {
    let mut fs = FileSystem::new().unwrap();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.write(file, 0, b"x").unwrap();
    let before = fs.data_layout(file).unwrap();
    assert_eq!(before.capacity, sk_fs::MIN_GROWTH_CAPACITY_BYTES);
    fs.take_events().for_each(drop);
    fs.write(file, before.capacity, b"y").unwrap();
    let after = fs.data_layout(file).unwrap();
    assert_eq!(after.capacity, 2 * before.capacity, "doubling policy");
    assert_eq!(
        after.size_cell_addr, before.size_cell_addr,
        "size cell never moves"
    );
    assert!(after.layout_generation > before.layout_generation);
    let events: Vec<FsEvent> = fs.take_events().collect();
    assert_eq!(
        events,
        [FsEvent {
            node: file,
            kind: EventKind::DataMoved,
            layout_generation: after.layout_generation
        }]
    );
    assert_eq!(
        fs.stat(file).unwrap().layout_generation,
        after.layout_generation
    );
    assert_eq!(fs.pending_events(), 0);
}

#[test]
fn size_cell_is_the_one_the_file_system_reads() {
    let mut fs = FileSystem::new().unwrap();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.reserve(file, 4096).unwrap();
    fs.write(file, 0, b"abc").unwrap();
    let layout = fs.data_layout(file).unwrap();
    let cell = fs.size_cell(file).unwrap();
    assert_eq!(core::ptr::from_ref(cell) as u64, layout.size_cell_addr);
    assert_eq!(cell.load(Ordering::Acquire), 3);
    // What a synthesized write does after storing its bytes within capacity.
    cell.store(100, Ordering::Release);
    assert_eq!(fs.stat(file).unwrap().size_bytes, 100);
    let mut buf = [0xff_u8; 100];
    assert_eq!(fs.read(file, 0, &mut buf).unwrap(), 100);
    assert_eq!(&buf[..3], b"abc");
    assert!(
        buf[3..].iter().all(|&byte| byte == 0),
        "tail-zero invariant"
    );
    // A size past the capacity (a buggy writer) is clamped, never trusted.
    fs.size_cell(file)
        .unwrap()
        .store(1 << 40, Ordering::Release);
    assert_eq!(fs.stat(file).unwrap().size_bytes, 4096);
}

#[test]
fn unlink_and_close_raise_unlinked_then_freed() {
    let mut fs = FileSystem::new().unwrap();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    let open = fs.open(file).unwrap();
    fs.unlink("/f").unwrap();
    assert_eq!(kinds(&mut fs), [(file, EventKind::Unlinked)]);
    fs.close(open).unwrap();
    assert_eq!(kinds(&mut fs), [(file, EventKind::Freed)]);
    let closed = fs.create("/g", CreateMode::Exclusive).unwrap();
    fs.unlink("/g").unwrap();
    assert_eq!(
        kinds(&mut fs),
        [(closed, EventKind::Unlinked), (closed, EventKind::Freed)]
    );
    assert_eq!(fs.data_layout(closed), Err(FsError::StaleNode));
}

#[test]
fn rename_over_a_file_raises_renamed_unlinked_freed() {
    let mut fs = FileSystem::new().unwrap();
    let source = fs.create("/a", CreateMode::Exclusive).unwrap();
    let target = fs.create("/b", CreateMode::Exclusive).unwrap();
    fs.rename("/a", "/b").unwrap();
    assert_eq!(
        kinds(&mut fs),
        [
            (source, EventKind::Renamed),
            (target, EventKind::Unlinked),
            (target, EventKind::Freed)
        ]
    );
    let dir = fs.mkdir("/d").unwrap();
    fs.rmdir("/d").unwrap();
    assert_eq!(
        kinds(&mut fs),
        [(dir, EventKind::Unlinked), (dir, EventKind::Freed)]
    );
}

#[test]
fn growing_truncate_past_capacity_raises_data_moved_then_truncated() {
    let mut fs = FileSystem::new().unwrap();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.truncate(file, 10).unwrap();
    assert_eq!(
        kinds(&mut fs),
        [(file, EventKind::DataMoved), (file, EventKind::Truncated)]
    );
    fs.reserve(file, 5).unwrap();
    assert_eq!(kinds(&mut fs), [], "reserve within capacity raises nothing");
}

#[test]
fn failed_calls_raise_no_events() {
    let mut fs = FileSystem::new().unwrap();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.mkdir("/d").unwrap();
    fs.create("/d/x", CreateMode::Exclusive).unwrap();
    fs.take_events().for_each(drop);
    let generation = fs.stat(file).unwrap().layout_generation;
    assert!(fs.rename("/f", "/d").is_err());
    assert!(fs.rmdir("/d").is_err());
    assert!(fs.write(file, u64::MAX - 1, b"xy").is_err());
    assert!(fs.truncate(file, u64::MAX).is_err());
    assert_eq!(fs.pending_events(), 0);
    assert_eq!(fs.stat(file).unwrap().layout_generation, generation);
}

#[test]
fn file_of_64_mib_round_trips() {
    const MIB: usize = 1 << 20;
    const TOTAL_MIB: usize = 64;
    let mut fs = FileSystem::new().unwrap();
    let file = fs.create("/big", CreateMode::Exclusive).unwrap();
    let mut chunk = vec![0u8; MIB];
    for index in 0..TOTAL_MIB {
        // Each chunk is distinct: its index in every byte, and a marker at its end.
        chunk.fill(index as u8);
        chunk[MIB - 8..].copy_from_slice(&(index as u64).to_le_bytes());
        assert_eq!(fs.write(file, (index * MIB) as u64, &chunk).unwrap(), MIB);
    }
    let stat = fs.stat(file).unwrap();
    assert_eq!(stat.size_bytes, (TOTAL_MIB * MIB) as u64);
    assert_eq!(
        stat.capacity_bytes,
        (TOTAL_MIB * MIB) as u64,
        "1 MiB steps from 1 MiB land on 64 MiB"
    );
    let growths = fs
        .take_events()
        .filter(|event| event.kind == EventKind::DataMoved)
        .count();
    assert_eq!(
        growths, TOTAL_MIB,
        "the capacity grows by at most GROWTH_STEP_BYTES (1 MiB) at a time"
    );
    for index in [0, 1, 17, 31, 32, 63] {
        let mut buf = [0u8; 16];
        let offset = (index * MIB + MIB - 16) as u64;
        assert_eq!(fs.read(file, offset, &mut buf).unwrap(), 16);
        assert!(buf[..8].iter().all(|&byte| byte == index as u8));
        assert_eq!(
            u64::from_le_bytes(buf[8..].try_into().unwrap()),
            index as u64
        );
    }
    let mut tail = [0u8; 32];
    assert_eq!(
        fs.read(file, (TOTAL_MIB * MIB - 8) as u64, &mut tail)
            .unwrap(),
        8
    );
    fs.unlink("/big").unwrap();
    assert_eq!(fs.total_capacity_bytes(), 0);
}
