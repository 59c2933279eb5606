//! The seam to `xmas-elf`: the ELF header and program header table, read
//! from an aligned, bounds-checked copy.
//!
//! Owns [`Headers`]. `xmas-elf` casts bytes to structures in place and
//! asserts that the slice is aligned for them (8 bytes for ELF64) and
//! slices the program header table without bounds checks, so handing it
//! arbitrary input could panic. [`Headers::read`] checks the header and
//! the table's position first, then copies both into an 8-byte-aligned
//! buffer with the table right after the header (the copy's `e_phoff` is
//! rewritten to say so) and lets `xmas-elf` decode that. Format reference:
//! the System V ABI, "ELF Header" and "Program Header" (gABI 4.1), and the
//! x86-64 psABI.

use core::mem::size_of;

use xmas_elf::header::{self, Class, Data, Machine, Type, Version, MAGIC};
use xmas_elf::program::{self, ProgramHeader, ProgramHeader64};
use xmas_elf::ElfFile;

use crate::{ElfError, MAX_PROGRAM_HEADERS};

/// Size of an ELF64 header.
const ELF_HEADER_LEN: usize = 64;
/// Size of an ELF64 program header.
const PROGRAM_HEADER_LEN: usize = 56;
/// Offset of `e_phoff` in an ELF64 header.
const PH_OFFSET_FIELD: core::ops::Range<usize> = 32..40;
/// `e_version` / `EI_VERSION` value of every ELF file so far.
const CURRENT_VERSION: u32 = 1;

// The layouts `xmas-elf` decodes are the ones these offsets describe.
const _: () = assert!(
    size_of::<header::HeaderPt1>() + size_of::<header::HeaderPt2_<u64>>() == ELF_HEADER_LEN
);
const _: () = assert!(size_of::<ProgramHeader64>() == PROGRAM_HEADER_LEN);

/// Header and program header table, 8-byte aligned as `xmas-elf` needs.
#[repr(C, align(8))]
struct AlignedCopy([u8; ELF_HEADER_LEN + MAX_PROGRAM_HEADERS * PROGRAM_HEADER_LEN]);

/// A checked ELF64 x86-64 executable header with its program headers.
pub(crate) struct Headers {
    copy: AlignedCopy,
    program_header_count: u16,
    /// `e_phoff` in the file (the copy's is rewritten).
    program_header_offset: u64,
    /// `ET_DYN` (position-independent) rather than `ET_EXEC`.
    is_position_independent: bool,
}

/// Which ELF file types [`Headers::read`] accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileTypes {
    /// `ET_EXEC` only (native programs).
    Executable,
    /// `ET_EXEC` or `ET_DYN` (static-PIE Linux programs).
    ExecutableOrPie,
}

impl Headers {
    /// Checks the ELF header of `bytes` and copies it and the program
    /// header table.
    ///
    /// # Errors
    /// [`ElfError::Truncated`], [`NotElf`](ElfError::NotElf),
    /// [`NotElf64`](ElfError::NotElf64),
    /// [`NotLittleEndian`](ElfError::NotLittleEndian),
    /// [`BadVersion`](ElfError::BadVersion),
    /// [`NotX86_64`](ElfError::NotX86_64),
    /// [`NotExecutable`](ElfError::NotExecutable),
    /// [`NoLoadableSegments`](ElfError::NoLoadableSegments) (no program
    /// headers), [`TooManyProgramHeaders`](ElfError::TooManyProgramHeaders)
    /// or [`BadProgramHeaders`](ElfError::BadProgramHeaders).
    pub(crate) fn read(bytes: &[u8], types: FileTypes) -> Result<Self, ElfError> {
        let header_bytes = bytes.get(..ELF_HEADER_LEN).ok_or(ElfError::Truncated)?;
        if header_bytes.get(..MAGIC.len()) != Some(&MAGIC[..]) {
            return Err(ElfError::NotElf);
        }
        let mut copy = AlignedCopy([0; ELF_HEADER_LEN + MAX_PROGRAM_HEADERS * PROGRAM_HEADER_LEN]);
        let (copy_header, copy_table) = copy.0.split_at_mut(ELF_HEADER_LEN);
        copy_header.copy_from_slice(header_bytes);

        let (table_offset, count, is_position_independent) = check_header(copy_header, types)?;
        let table_len = usize::from(count)
            .checked_mul(PROGRAM_HEADER_LEN)
            .ok_or(ElfError::BadProgramHeaders)?;
        let table = usize::try_from(table_offset)
            .ok()
            .and_then(|start| bytes.get(start..start.checked_add(table_len)?))
            .ok_or(ElfError::BadProgramHeaders)?;
        copy_table
            .get_mut(..table_len)
            .ok_or(ElfError::TooManyProgramHeaders)?
            .copy_from_slice(table);
        // The copy's table sits right after its header.
        let rebased = u64::try_from(ELF_HEADER_LEN).map_err(|_| ElfError::BadProgramHeaders)?;
        copy_header
            .get_mut(PH_OFFSET_FIELD)
            .ok_or(ElfError::BadProgramHeaders)?
            .copy_from_slice(&rebased.to_le_bytes());
        Ok(Self {
            copy,
            program_header_count: count,
            program_header_offset: table_offset,
            is_position_independent,
        })
    }

    /// `e_phoff`: where the program headers are in the file.
    pub(crate) const fn program_header_offset(&self) -> u64 {
        self.program_header_offset
    }

    /// How many program headers there are (`e_phnum`).
    pub(crate) const fn program_header_count(&self) -> u16 {
        self.program_header_count
    }

    /// True for `ET_DYN`.
    pub(crate) const fn is_position_independent(&self) -> bool {
        self.is_position_independent
    }

    /// The entry point (`e_entry`).
    pub(crate) fn entry(&self) -> u64 {
        self.file().map_or(0, |file| file.header.pt2.entry_point())
    }

    /// Each program header's type and fields, in table order.
    pub(crate) fn program_headers(
        &self,
    ) -> impl Iterator<Item = Result<RawProgramHeader, ElfError>> + '_ {
        let file = self.file();
        (0..self.program_header_count).map(move |index| {
            let file = file.as_ref().map_err(|&error| error)?;
            let header = file
                .program_header(index)
                .map_err(|_| ElfError::BadProgramHeaders)?;
            let ProgramHeader::Ph64(header) = header else {
                return Err(ElfError::BadProgramHeaders);
            };
            let kind = header.get_type().map_err(|_| ElfError::BadProgramHeaders)?;
            Ok(RawProgramHeader {
                kind,
                fields: *header,
            })
        })
    }

    /// `xmas-elf`'s view of the copy. Cannot fail after [`read`](Self::read)
    /// succeeded; the error keeps that panic-free.
    fn file(&self) -> Result<ElfFile<'_>, ElfError> {
        let len = ELF_HEADER_LEN
            .checked_add(
                usize::from(self.program_header_count)
                    .checked_mul(PROGRAM_HEADER_LEN)
                    .ok_or(ElfError::BadProgramHeaders)?,
            )
            .ok_or(ElfError::BadProgramHeaders)?;
        let bytes = self.copy.0.get(..len).ok_or(ElfError::BadProgramHeaders)?;
        ElfFile::new(bytes).map_err(|_| ElfError::NotElf64)
    }
}

/// One program header as decoded by `xmas-elf`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RawProgramHeader {
    pub(crate) kind: program::Type,
    pub(crate) fields: ProgramHeader64,
}

/// Checks an (aligned) ELF header; returns the program header table's
/// offset and entry count, and whether the file is `ET_DYN`.
fn check_header(header_bytes: &[u8], types: FileTypes) -> Result<(u64, u16, bool), ElfError> {
    // Fails only on the class: the length and magic were checked.
    let parsed = header::parse_header(header_bytes).map_err(|_| ElfError::NotElf64)?;
    if parsed.pt1.class() != Class::SixtyFour {
        return Err(ElfError::NotElf64);
    }
    if parsed.pt1.data() != Data::LittleEndian {
        return Err(ElfError::NotLittleEndian);
    }
    if parsed.pt1.version() != Version::Current || parsed.pt2.version() != CURRENT_VERSION {
        return Err(ElfError::BadVersion);
    }
    if parsed.pt2.machine().as_machine() != Machine::X86_64 {
        return Err(ElfError::NotX86_64);
    }
    let is_position_independent = match (parsed.pt2.type_().as_type(), types) {
        (Type::Executable, _) => false,
        (Type::SharedObject, FileTypes::ExecutableOrPie) => true,
        _ => return Err(ElfError::NotExecutable),
    };
    let count = parsed.pt2.ph_count();
    if count == 0 {
        return Err(ElfError::NoLoadableSegments);
    }
    if usize::from(count) > MAX_PROGRAM_HEADERS {
        return Err(ElfError::TooManyProgramHeaders);
    }
    let offset = parsed.pt2.ph_offset();
    let is_table_sane = usize::from(parsed.pt2.ph_entry_size()) == PROGRAM_HEADER_LEN
        && offset >= u64::try_from(ELF_HEADER_LEN).unwrap_or(u64::MAX);
    if !is_table_sane {
        return Err(ElfError::BadProgramHeaders);
    }
    Ok((offset, count, is_position_independent))
}
