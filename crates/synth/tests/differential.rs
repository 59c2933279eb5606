//! Differential test (STYLE §7, seL4's fastpath ≡ slowpath): random
//! sequences of read, write and seek on a RAM file, run through the
//! synthesized routines in `sk-hostexec` and through a plain Rust model of
//! the generic path; results, contents, position and size must agree. A write
//! past the baked capacity falls back (sentinel), the test's "generic path"
//! performs it on the shared cells, and the routine table replugs the slot
//! with a routine synthesized for the larger capacity.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_hostexec::{Fixup, Registers, Sandbox};
use sk_synth::templates::{ErrorStubHoles, RamFileReadHoles, RamFileWriteHoles};
use sk_synth::{
    instantiate, ErrorResults, Event, Imm32, Imm64, Instance, Invariant, Rel32Target, ReplugAction,
    RoutineTable, Smap,
};

const POSITION_CELL: usize = 0;
const SIZE_CELL: usize = 8;
const FILE_DATA: usize = 0x100;
const FILE_ROOM: u64 = 0x1000;
const USER_BUFFER: usize = 0x2000;
const SMALL_CAPACITY: u64 = 64;
const FALLBACK: i64 = 0x7777;
const NODE: u64 = 1;
const HANDLE: u32 = 0;
const READ: u8 = 0;
const WRITE: u8 = 1;

#[derive(Clone, Debug)]
enum Op {
    Read(u64),
    Write(Vec<u8>),
    Seek(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u64..100).prop_map(Op::Read),
        prop::collection::vec(any::<u8>(), 0..100).prop_map(Op::Write),
        (0u64..300).prop_map(Op::Seek),
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

struct Synthesized {
    sandbox: Sandbox,
    read: Instance,
    writes: [Instance; 2],
    table: RoutineTable,
    current_write: usize,
}

impl Synthesized {
    fn new() -> Self {
        let mut sandbox = Sandbox::new(0x1000, 0x4000).unwrap();
        let (data, code) = (sandbox.data_address(), sandbox.code_address());
        let fallback = code + 0x800;
        let out = sandbox.code_mut().unwrap();
        let read_holes = RamFileReadHoles {
            data: Imm64(data + FILE_DATA as u64),
            position_cell: Imm64(data + POSITION_CELL as u64),
            size_cell: Imm64(data + SIZE_CELL as u64),
            bad_address: Imm32(-14),
        };
        let read = instantiate(&read_holes, code, Smap::Disabled, &mut out[..0x200]).unwrap();
        let write_holes = |capacity| RamFileWriteHoles {
            data: Imm64(data + FILE_DATA as u64),
            capacity: Imm64(capacity),
            position_cell: Imm64(data + POSITION_CELL as u64),
            size_cell: Imm64(data + SIZE_CELL as u64),
            generic_fallback: Rel32Target(fallback),
            bad_address: Imm32(-14),
        };
        let small = instantiate(
            &write_holes(SMALL_CAPACITY),
            code + 0x200,
            Smap::Disabled,
            &mut out[0x200..0x400],
        )
        .unwrap();
        let large = instantiate(
            &write_holes(FILE_ROOM),
            code + 0x400,
            Smap::Disabled,
            &mut out[0x400..0x600],
        )
        .unwrap();
        let stub = ErrorStubHoles {
            result: Imm32(FALLBACK as i32),
        };
        instantiate(&stub, fallback, Smap::Disabled, &mut out[0x800..0x900]).unwrap();
        sandbox.seal().unwrap();
        let mut table = RoutineTable::new(
            1,
            ErrorResults {
                closed: -9,
                revoked: -13,
            },
        );
        table
            .install(HANDLE, READ, &read, &facts(FILE_ROOM))
            .unwrap();
        table
            .install(HANDLE, WRITE, &small, &facts(SMALL_CAPACITY))
            .unwrap();
        Self {
            sandbox,
            read,
            writes: [small, large],
            table,
            current_write: 0,
        }
    }

    fn call(&mut self, instance: Instance, len: u64) -> i64 {
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
        let outcome = self
            .sandbox
            .call(instance.address(), &registers, &fixups)
            .unwrap();
        assert!(outcome.is_callee_saved_intact);
        outcome.result()
    }

    fn read(&mut self, len: u64) -> (i64, Vec<u8>) {
        let n = self.call(self.read, len);
        (
            n,
            self.sandbox.data()[USER_BUFFER..USER_BUFFER + n.max(0) as usize].to_vec(),
        )
    }

    fn write(&mut self, bytes: &[u8]) -> i64 {
        self.sandbox.data_mut()[USER_BUFFER..USER_BUFFER + bytes.len()].copy_from_slice(bytes);
        let result = self.call(self.writes[self.current_write], bytes.len() as u64);
        if result != FALLBACK {
            return result;
        }
        // The generic path: grow (here: the room is already there), write, replug.
        let position = self.sandbox.read_cell(POSITION_CELL);
        let end = position + bytes.len() as u64;
        assert!(end <= FILE_ROOM);
        let start = FILE_DATA + position as usize;
        self.sandbox.data_mut()[start..start + bytes.len()].copy_from_slice(bytes);
        self.sandbox.write_cell(POSITION_CELL, end);
        let size = self.sandbox.read_cell(SIZE_CELL).max(end);
        self.sandbox.write_cell(SIZE_CELL, size);
        for replug in self.table.apply(&Event::GrewPastCapacity { node: NODE }) {
            assert_eq!(replug.action, ReplugAction::Resynthesize);
            // Resynthesis for the new capacity (pre-built: the sandbox is sealed).
            let op = replug.slot.op();
            let instance = if op == WRITE {
                self.writes[1]
            } else {
                self.read
            };
            self.table
                .install(HANDLE, op, &instance, &facts(FILE_ROOM))
                .unwrap();
        }
        self.current_write = 1;
        bytes.len() as i64
    }
}

fn facts(capacity: u64) -> Vec<Invariant> {
    vec![
        Invariant::FileData {
            node: NODE,
            generation: 0,
        },
        Invariant::FileCapacity {
            node: NODE,
            capacity,
        },
        Invariant::SingleOwner { thread: 1 },
        Invariant::NotShared,
        Invariant::OpenForRead,
        Invariant::OpenForWrite,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn synthesized_ram_file_matches_the_generic_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut fast = Synthesized::new();
        let mut slow = GenericFile::default();
        for op in &ops {
            match op {
                Op::Read(len) => prop_assert_eq!(fast.read(*len), slow.read(*len), "{:?}", op),
                Op::Write(bytes) => prop_assert_eq!(fast.write(bytes), slow.write(bytes), "{:?}", op),
                Op::Seek(position) => {
                    fast.sandbox.write_cell(POSITION_CELL, *position);
                    slow.position = *position;
                }
            }
            prop_assert_eq!(fast.sandbox.read_cell(POSITION_CELL), slow.position);
            prop_assert_eq!(fast.sandbox.read_cell(SIZE_CELL), slow.data.len() as u64);
        }
        let size = slow.data.len();
        prop_assert_eq!(&fast.sandbox.data()[FILE_DATA..FILE_DATA + size], &slow.data[..]);
    }
}
