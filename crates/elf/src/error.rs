//! The program loader's one error type.
//!
//! Owns [`ElfError`]: every reason [`ProgramImage::parse`] rejects a file,
//! one variant per rule. `sk-core` maps them all to the exec error user
//! space sees (`ENOEXEC`).
//!
//! [`ProgramImage::parse`]: crate::ProgramImage::parse

/// Why a file is not a loadable program image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
pub enum ElfError {
    /// The file is shorter than an ELF64 header (64 bytes).
    #[error("file shorter than an ELF header")]
    Truncated,
    /// The file does not start with `\x7fELF`.
    #[error("not an ELF file")]
    NotElf,
    /// The ELF class is not 64-bit.
    #[error("not a 64-bit ELF file")]
    NotElf64,
    /// The data encoding is not little endian.
    #[error("not little endian")]
    NotLittleEndian,
    /// The ELF version (in the identification or the header) is not 1.
    #[error("unknown ELF version")]
    BadVersion,
    /// The machine is not x86-64.
    #[error("not an x86-64 program")]
    NotX86_64,
    /// The file type is not `ET_EXEC`: a relocatable object, a shared
    /// object or position-independent executable (`ET_DYN`), or a core.
    #[error("not a static non-PIE executable")]
    NotExecutable,
    /// The program header table is malformed: wrong entry size, overlapping
    /// the ELF header, outside the file, or an entry of an invalid type.
    #[error("malformed program header table")]
    BadProgramHeaders,
    /// More than [`MAX_PROGRAM_HEADERS`](crate::MAX_PROGRAM_HEADERS)
    /// program headers.
    #[error("too many program headers")]
    TooManyProgramHeaders,
    /// No PT_LOAD segment.
    #[error("no loadable segment")]
    NoLoadableSegments,
    /// More than [`MAX_SEGMENTS`](crate::MAX_SEGMENTS) PT_LOAD segments.
    #[error("too many loadable segments")]
    TooManySegments,
    /// A PT_INTERP or PT_DYNAMIC header: the program needs a dynamic linker.
    #[error("dynamically linked")]
    DynamicallyLinked,
    /// A segment ends above [`USER_END`](crate::USER_END), or its end
    /// overflows.
    #[error("segment outside user space")]
    OutsideUserSpace,
    /// A segment starts below [`NULL_GUARD_END`](crate::NULL_GUARD_END).
    #[error("segment in the null-page guard")]
    BelowNullGuard,
    /// A segment's file bytes lie (partly) outside the file.
    #[error("segment file range outside the file")]
    FileRangeOutOfBounds,
    /// A segment's memory size is smaller than its file size.
    #[error("segment memory size below its file size")]
    MemSizeBelowFileSize,
    /// A segment is both writable and executable (W^X).
    #[error("segment both writable and executable")]
    WritableAndExecutable,
    /// A segment's alignment is not a power of two, or its address and
    /// file offset disagree modulo the alignment.
    #[error("segment misaligned")]
    Misaligned,
    /// Two segments share a page.
    #[error("segments overlap")]
    OverlappingSegments,
    /// The segments span more than [`MAX_IMAGE_BYTES`](crate::MAX_IMAGE_BYTES).
    #[error("image too large")]
    ImageTooLarge,
    /// The entry point is not in the file-backed part of an executable
    /// segment.
    #[error("entry point not in an executable segment")]
    EntryNotExecutable,
}
