//! `create`, `query`, `reconfigure` and `terminate` on every kind, on both
//! paths, with a few of their error paths: these run the kernel's Rust
//! handlers behind the entry stub's slow path (the SMACH wait blocks and
//! switches threads while in it).

use sk_abi::{
    Call as Op, Handle, Kind, Prot, QuerySelector, ScpuCreateArgs, ScpuReconfigure, SioCreateArgs,
    SioReconfigure, SmachCreateArgs, SmachReconfigure, SmemCreateArgs, SmemReconfigure, SysError,
    Whence,
};
use sk_user::{OpenFlags, Stack};

use crate::check::{Call, Checker, Path, Want};
use crate::io::{word, KERNEL_ADDR};

/// Stacks of the threads the SCPU cases start, one per path.
static STACKS: [Stack<4096>; 2] = [Stack::new(), Stack::new()];

/// Entry of the SCPUs we start: spins until killed. Makes no calls, so
/// it never touches the capture state.
extern "C" fn spin(_arg: u64) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

/// Address of `value`, as a register.
fn addr_of<T: ?Sized>(value: &T) -> u64 {
    core::ptr::from_ref(value).cast::<u8>() as u64
}

/// `create(kind, args)` on handle 0; returns the new handle if it succeeded.
///
/// # Safety
/// `args` is the kind's create-arguments struct, as bytes we own; the
/// object it makes must not touch memory Rust uses (an SCPU runs on a
/// stack of its own).
unsafe fn create(
    run: &mut Checker,
    name: &str,
    path: Path,
    kind: Kind,
    args: &[u8],
) -> Option<Handle> {
    let call = Call::new(word(Handle::SELF, Op::Create), path).args(&[
        u64::from(kind),
        addr_of(args),
        args.len() as u64,
    ]);
    // SAFETY: forwarded from the caller.
    let rax = unsafe { run.check(name, path, &call, Want::Success) };
    Handle::from_return(rax).ok()
}

/// `query(handle, Info)` into a buffer of `size` bytes, wanting `size`.
fn query(run: &mut Checker, name: &str, path: Path, handle: Handle, size: u64) {
    let mut out = [0_u8; 64];
    let call = Call::new(word(handle, Op::Query), path).args(&[
        u64::from(QuerySelector::Info),
        out.as_mut_ptr() as u64,
        size,
    ]);
    // SAFETY: the kernel writes at most `size` (<= 64) bytes into `out`.
    unsafe { run.check(name, path, &call, Want::Value(size)) };
    let call = Call::new(word(handle, Op::Query), path).args(&[
        u64::from(QuerySelector::Info),
        KERNEL_ADDR,
        size,
    ]);
    // SAFETY: a kernel address: the kernel refuses it.
    unsafe {
        run.check(
            "query into a kernel buffer",
            path,
            &call,
            Want::Error(SysError::BadAddress),
        )
    };
}

/// `reconfigure(handle, registers)`, wanting `want`.
fn reconfigure(
    run: &mut Checker,
    name: &str,
    path: Path,
    handle: Handle,
    registers: [u64; 3],
    want: Want,
) -> u64 {
    let call = Call::new(word(handle, Op::Reconfigure), path).args(&registers);
    // SAFETY: the requests made here change scheduling, protection of an
    // SMEM nothing of ours uses, or an SIO's position; none touches memory.
    unsafe { run.check(name, path, &call, want) }
}

/// `terminate(handle)`, wanting 0.
fn terminate(run: &mut Checker, name: &str, path: Path, handle: Handle) {
    let call = Call::new(word(handle, Op::Terminate), path).args(&[0]);
    // SAFETY: `handle` is an object of ours that no Rust code uses.
    unsafe { run.check(name, path, &call, Want::Value(0)) };
}

/// Every kind, both paths.
pub(crate) fn all(run: &mut Checker) {
    for (index, path) in Path::BOTH.into_iter().enumerate() {
        sio(run, path);
        smem(run, path);
        scpu(run, path, index);
        smach(run, path);
        errors(run, path);
    }
}

fn sio(run: &mut Checker, path: Path) {
    // A RAM file (`io::files` made it): a seek returns the new position.
    let file = crate::io::FILE;
    let args = SioCreateArgs {
        path_ptr: addr_of(file),
        path_len: file.len() as u64,
        flags: OpenFlags::READ.bits(),
        _pad: 0,
    }
    .to_bytes();
    // SAFETY: an open touches no memory of ours but `args` and the path.
    let Some(handle) = (unsafe { create(run, "SIO create", path, Kind::Sio, &args) }) else {
        return;
    };
    query(run, "SIO query", path, handle, 24);
    let seek = SioReconfigure::Seek {
        whence: Whence::Set,
        offset: 5,
    };
    reconfigure(
        run,
        "SIO reconfigure (seek)",
        path,
        handle,
        seek.to_registers(),
        Want::Value(5),
    );
    terminate(run, "SIO terminate", path, handle);
}

fn smem(run: &mut Checker, path: Path) {
    let args = SmemCreateArgs {
        addr_hint: 0,
        len: 4096,
        prot: (Prot::READ | Prot::WRITE).bits(),
        flags: 0,
    }
    .to_bytes();
    // SAFETY: the kernel maps a new region where nothing of ours lies.
    let Some(handle) = (unsafe { create(run, "SMEM create", path, Kind::Smem, &args) }) else {
        return;
    };
    query(run, "SMEM query", path, handle, 24);
    let protect = SmemReconfigure::Protect(Prot::READ);
    reconfigure(
        run,
        "SMEM reconfigure (protect)",
        path,
        handle,
        protect.to_registers(),
        Want::Value(0),
    );
    terminate(run, "SMEM terminate", path, handle);
}

fn scpu(run: &mut Checker, path: Path, index: usize) {
    let Some(stack) = STACKS.get(index).and_then(Stack::take) else {
        run.fail("SCPU create", format_args!("no stack"));
        return;
    };
    let top = (stack.as_ptr() as u64 + stack.len() as u64) & !15;
    let args = ScpuCreateArgs {
        entry: spin as *const () as u64,
        stack_top: top,
        arg: 0,
        priority: 0,
        quantum_us: 0,
    }
    .to_bytes();
    // SAFETY: the thread runs `spin` on a stack only it uses (taken from
    // its `Stack` for good) and touches no other memory.
    let Some(handle) = (unsafe { create(run, "SCPU create", path, Kind::Scpu, &args) }) else {
        return;
    };
    query(run, "SCPU query", path, handle, 24);
    let priority = ScpuReconfigure::Priority(1);
    reconfigure(
        run,
        "SCPU reconfigure (priority)",
        path,
        handle,
        priority.to_registers(),
        Want::Value(0),
    );
    terminate(run, "SCPU terminate", path, handle);
}

fn smach(run: &mut Checker, path: Path) {
    let program = "/bin/worker";
    let args = SmachCreateArgs {
        path_ptr: addr_of(program),
        path_len: program.len() as u64,
        arg: 7,
        flags: 0,
        _pad: 0,
    }
    .to_bytes();
    // SAFETY: a child SMACH has its own address space.
    let Some(handle) = (unsafe { create(run, "SMACH create", path, Kind::Smach, &args) }) else {
        return;
    };
    query(run, "SMACH query", path, handle, 32);
    let priority = SmachReconfigure::Priority(0);
    reconfigure(
        run,
        "SMACH reconfigure (priority)",
        path,
        handle,
        priority.to_registers(),
        Want::Value(0),
    );
    // The caller yields and sleeps (its own SMACH's handle): the child
    // runs meanwhile and leaves its values in the registers a switch does
    // not restore, which the synthesized yield must scrub.
    for (what, request) in [
        (
            "SMACH reconfigure (yield caller)",
            SmachReconfigure::YieldCaller,
        ),
        (
            "SMACH reconfigure (sleep caller)",
            SmachReconfigure::SleepCaller { ns: 1_000_000 },
        ),
    ] {
        reconfigure(
            run,
            what,
            path,
            Handle::SELF,
            request.to_registers(),
            Want::Value(0),
        );
    }
    // Blocks until the child exits: other threads run meanwhile.
    let wait = SmachReconfigure::Wait;
    reconfigure(
        run,
        "SMACH reconfigure (wait)",
        path,
        handle,
        wait.to_registers(),
        Want::Success,
    );
    terminate(run, "SMACH terminate", path, handle);
}

/// `reconfigure` on the SMACH's own handle (the table slot the
/// synthesized yield occupies) with every selector 0-10 and garbage in
/// `rsi`/`rdx` (a kernel-half `rsi`, a user-half mark in `rdx`), `rdi` = 5
/// with high bits set, and the sleep's bounds: the routine must send all
/// but the plain yield to the generic path with the call intact and
/// scrub what it returns. Selector 4 (`TraceNextCall`) is left out: it
/// arms a count that outlives the call; `MAX_SLEEP_NS` itself sleeps 3
/// days.
fn own_smach_selectors(run: &mut Checker, path: Path) {
    use sk_abi::MAX_SLEEP_NS;
    const JUNK: u64 = 0x0000_6a6b_6c6d_6e6f;
    let busy = Want::Error(SysError::Busy);
    let bad_value = Want::Error(SysError::BadValue);
    let bad_selector = Want::Error(SysError::BadSelector);
    let cases: [(&str, [u64; 3], Want); 14] = [
        (
            "own SMACH sel 0 (suspend), junk",
            [0, KERNEL_ADDR, JUNK],
            busy,
        ),
        (
            "own SMACH sel 1 (resume), junk",
            [1, KERNEL_ADDR, JUNK],
            busy,
        ),
        (
            "own SMACH sel 2 (priority), kernel-half value",
            [2, KERNEL_ADDR, JUNK],
            bad_value,
        ),
        ("own SMACH sel 3 (wait), junk", [3, KERNEL_ADDR, JUNK], busy),
        (
            "own SMACH sel 5 (yield), junk",
            [5, KERNEL_ADDR, JUNK],
            Want::Value(0),
        ),
        ("own SMACH sel 5 | 1<<32", [5 | 1 << 32, 0, 0], bad_selector),
        ("own SMACH sel -11", [(-11i64) as u64, 0, 0], bad_selector),
        (
            "own SMACH sel 6 (sleep 0), junk",
            [6, 0, JUNK],
            Want::Value(0),
        ),
        (
            "own SMACH sel 6 (sleep 1 ns), junk",
            [6, 1, JUNK],
            Want::Value(0),
        ),
        (
            "own SMACH sel 6 (sleep MAX+1)",
            [6, MAX_SLEEP_NS + 1, JUNK],
            bad_value,
        ),
        (
            "own SMACH sel 6 (sleep kernel-half)",
            [6, KERNEL_ADDR, JUNK],
            bad_value,
        ),
        // (7..=9: Budget, Weight, SubPolicy.)
        ("own SMACH sel 11", [11, KERNEL_ADDR, JUNK], bad_selector),
        ("own SMACH sel 12", [12, 0, 0], bad_selector),
        (
            "own SMACH sel 10 (root), a handle past 32 bits",
            [10, KERNEL_ADDR, JUNK],
            Want::Error(SysError::BadHandle),
        ),
    ];
    for (what, registers, want) in cases {
        reconfigure(run, what, path, Handle::SELF, registers, want);
    }
}

/// A few refusals of the same calls.
fn errors(run: &mut Checker, path: Path) {
    let call = Call::new(word(Handle::SELF, Op::Create), path).args(&[9, 0, 0]);
    // SAFETY: kind 9 does not exist: nothing is made.
    unsafe {
        run.check(
            "create of kind 9",
            path,
            &call,
            Want::Error(SysError::WrongKind),
        )
    };
    let call = Call::new(word(Handle::SELF, Op::Create), path).args(&[
        u64::from(Kind::Sio),
        KERNEL_ADDR,
        24,
    ]);
    // SAFETY: a kernel address: the kernel refuses it.
    unsafe {
        run.check(
            "create from a kernel buffer",
            path,
            &call,
            Want::Error(SysError::BadAddress),
        )
    };
    own_smach_selectors(run, path);
    reconfigure(
        run,
        "reconfigure selector 99",
        path,
        Handle::SELF,
        [99, 0, 0],
        Want::Error(SysError::BadSelector),
    );
    let call = Call::new(
        word(Handle::new(crate::io::UNUSED_HANDLE), Op::Terminate),
        path,
    );
    // SAFETY: an unused handle: nothing happens.
    unsafe {
        run.check(
            "terminate an unused handle",
            path,
            &call,
            Want::Error(SysError::BadHandle),
        )
    };
}
