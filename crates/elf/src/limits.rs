//! The limits a loadable image must respect.
//!
//! Owns the address-space bounds (user half, null-page guard), the page
//! size and the size limits. `sk-core` maps user memory below [`USER_END`];
//! these constants are the loader's half of that contract.

/// The page size segments are mapped with (the ABI's).
pub const PAGE_SIZE: u64 = sk_abi::PAGE_SIZE;

/// One past the highest user address (the ABI's, `sk_abi::USER_END`): every
/// segment must end at or below it.
pub const USER_END: u64 = sk_abi::USER_END;

/// No segment may start below this address, so that null-pointer
/// dereferences (and small offsets from null) always fault.
pub const NULL_GUARD_END: u64 = 0x1_0000;

/// The most PT_LOAD segments an image may have.
pub const MAX_SEGMENTS: usize = 16;

/// The most program headers of any type an image may have.
pub const MAX_PROGRAM_HEADERS: usize = 32;

/// The most memory, in bytes of whole pages, an image's segments may span.
pub const MAX_IMAGE_BYTES: u64 = 64 * 1024 * 1024;
