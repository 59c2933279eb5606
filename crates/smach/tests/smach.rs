//! The SMACH kind's generic semantics on the host: loading programs into a
//! fake address space, exit and teardown, the reconfigure policy, handle
//! tables holding real SIOs.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use sk_abi::{ExitStatus, Handle, OpenFlags, SmachReconfigure, SmachState, SysError, PAGE_SIZE};
use sk_fs::FileSystem;
use sk_sio::Sio;
use sk_smach::{load_program, Object, Smach, SmachAction, USER_STACK_BYTES, USER_STACK_TOP};
use sk_smem::testing::FakeAddressSpace;
use sk_smem::{Access, Regions};

/// A static ELF: text (R+X) at 0x40_1000 holding `code`, data (R+W) at
/// 0x40_2000 holding `data` followed by bss up to 0x2000 bytes.
fn elf(code: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 0x3000];
    out[..7].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1]);
    let put = |out: &mut Vec<u8>, at: usize, bytes: &[u8]| {
        out[at..at + bytes.len()].copy_from_slice(bytes)
    };
    put(&mut out, 16, &2u16.to_le_bytes()); // ET_EXEC
    put(&mut out, 18, &0x3eu16.to_le_bytes()); // x86-64
    put(&mut out, 20, &1u32.to_le_bytes());
    put(&mut out, 24, &0x40_1000u64.to_le_bytes()); // entry
    put(&mut out, 32, &64u64.to_le_bytes()); // phoff
    put(&mut out, 52, &64u16.to_le_bytes());
    put(&mut out, 54, &56u16.to_le_bytes());
    put(&mut out, 56, &2u16.to_le_bytes());
    put(&mut out, 58, &64u16.to_le_bytes());
    let phdrs: [(u32, u64, u64, u64, u64); 2] = [
        (
            1 | 4,
            0x1000,
            0x40_1000,
            code.len() as u64,
            code.len() as u64,
        ),
        (2 | 4, 0x2000, 0x40_2000, data.len() as u64, 0x2000),
    ];
    for (i, (flags, offset, vaddr, file_size, mem_size)) in phdrs.into_iter().enumerate() {
        let at = 64 + i * 56;
        put(&mut out, at, &1u32.to_le_bytes());
        put(&mut out, at + 4, &flags.to_le_bytes());
        put(&mut out, at + 8, &offset.to_le_bytes());
        put(&mut out, at + 16, &vaddr.to_le_bytes());
        put(&mut out, at + 24, &vaddr.to_le_bytes());
        put(&mut out, at + 32, &file_size.to_le_bytes());
        put(&mut out, at + 40, &mem_size.to_le_bytes());
        put(&mut out, at + 48, &0x1000u64.to_le_bytes());
    }
    put(&mut out, 0x1000, code);
    put(&mut out, 0x2000, data);
    out
}

#[test]
fn a_program_is_mapped_with_its_bytes_permissions_and_stack() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let image = elf(&[0xeb, 0xfe], b"data!");
    let entry = load_program(&mut regions, &mut aspace, &image).unwrap();
    assert_eq!(entry, 0x40_1000);
    let text = &aspace.pages[&0x40_1000];
    assert_eq!(text.access, Access::READ_EXECUTE);
    assert_eq!(&text.bytes[..2], &[0xeb, 0xfe]);
    assert!(text.bytes[2..].iter().all(|&b| b == 0));
    assert_eq!(aspace.pages[&0x40_2000].access, Access::READ_WRITE);
    assert_eq!(&aspace.pages[&0x40_2000].bytes[..5], b"data!");
    assert!(aspace.pages.contains_key(&0x40_3000), "bss page");
    let stack_pages = (USER_STACK_BYTES / PAGE_SIZE) as usize;
    assert_eq!(aspace.pages.len(), 3 + stack_pages);
    assert!(
        !aspace
            .pages
            .contains_key(&(USER_STACK_TOP - USER_STACK_BYTES - PAGE_SIZE)),
        "guard"
    );
    assert_eq!(regions.mapped_bytes(), (3 + stack_pages as u64) * PAGE_SIZE);
    assert!(
        !regions.is_free(
            USER_STACK_TOP - USER_STACK_BYTES - PAGE_SIZE,
            USER_STACK_TOP - USER_STACK_BYTES
        ),
        "guard reserved"
    );
}

#[test]
fn garbage_and_exhaustion_are_errors() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    assert_eq!(
        load_program(&mut regions, &mut aspace, b"not an elf"),
        Err(SysError::BadElf)
    );
    assert!(aspace.pages.is_empty());
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::with_limit(10);
    assert_eq!(
        load_program(&mut regions, &mut aspace, &elf(&[0xc3], b"")),
        Err(SysError::NoMemory)
    );
}

type TestSmach = Smach<(), FakeAddressSpace>;

#[test]
fn exit_happens_once_and_hands_everything_back() {
    let mut fs = FileSystem::new().unwrap();
    let mut m = TestSmach::new(5, "/bin/x".into(), None, FakeAddressSpace::new());
    m.handles
        .install_at(Handle::SELF, Object::Smach(5))
        .unwrap();
    let console = Sio::open(&mut fs, "/dev/tty", OpenFlags::READ | OpenFlags::WRITE).unwrap();
    m.handles
        .install_at(Handle::CONSOLE, Object::Sio(console))
        .unwrap();
    m.add_thread(9, 64).unwrap();
    m.add_waiter(11).unwrap();
    m.add_waiter(11).unwrap();
    let t = m.exit(ExitStatus::new(3)).unwrap();
    assert_eq!(t.objects.len(), 2);
    assert_eq!(t.threads, [9]);
    assert_eq!(t.waiters, [11]);
    assert!(t.aspace.is_some());
    assert!(m.exit(ExitStatus::KILLED).is_none(), "exit happens once");
    assert_eq!(m.state(), SmachState::Exited);
    assert_eq!(m.info().exit_status, 3);
    assert_eq!(m.info().handle_count, 0);
    assert_eq!(m.info().memory_bytes, 0);
}

#[test]
fn the_thread_limit_holds() {
    let mut m = TestSmach::new(1, "x".into(), None, FakeAddressSpace::new());
    for t in 0..4 {
        m.add_thread(t, 4).unwrap();
    }
    assert_eq!(m.add_thread(4, 4), Err(SysError::NoMemory));
}

#[test]
fn reconfigure_policy() {
    let mut m = TestSmach::new(1, "x".into(), Some(0), FakeAddressSpace::new());
    use SmachReconfigure as R;
    assert_eq!(
        m.reconfigure(R::TraceNextCall, false, true),
        Err(SysError::NotSupported)
    );
    assert_eq!(
        m.reconfigure(R::TraceNextCall, true, false),
        Err(SysError::NotPermitted)
    );
    assert_eq!(
        m.reconfigure(R::TraceNextCall, true, true),
        Ok(SmachAction::TraceNextCall)
    );
    assert_eq!(m.reconfigure(R::Wait, true, true), Err(SysError::Busy));
    assert_eq!(
        m.reconfigure(R::YieldCaller, true, false),
        Ok(SmachAction::YieldOrSleepCaller { ns: 0 })
    );
    assert_eq!(
        m.reconfigure(R::SleepCaller { ns: 7 }, true, false),
        Ok(SmachAction::YieldOrSleepCaller { ns: 7 })
    );
    assert_eq!(
        m.reconfigure(R::YieldCaller, false, true),
        Err(SysError::NotPermitted)
    );
    assert_eq!(
        m.reconfigure(R::SleepCaller { ns: 7 }, false, true),
        Err(SysError::NotPermitted)
    );
    assert_eq!(m.reconfigure(R::Wait, false, true), Ok(SmachAction::Wait));
    assert_eq!(
        m.reconfigure(R::Priority(8), false, true),
        Err(SysError::BadValue)
    );
    assert_eq!(
        m.reconfigure(R::Priority(7), false, true),
        Ok(SmachAction::SetPriority(7))
    );
    assert_eq!(m.priority(), 7);
    assert_eq!(m.reconfigure(R::Suspend, true, true), Err(SysError::Busy));
    assert_eq!(
        m.reconfigure(R::Suspend, false, true),
        Ok(SmachAction::Suspend)
    );
    assert_eq!(m.state(), SmachState::Suspended);
    assert_eq!(
        m.reconfigure(R::Resume, false, true),
        Ok(SmachAction::Resume)
    );
    assert_eq!(m.state(), SmachState::Running);
    assert!(!m.is_orphan(true));
    assert!(m.is_orphan(false), "its parent is gone");
    m.release();
    assert!(m.is_orphan(true));
}

#[test]
fn nesting_stops_at_max_depth() {
    use sk_smach::{may_nest_below, MAX_DEPTH};
    // A root (depth 0) may have children, and so on down to MAX_DEPTH.
    assert!(may_nest_below(0));
    assert!(may_nest_below(MAX_DEPTH - 1));
    // Nothing below MAX_DEPTH: teardown and the tree walks are bounded.
    assert!(!may_nest_below(MAX_DEPTH));
    assert!(!may_nest_below(usize::MAX));
    // The nesting tests need depth 3 at least.
    const { assert!(MAX_DEPTH >= 3) };
}
