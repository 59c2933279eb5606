//! The native ABI on the generic path: call decoding, handles, SIO.

use super::abi_support::{get, open, put, sys};
use sk_abi::{Call, Kind, OpenFlags, SioInfo, SioKind, SysError, USER_END};
use sk_core::testing::{TestMachine, TEST_BUFFER};
use sk_ktest::{ensure, ensure_eq, ktest};

const RW: OpenFlags = OpenFlags::READ.union(OpenFlags::WRITE);

fn machine() -> Result<TestMachine, alloc::string::String> {
    TestMachine::new(4).map_err(|e| alloc::format!("test machine: {e}"))
}

ktest!(
    fn null_call_returns_zero() {
        let _m = machine()?;
        ensure_eq!(sys(0, Call::Null, &[]), Ok(0));
        Ok(())
    }
);

ktest!(
    fn bad_call_number_and_handles_are_rejected() {
        let _m = machine()?;
        ensure_eq!(sk_core::call(7, [0; 5]), Err(SysError::BadCall));
        ensure_eq!(sk_core::call((3 << 3) | 7, [0; 5]), Err(SysError::BadCall));
        ensure_eq!(
            sys(500, Call::Read, &[TEST_BUFFER, 1]),
            Err(SysError::BadHandle)
        );
        ensure_eq!(
            sys(u32::MAX >> 3, Call::Query, &[0, TEST_BUFFER, 64]),
            Err(SysError::BadHandle)
        );
        ensure!(
            sk_core::call(u64::MAX, [0; 5]).is_err(),
            "call word u64::MAX accepted"
        );
        Ok(())
    }
);

ktest!(
    fn calls_check_the_kind_of_their_handle() {
        let _m = machine()?;
        ensure_eq!(
            sys(0, Call::Read, &[TEST_BUFFER, 1]),
            Err(SysError::WrongKind)
        );
        ensure_eq!(
            sys(
                1,
                Call::Create,
                &[Kind::Sio.number().into(), TEST_BUFFER, 24]
            ),
            Err(SysError::WrongKind)
        );
        ensure_eq!(
            sys(0, Call::Create, &[9, TEST_BUFFER, 24]),
            Err(SysError::WrongKind)
        );
        Ok(())
    }
);

ktest!(
    fn create_checks_its_argument_struct() {
        let _m = machine()?;
        let sio = Kind::Sio.number().into();
        ensure_eq!(
            sys(0, Call::Create, &[sio, TEST_BUFFER, 23]),
            Err(SysError::BadLength)
        );
        ensure_eq!(
            sys(0, Call::Create, &[sio, 0xffff_ffff_8000_0000, 24]),
            Err(SysError::BadAddress)
        );
        ensure_eq!(
            sys(0, Call::Create, &[sio, 0, 24]),
            Err(SysError::BadAddress)
        );
        ensure_eq!(
            sys(0, Call::Create, &[sio, 0x0000_7000_0000_0000, 24]),
            Err(SysError::BadAddress)
        );
        ensure_eq!(
            sys(0, Call::Create, &[sio, USER_END - 8, 24]),
            Err(SysError::BadAddress)
        );
        Ok(())
    }
);

ktest!(
    fn sio_open_reports_each_error() {
        let _m = machine()?;
        ensure_eq!(open("/nope", OpenFlags::READ), Err(SysError::NotFound));
        ensure_eq!(open("relative", OpenFlags::READ), Err(SysError::BadPath));
        ensure_eq!(open("/dev/mem", RW), Err(SysError::NotPermitted));
        ensure_eq!(open("/tmp", RW), Err(SysError::IsDir));
        let h = open("/tmp/excl", RW | OpenFlags::CREATE | OpenFlags::EXCLUSIVE)
            .map_err(|e| alloc::format!("{e}"))?;
        ensure_eq!(
            open("/tmp/excl", RW | OpenFlags::CREATE | OpenFlags::EXCLUSIVE),
            Err(SysError::Exists)
        );
        ensure_eq!(sys(h, Call::Terminate, &[]), Ok(0));
        // Unknown flag bits.
        let p = put(0x3000, b"/dev/null");
        let args = sk_abi::SioCreateArgs {
            path_ptr: p,
            path_len: 9,
            flags: 1 << 30,
            _pad: 0,
        };
        let a = put(0x3800, &args.to_bytes());
        ensure_eq!(
            sys(0, Call::Create, &[Kind::Sio.number().into(), a, 24]),
            Err(SysError::BadFlags)
        );
        Ok(())
    }
);

ktest!(
    fn dev_null_and_dev_zero_behave() {
        let _m = machine()?;
        let null = open("/dev/null", RW).map_err(|e| alloc::format!("{e}"))?;
        ensure_eq!(sys(null, Call::Write, &[TEST_BUFFER, 100]), Ok(100));
        ensure_eq!(sys(null, Call::Read, &[TEST_BUFFER, 100]), Ok(0));
        let zero = open("/dev/zero", OpenFlags::READ).map_err(|e| alloc::format!("{e}"))?;
        put(0, &[0xaa; 64]);
        ensure_eq!(sys(zero, Call::Read, &[TEST_BUFFER, 64]), Ok(64));
        ensure!(get(0, 64).iter().all(|&b| b == 0), "not zeroed");
        ensure_eq!(
            sys(zero, Call::Write, &[TEST_BUFFER, 1]),
            Err(SysError::NotPermitted)
        );
        Ok(())
    }
);

ktest!(
    fn dev_mem_reads_its_window_seeks_and_ends() {
        let _m = machine()?;
        let mem = open("/dev/mem", OpenFlags::READ).map_err(|e| alloc::format!("{e}"))?;
        ensure_eq!(sys(mem, Call::Read, &[TEST_BUFFER, 16]), Ok(16));
        let want: alloc::vec::Vec<u8> = (0..16).map(sk_core::dev_mem_byte).collect();
        ensure_eq!(get(0, 16), want);
        let end = sk_core::DEV_MEM_BYTES;
        let seek = |whence: u64, off: i64| sys(mem, Call::Reconfigure, &[0, whence, off as u64]);
        ensure_eq!(seek(2, -4), Ok(end - 4));
        ensure_eq!(sys(mem, Call::Read, &[TEST_BUFFER, 100]), Ok(4));
        ensure_eq!(sys(mem, Call::Read, &[TEST_BUFFER, 100]), Ok(0));
        ensure_eq!(seek(0, -1), Err(SysError::BadOffset));
        ensure_eq!(seek(1, i64::MIN), Err(SysError::BadOffset));
        ensure_eq!(seek(9, 0), Err(SysError::BadValue));
        ensure_eq!(
            sys(mem, Call::Reconfigure, &[77, 0, 0]),
            Err(SysError::BadSelector)
        );
        Ok(())
    }
);

ktest!(
    fn reads_reject_bad_user_buffers() {
        let _m = machine()?;
        let zero = open("/dev/zero", OpenFlags::READ).map_err(|e| alloc::format!("{e}"))?;
        for (buf, len) in [
            (0xffff_ffff_8000_0000u64, 1u64),
            (0, 1),
            (0x0000_6000_0000_0000, 1),
            (USER_END - 1, 2),
            (TEST_BUFFER, u64::MAX),
            (0x8000_0000_0000_0000, 1),
            (TEST_BUFFER + 4 * 4096 - 8, 16),
        ] {
            ensure_eq!(
                sys(zero, Call::Read, &[buf, len]),
                Err(SysError::BadAddress)
            );
        }
        Ok(())
    }
);

ktest!(
    fn ram_file_write_seek_read_grow_and_query() {
        let _m = machine()?;
        let f = open(
            "/tmp/abi-file",
            RW | OpenFlags::CREATE | OpenFlags::TRUNCATE,
        )
        .map_err(|e| alloc::format!("{e}"))?;
        let data = put(0, b"hello, synthesis");
        ensure_eq!(sys(f, Call::Write, &[data, 16]), Ok(16));
        ensure_eq!(sys(f, Call::Reconfigure, &[0, 0, 0]), Ok(0));
        ensure_eq!(sys(f, Call::Read, &[TEST_BUFFER + 100, 64]), Ok(16));
        ensure_eq!(get(100, 16), b"hello, synthesis".to_vec());
        // Sparse growth reads as zeros.
        ensure_eq!(sys(f, Call::Reconfigure, &[0, 0, 10_000]), Ok(10_000));
        ensure_eq!(sys(f, Call::Write, &[data, 5]), Ok(5));
        let info_at = TEST_BUFFER + 0x2000;
        ensure_eq!(
            sys(f, Call::Query, &[0, info_at, 64]),
            Ok(SioInfo::SIZE as u64)
        );
        let info =
            SioInfo::from_bytes(&get(0x2000, SioInfo::SIZE)).map_err(|e| alloc::format!("{e}"))?;
        ensure_eq!(
            (info.kind().ok(), info.size, info.position),
            (Some(SioKind::File), 10_005, 10_005)
        );
        ensure_eq!(
            sys(f, Call::Query, &[0, info_at, 8]),
            Err(SysError::BadLength)
        );
        ensure_eq!(
            sys(f, Call::Query, &[5, info_at, 64]),
            Err(SysError::BadSelector)
        );
        ensure_eq!(sys(f, Call::Terminate, &[]), Ok(0));
        ensure_eq!(
            sys(f, Call::Read, &[TEST_BUFFER, 1]),
            Err(SysError::BadHandle)
        );
        // Reopen with TRUNCATE empties it.
        let g =
            open("/tmp/abi-file", RW | OpenFlags::TRUNCATE).map_err(|e| alloc::format!("{e}"))?;
        ensure_eq!(sys(g, Call::Read, &[TEST_BUFFER, 10]), Ok(0));
        Ok(())
    }
);

ktest!(
    fn read_only_and_write_only_opens_are_enforced() {
        let _m = machine()?;
        let w = open("/tmp/wo", OpenFlags::WRITE | OpenFlags::CREATE)
            .map_err(|e| alloc::format!("{e}"))?;
        ensure_eq!(
            sys(w, Call::Read, &[TEST_BUFFER, 1]),
            Err(SysError::NotPermitted)
        );
        let r = open("/tmp/wo", OpenFlags::READ).map_err(|e| alloc::format!("{e}"))?;
        ensure_eq!(
            sys(r, Call::Write, &[TEST_BUFFER, 1]),
            Err(SysError::NotPermitted)
        );
        Ok(())
    }
);

ktest!(
    fn handles_are_reused_and_counted() {
        let m = machine()?;
        let before = m.handle_count();
        let a = open("/dev/null", RW).map_err(|e| alloc::format!("{e}"))?;
        let b = open("/dev/null", RW).map_err(|e| alloc::format!("{e}"))?;
        ensure_eq!((a, b), (2, 3));
        ensure_eq!(sys(a, Call::Terminate, &[]), Ok(0));
        ensure_eq!(open("/dev/null", RW), Ok(2));
        ensure_eq!(m.handle_count(), before + 2);
        Ok(())
    }
);

ktest!(
    fn unlinking_a_file_sends_its_synthesized_routines_to_the_generic_path() {
        // Eager synthesis: the subject is the routine made at open.
        let _eager = sk_core::testing::EagerSynthesis::new();
        use sk_abi::Call;
        use sk_core::testing::SlotState;
        let m = TestMachine::new(4)
            .map_err(|e| alloc::format!("test machine: {e}"))?
            .with_routine_table();
        let f = open(
            "/tmp/unlinked",
            RW | OpenFlags::CREATE | OpenFlags::TRUNCATE,
        )
        .map_err(|e| alloc::format!("{e}"))?;
        ensure_eq!(
            m.slot(f, Call::Read),
            SlotState::Synthesized("ram_file_read")
        );
        ensure_eq!(
            m.slot(f, Call::Write),
            SlotState::Synthesized("ram_file_write")
        );
        let data = put(0, b"still here");
        ensure_eq!(sys(f, Call::Write, &[data, 10]), Ok(10));
        sk_core::with_fs(|fs| fs.unlink("/tmp/unlinked"))
            .map_err(|e| alloc::format!("unlink: {e}"))?;
        // Replugged before anything else can run.
        ensure_eq!(m.slot(f, Call::Read), SlotState::Generic);
        ensure_eq!(m.slot(f, Call::Write), SlotState::Generic);
        // The open handle keeps the data; the generic path serves it.
        ensure_eq!(sys(f, Call::Reconfigure, &[0, 0, 0]), Ok(0));
        ensure_eq!(sys(f, Call::Read, &[TEST_BUFFER + 100, 64]), Ok(10));
        ensure_eq!(get(100, 10), b"still here".to_vec());
        Ok(())
    }
);
