//! Differential test (STYLE §7, seL4's fastpath ≡ slowpath): random
//! sequences of read, write and seek on a RAM file, run through the
//! routines the replug policy installs (executed in `sk-hostexec`) and
//! through a plain Rust model of the generic path; results, contents,
//! position and size must agree. Calls go through a routine table that
//! only [`SioRoutines::replan`] writes. A write past the baked capacity
//! falls back through the policy's generic trampoline to the "generic
//! path" (a sentinel stub), which performs it on the shared cells, grows
//! the file and replans: the write slot then holds a routine for the larger
//! capacity.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_hostexec::{Fixup, Registers, Sandbox};
use sk_synth::policy::{
    Env, FileFacts, InstallError, Mechanism, Op, RoutineHoles, SioFacts, SioRoutines, SioTarget,
    Slot, SlotTarget,
};
use sk_synth::templates::{
    ErrorStubHoles, GenericTrampolineHoles, RamFileReadHoles, RamFileWriteHoles,
};
use sk_synth::{Imm32, Imm64, Instance, Rel32Target, Smap};

const POSITION_CELL: usize = 0;
const SIZE_CELL: usize = 8;
const FILE_DATA: usize = 0x100;
const FILE_ROOM: u64 = 0x1000;
const USER_BUFFER: usize = 0x2000;
const SMALL_CAPACITY: u64 = 64;
const FALLBACK: i64 = 0x7777;
const NODE: u64 = 1;
const HANDLE: u32 = 0;
const OWNER: u64 = 1;

#[derive(Clone, Debug)]
enum FileOp {
    Read(u64),
    Write(Vec<u8>),
    Seek(u64),
}

fn file_op() -> impl Strategy<Value = FileOp> {
    prop_oneof![
        (0u64..100).prop_map(FileOp::Read),
        prop::collection::vec(any::<u8>(), 0..100).prop_map(FileOp::Write),
        (0u64..300).prop_map(FileOp::Seek),
    ]
}

/// The generic path's semantics, as a model.
#[derive(Default)]
struct GenericFile {
    data: Vec<u8>,
    position: u64,
}

impl GenericFile {
    fn read(&mut self, len: u64) -> (i64, Vec<u8>) {
        let size = self.data.len() as u64;
        let n = len.min(size.saturating_sub(self.position));
        let start = self.position.min(size) as usize;
        let bytes = self.data[start..start + n as usize].to_vec();
        self.position += n;
        (n as i64, bytes)
    }

    fn write(&mut self, bytes: &[u8]) -> i64 {
        // sk-fs: an empty write changes nothing, even past the end.
        if bytes.is_empty() {
            return 0;
        }
        let end = self.position as usize + bytes.len();
        if self.data.len() < end {
            self.data.resize(end, 0);
        }
        self.data[self.position as usize..end].copy_from_slice(bytes);
        self.position = end as u64;
        bytes.len() as i64
    }
}

/// Code the test expects the policy to ask for, pre-built in the sealed
/// sandbox (sealed code cannot be written again). `install` finds the
/// entry with exactly the requested template and hole values.
struct Catalogue {
    entries: Vec<(RoutineHoles, Instance)>,
    live: usize,
    table: [SlotTarget; 8],
}

impl Mechanism for Catalogue {
    type Block = usize;

    fn install(&mut self, holes: &RoutineHoles) -> Result<(usize, u64), InstallError> {
        let (index, (_, instance)) = self
            .entries
            .iter()
            .enumerate()
            .find(|(_, (built, _))| built == holes)
            .unwrap_or_else(|| panic!("the policy asked for unexpected code: {holes:?}"));
        self.live += 1;
        Ok((index, instance.address()))
    }

    fn retire(&mut self, _block: usize) {
        self.live -= 1;
    }

    fn store(&mut self, slot: Slot, target: SlotTarget) {
        assert_eq!((slot.owner, slot.handle), (OWNER, HANDLE));
        self.table[slot.index() as usize] = target;
    }
}

struct Synthesized {
    sandbox: Sandbox,
    catalogue: Catalogue,
    routines: SioRoutines<usize>,
    facts: SioFacts,
    env: Env,
}

impl Synthesized {
    fn new() -> Self {
        let mut sandbox = Sandbox::new(0x1000, 0x4000).unwrap();
        let (data, code) = (sandbox.data_address(), sandbox.code_address());
        let generic_entry = code + 0x800;
        let trampoline = code + 0x600;
        let read = RoutineHoles::RamFileRead(RamFileReadHoles {
            data: Imm64(data + FILE_DATA as u64),
            position_cell: Imm64(data + POSITION_CELL as u64),
            size_cell: Imm64(data + SIZE_CELL as u64),
            bad_address: Imm32(-14),
        });
        let write = |capacity| {
            RoutineHoles::RamFileWrite(RamFileWriteHoles {
                data: Imm64(data + FILE_DATA as u64),
                capacity: Imm64(capacity),
                position_cell: Imm64(data + POSITION_CELL as u64),
                size_cell: Imm64(data + SIZE_CELL as u64),
                generic_fallback: Rel32Target(trampoline),
                bad_address: Imm32(-14),
            })
        };
        let fallback = RoutineHoles::GenericTrampoline(GenericTrampolineHoles {
            handle: Imm32(HANDLE as i32),
            op: Imm32(5),
            generic_entry: Imm64(generic_entry),
        });
        let out = sandbox.code_mut().unwrap();
        let mut entries = Vec::new();
        for (holes, offset) in [
            (read, 0),
            (write(SMALL_CAPACITY), 0x200),
            (write(FILE_ROOM), 0x400),
            (fallback, 0x600),
        ] {
            let at = &mut out[offset..offset + 0x200];
            let instance = holes
                .instantiate(code + offset as u64, Smap::Disabled, at)
                .unwrap();
            entries.push((holes, instance));
        }
        // The "generic path": returns a sentinel the test recognises.
        let stub = ErrorStubHoles {
            result: Imm32(FALLBACK as i32),
        };
        sk_synth::instantiate(&stub, generic_entry, Smap::Disabled, &mut out[0x800..0x900])
            .unwrap();
        sandbox.seal().unwrap();
        let facts = SioFacts {
            target: SioTarget::File(FileFacts {
                node: NODE,
                data_addr: data + FILE_DATA as u64,
                capacity: SMALL_CAPACITY,
                size_cell: data + SIZE_CELL as u64,
                generation: 0,
                is_unlinked: false,
            }),
            can_read: true,
            can_write: true,
            is_append: false,
            position_cell: data + POSITION_CELL as u64,
            owner: Some(OWNER),
            is_shared: false,
            handle: HANDLE,
        };
        let env = Env {
            is_enabled: true,
            table_handles: 1,
            bad_address: -14,
            generic_entry,
            slow_path: 0,
        };
        let mut this = Self {
            sandbox,
            catalogue: Catalogue {
                entries,
                live: 0,
                table: [SlotTarget::Generic; 8],
            },
            routines: SioRoutines::new(),
            facts,
            env,
        };
        this.replan();
        this
    }

    fn replan(&mut self) {
        self.routines
            .replan(&self.facts, &self.env, &mut self.catalogue)
            .unwrap();
    }

    /// Calls whatever the table holds for `op`.
    fn call(&mut self, op: Op, len: u64) -> i64 {
        let index = Slot {
            owner: OWNER,
            handle: HANDLE,
            op,
        }
        .index() as usize;
        let SlotTarget::Code(address) = self.catalogue.table[index] else {
            panic!("{op:?} slot holds {:?}", self.catalogue.table[index]);
        };
        let instance = self
            .catalogue
            .entries
            .iter()
            .map(|(_, instance)| *instance)
            .find(|instance| instance.address() == address)
            .unwrap();
        let fixups: Vec<Fixup> = instance
            .fault_fixups()
            .map(|f| Fixup {
                access: f.access,
                fixup: f.fixup,
            })
            .collect();
        let registers = Registers {
            rdi: self.sandbox.data_address() + USER_BUFFER as u64,
            rsi: len,
            ..Registers::default()
        };
        let outcome = self.sandbox.call(address, &registers, &fixups).unwrap();
        assert!(outcome.is_callee_saved_intact);
        outcome.result()
    }

    fn read(&mut self, len: u64) -> (i64, Vec<u8>) {
        let n = self.call(Op::Read, len);
        (
            n,
            self.sandbox.data()[USER_BUFFER..USER_BUFFER + n.max(0) as usize].to_vec(),
        )
    }

    fn write(&mut self, bytes: &[u8]) -> i64 {
        self.sandbox.data_mut()[USER_BUFFER..USER_BUFFER + bytes.len()].copy_from_slice(bytes);
        let result = self.call(Op::Write, bytes.len() as u64);
        if result != FALLBACK {
            return result;
        }
        // The generic path: grow past the capacity (the room is already
        // there; the file system reports the data moved), write, replan.
        let position = self.sandbox.read_cell(POSITION_CELL);
        let end = position + bytes.len() as u64;
        assert!(end <= FILE_ROOM);
        let start = FILE_DATA + position as usize;
        self.sandbox.data_mut()[start..start + bytes.len()].copy_from_slice(bytes);
        self.sandbox.write_cell(POSITION_CELL, end);
        let size = self.sandbox.read_cell(SIZE_CELL).max(end);
        self.sandbox.write_cell(SIZE_CELL, size);
        let SioTarget::File(file) = &mut self.facts.target else {
            unreachable!()
        };
        assert_eq!(file.capacity, SMALL_CAPACITY, "grows once");
        file.capacity = FILE_ROOM;
        file.generation += 1;
        self.replan();
        bytes.len() as i64
    }

    fn close(self) {
        let mut catalogue = self.catalogue;
        self.routines.close(&mut catalogue);
        assert_eq!(catalogue.live, 0);
        assert!(catalogue.table.iter().all(|t| *t == SlotTarget::Generic));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn synthesized_ram_file_matches_the_generic_model(ops in prop::collection::vec(file_op(), 1..40)) {
        let mut fast = Synthesized::new();
        let mut slow = GenericFile::default();
        for op in &ops {
            match op {
                FileOp::Read(len) => prop_assert_eq!(fast.read(*len), slow.read(*len), "{:?}", op),
                FileOp::Write(bytes) => prop_assert_eq!(fast.write(bytes), slow.write(bytes), "{:?}", op),
                FileOp::Seek(position) => {
                    // A seek moves the shared cell's value; no fact changes.
                    fast.sandbox.write_cell(POSITION_CELL, *position);
                    fast.replan();
                    slow.position = *position;
                }
            }
            prop_assert_eq!(fast.sandbox.read_cell(POSITION_CELL), slow.position);
            prop_assert_eq!(fast.sandbox.read_cell(SIZE_CELL), slow.data.len() as u64);
        }
        let size = slow.data.len();
        prop_assert_eq!(&fast.sandbox.data()[FILE_DATA..FILE_DATA + size], &slow.data[..]);
        fast.close();
    }
}
