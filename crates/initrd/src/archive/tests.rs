//! Host tests for the reader: well-formed archives, every kind of malformed
//! header, truncation at every length, and "never panics" property tests.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate std;

use super::*;
use crate::{EntryKind, Writer};
use proptest::prelude::*;
use std::format;
use std::vec::Vec;

/// One hand-built entry: header fields as text, so tests can break any part.
struct RawEntry<'t> {
    magic: &'t str,
    mode: u32,
    name: &'t [u8],
    namesize: u32,
    filesize: u32,
    data: &'t [u8],
}

impl<'t> RawEntry<'t> {
    /// A well-formed regular file `name` (given with its NUL) holding `data`.
    fn file(name: &'t [u8], data: &'t [u8]) -> Self {
        Self {
            magic: "070701",
            mode: 0o100_644,
            name,
            namesize: u32::try_from(name.len()).unwrap(),
            filesize: u32::try_from(data.len()).unwrap(),
            data,
        }
    }

    fn header_text(&self) -> std::string::String {
        let fields = [
            0,
            self.mode,
            0,
            0,
            1,
            0,
            self.filesize,
            0,
            0,
            0,
            0,
            self.namesize,
            0,
        ];
        let mut text = std::string::String::from(self.magic);
        for field in fields {
            text.push_str(&format!("{field:08x}"));
        }
        text
    }

    fn append_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(self.header_text().as_bytes());
        out.extend_from_slice(self.name);
        pad(out);
        out.extend_from_slice(self.data);
        pad(out);
    }
}

fn pad(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

fn trailer() -> RawEntry<'static> {
    RawEntry {
        mode: 0,
        ..RawEntry::file(b"TRAILER!!!\0", b"")
    }
}

fn archive_of(entries: &[RawEntry<'_>]) -> Vec<u8> {
    let mut out = Vec::new();
    for entry in entries {
        entry.append_to(&mut out);
    }
    out
}

fn collect(bytes: &[u8]) -> Result<Vec<Entry<'_>>, InitrdError> {
    Archive::new(bytes).entries().collect()
}

fn sample() -> Vec<u8> {
    archive_of(&[
        RawEntry::file(b"one\0", b"first"),
        RawEntry::file(b"two\0", b"second!"),
        trailer(),
    ])
}

#[test]
fn reads_entries_in_order_and_stops_at_the_trailer() {
    let mut bytes = sample();
    // Anything after the trailer (GNU cpio pads to 512 bytes) is ignored.
    bytes.extend_from_slice(b"garbage after the trailer");
    let entries = collect(&bytes).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!((entries[0].name, entries[0].data), ("one", &b"first"[..]));
    assert_eq!((entries[1].name, entries[1].data), ("two", &b"second!"[..]));
    assert_eq!(entries[1].kind(), EntryKind::File);
}

#[test]
fn entries_borrow_from_the_archive() {
    let bytes = sample();
    let entry = Archive::new(&bytes).find("two").unwrap().unwrap();
    let range = bytes.as_ptr_range();
    assert!(range.contains(&entry.data.as_ptr()));
    assert!(range.contains(&entry.name.as_ptr()));
}

#[test]
fn find_returns_none_for_absent_names() {
    let bytes = sample();
    let archive = Archive::new(&bytes);
    assert_eq!(archive.find("three"), Ok(None));
    assert_eq!(archive.find("on"), Ok(None));
    assert!(archive.validate().is_ok());
}

#[test]
fn empty_input_has_no_trailer() {
    assert_eq!(collect(b""), Err(InitrdError::MissingTrailer));
}

#[test]
fn archive_without_trailer_is_an_error() {
    let bytes = archive_of(&[RawEntry::file(b"one\0", b"first")]);
    let mut entries = Archive::new(&bytes).entries();
    assert!(entries.next().unwrap().is_ok());
    assert_eq!(entries.next(), Some(Err(InitrdError::MissingTrailer)));
    assert_eq!(entries.next(), None, "iteration ends after an error");
}

#[test]
fn every_truncation_is_an_error() {
    let bytes = sample();
    for len in 0..bytes.len() - 3 {
        let result = Archive::new(&bytes[..len]).validate();
        assert!(
            matches!(
                result,
                Err(InitrdError::Truncated { .. } | InitrdError::MissingTrailer)
            ),
            "len {len}: {result:?}"
        );
    }
    // The trailer's own padding may be cut off.
    assert!(Archive::new(&bytes[..bytes.len() - 1]).validate().is_ok());
}

#[test]
fn rejects_bad_magic_including_the_crc_variant() {
    for magic in ["070702", "070707", "07070 ", "\0\0\0\0\0\0"] {
        let bytes = archive_of(&[
            RawEntry {
                magic,
                ..RawEntry::file(b"a\0", b"")
            },
            trailer(),
        ]);
        assert_eq!(
            collect(&bytes),
            Err(InitrdError::BadMagic { offset: 0 }),
            "{magic:?}"
        );
    }
}

#[test]
fn reports_the_offset_of_a_bad_second_entry() {
    let first = RawEntry::file(b"one\0", b"first");
    let mut bytes = archive_of(&[first]);
    let offset = bytes.len();
    bytes.extend(archive_of(&[
        RawEntry {
            magic: "x70701",
            ..RawEntry::file(b"a\0", b"")
        },
        trailer(),
    ]));
    let mut entries = Archive::new(&bytes).entries();
    assert!(entries.next().unwrap().is_ok());
    assert_eq!(entries.next(), Some(Err(InitrdError::BadMagic { offset })));
}

#[test]
fn rejects_a_non_hex_digit_in_every_field() {
    let clean = sample();
    for position in 6..HEADER_LEN {
        for bad in [b'g', b' ', b'+', b'-', b'x', 0] {
            let mut bytes = clean.clone();
            bytes[position] = bad;
            assert_eq!(
                collect(&bytes),
                Err(InitrdError::BadField { offset: 0 }),
                "byte {position}"
            );
        }
    }
}

#[test]
fn rejects_names_without_their_nul() {
    let cases: [RawEntry<'_>; 4] = [
        // namesize says 3 but the third byte is not NUL.
        RawEntry {
            namesize: 3,
            ..RawEntry::file(b"abc\0", b"")
        },
        // namesize 0: no room for the NUL.
        RawEntry {
            namesize: 0,
            ..RawEntry::file(b"", b"")
        },
        // A NUL inside the name.
        RawEntry::file(b"a\0b\0", b""),
        // No NUL anywhere.
        RawEntry::file(b"abcd", b""),
    ];
    for entry in cases {
        let bytes = archive_of(&[entry, trailer()]);
        assert_eq!(
            collect(&bytes),
            Err(InitrdError::UnterminatedName { offset: 0 })
        );
    }
}

#[test]
fn rejects_names_that_are_not_utf8() {
    let bytes = archive_of(&[RawEntry::file(b"\xff\xfe\0", b""), trailer()]);
    assert_eq!(collect(&bytes), Err(InitrdError::NameNotUtf8 { offset: 0 }));
}

#[test]
fn rejects_sizes_past_the_end() {
    let huge_name = RawEntry {
        namesize: u32::MAX,
        ..RawEntry::file(b"a\0", b"")
    };
    let huge_data = RawEntry {
        filesize: u32::MAX,
        ..RawEntry::file(b"a\0", b"xy")
    };
    let long_data = RawEntry {
        filesize: 1000,
        ..RawEntry::file(b"a\0", b"xy")
    };
    for entry in [huge_name, huge_data, long_data] {
        let bytes = archive_of(&[entry, trailer()]);
        assert_eq!(collect(&bytes), Err(InitrdError::Truncated { offset: 0 }));
    }
}

#[test]
fn reports_other_file_types() {
    let link = RawEntry {
        mode: 0o120_777,
        ..RawEntry::file(b"link\0", b"target")
    };
    let fifo = RawEntry {
        mode: 0o010_644,
        ..RawEntry::file(b"fifo\0", b"")
    };
    let dir = RawEntry {
        mode: 0o040_755,
        ..RawEntry::file(b"dir\0", b"")
    };
    let bytes = archive_of(&[link, fifo, dir, trailer()]);
    let kinds: Vec<_> = collect(&bytes).unwrap().iter().map(Entry::kind).collect();
    assert_eq!(
        kinds,
        [EntryKind::Symlink, EntryKind::Fifo, EntryKind::Directory]
    );
}

#[test]
fn an_empty_name_is_allowed() {
    let bytes = archive_of(&[RawEntry::file(b"\0", b"x"), trailer()]);
    assert_eq!(collect(&bytes).unwrap()[0].name, "");
}

fn valid_archive() -> Vec<u8> {
    let mut writer = Writer::new();
    writer.add_dir("bin").unwrap();
    writer
        .add_file("bin/init", 0o755, b"\x7fELF and some code")
        .unwrap();
    writer.add_file("etc", 0o644, b"x").unwrap();
    writer.finish()
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Archive::new(&bytes).entries().count();
    }

    #[test]
    fn random_bytes_after_a_magic_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut bytes = b"070701".to_vec();
        bytes.extend(tail);
        let _ = Archive::new(&bytes).entries().count();
    }

    #[test]
    fn mutated_archives_never_panic_and_stay_in_bounds(
        edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        hex_edits in proptest::collection::vec((any::<prop::sample::Index>(), 0..16_u8), 0..4),
    ) {
        let mut bytes = valid_archive();
        for (index, value) in edits {
            let i = index.index(bytes.len());
            bytes[i] = value;
        }
        // Also change digits to other digits, which keeps headers parseable
        // and moves sizes around.
        for (index, digit) in hex_edits {
            let i = index.index(bytes.len());
            if bytes[i].is_ascii_hexdigit() {
                bytes[i] = b"0123456789abcdef"[digit as usize];
            }
        }
        let range = bytes.as_ptr_range();
        for entry in Archive::new(&bytes).entries().flatten() {
            prop_assert!(entry.data.is_empty() || range.contains(&entry.data.as_ptr()));
            prop_assert!(entry.data.len() <= bytes.len());
        }
    }
}
