//! SIOs, made in twins: every read, write and seek is made on handle A by
//! the normal path (the routine the kernel synthesized for this thread)
//! and on handle B with `CallWord::FORCE_GENERIC`, and both are checked
//! against the model and against each other (result, bytes, position, and
//! the file's contents).
//!
//! Owns [`Twin`] and [`FileSlot`]. A twin is one of:
//!
//! - two files with the same contents (`fz-<tag>-<fuzzer>-<slot>a` and
//!   `...b`): A on the first, B on the second; every write goes to both;
//! - one file opened twice: A and B on the same file, kept at the same
//!   position; B's write repeats A's bytes at the same place (the file is
//!   A's, B's write must change nothing but B's position);
//! - a device opened twice: `/dev/null`, `/dev/zero`, `/dev/mem`, or the
//!   directory `/tmp`.
//!
//! Each file slot has one model ([`crate::memory::MODEL_BYTES`]) and at most
//! one twin open at a time.
//!
//! The twins' life is split by concern: [`open`] opens and closes them
//! (and the plain, untwinned SIOs in [`plain`]), [`buffers`] draws where
//! a twin I/O's bytes are, [`twin_io`] makes the twin reads, writes and
//! seeks and judges each, [`checks`] holds the checks beyond one call
//! (query, whole-file contents, synthesized routines) and the resync after
//! a result the model did not predict; [`file_sequence`] and [`console`]
//! are two scripted runs.

mod buffers;
mod checks;
mod console;
mod file_sequence;
mod open;
mod plain;
mod twin_io;

use sk_abi::OpenFlags;
use sk_user_sysfuzz::model::Io;

use crate::format::format_into;
use crate::fuzzer::Fuzzer;

/// A pair of SIO handles the fuzzer keeps in step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Twin {
    /// Called by the normal path.
    pub(crate) a: u32,
    /// Called with `FORCE_GENERIC`.
    pub(crate) b: u32,
    /// The model (for a file, its size is the slot's).
    pub(crate) io: Io,
    /// How both were opened.
    pub(crate) flags: OpenFlags,
    /// The file slot, for a file.
    pub(crate) slot: Option<usize>,
    /// A and B name the same file.
    pub(crate) same_file: bool,
}

/// One file slot of a fuzzer: two files and their model.
#[derive(Clone, Copy, Debug)]
pub(crate) struct FileSlot {
    index: usize,
    /// The model's size (both files' when they agree).
    pub(crate) size: u64,
    /// Which of the two files exist.
    exists: [bool; 2],
    /// The `b` file may differ from `a` (a same-file twin wrote `a` only).
    b_stale: bool,
    /// A twin is open on it.
    busy: bool,
    /// The contents are not known (a write failed for lack of memory):
    /// the next twin truncates.
    unknown: bool,
    names: [[u8; 40]; 2],
    name_len: usize,
}

impl FileSlot {
    /// Slot `index` (names are set by [`Fuzzer::name_files`]).
    pub(crate) const fn new(index: usize) -> Self {
        Self {
            index,
            size: 0,
            exists: [false; 2],
            b_stale: false,
            busy: false,
            unknown: false,
            names: [[0; 40]; 2],
            name_len: 0,
        }
    }

    /// Whether file `a` exists (`None`: not known).
    pub(crate) fn exists_a(&self) -> Option<bool> {
        (!self.unknown).then(|| self.exists.first().copied().unwrap_or(false))
    }

    /// The path of file `which` (0: a, 1: b).
    pub(crate) fn name(&self, which: usize) -> &str {
        let bytes = self.names.get(which).map_or(&[][..], |name| {
            name.get(..self.name_len).unwrap_or_default()
        });
        core::str::from_utf8(bytes).unwrap_or("/tmp/fz")
    }
}

impl Fuzzer<'_> {
    /// Gives the file slots their names (call once the tag is known).
    pub(crate) fn name_files(&mut self) {
        let (tag, index) = (self.tag, self.index);
        for slot in &mut self.files {
            for (which, suffix) in ["a", "b"].iter().enumerate() {
                if let Some(name) = slot.names.get_mut(which) {
                    let len = format_into(
                        name,
                        format_args!("/tmp/fz-{tag:06x}-{index}-{}{suffix}", slot.index),
                    );
                    slot.name_len = len;
                }
            }
        }
    }

    /// The twin at `index`.
    fn twin(&self, index: usize) -> Option<Twin> {
        self.twins.get(index).copied().flatten()
    }

    /// Stores the twin at `index`.
    fn set_twin(&mut self, index: usize, twin: Option<Twin>) {
        if let Some(slot) = self.twins.get_mut(index) {
            *slot = twin;
        }
    }

    /// A random open twin.
    fn any_twin(&mut self) -> Option<usize> {
        let open = self.twins.iter().filter(|t| t.is_some()).count();
        if open == 0 {
            return None;
        }
        let pick = self.rng.index(open);
        self.twins
            .iter()
            .enumerate()
            .filter(|(_, t)| t.is_some())
            .nth(pick)
            .map(|(i, _)| i)
    }

    /// The twin's model with the file's current size.
    fn io_of(&self, twin: &Twin) -> Io {
        let mut io = twin.io;
        if let Some(slot) = twin.slot.and_then(|s| self.files.get(s)) {
            io.size = slot.size;
        }
        io
    }
}
