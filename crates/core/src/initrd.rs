//! Unpacking the initrd (a cpio "newc" archive, PVH module) into the RAM
//! file system at boot.

use sk_fs::{CreateMode, FileSystem};
use sk_initrd::{Archive, EntryKind};

pub(crate) fn unpack(fs: &mut FileSystem, bytes: &[u8]) {
    let mut files = 0;
    for entry in Archive::new(bytes) {
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                log::error!("initrd: {e}");
                break;
            }
        };
        let path = alloc::format!(
            "/{}",
            entry.name.trim_start_matches("./").trim_start_matches('/')
        );
        let result = match entry.kind() {
            EntryKind::Directory => fs.mkdir(&path).map(|_| ()).or_else(|e| {
                if e == sk_fs::FsError::Exists {
                    Ok(())
                } else {
                    Err(e)
                }
            }),
            EntryKind::File => fs
                .create(&path, CreateMode::OpenExisting)
                .and_then(|node| fs.write(node, 0, entry.data).map(|_| ())),
            _ => Ok(()),
        };
        match result {
            Ok(()) => files += 1,
            Err(e) => log::error!("initrd: {path}: {e}"),
        }
    }
    log::info!("initrd: {files} entries unpacked");
}
