//! `lenguard`: lengths and addresses at the synthesized routines' guards
//! (`max_len`, the user-range check, the RAM-file write's capacity guard),
//! hostile `query`/`reconfigure` values, handles past the routine table,
//! odd call words, and the registers after long calls.
//!
//! Parts (the start argument is a bit mask of the parts to run; 0 = all):
//!
//! - **1, guards**: for each synthesized read and write (`/dev/zero`,
//!   `/dev/mem`, a RAM file, `/dev/null`, the raw console), every
//!   `(buffer, length)` of a boundary list (0, 1, 64 KiB - 1, 64 KiB,
//!   64 KiB + 1, 1 MiB, `u64::MAX`, lengths that wrap with the buffer or
//!   end exactly at or past the end of user space, the last byte below the
//!   unmapped top page, kernel addresses) is called on the table route and
//!   on the generic route from the same state; result, buffer bytes,
//!   position and file contents must be identical. Separately, a range
//!   that is not user memory as a whole (it wraps, or ends past the user
//!   half) must be refused with `BadAddress` before anything moves (the
//!   README: "every argument is validated once").
//! - **2, hostile values**: `query(Routines)` into kernel addresses, across
//!   the end of user space, with lengths 0 and `u64::MAX`, on handles past
//!   the table and on other kinds; `TraceNextCall` on other kinds;
//!   reconfigure with unknown selectors and out-of-range values on every
//!   kind; handles 64 and up on both routes; odd call words with
//!   `FORCE_GENERIC` and the last table slots. Each must give an error
//!   (or the documented answer), never kill this program.
//! - **4, registers**: long calls that the synthesized routines hand to
//!   the generic path (1 MiB `/dev/zero` read, 1 MiB RAM-file write past
//!   the routine's `max_len`) and a 16 MiB read preempted between pieces
//!   (another SCPU is ready), with every register set to a marker: after
//!   the call no register but `rax` holds anything but its marker, 0, or a
//!   user address inside the call's own buffer; `rcx`/`r11` the return
//!   address and flags.
//!
//! Exit status: 0 = every check held; 1 = setup failed; else a bit mask:
//! 0x10 = the routes disagreed (part 1 or 2); 0x20 = an invalid range was
//! not refused up front (part 1); 0x40 = a hostile value was accepted
//! (part 2); 0x80 = a register held a value it must not (part 4).
#![no_std]
#![no_main]
#![allow(
    unsafe_code,
    reason = "raw calls with hostile arguments and the register capture; SAFETY comments per block"
)]

mod capture;

use core::sync::atomic::{AtomicU64, Ordering};

use sk_user::abi::{Call, CallWord, Handle, QuerySelector, SysError};
use sk_user::{println, OpenFlags, Prot, Scpu, Sio, Smem, Stack, TtyMode, Whence};

sk_user::entry!(main);

const PAGE: u64 = 4096;
const KIB64: u64 = 64 << 10;
const MIB: u64 = 1 << 20;
const USER_END: u64 = 0x0000_8000_0000_0000;
/// The top user page: never mapped.
const TOP_PAGE: u64 = USER_END - PAGE;
/// The page below it, mapped by this program.
const HIGH_PAGE: u64 = TOP_PAGE - PAGE;
/// Bytes of the main buffer region.
const REGION: u64 = 2 * MIB;

const SETUP: i32 = 1;
/// Exit-status bits, one per kind of finding.
const MISMATCH: i32 = 0x10;
const NOT_REFUSED: i32 = 0x20;
const ACCEPTED: i32 = 0x40;
const REGISTER: i32 = 0x80;

fn raw3(word: u64, a: u64, b: u64, c: u64) -> i64 {
    // SAFETY: every buffer this program passes is an SMEM region it maps
    // and reaches only through volatile-free slices made after the call
    // (or an address that is not its memory); no Rust reference lives
    // across the call.
    unsafe { sk_user::raw::syscall3(word, a, b, c) }
}

fn word(h: Handle, call: Call, generic: bool) -> u64 {
    CallWord::new(h, call).get() | if generic { CallWord::FORCE_GENERIC } else { 0 }
}

struct Verdict {
    worst: i32,
}

impl Verdict {
    fn finding(&mut self, bit: i32) {
        self.worst |= bit;
    }
}

// ---- part 1: guards ----

/// Simple FNV-1a over bytes.
fn hash(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

struct Memory {
    main: Smem,
    high: Smem,
}

impl Memory {
    fn reset(&mut self) {
        // SAFETY: both regions are mapped read-write; no call is running.
        unsafe {
            self.main.as_mut_slice().fill(0x5a);
            self.high.as_mut_slice().fill(0x5a);
        }
    }
    fn digest(&mut self) -> u64 {
        // SAFETY: as above.
        unsafe { hash(self.main.as_mut_slice()) ^ hash(self.high.as_mut_slice()).rotate_left(1) }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Target {
    Zero,
    Mem,
    File,
    Null,
    Tty,
}

/// The file's contents as a digest (read back on the generic path).
fn file_digest(f: &Sio, scratch: &mut Smem) -> (u64, u64) {
    let size = f.query().map_or(u64::MAX, |i| i.size);
    let _ = f.seek(Whence::Set, 0);
    let n = raw3(
        word(f.handle(), Call::Read, true),
        scratch.addr(),
        scratch.len(),
        0,
    );
    // SAFETY: mapped read-write; the call is over.
    let bytes = unsafe { scratch.as_mut_slice() };
    let n = usize::try_from(n).unwrap_or(0).min(bytes.len());
    (size, hash(bytes.get(..n).unwrap_or(&[])))
}

/// Puts the file back to 256 KiB of a pattern, position 0.
fn reset_file(f: &Sio, pattern: &mut Smem) {
    let _ = raw3(word(f.handle(), Call::Write, true), 0, 0, 0);
    // Truncate by reopening is not possible on this handle: rewrite the
    // same bytes, which leaves size and contents as they were unless a
    // call grew the file (then its digest differs, which the comparison
    // of both routes sees in the same way).
    let _ = f.seek(Whence::Set, 0);
    let _ = raw3(
        word(f.handle(), Call::Write, true),
        pattern.addr(),
        256 << 10,
        0,
    );
    let _ = f.seek(Whence::Set, 0);
}

fn guards(v: &mut Verdict) -> Result<(), i32> {
    let main = Smem::create(REGION, Prot::READ | Prot::WRITE).map_err(|_| SETUP)?;
    let high = Smem::create_at(HIGH_PAGE, PAGE, Prot::READ | Prot::WRITE).map_err(|e| {
        println!("lenguard: SMEM at {HIGH_PAGE:#x}: {e:?}");
        SETUP
    })?;
    let mut scratch = Smem::create(4 * MIB, Prot::READ | Prot::WRITE).map_err(|_| SETUP)?;
    let mut pattern = Smem::create(256 << 10, Prot::READ | Prot::WRITE).map_err(|_| SETUP)?;
    // SAFETY: mapped read-write; no call is running.
    for (i, b) in unsafe { pattern.as_mut_slice() }.iter_mut().enumerate() {
        *b = u8::try_from(i % 251).unwrap_or(0);
    }
    let mut mem = Memory { main, high };
    let r = mem.main.addr();
    let cases: [(u64, u64); 27] = [
        (r, 0),
        (r, 1),
        (r, KIB64 - 1),
        (r, KIB64),
        (r, KIB64 + 1),
        (r, MIB),
        (r, REGION),
        (r + REGION - KIB64 + 1, KIB64), // crosses the end of the region
        (r + REGION - 1, 2),
        (r, u64::MAX),
        (r, u64::MAX - 1),
        (r, 1 << 63),
        (r, 0u64.wrapping_sub(r)),         // buf + len == 2^64
        (r, 0u64.wrapping_sub(r) + KIB64), // wraps past 0
        (r, USER_END - r),                 // ends exactly at the end of user space
        (r, USER_END - r + 1),             // one past it
        (HIGH_PAGE + PAGE - 1, 1),         // last byte below the top page
        (HIGH_PAGE + PAGE - 1, 2),         // into the top page
        (TOP_PAGE, 1),
        (USER_END - 1, 1),
        (USER_END, 0),
        (USER_END, 1),
        (0, 0),
        (0, 1),
        (0xffff_8000_0000_0000, 1),
        (u64::MAX, 1),
        (u64::MAX, 0),
    ];
    let zero = Sio::open("/dev/zero", OpenFlags::READ).map_err(|_| SETUP)?;
    let devmem = Sio::open("/dev/mem", OpenFlags::READ).map_err(|_| SETUP)?;
    let file = Sio::open(
        "/tmp/lg.file",
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )
    .map_err(|_| SETUP)?;
    let null = Sio::open("/dev/null", OpenFlags::WRITE).map_err(|_| SETUP)?;
    let tty = Sio::console();
    reset_file(&file, &mut pattern);
    let mut mismatches = 0;
    let mut not_refused = 0;
    let targets = [
        (Target::Zero, Call::Read),
        (Target::Mem, Call::Read),
        (Target::File, Call::Read),
        (Target::File, Call::Write),
        (Target::Null, Call::Write),
        (Target::Tty, Call::Write),
    ];
    let _ = tty.set_tty_mode(TtyMode::RAW);
    for (target, call) in targets {
        let sio = match target {
            Target::Zero => &zero,
            Target::Mem => &devmem,
            Target::File => &file,
            Target::Null => &null,
            Target::Tty => &tty,
        };
        for &(buf, len) in &cases {
            // The console gets only short lengths or ranges that fail
            // before any output (no megabytes on the console).
            let range_ok = buf.checked_add(len).is_some_and(|end| end <= USER_END);
            // (An invalid range that starts in mapped memory is not
            // refused up front either: the console would get megabytes.)
            if target == Target::Tty && len > 65 {
                continue;
            }
            let mut outcome = [(0i64, 0u64, 0u64, (0u64, 0u64)); 2];
            for (i, generic) in [false, true].into_iter().enumerate() {
                mem.reset();
                if target == Target::File {
                    reset_file(sio, &mut pattern);
                } else {
                    let _ = sio.seek(Whence::Set, 0);
                }
                let got = raw3(word(sio.handle(), call, generic), buf, len, 0);
                let position = sio.query().map_or(u64::MAX, |i| i.position);
                let contents = if target == Target::File {
                    file_digest(sio, &mut scratch)
                } else {
                    (0, 0)
                };
                outcome[i] = (got, mem.digest(), position, contents);
            }
            if outcome[0] != outcome[1] {
                mismatches += 1;
                println!(
                    "lenguard: MISMATCH {target:?} {call:?} buf {buf:#x} len {len:#x}: table route (rax {}, memory {:#x}, position {:#x}, file {:?}) vs generic (rax {}, memory {:#x}, position {:#x}, file {:?})",
                    outcome[0].0, outcome[0].1, outcome[0].2, outcome[0].3,
                    outcome[1].0, outcome[1].1, outcome[1].2, outcome[1].3
                );
            }
            // A range that is not user space as a whole must be refused
            // before anything moves (Null and Tty included).
            if !range_ok {
                mem.reset();
                let clean = mem.digest();
                for (got, digest, _, _) in outcome {
                    let refused = got == -(SysError::BadAddress.code() as i64);
                    if !refused || digest != clean {
                        not_refused += 1;
                        println!(
                            "lenguard: NOT REFUSED {target:?} {call:?} buf {buf:#x} len {len:#x}: rax {got} (want BadAddress), memory {}",
                            if digest == clean { "untouched" } else { "changed" }
                        );
                        break;
                    }
                }
            }
        }
    }
    let _ = tty.set_tty_mode(TtyMode::DEFAULT);
    println!(
        "lenguard: guards: {mismatches} mismatches between the routes, {not_refused} invalid ranges not refused up front"
    );
    if mismatches != 0 {
        v.finding(MISMATCH);
    }
    if not_refused != 0 {
        v.finding(NOT_REFUSED);
    }
    for s in [zero, devmem, file, null] {
        let _ = s.close();
    }
    let _ = (
        mem.main.free(),
        mem.high.free(),
        scratch.free(),
        pattern.free(),
    );
    Ok(())
}

// ---- part 2: hostile values ----

fn expect_err(v: &mut Verdict, what: &str, got: i64) {
    if got >= 0 {
        println!("lenguard: ACCEPTED {what}: rax {got}");
        v.finding(ACCEPTED);
    }
}

fn hostile(v: &mut Verdict) -> Result<(), i32> {
    let mut buf = Smem::create(MIB, Prot::READ | Prot::WRITE).map_err(|_| SETUP)?;
    let b = buf.addr();
    let zero = Sio::open("/dev/zero", OpenFlags::READ).map_err(|_| SETUP)?;
    let h = zero.handle();
    let q = |h: Handle, sel: u64, ptr: u64, len: u64, g: bool| {
        raw3(word(h, Call::Query, g), sel, ptr, len)
    };
    let routines = u64::from(QuerySelector::Routines);
    for g in [false, true] {
        expect_err(
            v,
            "Routines into a kernel address",
            q(h, routines, 0xffff_8000_0000_0000, 4096, g),
        );
        expect_err(
            v,
            "Routines into the direct map",
            q(h, routines, 0xffff_8000_0010_0000, 64, g),
        );
        expect_err(
            v,
            "Routines across the end of user space",
            q(h, routines, USER_END - 10, 100, g),
        );
        expect_err(
            v,
            "Routines into the unmapped top page",
            q(h, routines, TOP_PAGE, 100, g),
        );
        expect_err(
            v,
            "Routines on the SMACH",
            q(Handle::SELF, routines, b, 4096, g),
        );
        expect_err(
            v,
            "Routines on a free handle",
            q(Handle::new(900), routines, b, 4096, g),
        );
        expect_err(
            v,
            "Routines on handle u32::MAX",
            q(Handle::new(u32::MAX), routines, b, 4096, g),
        );
        expect_err(
            v,
            "LastTrace on an SIO",
            q(h, u64::from(QuerySelector::LastTrace), b, 8, g),
        );
        expect_err(v, "query selector 99", q(h, 99, b, 4096, g));
        expect_err(v, "query selector u64::MAX", q(h, u64::MAX, b, 4096, g));
        let zero_len = q(h, routines, b, 0, g);
        let huge = q(h, routines, b, u64::MAX, g);
        println!("lenguard: Routines with len 0: {zero_len}; with len u64::MAX: {huge}");
        if huge > 64 << 10 {
            println!("lenguard: ACCEPTED Routines longer than 64 KiB: {huge}");
            v.finding(ACCEPTED);
        }
        // Reconfigure on every kind with unknown selectors and bad values.
        let rc = |h: Handle, a: u64, bb: u64, c: u64| raw3(word(h, Call::Reconfigure, g), a, bb, c);
        expect_err(
            v,
            "SMACH reconfigure selector 99",
            rc(Handle::SELF, 99, 0, 0),
        );
        expect_err(
            v,
            "SMACH reconfigure selector u64::MAX",
            rc(Handle::SELF, u64::MAX, 0, 0),
        );
        expect_err(
            v,
            "TraceNextCall on the console SIO",
            rc(Handle::CONSOLE, 4, 0, 0),
        );
        expect_err(v, "SIO seek whence 99", rc(h, 0, 99, 0));
        expect_err(v, "SIO tty mode on /dev/zero", rc(h, 1, 0, 0));
        expect_err(
            v,
            "console tty mode u64::MAX",
            rc(Handle::CONSOLE, 1, u64::MAX, 0),
        );
        expect_err(v, "SIO selector u64::MAX", rc(h, u64::MAX, 0, 0));
        let region = buf.handle();
        expect_err(v, "SMEM protect 0xff", rc(region, 0, 0xff, 0));
        expect_err(v, "SMEM protect W|X", rc(region, 0, 6, 0));
        expect_err(v, "SMEM selector 7", rc(region, 7, 0, 0));
        expect_err(
            v,
            "reconfigure on handle 900",
            rc(Handle::new(900), 0, 0, 0),
        );
    }
    // Seeks to the extremes on a RAM file, then reads on both routes.
    let f = Sio::open(
        "/tmp/lg.seek",
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE,
    )
    .map_err(|_| SETUP)?;
    let _ = f.write(b"abc");
    for off in [i64::MAX, i64::MIN, -1, (1 << 62)] {
        for whence in [Whence::Set, Whence::Current, Whence::End] {
            let s = f.seek(whence, off);
            let r1 = raw3(word(f.handle(), Call::Read, false), b, 16, 0);
            let r2 = raw3(word(f.handle(), Call::Read, true), b, 16, 0);
            let w1 = raw3(word(f.handle(), Call::Write, false), b, 1, 0);
            let pos = f.query().map_or(u64::MAX, |i| i.position);
            if let (Ok(p), true) = (s, r1 != 0 || r2 != 0) {
                println!("lenguard: seek {whence:?} {off} -> {p}: reads {r1}/{r2}, write {w1}, position {pos}");
            }
            let _ = f.seek(Whence::Set, 0);
            let _ = f.seek(Whence::Set, 3);
        }
    }
    let _ = f.close();
    // Handles 64 and up: past the routine table (the stub's slow path).
    let mut extra = [const { None::<Sio> }; 70];
    let mut high = None;
    for slot in &mut extra {
        match Sio::open("/dev/zero", OpenFlags::READ) {
            Ok(s) => {
                if s.handle().index() >= 64 && high.is_none() {
                    high = Some(s.handle());
                }
                *slot = Some(s);
            }
            Err(_) => break,
        }
    }
    if let Some(hh) = high {
        for len in [0, 1, 4096, KIB64 + 1] {
            // SAFETY: `buf` is mapped read-write; no reference lives.
            unsafe { buf.as_mut_slice() }.fill(7);
            let t = raw3(word(hh, Call::Read, false), b, len, 0);
            let g = raw3(word(hh, Call::Read, true), b, len, 0);
            // SAFETY: as above.
            let zeroed = unsafe { buf.as_mut_slice() }
                .iter()
                .take(usize::try_from(len).unwrap_or(usize::MAX))
                .all(|&x| x == 0);
            if t != g || t != len as i64 || !zeroed {
                println!("lenguard: MISMATCH handle {} read {len}: table {t}, generic {g}, zeroed {zeroed}", hh.index());
                v.finding(MISMATCH);
            }
        }
    }
    for s in extra.iter_mut().filter_map(Option::take) {
        let _ = s.close();
    }
    // Odd call words, on both routes where it means something.
    let odd: [(&str, u64); 9] = [
        ("op 7 on handle 2", (2 << 3) | 7),
        (
            "FORCE_GENERIC | op 7",
            CallWord::FORCE_GENERIC | (2 << 3) | 7,
        ),
        ("last table slot (handle 63, op 7)", (63 << 3) | 7),
        ("first word past the table (handle 64, op 0)", 64 << 3),
        ("handle past u32", 1 << 40),
        (
            "FORCE_GENERIC | handle past u32",
            CallWord::FORCE_GENERIC | (1 << 40) | 4,
        ),
        ("u64::MAX", u64::MAX),
        (
            "FORCE_GENERIC | bit 62",
            CallWord::FORCE_GENERIC | (1 << 62) | (2 << 3) | 4,
        ),
        (
            "FORCE_GENERIC | handle u32::MAX read",
            CallWord::FORCE_GENERIC | (u64::from(u32::MAX) << 3) | 4,
        ),
    ];
    for (what, w) in odd {
        expect_err(v, what, raw3(w, b, 16, 0));
    }
    let _ = (zero.close(), buf.free());
    Ok(())
}

// ---- part 4: registers after long calls ----

static SPIN: AtomicU64 = AtomicU64::new(0);
static SPIN_STACK: Stack<16384> = Stack::new();

extern "C" fn spinner(_arg: u64) -> ! {
    loop {
        SPIN.fetch_add(1, Ordering::Relaxed);
    }
}

fn registers(v: &mut Verdict) -> Result<(), i32> {
    use capture::*;
    let region = Smem::create(16 * MIB, Prot::READ | Prot::WRITE).map_err(|_| SETUP)?;
    let zero = Sio::open("/dev/zero", OpenFlags::READ).map_err(|_| SETUP)?;
    let file = Sio::open(
        "/tmp/lg.regs",
        OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
    )
    .map_err(|_| SETUP)?;
    // A ready SCPU, so a preemption point between pieces switches.
    let stack = SPIN_STACK.take().ok_or(SETUP)?;
    let spin = Scpu::create_with(spinner, stack, 0, 0, 0).map_err(|_| SETUP)?;
    let a = region.addr();
    let calls: [(&str, u64, u64, u64); 5] = [
        (
            "/dev/zero read 1 MiB (routine -> slow path)",
            word(zero.handle(), Call::Read, false),
            a,
            MIB,
        ),
        (
            "/dev/zero read 16 MiB, preempted",
            word(zero.handle(), Call::Read, false),
            a,
            16 * MIB,
        ),
        (
            "RAM-file write 1 MiB (routine -> generic fallback)",
            word(file.handle(), Call::Write, false),
            a,
            MIB,
        ),
        (
            "RAM-file write 64 KiB + 1 past capacity (guard -> fallback)",
            word(file.handle(), Call::Write, false),
            a,
            KIB64 + 1,
        ),
        (
            "RAM-file read 1 MiB",
            word(file.handle(), Call::Read, false),
            a,
            MIB,
        ),
    ];
    let mut bad = 0;
    for (what, w, buf, len) in calls {
        if what.starts_with("RAM-file read") {
            let _ = file.seek(Whence::Set, 0);
        }
        let mut before: Regs = [0; 16];
        for (i, r) in before.iter_mut().enumerate() {
            *r = 0x1111_0000_0000_0000 | ((i as u64) << 8) | 0x55;
        }
        before[RAX] = w;
        before[RDI] = buf;
        before[RSI] = len;
        // SAFETY: the buffer is an SMEM region of 16 MiB mapped read-write
        // that no Rust reference covers; the other registers are markers.
        let c = unsafe { syscall_capture(&before, false) };
        let in_buffer = |x: u64| x >= buf && x <= buf.saturating_add(len);
        for i in [RDX, RSI, RDI, R8, R9, R10] {
            let x = c.after[i];
            if x != before[i] && x != 0 && !in_buffer(x) {
                println!("lenguard: REGISTER after {what}: {} = {x:#x}", NAMES[i]);
                bad += 1;
            }
        }
        for i in [RBX, RBP, R12, R13, R14, R15] {
            if c.after[i] != before[i] {
                println!(
                    "lenguard: REGISTER after {what}: callee-saved {} = {:#x}",
                    NAMES[i], c.after[i]
                );
                bad += 1;
            }
        }
        if c.after[RCX] != c.return_address || c.after[RSP] != c.rsp || c.after[R11] >> 32 != 0 {
            println!(
                "lenguard: REGISTER after {what}: rcx {:#x} (want {:#x}), rsp {:#x} (want {:#x}), r11 {:#x}",
                c.after[RCX], c.return_address, c.after[RSP], c.rsp, c.after[R11]
            );
            bad += 1;
        }
        println!("lenguard: {what}: rax {}", c.after[RAX] as i64);
    }
    let _ = spin.terminate(0);
    println!("lenguard: registers: {bad} bad values");
    if bad != 0 {
        v.finding(REGISTER);
    }
    let _ = (zero.close(), file.close(), region.free());
    Ok(())
}

/// One part of the program.
type Part = fn(&mut Verdict) -> Result<(), i32>;

fn main() -> i32 {
    let parts = match sk_user::start_arg() {
        0 => 7,
        p => p,
    };
    let mut v = Verdict { worst: 0 };
    let run: [(u64, Part); 3] = [(1, guards), (2, hostile), (4, registers)];
    for (bit, part) in run {
        if parts & bit != 0 {
            if let Err(code) = part(&mut v) {
                println!("lenguard: setup failed (part {bit})");
                return code;
            }
        }
    }
    println!("lenguard: verdict {}", v.worst);
    v.worst
}
