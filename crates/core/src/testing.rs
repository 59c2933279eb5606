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

impl Drop for TestMachine {
    fn drop(&mut self) {
        crate::thread::detach_current();
        state::with(|core| {
            smach::exit(core, self.id, ExitStatus::SUCCESS);
            core.smachs.remove(&self.id);
        });
    }
}
