//! SMACH cases: query self, spawn and wait for children, spawn errors.

use sk_abi::{Call, ExitStatus, Kind, SmachCreateArgs, SmachState, SysError};
use sk_user::{OpenFlags, Sio, Smach};

use crate::support::{addr_of, ensure, expect_eq, expect_err, must, sys, word, Outcome};

/// `worker`'s argument, and its documented exit status: 304 primes below
/// 2007, mod 200 (`sk_user_worker::status`).
const WORKER_ARG: u64 = 7;
const WORKER_STATUS: i32 = 104;

/// The non-ELF file spawned.
const NOT_ELF: &str = "/tmp/notelf";

pub(crate) fn query_self() -> Outcome {
    let info = must("query", Smach::this().query())?;
    expect_eq("state", info.state(), Ok(SmachState::Running))?;
    ensure!(
        info.handle_count >= 2,
        "handle count {} < 2",
        info.handle_count
    );
    ensure!(info.memory_bytes > 0, "no memory mapped");
    Ok(())
}

pub(crate) fn bad_self_selector() -> Outcome {
    // SAFETY: selector 11 is no request: nothing changes.
    let got = unsafe { sys(word(0, Call::Reconfigure), [11, 0, 0]) };
    expect_err(
        "reconfigure selector 11 on self",
        got,
        SysError::BadSelector,
    )
}

pub(crate) fn spawn_worker_and_wait() -> Outcome {
    let child = must(
        "spawn /bin/worker",
        Smach::spawn_with_arg("/bin/worker", WORKER_ARG),
    )?;
    let status = child.wait();
    let again = child.wait();
    let info = child.query();
    let handle = child.handle();
    let freed = child.terminate();
    expect_eq("status", status, Ok(WORKER_STATUS))?;
    expect_eq("second wait", again, Ok(WORKER_STATUS))?;
    let info = must("query child", info)?;
    expect_eq("child state", info.state(), Ok(SmachState::Exited))?;
    expect_eq(
        "child exit status",
        info.exit_status(),
        Some(ExitStatus::new(WORKER_STATUS)),
    )?;
    must("terminate exited child", freed)?;
    expect_err(
        "query freed child",
        Smach::from_handle(handle).query(),
        SysError::BadHandle,
    )
}

pub(crate) fn faulting_child_is_killed() -> Outcome {
    let child = must("spawn /bin/faulty", Smach::spawn_with_arg("/bin/faulty", 0))?;
    let status = child.wait();
    let _ = child.terminate();
    expect_eq("status", status, Ok(ExitStatus::KILLED.get()))
}

pub(crate) fn spawn_missing_is_not_found() -> Outcome {
    let got = Smach::spawn("/bin/no-such-program");
    expect_err("spawn", got, SysError::NotFound)
}

pub(crate) fn spawn_non_elf_is_bad_elf() -> Outcome {
    let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let file = must("create /tmp/notelf", Sio::open(NOT_ELF, flags))?;
    let written = file.write(&[0x7f, b'E', b'L', b'F', 1, 1, 1, 0, 0xde, 0xad, 0xbe, 0xef]);
    let _ = file.close();
    must("write", written)?;
    let got = Smach::spawn(NOT_ELF);
    if let Ok(child) = &got {
        let _ = Smach::from_handle(child.handle()).terminate();
    }
    expect_err("spawn", got.map(|child| child.handle()), SysError::BadElf)
}

pub(crate) fn smach_flags_are_bad_flags() -> Outcome {
    let path = "/bin/worker";
    let args = SmachCreateArgs {
        path_ptr: addr_of(path),
        path_len: path.len() as u64,
        arg: 0,
        flags: 4, // bit 0 is SUSPENDED, bit 1 LINUX; bit 2 is not defined
        _pad: 0,
    }
    .to_bytes();
    // SAFETY: the kernel only reads `args` and the path; were the worker
    // wrongly started, it is a separate SMACH, killed below.
    let got = unsafe {
        sys(
            word(0, Call::Create),
            [u64::from(Kind::Smach), addr_of(&args), 32],
        )
    };
    if let Ok(handle) = got {
        let _ = sk_abi::Handle::from_return(handle)
            .map(|handle| Smach::from_handle(handle).terminate());
    }
    expect_err("flags 4", got, SysError::BadFlags)
}
