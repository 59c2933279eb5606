//! Support for in-kernel tests of the generic path: a SMACH with no
//! threads, whose calls a kernel thread makes on its behalf.

use crate::handle_table::HandleTable;
use crate::object::Object;
use crate::sio::Sio;
use crate::smach::{self, Smach, SMEM_AREA_START};
use crate::state::{self, SmachId};
use alloc::string::String;
use alloc::vec::Vec;
use sk_abi::{ExitStatus, Handle, OpenFlags, SmachState, SysError};
use sk_machine::address_space::{AddressSpace, UserAccess};

/// Where a test machine's scratch memory starts.
pub const TEST_BUFFER: u64 = 0x1000_0000;
/// A user code page holding `jmp $`: an entry point for test SCPUs.
pub const TEST_SPIN_CODE: u64 = 0x0f00_0000;
/// Code in the same page that counts forever: `1: inc qword [rdi]; jmp 1b`
/// (an SCPU's argument arrives in `rdi`), to measure CPU shares.
pub const TEST_COUNT_CODE: u64 = TEST_SPIN_CODE + 16;

/// A thread-less SMACH that the current kernel thread is attached to while
/// it lives; dropping it detaches and frees everything.
pub struct TestMachine {
    id: SmachId,
    len: u64,
}

impl TestMachine {
    /// A machine with `pages` of scratch memory at [`TEST_BUFFER`].
    pub fn new(pages: u64) -> Result<Self, SysError> {
        let id = state::with(|core| -> Result<SmachId, SysError> {
            let id = core.new_id();
            let mut smach = Smach {
                id,
                name: String::from("<kernel test>"),
                parent: None,
                state: SmachState::Running,
                exit_status: ExitStatus::SUCCESS,
                aspace: Some(AddressSpace::new().map_err(|_| SysError::NoMemory)?),
                handles: HandleTable::new(),
                threads: Vec::new(),
                waiters: Vec::new(),
                regions: Vec::new(),
                next_smem: SMEM_AREA_START,
                mapped_bytes: 0,
                priority: 3,
                released: false,
            };
            let end = TEST_BUFFER + pages * 4096;
            smach.map_zeroed(
                TEST_BUFFER,
                end,
                UserAccess {
                    write: true,
                    execute: false,
                },
            )?;
            smach.regions.push((TEST_BUFFER, end));
            let mut code = sk_machine::user_frame::UserFrame::new().ok_or(SysError::NoMemory)?;
            code.write(0, &[0xeb, 0xfe]);
            code.write(16, &[0x48, 0xff, 0x07, 0xeb, 0xfb]);
            smach
                .aspace()?
                .map(
                    TEST_SPIN_CODE,
                    code,
                    UserAccess {
                        write: false,
                        execute: true,
                    },
                )
                .map_err(|_| SysError::NoMemory)?;
            smach.mapped_bytes += 4096;
            smach.regions.push((TEST_SPIN_CODE, TEST_SPIN_CODE + 4096));
            let console = Sio::open(core, "/dev/tty", OpenFlags::READ | OpenFlags::WRITE)?;
            smach.handles.install_at(Handle::SELF, Object::Smach(id));
            smach.handles.install_at(
                Handle::CONSOLE,
                Object::Sio(alloc::boxed::Box::new(console)),
            );
            core.smachs.insert(id, smach);
            Ok(id)
        })?;
        crate::thread::attach_current_to(id);
        Ok(Self {
            id,
            len: pages * 4096,
        })
    }

    /// The machine's id.
    pub fn id(&self) -> SmachId {
        self.id
    }

    /// Bytes of scratch memory.
    pub fn buffer_len(&self) -> u64 {
        self.len
    }

    /// Bytes of user memory mapped in this machine.
    pub fn mapped_bytes(&self) -> u64 {
        state::with(|core| core.smachs.get(&self.id).map_or(0, |s| s.mapped_bytes))
    }

    /// Handles in use.
    pub fn handle_count(&self) -> usize {
        state::with(|core| core.smachs.get(&self.id).map_or(0, |s| s.handles.count()))
    }
}

/// What a routine-table slot of the current thread points at.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotState {
    /// A synthesized routine made from this template.
    Synthesized(&'static str),
    /// The generic path (the stub's slow path).
    Generic,
    /// The current thread has no routine table.
    NoTable,
}

impl TestMachine {
    /// Gives the current (kernel) thread a routine table, so SIOs it opens
    /// get synthesized routines as a user thread's would (synthesis on).
    /// Removed again when the machine is dropped.
    pub fn with_routine_table(self) -> Self {
        state::with(|core| {
            let current = core.current;
            let top = core
                .threads
                .get(&current)
                .map_or(0, |t| t.context.stack_top());
            let synth = crate::synthesis::for_new_thread(top).ok().flatten();
            if let Some(t) = core.threads.get_mut(&current) {
                t.synth = synth;
            }
        });
        self
    }

    /// Where the current thread's slot for `op` on `handle` points.
    pub fn slot(&self, handle: u32, op: sk_abi::Call) -> SlotState {
        state::with(|core| {
            let current = core.current;
            let Some(table) = core.threads.get(&current).and_then(|t| t.synth.as_ref()) else {
                return SlotState::NoTable;
            };
            let index = (u64::from(handle) << sk_abi::Call::BITS) | u64::from(op.number());
            let address = table
                .table
                .get(index as usize)
                .map_or(0, |a| a.load(core::sync::atomic::Ordering::Acquire));
            let sio = core
                .smachs
                .get(&self.id)
                .and_then(|s| s.handles.get(Handle::new(handle)).ok());
            let routines = match sio {
                Some(Object::Sio(sio)) => sio.routines.as_deref(),
                _ => None,
            };
            let found = routines.and_then(|r| {
                [r.read.as_ref(), r.write.as_ref()]
                    .into_iter()
                    .flatten()
                    .find(|x| x.entry() == address)
                    .map(|x| x.instance.name())
            });
            match found {
                Some(name) => SlotState::Synthesized(name),
                None => SlotState::Generic,
            }
        })
    }
}

impl Drop for TestMachine {
    fn drop(&mut self) {
        state::with(|core| {
            let current = core.current;
            if let Some(t) = core.threads.get_mut(&current) {
                t.synth = None;
            }
        });
        crate::thread::detach_current();
        state::with(|core| {
            smach::exit(core, self.id, ExitStatus::SUCCESS);
            core.smachs.remove(&self.id);
        });
    }
}
