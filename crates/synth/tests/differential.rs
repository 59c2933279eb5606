//! Differential tests (STYLE §7, seL4's fastpath ≡ slowpath): random
//! sequences of operations run through the routines the replug policy
//! installs (executed in `sk-hostexec`) and through the **real generic
//! path** (`sk-sio`'s `Sio` over `sk-fs`, with a fake user memory); results,
//! buffers, positions, sizes and file contents must agree.
//!
//! - RAM file: read, write, seek. Calls go through a routine table that
//!   only [`SioRoutines::replan`] writes. A write past the baked capacity,
//!   or longer than `max_len`, falls back through the policy's generic
//!   trampoline; the generic path then performs it (the test copies the
//!   generic side's resulting bytes, size and position into the sandbox, as
//!   the kernel's generic path would write them to the shared cells), the
//!   file grows and the test replans: the write slot then holds a routine
//!   for the new capacity.
//! - Each case runs the stackful templates or (`leaf`) their stackless
//!   twins, as the kernel installs them for native threads.
//! - `/dev/mem` and `/dev/zero`: read and seek, lengths on both sides of
//!   the 1-byte fast path and of `max_len` (a longer call goes to the slow
//!   path, i.e. the generic path: the test performs it there).

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_abi::{OpenFlags, SysError, Whence};
use sk_fs::FileSystem;
use sk_hostexec::{Fixup, Registers, Sandbox};
use sk_sio::testing::FakeUserMemory;
use sk_sio::{Devices, ReadOutcome, Sio};
use sk_synth::policy::{
    leaf_twin, Env, FileFacts, InstallError, Mechanism, Op, RoutineHoles, SioFacts, SioRoutines,
    SioTarget, Slot, SlotTarget,
};
use sk_synth::templates::{
    DevMemReadHoles, DevZeroReadHoles, GenericTrampolineHoles, RamFileReadHoles, RamFileWriteHoles,
};
use sk_synth::{Imm32, Imm64, Instance, Rel32Target, Smap};

const POSITION_CELL: usize = 0;
const SIZE_CELL: usize = 8;
const FILE_DATA: usize = 0x100;
const FILE_ROOM: u64 = 0x1000;
const USER_BUFFER: usize = 0x2000;
const SMALL_CAPACITY: u64 = 64;
/// The routines' `max_len` here (small, so the tests cross it).
const MAX_LEN: u64 = 80;
const FALLBACK: i64 = 0x7777;
const NODE: u64 = 1;
const HANDLE: u32 = 0;
const OWNER: u64 = 1;
const BAD_ADDRESS: i32 = -14;
/// Where the fake user memory of the generic side starts.
const GENERIC_BUFFER: u64 = 0x10_0000;

/// A stackless routine's `sysretq` as `ret; nop; nop` (the sandbox
/// `call`s code in ring 3; a stackless routine never touches the stack).
fn sysret_to_ret(bytes: &mut [u8]) {
    use iced_x86::{Code, Decoder, DecoderOptions};
    let sites: Vec<usize> = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE)
        .iter()
        .filter(|i| i.code() == Code::Sysretq)
        .map(|i| i.ip() as usize)
        .collect();
    for site in sites {
        bytes[site..site + 3].copy_from_slice(&[0xc3, 0x90, 0x90]);
    }
}

/// The real generic path: one SIO of a file system or device, and user
/// memory.
struct Generic {
    fs: FileSystem,
    devices: Devices,
    sio: Sio<()>,
    user: FakeUserMemory,
}

impl Generic {
    fn open(path: &str, flags: OpenFlags, window: &'static [u8]) -> Self {
        let mut fs = FileSystem::new().unwrap();
        let sio = Sio::open(&mut fs, path, flags).unwrap();
        Self {
            fs,
            devices: Devices::new(window),
            sio,
            user: FakeUserMemory::new(GENERIC_BUFFER, 0x1000),
        }
    }

    fn file() -> Self {
        Self::open(
            "/f",
            OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE,
            &[],
        )
    }

    fn read(&mut self, len: u64) -> (i64, Vec<u8>) {
        match self.sio.read(
            &self.fs,
            &mut self.devices,
            &mut self.user,
            GENERIC_BUFFER,
            len,
        ) {
            Ok(ReadOutcome::Data(n)) => (
                n as i64,
                self.user.slice(GENERIC_BUFFER, n as usize).to_vec(),
            ),
            Ok(ReadOutcome::WouldBlock) => panic!("would block"),
            Err(e) => (-i64::from(e.code()), Vec::new()),
        }
    }

    fn write(&mut self, bytes: &[u8]) -> i64 {
        self.user.bytes[..bytes.len()].copy_from_slice(bytes);
        let result = self.sio.write(
            &mut self.fs,
            &self.devices,
            &mut self.user,
            &mut |_: &[u8]| {},
            GENERIC_BUFFER,
            bytes.len() as u64,
        );
        result.map_or_else(|e: SysError| -i64::from(e.code()), |n| n as i64)
    }

    fn seek(&mut self, position: u64) {
        self.sio
            .seek(&self.fs, Whence::Set, position as i64)
            .unwrap();
    }

    fn position(&self) -> u64 {
        self.sio.position()
    }

    fn contents(&self) -> Vec<u8> {
        let node = self.sio.node().unwrap();
        let size = self.fs.stat(node).unwrap().size_bytes as usize;
        let mut out = vec![0; size];
        self.fs.read(node, 0, &mut out).unwrap();
        out
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

/// The synthesized side: a sandbox with the routines the policy may ask
/// for, the SIO's routine state and facts.
struct Synthesized {
    sandbox: Sandbox,
    catalogue: Catalogue,
    routines: SioRoutines<usize>,
    facts: SioFacts,
    env: Env,
}

impl Synthesized {
    /// Builds the sandbox with `holes` at 0x200-byte steps, a "generic path"
    /// returning [`FALLBACK`] at 0x800, and replans for `facts`.
    ///
    /// With `leaf`, a routine with a stackless twin (`policy::leaf_twin`)
    /// is built as that twin, as the kernel installs it for a native
    /// thread, its `sysretq`s turned into `ret`s for the sandbox's `call`.
    fn new(
        leaf: bool,
        facts: impl FnOnce(u64) -> SioFacts,
        holes: impl FnOnce(u64, u64, u64) -> Vec<RoutineHoles>,
    ) -> Self {
        let mut sandbox = Sandbox::new(0x1000, 0x4000).unwrap();
        let (data, code) = (sandbox.data_address(), sandbox.code_address());
        let generic_entry = code + 0x800;
        let out = sandbox.code_mut().unwrap();
        let mut entries = Vec::new();
        for (i, holes) in holes(data, code, generic_entry).into_iter().enumerate() {
            let offset = i * 0x200;
            assert!(offset < 0x800);
            let at = &mut out[offset..offset + 0x200];
            let twin = leaf
                .then(|| leaf_twin(&holes, generic_entry, BAD_ADDRESS, generic_entry))
                .flatten();
            let instance = match twin {
                Some(twin) => {
                    let instance = twin.describe(code + offset as u64, Smap::Disabled);
                    twin.instantiate_bytes(code + offset as u64, Smap::Disabled, at)
                        .unwrap();
                    sysret_to_ret(&mut at[..instance.size()]);
                    instance
                }
                None => holes
                    .instantiate(code + offset as u64, Smap::Disabled, at)
                    .unwrap(),
            };
            entries.push((holes, instance));
        }
        // The generic side's stand-in: `mov rax, FALLBACK; ret` (the error
        // stub is stackless now and ends in `sysretq`).
        let mut stand_in = vec![0x48, 0xc7, 0xc0];
        stand_in.extend_from_slice(&(FALLBACK as i32).to_le_bytes());
        stand_in.push(0xc3);
        out[0x800..0x800 + stand_in.len()].copy_from_slice(&stand_in);
        sandbox.seal().unwrap();
        let env = Env {
            is_enabled: true,
            table_handles: 1,
            bad_address: BAD_ADDRESS,
            generic_entry,
            slow_path: generic_entry,
            max_copy_bytes: MAX_LEN as u32,
            max_console_bytes: 64,
            yield_routine: None,
        };
        let mut this = Self {
            sandbox,
            catalogue: Catalogue {
                entries,
                live: 0,
                table: [SlotTarget::Generic; 8],
            },
            routines: SioRoutines::new(),
            facts: facts(data),
            env,
        };
        this.replan();
        this
    }

    fn ram_file(leaf: bool) -> Self {
        Self::new(
            leaf,
            |data| SioFacts {
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
                is_holder: false,
                is_revoked: false,
                handle: HANDLE,
            },
            |data, code, generic_entry| {
                let read = RoutineHoles::RamFileRead(RamFileReadHoles {
                    data: Imm64(data + FILE_DATA as u64),
                    position_cell: Imm64(data + POSITION_CELL as u64),
                    size_cell: Imm64(data + SIZE_CELL as u64),
                    bad_address: Imm32(BAD_ADDRESS),
                    max_len: Imm32(MAX_LEN as i32),
                    slow_path: Imm64(generic_entry),
                });
                let trampoline = code + 0x600;
                let write = |capacity| {
                    RoutineHoles::RamFileWrite(RamFileWriteHoles {
                        data: Imm64(data + FILE_DATA as u64),
                        capacity: Imm64(capacity),
                        position_cell: Imm64(data + POSITION_CELL as u64),
                        size_cell: Imm64(data + SIZE_CELL as u64),
                        generic_fallback: Rel32Target(trampoline),
                        bad_address: Imm32(BAD_ADDRESS),
                        max_len: Imm32(MAX_LEN as i32),
                    })
                };
                let fallback = RoutineHoles::GenericTrampoline(GenericTrampolineHoles {
                    handle: Imm32(HANDLE as i32),
                    op: Imm32(5),
                    generic_entry: Imm64(generic_entry),
                });
                vec![read, write(SMALL_CAPACITY), write(FILE_ROOM), fallback]
            },
        )
    }

    fn device(leaf: bool, target: impl Fn(u64) -> SioTarget) -> Self {
        Self::new(
            leaf,
            |data| SioFacts {
                target: target(data),
                can_read: true,
                can_write: false,
                is_append: false,
                position_cell: data + POSITION_CELL as u64,
                owner: Some(OWNER),
                is_shared: false,
                is_holder: false,
                is_revoked: false,
                handle: HANDLE,
            },
            |data, _, generic_entry| {
                vec![
                    RoutineHoles::DevMemRead(DevMemReadHoles {
                        base: Imm64(data + FILE_DATA as u64),
                        window_size: Imm32(WINDOW.len() as i32),
                        position_cell: Imm64(data + POSITION_CELL as u64),
                        bad_address: Imm32(BAD_ADDRESS),
                        max_len: Imm32(MAX_LEN as i32),
                        slow_path: Imm64(generic_entry),
                    }),
                    RoutineHoles::DevZeroRead(DevZeroReadHoles {
                        bad_address: Imm32(BAD_ADDRESS),
                        max_len: Imm32(MAX_LEN as i32),
                        slow_path: Imm64(generic_entry),
                    }),
                ]
            },
        )
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

    /// A read; a call the routine sends to the generic path is performed by
    /// `generic` (the other side) and its result taken, as the kernel's slow
    /// path would answer.
    fn read(&mut self, len: u64, generic: &mut Generic) -> (i64, Vec<u8>) {
        let n = self.call(Op::Read, len);
        if n == FALLBACK {
            let (n, bytes) = generic.read(len);
            self.sandbox.write_cell(POSITION_CELL, generic.position());
            return (n, bytes);
        }
        let answer = (
            n,
            self.sandbox.data()[USER_BUFFER..USER_BUFFER + n.max(0) as usize].to_vec(),
        );
        // Keep the other side in step (its own routine ran there).
        let other = generic.read(len);
        assert_eq!(answer, other, "read {len}");
        answer
    }

    fn write(&mut self, bytes: &[u8], generic: &mut Generic) -> i64 {
        self.sandbox.data_mut()[USER_BUFFER..USER_BUFFER + bytes.len()].copy_from_slice(bytes);
        let result = self.call(Op::Write, bytes.len() as u64);
        let generic_result = generic.write(bytes);
        if result != FALLBACK {
            return result;
        }
        // The generic path performed it: its bytes, size and position are
        // what the shared cells and data now hold.
        let contents = generic.contents();
        assert!(contents.len() as u64 <= FILE_ROOM);
        self.sandbox.data_mut()[FILE_DATA..FILE_DATA + contents.len()].copy_from_slice(&contents);
        self.sandbox.write_cell(POSITION_CELL, generic.position());
        self.sandbox.write_cell(SIZE_CELL, contents.len() as u64);
        let SioTarget::File(file) = &mut self.facts.target else {
            unreachable!()
        };
        if contents.len() as u64 > file.capacity {
            // The file system grew the data past the capacity.
            assert_eq!(file.capacity, SMALL_CAPACITY, "grows once");
            file.capacity = FILE_ROOM;
            file.generation += 1;
            self.replan();
        }
        generic_result
    }

    fn close(self) {
        let mut catalogue = self.catalogue;
        self.routines.close(&mut catalogue);
        assert_eq!(catalogue.live, 0);
        assert!(catalogue.table.iter().all(|t| *t == SlotTarget::Generic));
    }
}

#[derive(Clone, Debug)]
enum FileOp {
    Read(u64),
    Write(Vec<u8>),
    Seek(u64),
}

fn file_op() -> impl Strategy<Value = FileOp> {
    prop_oneof![
        (0u64..120).prop_map(FileOp::Read),
        prop::collection::vec(any::<u8>(), 0..120).prop_map(FileOp::Write),
        (0u64..300).prop_map(FileOp::Seek),
    ]
}

/// `/dev/mem`'s window on both sides (the generic side's devices get it).
static WINDOW: [u8; 512] = {
    let mut w = [0u8; 512];
    let mut i = 0;
    while i < w.len() {
        w[i] = sk_abi::dev_mem_byte(i as u64);
        i += 1;
    }
    w
};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn synthesized_ram_file_matches_the_generic_path(ops in prop::collection::vec(file_op(), 1..40), leaf in any::<bool>()) {
        let mut fast = Synthesized::ram_file(leaf);
        let mut slow = Generic::file();
        for op in &ops {
            match op {
                FileOp::Read(len) => {
                    let before = slow.position();
                    let (n, bytes) = fast.read(*len, &mut slow);
                    let contents = slow.contents();
                    let expected = contents.get(before as usize..).unwrap_or(&[]);
                    prop_assert_eq!(&bytes[..], &expected[..bytes.len()], "{:?}", op);
                    prop_assert_eq!(n as usize, bytes.len());
                }
                FileOp::Write(bytes) => {
                    prop_assert_eq!(fast.write(bytes, &mut slow), bytes.len() as i64, "{:?}", op);
                }
                FileOp::Seek(position) => {
                    // A seek moves the shared cell's value; no fact changes.
                    fast.sandbox.write_cell(POSITION_CELL, *position);
                    fast.replan();
                    slow.seek(*position);
                }
            }
            prop_assert_eq!(fast.sandbox.read_cell(POSITION_CELL), slow.position());
            let contents = slow.contents();
            prop_assert_eq!(fast.sandbox.read_cell(SIZE_CELL), contents.len() as u64);
            prop_assert_eq!(&fast.sandbox.data()[FILE_DATA..FILE_DATA + contents.len()], &contents[..]);
        }
        fast.close();
    }

    #[test]
    fn synthesized_dev_mem_read_matches_the_generic_path(
        ops in prop::collection::vec(prop_oneof![(0u64..200).prop_map(Some), (0u64..600).prop_map(|_| None)], 1..40),
        seeks in prop::collection::vec(0u64..600, 40),
        leaf in any::<bool>(),
    ) {
        let mut fast = Synthesized::device(leaf, |data| SioTarget::Mem {
            base: data + FILE_DATA as u64,
            window_bytes: WINDOW.len() as u64,
        });
        fast.sandbox.data_mut()[FILE_DATA..FILE_DATA + WINDOW.len()].copy_from_slice(&WINDOW);
        let mut slow = Generic::open("/dev/mem", OpenFlags::READ, &WINDOW);
        for (op, seek) in ops.iter().zip(&seeks) {
            match op {
                Some(len) => {
                    fast.read(*len, &mut slow);
                }
                None => {
                    fast.sandbox.write_cell(POSITION_CELL, *seek);
                    slow.seek(*seek);
                }
            }
            prop_assert_eq!(fast.sandbox.read_cell(POSITION_CELL), slow.position());
        }
    }

    #[test]
    fn synthesized_dev_zero_read_matches_the_generic_path(lens in prop::collection::vec(0u64..200, 1..40), leaf in any::<bool>()) {
        let mut fast = Synthesized::device(leaf, |_| SioTarget::Zero);
        let mut slow = Generic::open("/dev/zero", OpenFlags::READ, &[]);
        for len in lens {
            fast.sandbox.data_mut()[USER_BUFFER..USER_BUFFER + 200].fill(0xaa);
            slow.user.bytes[..200].fill(0xaa);
            fast.read(len, &mut slow);
        }
    }
}
