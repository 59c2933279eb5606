//! One test per file-system operation, with its error paths.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use sk_fs::{CreateMode, FileSystem, FsError, Limits, NodeKind};

fn fs() -> FileSystem {
    FileSystem::new().unwrap()
}

fn read_all(fs: &FileSystem, path: &str) -> Vec<u8> {
    let node = fs.lookup(path).unwrap();
    let mut buf = vec![0; usize::try_from(fs.stat(node).unwrap().size_bytes).unwrap()];
    assert_eq!(fs.read(node, 0, &mut buf).unwrap(), buf.len());
    buf
}

fn names(fs: &FileSystem, dir: &str) -> Vec<String> {
    let dir = fs.lookup(dir).unwrap();
    fs.readdir(dir)
        .unwrap()
        .map(|entry| entry.name.to_owned())
        .collect()
}

#[test]
fn new_file_system_has_only_the_root() {
    let fs = fs();
    assert_eq!(fs.lookup("/").unwrap(), fs.root());
    let stat = fs.stat(fs.root()).unwrap();
    assert_eq!(
        (stat.kind, stat.size_bytes, stat.link_count),
        (NodeKind::Directory, 0, 1)
    );
    assert_eq!(fs.node_count(), 1);
    assert_eq!(fs.readdir(fs.root()).unwrap().count(), 0);
}

#[test]
fn mkdir_nests_and_rejects_duplicates_and_missing_parents() {
    let mut fs = fs();
    let a = fs.mkdir("/a").unwrap();
    let b = fs.mkdir("/a/b").unwrap();
    assert_eq!(fs.lookup("/a/b").unwrap(), b);
    assert_eq!(
        fs.stat(a).unwrap().size_bytes,
        1,
        "a directory's size is its entry count"
    );
    assert_eq!(fs.mkdir("/a"), Err(FsError::Exists));
    assert_eq!(fs.mkdir("/"), Err(FsError::Exists));
    assert_eq!(fs.mkdir("/missing/c"), Err(FsError::NotFound));
    fs.create("/f", CreateMode::Exclusive).unwrap();
    assert_eq!(fs.mkdir("/f/c"), Err(FsError::NotDir));
    assert_eq!(fs.mkdir("/a/../c"), Err(FsError::BadPath));
    assert_eq!(fs.mkdir("relative"), Err(FsError::BadPath));
}

#[test]
fn create_exclusive_and_open_existing() {
    let mut fs = fs();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    assert_eq!(fs.create("/f", CreateMode::Exclusive), Err(FsError::Exists));
    assert_eq!(fs.create("/f", CreateMode::OpenExisting), Ok(file));
    fs.mkdir("/d").unwrap();
    assert_eq!(
        fs.create("/d", CreateMode::OpenExisting),
        Err(FsError::IsDir)
    );
    assert_eq!(fs.create("/d", CreateMode::Exclusive), Err(FsError::Exists));
    assert_eq!(
        fs.create("/", CreateMode::OpenExisting),
        Err(FsError::IsDir)
    );
    assert_eq!(
        fs.create("/f/x", CreateMode::Exclusive),
        Err(FsError::NotDir)
    );
    let stat = fs.stat(file).unwrap();
    assert_eq!(
        (stat.kind, stat.size_bytes, stat.capacity_bytes),
        (NodeKind::File, 0, 0)
    );
    assert_eq!((stat.link_count, stat.open_count), (1, 0));
}

#[test]
fn lookup_reports_walk_errors() {
    let mut fs = fs();
    fs.mkdir("/a").unwrap();
    fs.create("/a/f", CreateMode::Exclusive).unwrap();
    assert_eq!(fs.lookup("/a/g"), Err(FsError::NotFound));
    assert_eq!(fs.lookup("/b/g"), Err(FsError::NotFound));
    assert_eq!(fs.lookup("/a/f/g"), Err(FsError::NotDir));
    assert_eq!(fs.lookup("/a/"), Err(FsError::BadPath));
    assert_eq!(
        fs.lookup(&format!("/{}", "x".repeat(256))),
        Err(FsError::NameTooLong)
    );
}

#[test]
fn write_and_read_at_offsets() {
    let mut fs = fs();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    assert_eq!(fs.write(file, 0, b"hello world").unwrap(), 11);
    assert_eq!(fs.write(file, 6, b"WORLD").unwrap(), 5);
    assert_eq!(read_all(&fs, "/f"), b"hello WORLD");
    let mut buf = [0u8; 4];
    assert_eq!(fs.read(file, 3, &mut buf).unwrap(), 4);
    assert_eq!(&buf, b"lo W");
    assert_eq!(
        fs.read(file, 9, &mut buf).unwrap(),
        2,
        "short read at the end"
    );
    assert_eq!(fs.read(file, 11, &mut buf).unwrap(), 0);
    assert_eq!(fs.read(file, u64::MAX, &mut buf).unwrap(), 0);
    assert_eq!(fs.write(file, 0, b"").unwrap(), 0);
    assert_eq!(fs.stat(file).unwrap().size_bytes, 11);
}

#[test]
fn sparse_write_zero_fills_the_gap() {
    let mut fs = fs();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.write(file, 0, b"ab").unwrap();
    fs.write(file, 10_000, b"z").unwrap();
    let contents = read_all(&fs, "/f");
    assert_eq!(contents.len(), 10_001);
    assert_eq!(&contents[..2], b"ab");
    assert!(contents[2..10_000].iter().all(|&byte| byte == 0));
    assert_eq!(contents[10_000], b'z');
}

#[test]
fn write_errors() {
    let mut fs = FileSystem::with_limits(Limits {
        max_file_bytes: 100,
        ..Limits::DEFAULT
    })
    .unwrap();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    assert_eq!(fs.write(file, u64::MAX, b"x"), Err(FsError::BadOffset));
    assert_eq!(fs.write(file, 100, b"x"), Err(FsError::FileTooLarge));
    assert_eq!(fs.write(file, 99, b"x").unwrap(), 1);
    assert_eq!(
        fs.stat(file).unwrap().capacity_bytes,
        100,
        "growth is clamped to the limit"
    );
    let dir = fs.mkdir("/d").unwrap();
    assert_eq!(fs.write(dir, 0, b"x"), Err(FsError::IsDir));
    let mut buf = [0u8; 1];
    assert_eq!(fs.read(dir, 0, &mut buf), Err(FsError::IsDir));
}

#[test]
fn byte_quota_gives_no_space_and_falls_back_to_exact_growth() {
    let mut fs = FileSystem::with_limits(Limits {
        max_total_bytes: 5000,
        ..Limits::DEFAULT
    })
    .unwrap();
    let a = fs.create("/a", CreateMode::Exclusive).unwrap();
    fs.write(a, 0, b"x").unwrap();
    assert_eq!(fs.stat(a).unwrap().capacity_bytes, 4096);
    let b = fs.create("/b", CreateMode::Exclusive).unwrap();
    // Doubling would ask for 4096; only 904 bytes are left, which suffices.
    fs.write(b, 0, &[1; 900]).unwrap();
    assert_eq!(fs.stat(b).unwrap().capacity_bytes, 904);
    assert_eq!(fs.write(b, 904, b"y"), Err(FsError::NoSpace));
    assert_eq!(fs.total_capacity_bytes(), 5000);
    fs.unlink("/a").unwrap();
    assert_eq!(fs.total_capacity_bytes(), 904, "freeing returns the quota");
    fs.write(b, 904, b"y").unwrap();
}

#[test]
fn truncate_shrinks_and_grows_with_zeros() {
    let mut fs = fs();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.write(file, 0, b"0123456789").unwrap();
    fs.truncate(file, 4).unwrap();
    assert_eq!(read_all(&fs, "/f"), b"0123");
    fs.truncate(file, 8).unwrap();
    assert_eq!(read_all(&fs, "/f"), b"0123\0\0\0\0");
    fs.truncate(file, 0).unwrap();
    assert_eq!(read_all(&fs, "/f"), b"");
    fs.truncate(file, 100_000).unwrap();
    let stat = fs.stat(file).unwrap();
    assert_eq!(
        (stat.size_bytes, stat.capacity_bytes),
        (100_000, 100_000),
        "exact growth"
    );
    assert!(read_all(&fs, "/f").iter().all(|&byte| byte == 0));
    assert_eq!(fs.truncate(file, 2 << 30), Err(FsError::FileTooLarge));
    assert_eq!(fs.truncate(fs.root(), 0), Err(FsError::IsDir));
}

#[test]
fn reserve_presizes_without_changing_size() {
    let mut fs = fs();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.write(file, 0, b"abc").unwrap();
    fs.reserve(file, 1 << 20).unwrap();
    let stat = fs.stat(file).unwrap();
    assert_eq!((stat.size_bytes, stat.capacity_bytes), (3, 1 << 20));
    fs.reserve(file, 10).unwrap();
    assert_eq!(
        fs.stat(file).unwrap().capacity_bytes,
        1 << 20,
        "never shrinks"
    );
    assert_eq!(read_all(&fs, "/f"), b"abc");
    assert_eq!(fs.reserve(file, u64::MAX), Err(FsError::FileTooLarge));
}

#[test]
fn unlink_frees_closed_files_and_rejects_directories() {
    let mut fs = fs();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.mkdir("/d").unwrap();
    fs.unlink("/f").unwrap();
    assert_eq!(fs.lookup("/f"), Err(FsError::NotFound));
    assert_eq!(fs.stat(file), Err(FsError::StaleNode));
    assert_eq!(fs.unlink("/f"), Err(FsError::NotFound));
    assert_eq!(fs.unlink("/d"), Err(FsError::IsDir));
    assert_eq!(fs.unlink("/"), Err(FsError::IsDir));
    assert_eq!(fs.node_count(), 2);
}

#[test]
fn unlinked_open_file_keeps_its_data_until_last_close() {
    let mut fs = fs();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    fs.write(file, 0, b"still here").unwrap();
    let first = fs.open(file).unwrap();
    let second = fs.open(file).unwrap();
    assert_eq!(fs.stat(file).unwrap().open_count, 2);
    fs.unlink("/f").unwrap();
    assert_eq!(fs.lookup("/f"), Err(FsError::NotFound));
    let stat = fs.stat(file).unwrap();
    assert_eq!((stat.link_count, stat.open_count), (0, 2));
    // The name is free again; the new file is a different node.
    let other = fs.create("/f", CreateMode::Exclusive).unwrap();
    assert_ne!(other, file);
    fs.write(file, 10, b"!").unwrap();
    fs.close(first).unwrap();
    let mut buf = [0u8; 11];
    assert_eq!(fs.read(file, 0, &mut buf).unwrap(), 11);
    assert_eq!(&buf, b"still here!");
    fs.close(second).unwrap();
    assert_eq!(fs.stat(file), Err(FsError::StaleNode));
    assert_eq!(fs.read(file, 0, &mut buf), Err(FsError::StaleNode));
    assert_eq!(fs.open(file).err(), Some(FsError::StaleNode));
    assert_eq!(read_all(&fs, "/f"), b"");
}

#[test]
fn closing_a_linked_file_keeps_it() {
    let mut fs = fs();
    let file = fs.create("/f", CreateMode::Exclusive).unwrap();
    let open = fs.open(file).unwrap();
    assert_eq!(open.node(), file);
    fs.close(open).unwrap();
    let stat = fs.stat(file).unwrap();
    assert_eq!((stat.link_count, stat.open_count), (1, 0));
}

#[test]
fn close_rejects_a_reference_from_another_file_system() {
    let mut first = fs();
    let mut second = fs();
    assert_eq!(
        first.root(),
        second.root(),
        "ids alone do not tell file systems apart"
    );
    let open_first = first.open(first.root()).unwrap();
    let open_second = second.open(second.root()).unwrap();
    assert_eq!(second.close(open_first), Err(FsError::StaleNode));
    assert_eq!(
        second.stat(second.root()).unwrap().open_count,
        1,
        "counter untouched"
    );
    second.close(open_second).unwrap();
    assert!(format!("{first:?}").contains("FileSystem"));
}

#[test]
fn rmdir_removes_only_empty_directories() {
    let mut fs = fs();
    fs.mkdir("/d").unwrap();
    fs.create("/d/f", CreateMode::Exclusive).unwrap();
    assert_eq!(fs.rmdir("/d"), Err(FsError::NotEmpty));
    assert_eq!(fs.rmdir("/d/f"), Err(FsError::NotDir));
    assert_eq!(fs.rmdir("/"), Err(FsError::Busy));
    assert_eq!(fs.rmdir("/x"), Err(FsError::NotFound));
    fs.unlink("/d/f").unwrap();
    fs.rmdir("/d").unwrap();
    assert_eq!(fs.lookup("/d"), Err(FsError::NotFound));
    assert_eq!(fs.node_count(), 1);
}

#[test]
fn open_directory_survives_rmdir_until_close() {
    let mut fs = fs();
    let dir = fs.mkdir("/d").unwrap();
    let open = fs.open(dir).unwrap();
    fs.rmdir("/d").unwrap();
    assert_eq!(fs.readdir(dir).unwrap().count(), 0);
    assert_eq!(fs.stat(dir).unwrap().link_count, 0);
    fs.close(open).unwrap();
    assert_eq!(fs.stat(dir), Err(FsError::StaleNode));
}

#[test]
fn rename_moves_files_and_directories_keeping_ids() {
    let mut fs = fs();
    let dir = fs.mkdir("/d").unwrap();
    let file = fs.create("/d/f", CreateMode::Exclusive).unwrap();
    fs.write(file, 0, b"data").unwrap();
    fs.mkdir("/e").unwrap();
    fs.rename("/d/f", "/e/g").unwrap();
    assert_eq!(fs.lookup("/e/g").unwrap(), file);
    assert_eq!(fs.lookup("/d/f"), Err(FsError::NotFound));
    fs.rename("/d", "/e/d2").unwrap();
    assert_eq!(fs.lookup("/e/d2").unwrap(), dir);
    fs.create("/e/d2/h", CreateMode::Exclusive).unwrap();
    assert_eq!(names(&fs, "/e"), ["d2", "g"]);
    assert_eq!(read_all(&fs, "/e/g"), b"data");
    fs.rename("/e/g", "/e/g").unwrap();
    assert_eq!(
        fs.lookup("/e/g").unwrap(),
        file,
        "rename onto itself is a no-op"
    );
}

#[test]
fn rename_replaces_files_and_empty_directories() {
    let mut fs = fs();
    let source = fs.create("/a", CreateMode::Exclusive).unwrap();
    let target = fs.create("/b", CreateMode::Exclusive).unwrap();
    fs.write(source, 0, b"new").unwrap();
    fs.write(target, 0, b"old").unwrap();
    let open_target = fs.open(target).unwrap();
    fs.rename("/a", "/b").unwrap();
    assert_eq!(read_all(&fs, "/b"), b"new");
    assert_eq!(
        fs.stat(target).unwrap().link_count,
        0,
        "replaced file lives on while open"
    );
    fs.close(open_target).unwrap();
    assert_eq!(fs.stat(target), Err(FsError::StaleNode));

    let empty = fs.mkdir("/empty").unwrap();
    let moved = fs.mkdir("/moved").unwrap();
    fs.rename("/moved", "/empty").unwrap();
    assert_eq!(fs.lookup("/empty").unwrap(), moved);
    assert_eq!(fs.stat(empty), Err(FsError::StaleNode));
}

#[test]
fn rename_errors() {
    let mut fs = fs();
    fs.mkdir("/d").unwrap();
    fs.mkdir("/d/sub").unwrap();
    fs.mkdir("/full").unwrap();
    fs.create("/full/x", CreateMode::Exclusive).unwrap();
    fs.create("/f", CreateMode::Exclusive).unwrap();
    assert_eq!(fs.rename("/d", "/d/sub/d"), Err(FsError::IntoOwnSubtree));
    assert_eq!(fs.rename("/d", "/d/new"), Err(FsError::IntoOwnSubtree));
    assert_eq!(fs.rename("/f", "/d"), Err(FsError::IsDir));
    assert_eq!(fs.rename("/d", "/f"), Err(FsError::NotDir));
    assert_eq!(fs.rename("/d", "/full"), Err(FsError::NotEmpty));
    assert_eq!(fs.rename("/missing", "/g"), Err(FsError::NotFound));
    assert_eq!(fs.rename("/f", "/missing/g"), Err(FsError::NotFound));
    assert_eq!(fs.rename("/f", "/f/g"), Err(FsError::NotDir));
    assert_eq!(fs.rename("/", "/g"), Err(FsError::Busy));
    assert_eq!(fs.rename("/f", "/"), Err(FsError::Busy));
    assert_eq!(fs.rename("/f", "/./g"), Err(FsError::BadPath));
    assert!(
        fs.lookup("/d/sub").is_ok() && fs.lookup("/f").is_ok(),
        "failed renames change nothing"
    );
}

#[test]
fn readdir_lists_sorted_entries_with_kinds() {
    let mut fs = fs();
    fs.create("/b", CreateMode::Exclusive).unwrap();
    fs.mkdir("/a").unwrap();
    fs.create("/c", CreateMode::Exclusive).unwrap();
    let entries: Vec<(String, NodeKind)> = fs
        .readdir(fs.root())
        .unwrap()
        .map(|entry| (entry.name.to_owned(), entry.kind))
        .collect();
    assert_eq!(
        entries,
        [
            ("a".into(), NodeKind::Directory),
            ("b".into(), NodeKind::File),
            ("c".into(), NodeKind::File)
        ]
    );
    let file = fs.lookup("/b").unwrap();
    assert!(matches!(fs.readdir(file), Err(FsError::NotDir)));
}

#[test]
fn node_limit_gives_no_space() {
    let mut fs = FileSystem::with_limits(Limits {
        max_nodes: 3,
        ..Limits::DEFAULT
    })
    .unwrap();
    fs.mkdir("/a").unwrap();
    fs.create("/b", CreateMode::Exclusive).unwrap();
    assert_eq!(
        fs.create("/c", CreateMode::Exclusive),
        Err(FsError::NoSpace)
    );
    assert_eq!(fs.mkdir("/c"), Err(FsError::NoSpace));
    assert_eq!(
        names(&fs, "/"),
        ["a", "b"],
        "a failed create leaves no entry behind"
    );
    assert!(FileSystem::with_limits(Limits {
        max_nodes: 0,
        ..Limits::DEFAULT
    })
    .is_err());
}

#[test]
fn errors_display_and_are_core_errors() {
    let error: Box<dyn core::error::Error> = Box::new(FsError::NotEmpty);
    assert_eq!(error.to_string(), "directory not empty");
}

/// An allocator that gives at most `limit` bytes per buffer, counting
/// what it handed out.
#[derive(Debug)]
struct CappedAllocator {
    limit: usize,
    live: std::sync::atomic::AtomicUsize,
}

#[derive(Debug)]
struct CountedStore(Vec<u8>, &'static std::sync::atomic::AtomicUsize);

impl sk_fs::DataStore for CountedStore {
    fn bytes(&self) -> &[u8] {
        &self.0
    }
    fn bytes_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl Drop for CountedStore {
    fn drop(&mut self) {
        self.1
            .fetch_sub(self.0.len(), std::sync::atomic::Ordering::SeqCst);
    }
}

impl sk_fs::DataAllocator for CappedAllocator {
    fn allocate(&self, len: usize, _reach: usize) -> Option<Box<dyn sk_fs::DataStore>> {
        (len <= self.limit).then(|| {
            self.live
                .fetch_add(len, std::sync::atomic::Ordering::SeqCst);
            Box::new(CountedStore(vec![0; len], &ALLOCATOR.live)) as Box<dyn sk_fs::DataStore>
        })
    }
}

static ALLOCATOR: CappedAllocator = CappedAllocator {
    limit: 64 * 1024,
    live: std::sync::atomic::AtomicUsize::new(0),
};

#[test]
fn file_buffers_come_from_the_data_allocator_and_go_back_to_it() {
    let mut fs = sk_fs::FileSystem::new().unwrap();
    fs.set_data_allocator(&ALLOCATOR);
    let node = fs.create("/f", sk_fs::CreateMode::OpenExisting).unwrap();
    // Fits: the growth policy may prefer more, but settles for what is needed.
    fs.write(node, 0, &vec![1u8; 40 * 1024]).unwrap();
    let layout = fs.data_layout(node).unwrap();
    assert_eq!(
        ALLOCATOR.live.load(std::sync::atomic::Ordering::SeqCst) as u64,
        layout.capacity
    );
    assert_eq!(
        fs.write(node, 0, &vec![2u8; 100 * 1024]),
        Err(sk_fs::FsError::OutOfMemory)
    );
    assert_eq!(
        fs.stat(node).unwrap().size_bytes,
        40 * 1024,
        "a refused write changes nothing"
    );
    let mut back = vec![0u8; 40 * 1024];
    fs.read(node, 0, &mut back).unwrap();
    assert!(back.iter().all(|&b| b == 1));
    fs.unlink("/f").unwrap();
    assert_eq!(
        ALLOCATOR.live.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "freed with the file"
    );
}
