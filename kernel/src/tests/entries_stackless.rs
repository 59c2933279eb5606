//! Stackless synthesized calls (issue 13): which slots the entry stub
//! enters by `jmp` on the user's stack, and those calls under attack from
//! ring 3 (`/bin/hostile` mode `leaf-call`): hostile RSP values (null,
//! non-canonical, kernel addresses), buffers that fault inside the routine
//! in ring 0, lengths on both sides of the 1-byte fast path. Every call
//! must answer as the generic path would, keep RCX and R11, and leave the
//! program and the kernel running; each fault must be resolved in place
//! on the `#PF` IST stack (`sk_machine::page_fault_entry`).

use super::programs::worker_status;
use alloc::format;
use alloc::string::String;
use sk_abi::{Call, OpenFlags};
use sk_core::testing::TestMachine;
use sk_ktest::{ensure, ensure_eq, ktest};

const HOSTILE: &str = "/bin/hostile";
const LEAF_CALL: u64 = 17;

/// `leaf-call` objects (user/hostile/src/leaf.rs).
const ZERO: u64 = 0;
const MEM: u64 = 1;
const FILE: u64 = 2;
const NULL: u64 = 3;

/// RSP kinds (`rsp_value`): 0 null, 1 non-canonical, 3 the kernel's direct
/// map; 0xff the program's own stack.
const OWN_STACK: u64 = 0xff;

fn leaf_call(object: u64, rsp: u64, buffer: u64, long: bool) -> Result<i32, String> {
    let param = object | (rsp << 8) | (buffer << 16) | if long { 1 << 24 } else { 0 };
    let id = sk_core::spawn_program(HOSTILE, (LEAF_CALL << 32) | param)
        .map_err(|e| format!("spawn: {e}"))?;
    let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
    sk_core::release_program(id);
    status
}

ktest!(
    fn device_and_file_reads_and_error_stubs_are_entered_stackless() {
        // The subject is the routine made at open: no lazy synthesis.
        let _eager = sk_core::testing::EagerSynthesis::new();
        let m = TestMachine::new(4)
            .map_err(|e| format!("test machine: {e}"))?
            .with_routine_table();
        let open = |path: &str, flags: OpenFlags| {
            super::abi_support::open(path, flags).map_err(|e| format!("open {path}: {e}"))
        };
        let zero = open("/dev/zero", OpenFlags::READ)?;
        let mem = open("/dev/mem", OpenFlags::READ)?;
        let null = open("/dev/null", OpenFlags::WRITE)?;
        let file = open(
            "/tmp/stackless",
            OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
        )?;
        for (what, handle, call) in [
            ("/dev/zero read", zero, Call::Read),
            ("/dev/mem read", mem, Call::Read),
            ("/dev/null write", null, Call::Write),
            ("RAM-file read", file, Call::Read),
            ("null call", zero, Call::Null),
        ] {
            ensure!(m.is_stackless(handle, call), "{what}: not stackless");
        }
        // A RAM-file write may fall back to the generic path in the middle
        // of its work: it keeps the stack (through the stub's door), as
        // does every generic slot.
        ensure!(
            !m.is_stackless(file, Call::Write),
            "RAM-file write stackless"
        );
        ensure!(!m.is_stackless(zero, Call::Write), "generic slot stackless");
        ensure!(!m.is_stackless(zero, Call::Query), "generic slot stackless");
        // Closed before the machine (and the thread's table) goes: code
        // must not outlive the table it was planned for.
        for handle in [zero, mem, null, file] {
            super::abi_support::sys(handle, Call::Terminate, &[])
                .map_err(|e| format!("close {handle}: {e}"))?;
        }
        Ok(())
    }
);

ktest!(
    fn stackless_calls_survive_hostile_stacks_and_faulting_buffers() {
        // Every call must reach a stackless routine: no lazy synthesis.
        let _eager = sk_core::testing::EagerSynthesis::new();
        let before = sk_machine::page_fault_entry::in_place_fixups();
        let mut faults = 0;
        for object in [ZERO, MEM, FILE, NULL] {
            // (rsp, buffer, long): a good call on the program's stack and
            // on a hostile one, the general path, and bad buffers: an
            // unmapped page (faults in ring 0 at a null or kernel RSP), a
            // kernel and a non-canonical address (refused by the range
            // check), the last bytes below the user end (faults, or out
            // of range when 16 bytes long).
            for (rsp, buffer, long) in [
                (OWN_STACK, 0, false),
                (3, 0, false),
                (0, 0, true),
                (0, 1, false),
                (3, 1, false),
                (1, 1, true),
                (0, 2, false),
                (3, 3, false),
                (0, 4, false),
                (3, 4, true),
            ] {
                let status = leaf_call(object, rsp, buffer, long)?;
                ensure!(
                    status == 0,
                    "object {object} rsp kind {rsp:#x} buffer kind {buffer} long {long}: status {status}"
                );
                // /dev/null never touches the buffer; the range check stops
                // kernel and non-canonical addresses and a 16-byte range
                // past the user end before any access.
                if object != NULL && (buffer == 1 || (buffer == 4 && !long)) {
                    faults += 1;
                }
            }
        }
        let resolved = sk_machine::page_fault_entry::in_place_fixups() - before;
        ensure_eq!(resolved, faults);
        let id = sk_core::spawn_program("/bin/worker", 7).map_err(|e| format!("spawn: {e}"))?;
        let status = sk_core::wait_program(id).map_err(|e| format!("wait: {e}"));
        sk_core::release_program(id);
        ensure_eq!(status?, worker_status(7));
        Ok(())
    }
);
