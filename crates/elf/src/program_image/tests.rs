//! Host tests for program images: ELF files built byte by byte, one test
//! per acceptance and rejection rule, and property tests over random and
//! mutated files.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

extern crate std;

use super::*;
use crate::{MAX_PROGRAM_HEADERS, NULL_GUARD_END, PAGE_SIZE, USER_END};
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const PT_INTERP: u32 = 3;
const PT_PHDR: u32 = 6;
const PT_TLS: u32 = 7;
const PT_GNU_STACK: u32 = 0x6474_e551;
const PF_X: u32 = 1;
const PF_W: u32 = 2;
const PF_R: u32 = 4;

/// One program header, as written to the file.
#[derive(Debug, Clone, Copy)]
struct Phdr {
    kind: u32,
    flags: u32,
    offset: u64,
    vaddr: u64,
    file_size: u64,
    mem_size: u64,
    align: u64,
}

impl Phdr {
    fn load(flags: u32, offset: u64, vaddr: u64, file_size: u64, mem_size: u64) -> Self {
        Self {
            kind: PT_LOAD,
            flags,
            offset,
            vaddr,
            file_size,
            mem_size,
            align: 0x1000,
        }
    }

    fn other(kind: u32) -> Self {
        Self {
            kind,
            flags: PF_R,
            offset: 0,
            vaddr: 0,
            file_size: 0,
            mem_size: 0,
            align: 8,
        }
    }
}

/// A little ELF writer: a header, the program header table right after it,
/// and `file_len` bytes in all. Every field can be broken on purpose.
#[derive(Debug, Clone)]
struct ElfBuilder {
    ident: [u8; 16],
    kind: u16,
    machine: u16,
    version: u32,
    entry: u64,
    ph_offset: u64,
    ph_entry_size: u16,
    ph_count: Option<u16>,
    phdrs: Vec<Phdr>,
    file_len: usize,
}

impl ElfBuilder {
    /// A valid image shaped like a small lld output: read-only headers and
    /// data, text, then data with bss, plus a PT_GNU_STACK.
    fn valid() -> Self {
        let mut ident = [0_u8; 16];
        ident[..7].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1]);
        Self {
            ident,
            kind: 2,
            machine: 0x3e,
            version: 1,
            entry: 0x40_1000,
            ph_offset: 64,
            ph_entry_size: 56,
            ph_count: None,
            phdrs: vec![
                Phdr::load(PF_R, 0, 0x40_0000, 0x200, 0x200),
                Phdr::load(PF_R | PF_X, 0x1000, 0x40_1000, 0x100, 0x100),
                Phdr::load(PF_R | PF_W, 0x1100, 0x40_2100, 0x80, 0x1000),
                Phdr::other(PT_GNU_STACK),
            ],
            file_len: 0x1180,
        }
    }

    fn with_load(mut self, index: usize, change: impl FnOnce(&mut Phdr)) -> Self {
        change(&mut self.phdrs[index]);
        self
    }

    fn build(&self) -> Vec<u8> {
        let table_end = self.ph_offset as usize + self.phdrs.len() * 56;
        let mut out = vec![0_u8; self.file_len.max(table_end).max(64)];
        out[..16].copy_from_slice(&self.ident);
        put(&mut out, 16, &self.kind.to_le_bytes());
        put(&mut out, 18, &self.machine.to_le_bytes());
        put(&mut out, 20, &self.version.to_le_bytes());
        put(&mut out, 24, &self.entry.to_le_bytes());
        put(&mut out, 32, &self.ph_offset.to_le_bytes());
        put(&mut out, 52, &64_u16.to_le_bytes());
        put(&mut out, 54, &self.ph_entry_size.to_le_bytes());
        let count = self.ph_count.unwrap_or(self.phdrs.len() as u16);
        put(&mut out, 56, &count.to_le_bytes());
        put(&mut out, 58, &64_u16.to_le_bytes());
        for (index, phdr) in self.phdrs.iter().enumerate() {
            let at = self.ph_offset as usize + index * 56;
            put(&mut out, at, &phdr.kind.to_le_bytes());
            put(&mut out, at + 4, &phdr.flags.to_le_bytes());
            put(&mut out, at + 8, &phdr.offset.to_le_bytes());
            put(&mut out, at + 16, &phdr.vaddr.to_le_bytes());
            put(&mut out, at + 24, &phdr.vaddr.to_le_bytes());
            put(&mut out, at + 32, &phdr.file_size.to_le_bytes());
            put(&mut out, at + 40, &phdr.mem_size.to_le_bytes());
            put(&mut out, at + 48, &phdr.align.to_le_bytes());
        }
        out.truncate(self.file_len.max(64));
        out
    }

    fn parse(&self) -> Result<ProgramImage, ElfError> {
        ProgramImage::parse(&self.build())
    }
}

fn put(out: &mut [u8], at: usize, bytes: &[u8]) {
    out[at..at + bytes.len()].copy_from_slice(bytes);
}

/// Every rule `parse` promises, checked on an accepted image.
fn assert_rules_hold(image: &ProgramImage, file_len: usize) {
    let segments = image.segments();
    assert!(!segments.is_empty() && segments.len() <= MAX_SEGMENTS);
    for segment in segments {
        assert!(segment.vaddr >= NULL_GUARD_END);
        assert!(segment
            .vaddr
            .checked_add(segment.mem_size)
            .is_some_and(|end| end <= USER_END));
        assert!(segment.file_size <= segment.mem_size);
        assert!(!(segment.writable && segment.executable));
        if segment.file_size > 0 {
            assert!(segment.file_offset + segment.file_size <= file_len as u64);
        }
    }
    let pages: Vec<_> = image.pages().collect();
    for (i, a) in pages.iter().enumerate() {
        assert!(a.start % PAGE_SIZE == 0 && a.end % PAGE_SIZE == 0 && a.start < a.end);
        assert!(a.end <= USER_END);
        for b in &pages[i + 1..] {
            assert!(!a.overlaps(b));
        }
    }
    assert!(image.mapped_bytes() <= MAX_IMAGE_BYTES);
    assert!(segments.iter().any(|s| s.executable
        && s.vaddr <= image.entry()
        && image.entry() < s.vaddr + s.file_size));
}

#[test]
fn accepts_a_static_executable() {
    let bytes = ElfBuilder::valid().build();
    let image = ProgramImage::parse(&bytes).unwrap();
    assert_eq!(image.entry(), 0x40_1000);
    let summary: Vec<_> = image
        .segments()
        .iter()
        .map(|s| {
            (
                s.vaddr,
                s.mem_size,
                s.file_offset,
                s.file_size,
                s.readable,
                s.writable,
                s.executable,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0x40_0000, 0x200, 0, 0x200, true, false, false),
            (0x40_1000, 0x100, 0x1000, 0x100, true, false, true),
            (0x40_2100, 0x1000, 0x1100, 0x80, true, true, false),
        ]
    );
    assert_rules_hold(&image, bytes.len());
}

#[test]
fn pages_cover_each_segment_with_its_permissions() {
    let image = ElfBuilder::valid().parse().unwrap();
    let pages: Vec<_> = image
        .pages()
        .map(|p| (p.start, p.end, p.readable, p.writable, p.executable))
        .collect();
    assert_eq!(
        pages,
        [
            (0x40_0000, 0x40_1000, true, false, false),
            (0x40_1000, 0x40_2000, true, false, true),
            // 0x402100 + 0x1000 spills into a second page.
            (0x40_2000, 0x40_4000, true, true, false),
        ]
    );
    assert_eq!(image.mapped_bytes(), 4 * PAGE_SIZE);
}

#[test]
fn file_bytes_are_the_segment_contents() {
    let mut bytes = ElfBuilder::valid().build();
    bytes[0x1000..0x1100].fill(0xcc);
    let image = ProgramImage::parse(&bytes).unwrap();
    let text = image.segments()[1];
    assert_eq!(text.file_bytes(&bytes), Some(&[0xcc_u8; 0x100][..]));
    assert_eq!(text.file_bytes(&bytes[..0x1010]), None);
}

#[test]
fn accepts_an_image_at_any_alignment() {
    // xmas-elf needs 8-byte alignment; a cpio initrd only gives 4.
    let bytes = ElfBuilder::valid().build();
    for shift in 0..8 {
        let mut buffer = vec![0_u8; shift];
        buffer.extend_from_slice(&bytes);
        let image = ProgramImage::parse(&buffer[shift..]).unwrap();
        assert_eq!(image.segments().len(), 3, "shift {shift}");
    }
}

#[test]
fn ignores_other_program_headers_and_empty_segments() {
    let mut builder = ElfBuilder::valid();
    builder.phdrs.insert(0, Phdr::other(PT_PHDR));
    builder.phdrs.push(Phdr::other(PT_TLS));
    builder.phdrs.push(Phdr::load(PF_R, 0, 0x50_0000, 0, 0));
    let image = builder.parse().unwrap();
    assert_eq!(image.segments().len(), 4);
    assert_eq!(image.pages().count(), 3, "the empty segment maps nothing");
}

#[test]
fn accepts_segments_ending_exactly_at_user_end() {
    let image = ElfBuilder::valid()
        .with_load(2, |p| {
            p.vaddr = USER_END - 0x1000 + 0x100;
            p.mem_size = 0x1000 - 0x100;
        })
        .parse()
        .unwrap();
    assert_eq!(image.pages().last().map(|p| p.end), Some(USER_END));
}

#[test]
fn accepts_alignment_zero_and_one() {
    for align in [0, 1] {
        let image = ElfBuilder::valid()
            .with_load(2, |p| p.align = align)
            .parse();
        assert!(image.is_ok(), "align {align}");
    }
}

#[test]
fn rejects_short_files() {
    let bytes = ElfBuilder::valid().build();
    for len in [0, 4, 63] {
        assert_eq!(
            ProgramImage::parse(&bytes[..len]),
            Err(ElfError::Truncated),
            "len {len}"
        );
    }
}

#[test]
fn rejects_bad_identification() {
    let cases: [(usize, u8, ElfError); 7] = [
        (0, 0x7e, ElfError::NotElf),
        (3, b'f', ElfError::NotElf),
        (4, 1, ElfError::NotElf64),
        (4, 0, ElfError::NotElf64),
        (4, 9, ElfError::NotElf64),
        (5, 2, ElfError::NotLittleEndian),
        (6, 0, ElfError::BadVersion),
    ];
    for (index, value, error) in cases {
        let mut builder = ElfBuilder::valid();
        builder.ident[index] = value;
        assert_eq!(builder.parse(), Err(error), "ident[{index}] = {value}");
    }
}

#[test]
fn rejects_wrong_header_fields() {
    let mut builder = ElfBuilder::valid();
    builder.version = 2;
    assert_eq!(builder.parse(), Err(ElfError::BadVersion));

    for machine in [0x03, 0xb7, 0] {
        let mut builder = ElfBuilder::valid();
        builder.machine = machine;
        assert_eq!(
            builder.parse(),
            Err(ElfError::NotX86_64),
            "machine {machine:#x}"
        );
    }
    // ET_REL, ET_DYN (shared objects and PIEs), ET_CORE, ET_NONE.
    for kind in [1, 3, 4, 0] {
        let mut builder = ElfBuilder::valid();
        builder.kind = kind;
        assert_eq!(builder.parse(), Err(ElfError::NotExecutable), "type {kind}");
    }
}

#[test]
fn rejects_dynamic_linking() {
    for kind in [PT_INTERP, PT_DYNAMIC] {
        let mut builder = ElfBuilder::valid();
        builder.phdrs.push(Phdr::other(kind));
        assert_eq!(
            builder.parse(),
            Err(ElfError::DynamicallyLinked),
            "p_type {kind}"
        );
    }
}

#[test]
fn rejects_malformed_program_header_tables() {
    let mut builder = ElfBuilder::valid();
    builder.ph_entry_size = 64;
    assert_eq!(
        builder.parse(),
        Err(ElfError::BadProgramHeaders),
        "entry size"
    );

    // e_phoff pointing into the header, or so far that start + size wraps.
    for ph_offset in [0, 8, u64::MAX - 8] {
        let mut bytes = ElfBuilder::valid().build();
        put(&mut bytes, 32, &ph_offset.to_le_bytes());
        assert_eq!(
            ProgramImage::parse(&bytes),
            Err(ElfError::BadProgramHeaders),
            "e_phoff {ph_offset:#x}"
        );
    }

    // A table that runs past the end of the file.
    let mut bytes = ElfBuilder::valid().build();
    bytes.truncate(64 + 4 * 56 - 1);
    assert_eq!(
        ProgramImage::parse(&bytes),
        Err(ElfError::BadProgramHeaders),
        "table past the end"
    );

    let mut builder = ElfBuilder::valid();
    builder.phdrs.push(Phdr::other(0x1234_5678));
    assert_eq!(
        builder.parse(),
        Err(ElfError::BadProgramHeaders),
        "invalid p_type"
    );
}

#[test]
fn rejects_images_without_loadable_segments() {
    let mut builder = ElfBuilder::valid();
    builder.phdrs.clear();
    assert_eq!(builder.parse(), Err(ElfError::NoLoadableSegments));
    builder.phdrs.push(Phdr::other(PT_GNU_STACK));
    assert_eq!(builder.parse(), Err(ElfError::NoLoadableSegments));
}

#[test]
fn rejects_too_many_segments_and_headers() {
    let mut builder = ElfBuilder::valid();
    builder.phdrs.truncate(2);
    for i in 0..MAX_SEGMENTS as u64 - 2 {
        builder
            .phdrs
            .push(Phdr::load(PF_R, 0, 0x100_0000 + i * 0x1000, 0x10, 0x10));
    }
    assert!(builder.parse().is_ok(), "exactly MAX_SEGMENTS");
    builder
        .phdrs
        .push(Phdr::load(PF_R, 0, 0x200_0000, 0x10, 0x10));
    assert_eq!(builder.parse(), Err(ElfError::TooManySegments));

    let mut builder = ElfBuilder::valid();
    builder
        .phdrs
        .resize(MAX_PROGRAM_HEADERS + 1, Phdr::other(PT_GNU_STACK));
    builder.file_len = 0x2000;
    assert_eq!(builder.parse(), Err(ElfError::TooManyProgramHeaders));
    // PN_XNUM (extended numbering) is refused the same way.
    builder.ph_count = Some(0xffff);
    assert_eq!(builder.parse(), Err(ElfError::TooManyProgramHeaders));
}

#[test]
fn rejects_segments_outside_user_space() {
    let cases = [
        (USER_END - 0x800, 0x1000),
        (USER_END, 0x1000),
        (0xffff_8000_0000_0000, 0x1000),
        (0x40_3000, u64::MAX - 0x1000),
        (u64::MAX - 0xfff, 0x1000),
    ];
    for (vaddr, mem_size) in cases {
        let result = ElfBuilder::valid()
            .with_load(2, |p| {
                p.vaddr = vaddr + 0x100;
                p.mem_size = mem_size;
            })
            .parse();
        assert_eq!(
            result,
            Err(ElfError::OutsideUserSpace),
            "{vaddr:#x} + {mem_size:#x}"
        );
    }
}

#[test]
fn rejects_segments_in_the_null_guard() {
    for vaddr in [0, 0x1000, NULL_GUARD_END - 0x1000] {
        let result = ElfBuilder::valid()
            .with_load(0, |p| p.vaddr = vaddr)
            .parse();
        assert_eq!(result, Err(ElfError::BelowNullGuard), "vaddr {vaddr:#x}");
    }
    let at_guard = ElfBuilder::valid()
        .with_load(0, |p| p.vaddr = NULL_GUARD_END)
        .parse();
    assert!(at_guard.is_ok());
}

#[test]
fn rejects_file_ranges_outside_the_file() {
    let cases = [
        (0x1100, 0x81),
        (0x2000, 0x10),
        (u64::MAX, 1),
        (0x10, u64::MAX),
    ];
    for (offset, file_size) in cases {
        let result = ElfBuilder::valid()
            .with_load(2, |p| {
                p.offset = offset;
                p.file_size = file_size;
                p.align = 0;
            })
            .parse();
        assert_eq!(
            result,
            Err(ElfError::FileRangeOutOfBounds),
            "{offset:#x} + {file_size:#x}"
        );
    }
    // No file bytes: the offset does not matter.
    let bss_only = ElfBuilder::valid().with_load(2, |p| {
        p.offset = u64::MAX;
        p.file_size = 0;
        p.align = 0;
    });
    assert!(bss_only.parse().is_ok());
}

#[test]
fn rejects_mem_size_below_file_size() {
    let result = ElfBuilder::valid()
        .with_load(2, |p| p.mem_size = 0x7f)
        .parse();
    assert_eq!(result, Err(ElfError::MemSizeBelowFileSize));
}

#[test]
fn rejects_writable_executable_segments() {
    let result = ElfBuilder::valid()
        .with_load(1, |p| p.flags = PF_R | PF_W | PF_X)
        .parse();
    assert_eq!(result, Err(ElfError::WritableAndExecutable));
    let result = ElfBuilder::valid()
        .with_load(2, |p| p.flags = PF_W | PF_X)
        .parse();
    assert_eq!(result, Err(ElfError::WritableAndExecutable));
}

#[test]
fn rejects_misaligned_segments() {
    let result = ElfBuilder::valid()
        .with_load(2, |p| p.vaddr = 0x40_2200)
        .parse();
    assert_eq!(
        result,
        Err(ElfError::Misaligned),
        "vaddr and offset disagree"
    );
    let result = ElfBuilder::valid()
        .with_load(2, |p| p.align = 0x1800)
        .parse();
    assert_eq!(
        result,
        Err(ElfError::Misaligned),
        "align not a power of two"
    );
}

#[test]
fn rejects_overlapping_segments() {
    // Same bytes twice.
    let mut builder = ElfBuilder::valid();
    builder.phdrs.push(builder.phdrs[0]);
    assert_eq!(builder.parse(), Err(ElfError::OverlappingSegments));
    // Different bytes, same page: the permissions would conflict.
    let result = ElfBuilder::valid()
        .with_load(2, |p| {
            p.vaddr = 0x40_1100;
            p.offset = 0x1100;
        })
        .parse();
    assert_eq!(result, Err(ElfError::OverlappingSegments));
}

#[test]
fn rejects_images_that_are_too_large() {
    let at_limit =
        ElfBuilder::valid().with_load(2, |p| p.mem_size = MAX_IMAGE_BYTES - 4 * PAGE_SIZE);
    assert!(at_limit.parse().is_ok());
    let over = ElfBuilder::valid().with_load(2, |p| p.mem_size = MAX_IMAGE_BYTES);
    assert_eq!(over.parse(), Err(ElfError::ImageTooLarge));
}

#[test]
fn rejects_entry_points_outside_executable_code() {
    let cases = [
        0,
        0x40_0000, // read-only data
        0x40_2100, // writable data
        0x40_1100, // one past the text
        0x40_1000 - 1,
        USER_END + 0x1000,
    ];
    for entry in cases {
        let mut builder = ElfBuilder::valid();
        builder.entry = entry;
        assert_eq!(
            builder.parse(),
            Err(ElfError::EntryNotExecutable),
            "entry {entry:#x}"
        );
    }
    // Zero-filled (bss) part of an executable segment: no code there.
    let mut builder = ElfBuilder::valid().with_load(1, |p| p.mem_size = 0x200);
    builder.entry = 0x40_1180;
    assert_eq!(builder.parse(), Err(ElfError::EntryNotExecutable));
    builder.entry = 0x40_10ff;
    assert!(builder.parse().is_ok());
}

proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(image) = ProgramImage::parse(&bytes) {
            assert_rules_hold(&image, bytes.len());
        }
    }

    #[test]
    fn random_headers_after_the_magic_never_panic(
        tail in proptest::collection::vec(any::<u8>(), 0..600),
        shift in 0..8_usize,
    ) {
        let mut bytes = vec![0_u8; shift];
        bytes.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1]);
        bytes.extend(tail);
        let bytes = &bytes[shift..];
        if let Ok(image) = ProgramImage::parse(bytes) {
            assert_rules_hold(&image, bytes.len());
        }
    }

    #[test]
    fn mutated_images_never_panic_and_obey_every_rule(
        edits in proptest::collection::vec((0..0x240_usize, any::<u8>()), 1..6),
        word_edits in proptest::collection::vec((0..(64 + 4 * 56) / 8_usize, any::<u64>()), 0..3),
        shift in 0..8_usize,
    ) {
        let mut bytes = ElfBuilder::valid().build();
        for (at, value) in edits {
            bytes[at] = value;
        }
        // Whole 8-byte fields, so sizes and addresses take wild values.
        for (word, value) in word_edits {
            put(&mut bytes, word * 8, &value.to_le_bytes());
        }
        let mut shifted = vec![0_u8; shift];
        shifted.extend_from_slice(&bytes);
        if let Ok(image) = ProgramImage::parse(&shifted[shift..]) {
            assert_rules_hold(&image, bytes.len());
        }
    }
}

mod linux;
