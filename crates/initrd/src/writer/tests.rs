//! Host tests for the writer: GNU cpio equivalence, padding for every
//! length modulo 4, path and mode checks, and a round-trip property test.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate std;

use super::*;
use crate::{Archive, Entry, EntryKind, HEADER_LEN};
use proptest::prelude::*;
use std::string::{String, ToString};
use std::vec::Vec;

/// `printf 'bin\nbin/hello\nnotes\n' | cpio -o -H newc --reproducible` (GNU
/// cpio 2.13, as root, mtimes 0), `bin` and `bin/hello` mode 0755, `notes`
/// 0644; without the zero padding to 512 bytes that follows.
const GNU_ARCHIVE: &[u8] = b"\
07070100000000000041ED0000000000000000000000020000000000000000000000000000000000000000000000000000000400000000bin\0\0\0\
07070100000001000081ED0000000000000000000000010000000000000003000000000000000000000000000000000000000A00000000bin/hello\0hi\n\0\
07070100000002000081A40000000000000000000000010000000000000005000000000000000000000000000000000000000600000000notes\0abcde\0\0\0\
07070100000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000B00000000TRAILER!!!\0\0\0\0";

fn read_all(bytes: &[u8]) -> Vec<Entry<'_>> {
    Archive::new(bytes)
        .entries()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[test]
fn matches_gnu_cpio_byte_for_byte() {
    let mut writer = Writer::new();
    writer.add_dir("bin").unwrap();
    writer.add_file("bin/hello", 0o755, b"hi\n").unwrap();
    writer.add_file("notes", 0o644, b"abcde").unwrap();
    let bytes = writer.finish();
    assert_eq!(
        bytes.escape_ascii().to_string(),
        GNU_ARCHIVE.escape_ascii().to_string()
    );
}

#[test]
fn reads_what_gnu_cpio_wrote() {
    let mut gnu = GNU_ARCHIVE.to_vec();
    gnu.resize(512, 0);
    let entries = read_all(&gnu);
    let summary: Vec<_> = entries
        .iter()
        .map(|e| (e.name, e.kind(), e.permissions(), e.data))
        .collect();
    assert_eq!(
        summary,
        [
            ("bin", EntryKind::Directory, 0o755, &b""[..]),
            ("bin/hello", EntryKind::File, 0o755, b"hi\n"),
            ("notes", EntryKind::File, 0o644, b"abcde"),
        ]
    );
}

#[test]
fn empty_archive_is_just_a_trailer() {
    let bytes = Writer::new().finish();
    assert_eq!(bytes.len(), 124);
    assert!(read_all(&bytes).is_empty());
    assert_eq!(TRAILER_NAME_SIZE as usize, TRAILER_NAME.len() + 1);
}

#[test]
fn pads_every_name_and_data_length_modulo_4() {
    for name_len in 1..=9_usize {
        for data_len in 0..=9_usize {
            let name: String = "n".repeat(name_len);
            let data: Vec<u8> = (0..data_len).map(|i| i.to_le_bytes()[0]).collect();
            let mut writer = Writer::new();
            writer.add_file(&name, 0o600, &data).unwrap();
            writer.add_file("z", 0o600, b"tail").unwrap();
            let bytes = writer.finish();
            assert_eq!(bytes.len() % 4, 0);
            // Second header starts right after the first entry's padding.
            let first =
                (HEADER_LEN + name_len + 1).next_multiple_of(4) + data_len.next_multiple_of(4);
            assert_eq!(
                &bytes[first..first + 6],
                b"070701",
                "name {name_len}, data {data_len}"
            );
            let entries = read_all(&bytes);
            assert_eq!(entries.len(), 2);
            assert_eq!(entries[0].name, name);
            assert_eq!(entries[0].data, &data[..]);
            assert_eq!(entries[1].data, b"tail");
        }
    }
}

#[test]
fn rejects_unstorable_paths() {
    let mut writer = Writer::new();
    for path in ["", "/bin/init", "a\0b", "TRAILER!!!"] {
        assert_eq!(
            writer.add_file(path, 0o644, b"x"),
            Err(InitrdError::BadPath),
            "{path:?}"
        );
        assert_eq!(writer.add_dir(path), Err(InitrdError::BadPath), "{path:?}");
    }
    assert!(
        read_all(&writer.finish()).is_empty(),
        "failed adds leave nothing behind"
    );
}

#[test]
fn rejects_type_bits_in_the_mode() {
    let mut writer = Writer::new();
    assert_eq!(
        writer.add_file("f", 0o100_644, b""),
        Err(InitrdError::BadMode(0o100_644))
    );
    assert_eq!(
        writer.add_file("f", 0o10_000, b""),
        Err(InitrdError::BadMode(0o10_000))
    );
    writer.add_file("f", 0o7777, b"").unwrap();
    let bytes = writer.finish();
    assert_eq!(read_all(&bytes)[0].mode, 0o107_777);
}

#[test]
fn inode_numbers_are_distinct() {
    let mut writer = Writer::new();
    for i in 0..5 {
        writer.add_file(&std::format!("f{i}"), 0o644, b"").unwrap();
    }
    let bytes = writer.finish();
    let mut offset = 0;
    let mut inodes = Vec::new();
    for _ in 0..5 {
        let header = crate::header::Header::parse(&bytes[offset..], offset).unwrap();
        inodes.push(header.get(Field::Ino));
        offset += 116; // header, "fN\0", one byte of padding, no data
    }
    assert_eq!(inodes, [0, 1, 2, 3, 4]);
}

fn file_set() -> impl Strategy<Value = Vec<(String, u32, Vec<u8>)>> {
    let name = "[a-z0-9._-]{1,12}(/[a-z0-9._-]{1,12}){0,2}";
    let file = (
        name,
        0..=0o7777_u32,
        proptest::collection::vec(any::<u8>(), 0..64),
    );
    proptest::collection::vec(file, 0..12)
}

proptest! {
    #[test]
    fn random_file_sets_round_trip(files in file_set()) {
        let mut writer = Writer::new();
        for (name, mode, data) in &files {
            prop_assume!(name != TRAILER_NAME);
            writer.add_file(name, *mode, data).unwrap();
        }
        let bytes = writer.finish();
        prop_assert_eq!(bytes.len() % 4, 0);
        let entries = read_all(&bytes);
        prop_assert_eq!(entries.len(), files.len());
        for (entry, (name, mode, data)) in entries.iter().zip(&files) {
            prop_assert_eq!(entry.name, name.as_str());
            prop_assert_eq!(entry.kind(), EntryKind::File);
            prop_assert_eq!(entry.permissions(), *mode);
            prop_assert_eq!(entry.data, &data[..]);
        }
    }
}
