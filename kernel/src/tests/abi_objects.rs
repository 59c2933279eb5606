//! The native ABI on the generic path: SMEM, SCPU and SMACH calls.

use super::abi_support::{get, put, sys};
use crate::memory::FRAMES;
use alloc::format;
use alloc::string::String;
use sk_abi::{
    Call, Kind, Prot, ScpuCreateArgs, ScpuInfo, ScpuState, SmachCreateArgs, SmachInfo,
    SmemCreateArgs, SmemInfo, SysError,
};
use sk_core::testing::{TestMachine, TEST_BUFFER, TEST_COUNT_CODE, TEST_SPIN_CODE};
use sk_ktest::{ensure, ensure_eq, ktest};

fn machine() -> Result<TestMachine, alloc::string::String> {
    TestMachine::new(4).map_err(|e| format!("test machine: {e}"))
}

fn smem(addr: u64, len: u64, prot: Prot, flags: u32) -> Result<u32, SysError> {
    let args = SmemCreateArgs {
        addr_hint: addr,
        len,
        prot: prot.bits(),
        flags,
    };
    let a = put(0x3800, &args.to_bytes());
    sys(
        0,
        Call::Create,
        &[Kind::Smem.number().into(), a, SmemCreateArgs::SIZE as u64],
    )
    .map(|h| h as u32)
}

ktest!(
    fn smem_create_use_protect_query_and_free() {
        let m = machine()?;
        let frames_before = FRAMES.free_count();
        let mapped_before = m.mapped_bytes();
        let h = smem(0, 3 * 4096 + 1, Prot::READ | Prot::WRITE, 0).map_err(|e| format!("{e}"))?;
        ensure_eq!(
            sys(h, Call::Query, &[0, TEST_BUFFER + 0x2000, 64]),
            Ok(SmemInfo::SIZE as u64)
        );
        let info =
            SmemInfo::from_bytes(&get(0x2000, SmemInfo::SIZE)).map_err(|e| format!("{e}"))?;
        ensure_eq!(info.len, 4 * 4096);
        ensure_eq!(m.mapped_bytes(), mapped_before + 4 * 4096);
        // Write into it through a device read, then make it read-only.
        let zero = super::abi_support::open("/dev/zero", sk_abi::OpenFlags::READ)
            .map_err(|e| format!("{e}"))?;
        ensure_eq!(sys(zero, Call::Read, &[info.addr, 4096]), Ok(4096));
        ensure_eq!(
            sys(h, Call::Reconfigure, &[0, Prot::READ.bits().into(), 0]),
            Ok(0)
        );
        ensure_eq!(
            sys(zero, Call::Read, &[info.addr, 1]),
            Err(SysError::BadAddress)
        );
        ensure_eq!(sys(h, Call::Terminate, &[]), Ok(0));
        ensure_eq!(
            sys(zero, Call::Read, &[info.addr, 1]),
            Err(SysError::BadAddress)
        );
        ensure_eq!(m.mapped_bytes(), mapped_before);
        // Page-table pages created for the region stay until the machine goes.
        ensure!(
            FRAMES.free_count() + 4 >= frames_before,
            "frames leaked: {} -> {}",
            frames_before,
            FRAMES.free_count()
        );
        Ok(())
    }
);

ktest!(
    fn smem_rejects_bad_requests() {
        let _m = machine()?;
        ensure_eq!(
            smem(0, 4096, Prot::WRITE | Prot::EXEC, 0),
            Err(SysError::BadFlags)
        );
        ensure_eq!(smem(0, 0, Prot::READ, 0), Err(SysError::BadLength));
        ensure_eq!(smem(0, u64::MAX, Prot::READ, 0), Err(SysError::BadLength));
        ensure_eq!(
            smem(
                TEST_BUFFER,
                4096,
                Prot::READ,
                sk_abi::SmemCreateFlags::FIXED.bits()
            ),
            Err(SysError::Exists)
        );
        ensure_eq!(
            smem(TEST_BUFFER + 1, 4096, Prot::READ, 0),
            Err(SysError::BadAddress)
        );
        ensure_eq!(
            smem(0xffff_8000_0000_0000, 4096, Prot::READ, 0),
            Err(SysError::BadAddress)
        );
        ensure_eq!(smem(0, 4096, Prot::READ, 1 << 20), Err(SysError::BadFlags));
        let h = smem(0, 4096, Prot::READ, 0).map_err(|e| format!("{e}"))?;
        ensure_eq!(
            sys(
                h,
                Call::Reconfigure,
                &[0, (Prot::WRITE | Prot::EXEC).bits().into(), 0]
            ),
            Err(SysError::BadFlags)
        );
        ensure_eq!(
            sys(h, Call::Reconfigure, &[3, 0, 0]),
            Err(SysError::BadSelector)
        );
        ensure_eq!(
            sys(h, Call::Read, &[TEST_BUFFER, 1]),
            Err(SysError::WrongKind)
        );
        Ok(())
    }
);

fn scpu(entry: u64, stack: u64, priority: u32) -> Result<u32, SysError> {
    let args = ScpuCreateArgs {
        entry,
        stack_top: stack,
        arg: 0,
        priority,
        quantum_us: 0,
    };
    let a = put(0x3800, &args.to_bytes());
    sys(
        0,
        Call::Create,
        &[Kind::Scpu.number().into(), a, ScpuCreateArgs::SIZE as u64],
    )
    .map(|h| h as u32)
}

ktest!(
    fn scpu_create_query_reconfigure_terminate() {
        let _m = machine()?;
        let stack = TEST_BUFFER + 0x2000;
        ensure_eq!(
            scpu(0xffff_ffff_8000_0000, stack, 3),
            Err(SysError::BadAddress)
        );
        ensure_eq!(
            scpu(TEST_SPIN_CODE, stack + 8, 3),
            Err(SysError::BadAddress)
        );
        ensure_eq!(scpu(TEST_SPIN_CODE, stack, 9), Err(SysError::BadValue));
        let t = scpu(TEST_SPIN_CODE, stack, 3).map_err(|e| format!("{e}"))?;
        // Let it run a little (it spins in user mode).
        for _ in 0..3 {
            sk_core::yield_now();
        }
        ensure_eq!(
            sys(t, Call::Query, &[0, TEST_BUFFER + 0x1000, 64]),
            Ok(ScpuInfo::SIZE as u64)
        );
        let info =
            ScpuInfo::from_bytes(&get(0x1000, ScpuInfo::SIZE)).map_err(|e| format!("{e}"))?;
        ensure!(
            matches!(info.state(), Ok(ScpuState::Ready | ScpuState::Running)),
            "state {:?}",
            info.state()
        );
        ensure_eq!(sys(t, Call::Reconfigure, &[2, 6, 0]), Ok(0));
        ensure_eq!(
            sys(t, Call::Reconfigure, &[2, 8, 0]),
            Err(SysError::BadValue)
        );
        ensure_eq!(sys(t, Call::Reconfigure, &[0, 0, 0]), Ok(0));
        ensure_eq!(
            sys(t, Call::Query, &[0, TEST_BUFFER + 0x1000, 64]),
            Ok(ScpuInfo::SIZE as u64)
        );
        let info =
            ScpuInfo::from_bytes(&get(0x1000, ScpuInfo::SIZE)).map_err(|e| format!("{e}"))?;
        ensure_eq!((info.state(), info.priority), (Ok(ScpuState::Suspended), 6));
        ensure_eq!(sys(t, Call::Reconfigure, &[1, 0, 0]), Ok(0));
        ensure_eq!(sys(t, Call::Terminate, &[]), Ok(0));
        ensure_eq!(
            sys(t, Call::Query, &[0, TEST_BUFFER + 0x1000, 64]),
            Err(SysError::BadHandle)
        );
        Ok(())
    }
);

fn spawn(path: &str, arg: u64) -> Result<u32, SysError> {
    let p = put(0x3000, path.as_bytes());
    let args = SmachCreateArgs {
        path_ptr: p,
        path_len: path.len() as u64,
        arg,
        flags: 0,
        _pad: 0,
    };
    let a = put(0x3800, &args.to_bytes());
    sys(
        0,
        Call::Create,
        &[Kind::Smach.number().into(), a, SmachCreateArgs::SIZE as u64],
    )
    .map(|h| h as u32)
}

ktest!(
    fn smach_spawn_wait_query_and_errors() {
        let _m = machine()?;
        ensure_eq!(spawn("/bin/missing", 0), Err(SysError::NotFound));
        sk_core::with_fs(|fs| {
            let node = fs
                .create("/tmp/notelf", sk_fs::CreateMode::OpenExisting)
                .expect("create");
            fs.write(node, 0, b"#!/bin/sh\necho not an ELF\n")
                .expect("write");
        });
        ensure_eq!(spawn("/tmp/notelf", 0), Err(SysError::BadElf));
        ensure_eq!(sys(0, Call::Reconfigure, &[3, 0, 0]), Err(SysError::Busy));
        let child = spawn("/bin/worker", 5).map_err(|e| format!("{e}"))?;
        let status = sys(child, Call::Reconfigure, &[3, 0, 0]).map_err(|e| format!("{e}"))?;
        ensure_eq!(status as i32, super::programs::worker_status(5));
        ensure_eq!(
            sys(child, Call::Query, &[0, TEST_BUFFER + 0x1000, 64]),
            Ok(SmachInfo::SIZE as u64)
        );
        let info =
            SmachInfo::from_bytes(&get(0x1000, SmachInfo::SIZE)).map_err(|e| format!("{e}"))?;
        ensure_eq!(
            info.exit_status().map(|s| s.get()),
            Some(super::programs::worker_status(5))
        );
        ensure_eq!(sys(child, Call::Terminate, &[]), Ok(0));
        ensure_eq!(
            sys(child, Call::Query, &[0, TEST_BUFFER + 0x1000, 64]),
            Err(SysError::BadHandle)
        );
        Ok(())
    }
);

ktest!(
    fn terminating_a_running_child_kills_it() {
        let _m = machine()?;
        let spawn_and_kill = || -> Result<(), alloc::string::String> {
            let child =
                spawn("/bin/sysfuzz", (0x4000_0000 << 32) | 1).map_err(|e| format!("{e}"))?;
            ensure_eq!(sys(child, Call::Terminate, &[]), Ok(0));
            Ok(())
        };
        spawn_and_kill()?; // warm-up
        let baseline = super::leaks::Baseline::take();
        spawn_and_kill()?;
        baseline.check("terminated child")?;
        Ok(())
    }
);

/// Maps 64 MiB regions in a fresh SMACH until the kernel refuses: it must
/// answer NoMemory while keeping its reserve, not run dry.
fn exhaust_user_memory() -> Result<(), String> {
    let _m = machine()?;
    let mut regions = 0;
    loop {
        match smem(0, 64 << 20, Prot::READ | Prot::WRITE, 0) {
            Ok(_) => regions += 1,
            Err(SysError::NoMemory | SysError::TooManyHandles) => break,
            Err(e) => return Err(format!("region {regions}: {e}")),
        }
    }
    ensure!(regions >= 4, "only {regions} regions of 64 MiB");
    let free = FRAMES.free_count();
    ensure!(
        free >= sk_machine::user_frame::KERNEL_RESERVE_FRAMES,
        "reserve eaten: {free} frames free"
    );
    // The kernel still allocates.
    let v = alloc::vec![1u8; 1 << 20];
    ensure_eq!(v.iter().map(|&b| u64::from(b)).sum::<u64>(), 1 << 20);
    Ok(())
}

ktest!(
    fn user_memory_cannot_starve_the_kernel() {
        // A first run grows the kernel's own tables to their working size
        // (seen: +768 heap bytes when this test runs alone); the second
        // must give back everything it took.
        exhaust_user_memory()?;
        let baseline = super::leaks::Baseline::take();
        exhaust_user_memory()?;
        baseline.check("memory exhaustion")?;
        Ok(())
    }
);

ktest!(
    fn equal_scpus_get_equal_shares_on_either_scheduler() {
        // Four SCPUs with equal priority and a one-tick quantum count for
        // 2 s of guest time; round robin gives each the same share (within
        // 10%), on the generic scheduler and on the ring (`sched=ring`).
        let _m = machine()?;
        let counter = |i: u64| TEST_BUFFER + 0x100 + 8 * i;
        let mut threads = alloc::vec::Vec::new();
        for i in 0..4u64 {
            let args = ScpuCreateArgs {
                entry: TEST_COUNT_CODE,
                stack_top: TEST_BUFFER + 0x2000 + 0x400 * i,
                arg: counter(i),
                priority: 3,
                quantum_us: 10_000,
            };
            let a = put(0x3800, &args.to_bytes());
            let t = sys(
                0,
                Call::Create,
                &[Kind::Scpu.number().into(), a, ScpuCreateArgs::SIZE as u64],
            )
            .map_err(|e| format!("{e}"))?;
            threads.push(t as u32);
        }
        let end = sk_machine::tsc::now_ns() + 2_000_000_000;
        while sk_machine::tsc::now_ns() < end {
            sk_core::yield_now();
        }
        for t in threads {
            ensure_eq!(sys(t, Call::Terminate, &[]), Ok(0));
        }
        let read = |i: u64| u64::from_le_bytes(get(0x100 + 8 * i, 8).try_into().unwrap_or([0; 8]));
        let counts: alloc::vec::Vec<u64> = (0..4).map(read).collect();
        let (lo, hi) = (
            *counts.iter().min().unwrap_or(&0),
            *counts.iter().max().unwrap_or(&0),
        );
        sk_machine::println!(
            "fairness: counts {counts:?}, spread {}%, ring {}",
            (hi - lo) * 100 / hi.max(1),
            sk_core::testing::ring_on()
        );
        ensure!(lo > 0, "an SCPU never ran");
        ensure!((hi - lo) * 10 <= hi, "unequal shares: {counts:?}");
        Ok(())
    }
);

ktest!(
    fn higher_priority_scpus_get_longer_quanta() {
        let _m = machine()?;
        let counter = |i: u64| TEST_BUFFER + 0x100 + 8 * i;
        let mut threads = alloc::vec::Vec::new();
        for (i, priority) in [(0u64, 7u32), (1, 0)] {
            let args = ScpuCreateArgs {
                entry: TEST_COUNT_CODE,
                stack_top: TEST_BUFFER + 0x2000,
                arg: counter(i),
                priority,
                quantum_us: 0,
            };
            let a = put(0x3800, &args.to_bytes());
            let t = sys(
                0,
                Call::Create,
                &[Kind::Scpu.number().into(), a, ScpuCreateArgs::SIZE as u64],
            )
            .map_err(|e| format!("{e}"))?;
            threads.push(t as u32);
        }
        // Let them run for about a second of (virtual) time.
        let end = sk_machine::tsc::now_ns() + 1_000_000_000;
        while sk_machine::tsc::now_ns() < end {
            sk_core::yield_now();
        }
        for t in threads {
            ensure_eq!(sys(t, Call::Terminate, &[]), Ok(0));
        }
        let read = |i: u64| u64::from_le_bytes(get(0x100 + 8 * i, 8).try_into().unwrap_or([0; 8]));
        let (high, low) = (read(0), read(1));
        sk_machine::println!("priority 7 counted {high}, priority 0 counted {low}");
        ensure!(low > 0, "the priority-0 SCPU never ran (starved)");
        ensure!(
            high > 4 * low,
            "priority 7 got {high} against {low} for priority 0"
        );
        Ok(())
    }
);
