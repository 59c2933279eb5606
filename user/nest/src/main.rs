//! `nest`: nested SMACHs for the kernel's nesting tests
//! (kernel/src/tests/nesting.rs, docs/nesting.md).
//!
//! The start argument is `mode << 32 | param`:
//!
//! | mode | name | what it does |
//! |---|---|---|
//! | 0 | `spin` | counts forever, no system call (a CPU hog) |
//! | 1 | `chain` | chooses round robin for itself; maps and touches a 64 KiB SMEM; if `param > 0`, starts `nest chain (param - 1)` as a child with a budget of [`chain_budget`]`(param - 1)` frames; then spins (mid-work, until killed) |
//! | 2 | `hostile` | a child that tries to reach beyond itself (see [`hostile`]); exits 0 if every attempt was refused as documented, else the number of the attempt that was not |
//! | 3 | `shares` | sets its own policy (`param`: 0 round robin, 1 weighted), starts two `spin` children with weights 1 and 3, and waits (blocked) |
//! | 4 | `hostile-parent` | starts a `spin` child (a sibling to attack) and a `hostile` child with a budget 32 frames above what its program took; exits with the hostile child's status |
//! | 5 | `one-child` | chooses round robin for itself, starts one `spin` child and waits (blocked) |
//! | 6 | `ping-pong` | chooses round robin for itself, starts a second SCPU; the two hand a counter to each other `param` times, each yielding until it is its turn; exits 0 |
//! | 7 | `yielder` | yields forever (a hostile group member: it never runs out a quantum) |
//! | 8 | `hostile-shares` | chooses round robin for itself, starts a `yielder` child and a `spin` child, and waits (blocked) |
//! | 10 | `crowd` | starts `param` (at most 16) `one-child` children, each a group of its own, waits until each has its spinning child, then chooses round robin for itself: the groups merge into one (the kernel's sub-rings of the old groups open, the merged one closes); then waits (blocked) |
//! | 9 | `linux-child` | starts `/bin/nestlin` (a Linux program, user/linux/nestlin.c) suspended with a budget of twice what its program took plus [`LINUX_SPARE`] frames, resumes it and waits (blocked; the kernel test kills it) |
//!
//! Exit status 100 + n: step n of the mode's own set-up failed (printed).
#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};
use sk_user::abi::{Handle, OpenFlags, SmachReconfigure, SmachTreeEntry, SubPolicy, SysError};
use sk_user::{println, Prot, Scpu, Sio, Smach, Smem, Stack};

sk_user::entry!(main);

const SPIN: u64 = 0;
const CHAIN: u64 = 1;
const HOSTILE: u64 = 2;
const SHARES: u64 = 3;
const HOSTILE_PARENT: u64 = 4;
const ONE_CHILD: u64 = 5;
const PING_PONG: u64 = 6;
const YIELDER: u64 = 7;
const HOSTILE_SHARES: u64 = 8;
const LINUX_CHILD: u64 = 9;
const CROWD: u64 = 10;

/// Frames a `linux-child` child may map beyond its program and one fork
/// of it.
pub const LINUX_SPARE: u64 = 256;

const PATH: &str = "/bin/nest";

fn main() -> i32 {
    let arg = sk_user::start_arg();
    let (mode, param) = (arg >> 32, arg & 0xffff_ffff);
    let result = match mode {
        SPIN => spin(),
        CHAIN => chain(param),
        HOSTILE => return hostile(),
        SHARES => shares(param),
        HOSTILE_PARENT => return hostile_parent(),
        ONE_CHILD => one_child(),
        PING_PONG => ping_pong(param),
        YIELDER => yielder(),
        HOSTILE_SHARES => hostile_shares(),
        LINUX_CHILD => linux_child(),
        CROWD => crowd(param),
        _ => Err((1, SysError::BadValue)),
    };
    match result {
        Ok(status) => status,
        Err((step, e)) => {
            println!("nest: mode {mode} step {step} failed: {e}");
            100 + step
        }
    }
}

/// Counts forever.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = core::hint::black_box(n.wrapping_add(1));
    }
}

/// Frames a `chain` child with `levels` levels below it gets: 1024 for
/// itself plus its child's.
#[must_use]
pub const fn chain_budget(levels: u64) -> u64 {
    1024 * (levels + 1)
}

type Step<T> = Result<T, (i32, SysError)>;

fn step<T>(n: i32, r: Result<T, SysError>) -> Step<T> {
    r.map_err(|e| (n, e))
}

/// A child started suspended, given a budget (and weight), then resumed.
fn child(arg: u64, budget: Option<u64>, weight: Option<u32>) -> Step<Smach> {
    let c = step(10, Smach::spawn_suspended(PATH, arg))?;
    if let Some(frames) = budget {
        step(11, c.reconfigure(SmachReconfigure::Budget { frames }))?;
    }
    if let Some(w) = weight {
        step(12, c.reconfigure(SmachReconfigure::Weight(w)))?;
    }
    step(13, c.resume())?;
    Ok(c)
}

fn chain(levels: u64) -> Step<i32> {
    // Each level sub-schedules its subtree (the top one forms the group).
    let rr = SmachReconfigure::SubPolicy(SubPolicy::RoundRobin);
    step(2, Smach::this().reconfigure(rr))?;
    let memory = step(1, Smem::create(64 * 1024, Prot::READ | Prot::WRITE))?;
    for page in 0..16 {
        // SAFETY: the region is 16 mapped, writable pages.
        #[allow(unsafe_code)]
        unsafe {
            memory.as_mut_ptr().add(page * 4096).write_volatile(1);
        }
    }
    let _child = if levels > 0 {
        let arg = CHAIN << 32 | (levels - 1);
        Some(child(arg, Some(chain_budget(levels - 1)), None)?)
    } else {
        None
    };
    spin()
}

fn shares(policy: u64) -> Step<i32> {
    let policy = if policy == 1 {
        SubPolicy::Weighted
    } else {
        SubPolicy::RoundRobin
    };
    step(
        1,
        Smach::this().reconfigure(SmachReconfigure::SubPolicy(policy)),
    )?;
    let a = child(SPIN << 32, None, Some(1))?;
    let _b = child(SPIN << 32, None, Some(3))?;
    step(2, a.wait())
}

/// The ping-pong counter: even, the first SCPU's turn; odd, the second's.
static TURN: AtomicU64 = AtomicU64::new(0);
static PARTNER_STACK: Stack<16384> = Stack::new();

/// Takes the turns of SCPU `me` (0 or 1) until the counter reaches
/// `handoffs`, yielding while it is the other's turn.
fn take_turns(me: u64, handoffs: u64) {
    loop {
        let turn = TURN.load(Ordering::Acquire);
        if turn >= handoffs {
            return;
        }
        if turn % 2 == me {
            TURN.store(turn + 1, Ordering::Release);
        } else {
            let _ = sk_user::yield_now();
        }
    }
}

extern "C" fn partner(handoffs: u64) -> ! {
    take_turns(1, handoffs);
    yielder()
}

fn ping_pong(handoffs: u64) -> Step<i32> {
    let rr = SmachReconfigure::SubPolicy(SubPolicy::RoundRobin);
    step(1, Smach::this().reconfigure(rr))?;
    let stack = PARTNER_STACK.take().ok_or((2, SysError::NoMemory))?;
    let _partner = step(3, Scpu::create(partner, stack, handoffs))?;
    take_turns(0, handoffs);
    Ok(0)
}

fn yielder() -> ! {
    loop {
        let _ = sk_user::yield_now();
    }
}

fn hostile_shares() -> Step<i32> {
    let rr = SmachReconfigure::SubPolicy(SubPolicy::RoundRobin);
    step(1, Smach::this().reconfigure(rr))?;
    let a = child(YIELDER << 32, None, None)?;
    let _b = child(SPIN << 32, None, None)?;
    step(2, a.wait())
}

fn crowd(children: u64) -> Step<i32> {
    let n = usize::try_from(children.min(16)).unwrap_or(16);
    let mut first = None;
    for _ in 0..n {
        // The handles stay open (a `Smach` closes nothing when dropped).
        let c = child(ONE_CHILD << 32, None, None)?;
        first.get_or_insert(c);
    }
    let mut tree = [SmachTreeEntry::default(); 40];
    loop {
        let count = step(3, Smach::this().query_tree(&mut tree))?;
        let formed = tree
            .iter()
            .take(count)
            .filter(|e| e.depth == 2 && e.state == 0)
            .count();
        if formed >= n {
            break;
        }
        let _ = sk_user::sleep_ns(10_000_000);
    }
    let rr = SmachReconfigure::SubPolicy(SubPolicy::RoundRobin);
    step(4, Smach::this().reconfigure(rr))?;
    match first {
        Some(c) => step(5, c.wait()),
        None => Ok(0),
    }
}

fn one_child() -> Step<i32> {
    let rr = SmachReconfigure::SubPolicy(SubPolicy::RoundRobin);
    step(2, Smach::this().reconfigure(rr))?;
    let a = child(SPIN << 32, None, None)?;
    step(1, a.wait())
}

fn linux_child() -> Step<i32> {
    let c = step(1, Smach::spawn_linux_suspended("/bin/nestlin"))?;
    let mut tree = [SmachTreeEntry::default(); 1];
    step(2, c.query_tree(&mut tree))?;
    let frames = 2 * (tree[0].mapped_frames + tree[0].carved_frames) + LINUX_SPARE;
    step(3, c.reconfigure(SmachReconfigure::Budget { frames }))?;
    step(4, c.resume())?;
    step(5, c.wait())
}

fn hostile_parent() -> i32 {
    let set_up = || -> Step<i32> {
        let _sibling = child(SPIN << 32, None, None)?;
        let h = step(1, Smach::spawn_suspended(PATH, HOSTILE << 32))?;
        let mut tree = [SmachTreeEntry::default(); 1];
        step(2, h.query_tree(&mut tree))?;
        let frames = tree[0].mapped_frames + tree[0].carved_frames + 32;
        step(3, h.reconfigure(SmachReconfigure::Budget { frames }))?;
        step(4, h.resume())?;
        step(5, h.wait())
    };
    match set_up() {
        Ok(status) => status,
        Err((n, e)) => {
            println!("nest: hostile-parent step {n} failed: {e}");
            100 + n
        }
    }
}

/// Tries, from a child with a budget 32 frames above its program and a
/// sibling: (1) to raise its own budget and (2) its own weight (its
/// parent's to set: `NotPermitted`); (3) every handle from 2 to 63 as a
/// SMACH (its parent's, its sibling's: it has none, `BadHandle`) for
/// suspend, budget, tree query; (4) the console as a SMACH (`WrongKind`);
/// (5) a 64-page SMEM (`OverBudget`); (6) an 8-page one (granted); (7) a
/// child of its own, whose program does not fit what is left
/// (`OverBudget`); (8) the tree query on itself sees itself alone; (9) its
/// own sub-policy (granted: its share is its own to divide); (10) a RAM
/// file of its own grown past what is left (see [`grow_a_file_past_the_budget`]).
fn hostile() -> i32 {
    let me = Smach::this();
    let expect = |n: i32, got: Result<u64, SysError>, want: SysError| -> bool {
        if got == Err(want) {
            true
        } else {
            println!("nest hostile: attempt {n}: {got:?}, expected {want}");
            false
        }
    };
    if !expect(
        1,
        me.reconfigure(SmachReconfigure::Budget { frames: 1 << 30 }),
        SysError::NotPermitted,
    ) {
        return 1;
    }
    if !expect(
        2,
        me.reconfigure(SmachReconfigure::Weight(1000)),
        SysError::NotPermitted,
    ) {
        return 2;
    }
    for h in 2..64 {
        let other = Smach::from_handle(Handle::new(h));
        let mut tree = [SmachTreeEntry::default(); 1];
        let tree_result = other.query_tree(&mut tree).map(|n| n as u64);
        if !expect(
            3,
            other.reconfigure(SmachReconfigure::Suspend),
            SysError::BadHandle,
        ) || !expect(
            3,
            other.reconfigure(SmachReconfigure::Budget { frames: 0 }),
            SysError::BadHandle,
        ) || !expect(3, tree_result, SysError::BadHandle)
        {
            return 3;
        }
    }
    let console = Smach::from_handle(Handle::CONSOLE);
    // (Its selector means something else, or nothing, on an SIO.)
    if console.reconfigure(SmachReconfigure::Weight(5)).is_ok() {
        println!("nest hostile: attempt 4: the console took a SMACH weight");
        return 4;
    }
    let rw = Prot::READ | Prot::WRITE;
    if !expect(
        5,
        Smem::create(64 * 4096, rw).map(|_| 0),
        SysError::OverBudget,
    ) {
        return 5;
    }
    let Ok(_small) = Smem::create(8 * 4096, rw) else {
        println!("nest hostile: attempt 6: an 8-page SMEM within the budget was refused");
        return 6;
    };
    if !expect(7, Smach::spawn(PATH).map(|_| 0), SysError::OverBudget) {
        return 7;
    }
    let mut tree = [SmachTreeEntry::default(); 4];
    match me.query_tree(&mut tree) {
        Ok(1) if tree[0].depth == 0 && tree[0].budget_frames != u64::MAX => {}
        other => {
            println!("nest hostile: attempt 8: tree {other:?} {:?}", tree[0]);
            return 8;
        }
    }
    if me
        .reconfigure(SmachReconfigure::SubPolicy(SubPolicy::Weighted))
        .is_err()
    {
        return 9;
    }
    if let Err(why) = grow_a_file_past_the_budget() {
        println!("nest hostile: attempt 10: {why}");
        return 10;
    }
    if let Err(why) = remove_the_file_and_get_the_budget_back() {
        println!("nest hostile: attempt 11: {why}");
        return 11;
    }
    println!("nest hostile: every attempt refused as documented");
    0
}

/// The RAM file attempt 10 grows (the kernel test removes it).
pub const BUDGET_FILE: &str = "/tmp/nest-budget";

/// Attempt 10: a file this budgeted child makes is paid from its budget.
/// 4 KiB writes grow the file until one is refused (`OverBudget`), having
/// grown it by at least one frame; then the budget is full: a one-page
/// SMEM is refused too, and the tree query counts the file in the mapped
/// frames (attempt 6's SMEM still held).
fn grow_a_file_past_the_budget() -> Result<(), &'static str> {
    const CHUNK: usize = 4096;
    static BYTES: [u8; CHUNK] = [0x5a; CHUNK];
    let flags = OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let file = Sio::open(BUDGET_FILE, flags).map_err(|_| "the file could not be made")?;
    let me = Smach::this();
    let mut tree = [SmachTreeEntry::default(); 1];
    me.query_tree(&mut tree).map_err(|_| "tree query")?;
    let left = tree[0].budget_frames - tree[0].mapped_frames - tree[0].carved_frames;
    println!("nest hostile: {left} frames left before the file");
    let mut chunks = 0_u64;
    let refused = loop {
        match file.write(&BYTES) {
            Ok(CHUNK) if chunks < 1024 => chunks += 1,
            Err(SysError::OverBudget) => break true,
            _ => break false,
        }
    };
    if !refused || chunks == 0 {
        return Err("4 KiB writes were not refused at the budget, or none fit");
    }
    if Smem::create(4096, Prot::READ | Prot::WRITE).is_ok() {
        return Err("a one-page SMEM fit after the file filled the budget");
    }
    me.query_tree(&mut tree).map_err(|_| "tree query")?;
    let used = tree[0].mapped_frames + tree[0].carved_frames;
    println!(
        "nest hostile: the file took {} frames of its budget ({chunks} writes of 4 KiB); {used} of {} used",
        left - (tree[0].budget_frames - used),
        tree[0].budget_frames
    );
    if used != tree[0].budget_frames {
        return Err("the tree query does not count the file in the budget");
    }
    file.close().map_err(|_| "closing the file")
}

/// Attempt 11, after 10 filled the budget with [`BUDGET_FILE`]: names that
/// are not one entry of `/tmp` are refused (`BadPath`, `BadValue`,
/// `NotFound`, `WrongKind` on a file); the file removed while still open
/// keeps its charge (a one-page SMEM is refused); closed, the charge is
/// back (the page fits). The file is made again with one 4 KiB write, for
/// the kernel test's look at who pays for it after this child exits.
fn remove_the_file_and_get_the_budget_back() -> Result<(), &'static str> {
    let dir = Sio::open("/tmp", OpenFlags::READ).map_err(|_| "open /tmp")?;
    let long = [b'x'; 256];
    let long = core::str::from_utf8(&long).map_err(|_| "utf-8")?;
    for (name, want) in [
        ("../secret", SysError::BadPath),
        ("a/b", SysError::BadPath),
        ("..", SysError::BadPath),
        (".", SysError::BadPath),
        ("", SysError::BadValue),
        (long, SysError::BadValue),
        ("no-such-file", SysError::NotFound),
    ] {
        if dir.remove(name) != Err(want) {
            return Err("a bad name was not refused as documented");
        }
    }
    let file = Sio::open(BUDGET_FILE, OpenFlags::READ).map_err(|_| "reopen the file")?;
    if file.remove("nest-budget") != Err(SysError::WrongKind) {
        return Err("Remove on a file SIO was not WrongKind");
    }
    dir.remove("nest-budget")
        .map_err(|_| "removing the file failed")?;
    if dir.remove("nest-budget") != Err(SysError::NotFound) {
        return Err("the removed file is still there");
    }
    if Smem::create(4096, Prot::READ | Prot::WRITE).is_ok() {
        return Err("a removed file still open lost its charge");
    }
    file.close().map_err(|_| "closing the removed file")?;
    let page = Smem::create(4096, Prot::READ | Prot::WRITE)
        .map_err(|_| "closed and removed, the file's charge did not come back")?;
    page.free().map_err(|_| "freeing the page")?;
    let flags = OpenFlags::WRITE | OpenFlags::CREATE;
    let again = Sio::open(BUDGET_FILE, flags).map_err(|_| "make the file again")?;
    again
        .write(&[0x5a; 4096])
        .map_err(|_| "one 4 KiB write to the new file")?;
    again.close().map_err(|_| "closing the new file")?;
    dir.close().map_err(|_| "closing /tmp")?;
    println!("nest hostile: the removed file's frames came back once it was closed");
    Ok(())
}
