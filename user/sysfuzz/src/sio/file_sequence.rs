//! The file lifecycle, scripted: a fresh twin written across capacity
//! steps, sought, read, checked and closed, then an open on the handle
//! numbers just freed.

use sk_abi::{OpenFlags, Whence};
use sk_user_sysfuzz::model::Target;

use crate::fuzzer::Fuzzer;
use crate::memory::{FILE_SLOTS, MODEL_BYTES};

impl Fuzzer<'_> {
    /// The file lifecycle: open a fresh twin, write across capacity steps
    /// (4 KiB, then doubling), seek, read, check, close, and open again on
    /// the handle numbers just freed (alone: they must be reused, and the
    /// new SIO's routines must be its own).
    pub(crate) fn file_sequence(&mut self) {
        let free = (0..FILE_SLOTS).find(|&s| self.files.get(s).is_some_and(|f| !f.busy));
        let Some(slot) = free else {
            self.twin_op();
            return;
        };
        let rw = OpenFlags::READ | OpenFlags::WRITE;
        let same_file = self.rng.percent(25);
        let Some(index) = self.open_twin(
            Target::File,
            Some(slot),
            same_file,
            rw | OpenFlags::CREATE | OpenFlags::TRUNCATE,
        ) else {
            return;
        };
        let steps = 1 + self.rng.below(7);
        let target = (4096_u64 << steps).min(MODEL_BYTES - 4096) + 1;
        let mut guard = 0;
        while self.files.get(slot).map_or(0, |f| f.size) < target && guard < 64 {
            guard += 1;
            let len = self.rng.range(1, 12_000);
            self.twin_write(index, len);
            if self.rng.percent(15) {
                let back = self.rng.below(4096) as i64;
                self.twin_seek(
                    index,
                    Whence::Current,
                    -back.min(self.twin(index).map_or(0, |t| t.io.pos) as i64),
                );
            }
        }
        for _ in 0..4 {
            let size = self.files.get(slot).map_or(0, |f| f.size);
            let at = self.rng.below(size + 1) as i64;
            self.twin_seek(index, Whence::Set, at);
            let len = self.rng.range(1, 20_000);
            self.twin_read(index, len);
        }
        let back = -(self.rng.below(100) as i64);
        self.twin_seek(index, Whence::End, back);
        self.twin_read(index, 200);
        self.twin_query(index);
        let Some(twin) = self.twin(index) else {
            return;
        };
        self.close_twin(index);
        // The numbers just freed: a new open gets the lowest (when alone).
        let (target, flags) = match self.rng.below(3) {
            0 => (Target::Zero, OpenFlags::READ),
            1 => (Target::Mem, OpenFlags::READ),
            _ => (Target::Null, OpenFlags::WRITE),
        };
        let lowest = twin.a.min(twin.b);
        let Some(index) = self.open_twin(target, None, false, flags) else {
            return;
        };
        if let Some(new) = self.twin(index) {
            if self.solo && new.a > lowest {
                self.fail(
                    "handle reuse",
                    format_args!("closed {} and {}, reopened as {}", twin.a, twin.b, new.a),
                );
            }
            self.check_routines(&new);
            if flags.contains(OpenFlags::READ) {
                self.twin_read(index, 64);
            } else {
                self.twin_write(index, 64);
            }
        }
        self.close_twin(index);
    }
}
