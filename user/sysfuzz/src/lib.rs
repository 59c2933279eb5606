//! The pure parts of `sysfuzz`: its random generator, the calls it makes,
//! and the policy that keeps it alive. No system calls here, so all of it
//! is tested on the host (`cargo test -p sk-user-sysfuzz`); `main.rs` only
//! issues what [`Generator`] makes and [`is_allowed`] lets through.
//!
//! # What is generated
//!
//! A call word is `(handle << 3) | call` with the handle mostly in `0..24`
//! (0 self, 1 console, [`Handle::FIRST_FREE`](sk_abi::Handle::FIRST_FREE)
//! up: the arena's SMEM and what the fuzzer opened), sometimes any `u32`,
//! just past `u32`, or a whole random `u64` word; the call is `0..8`
//! (7 is no call). Arguments come from per-call mixtures of:
//!
//! - pointers: inside the arena, straddling its end, the null page, the
//!   kernel half, non-canonical, the unmapped gap after the arena, random;
//! - lengths: 0, small, large, the arena's size, huge, `u64::MAX`, random;
//! - for `create`: a well-formed SIO or SMEM argument struct (a path from
//!   [`PATHS`], open flags, protections, placements), or garbage, with the
//!   right size or a wrong one.
//!
//! # What the policy refuses (the call is redrawn)
//!
//! - `create` of kind SMACH or SCPU (on any handle);
//! - `terminate` or `reconfigure` on handle 0 (self), 1 (console) or the
//!   arena's handle;
//! - `read` or `write` on handle 1 (a read would wait for input);
//! - `read` or `query` whose destination starts in user space outside the
//!   arena, its gap and the null page ([`is_safe_destination`]): the
//!   kernel may write there, and this program's own memory is there.
#![no_std]
#![forbid(unsafe_code)]

use sk_abi::{Call, Kind, OpenFlags, SioCreateArgs, SmemCreateArgs, PAGE_SIZE, USER_END};

/// Calls made when the start argument's high half is 0.
pub const DEFAULT_CALLS: u64 = 1_000_000;

/// Where `main` maps the arena (an SMEM, fixed): far from the program
/// image and, on any sane layout, the stack.
pub const ARENA_ADDR: u64 = 0x0000_4000_0000_0000;

/// The arena's size: the valid user buffer calls point into.
pub const ARENA_LEN: u64 = 64 * 1024;

/// Bytes after the arena that `sysfuzz` never maps itself (SMEMs the
/// fuzzer creates may land there): pointers into it are "unmapped user
/// addresses", and a kernel copy running off the arena's end only reaches
/// fuzzer-owned memory.
pub const GAP_LEN: u64 = 1 << 30;

/// Handles below this are the usual targets.
pub const HANDLE_RANGE: u64 = 24;

/// Paths the fuzzer opens: devices, its own RAM files, directories and
/// malformed names. Never `/dev/tty` (reading it would block) nor anything
/// under `/bin` (a TRUNCATE would destroy programs).
pub static PATHS: [&[u8]; 18] = [
    b"/dev/null",
    b"/dev/zero",
    b"/dev/mem",
    b"/tmp/fuzz0",
    b"/tmp/fuzz1",
    b"/tmp/fuzz2",
    b"/tmp/fuzz3",
    b"/tmp",
    b"/",
    b"/nonexistent/dir/file",
    b"relative/fuzz",
    b"/tmp/fuzz0/sub",
    b"/dev/",
    b"/tmp//fuzz1",
    b"/tmp/./fuzz2",
    b"/tmp/../tmp/fuzz3",
    b"/tmp/nul\0fuzz",
    b"/tmp/\xff\xfe",
];

/// The RAM files the fuzzer may create; `main` truncates them at the end
/// (the ABI has no way to remove a file).
pub const FUZZ_FILES: [&str; 4] = ["/tmp/fuzz0", "/tmp/fuzz1", "/tmp/fuzz2", "/tmp/fuzz3"];

/// Run parameters, from the start argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    /// Number of fuzz calls.
    pub calls: u64,
    /// PRNG seed.
    pub seed: u64,
}

impl Plan {
    /// If the high 32 bits of `arg` are 0: [`DEFAULT_CALLS`] calls, seed
    /// `arg`. Otherwise they are the call count and the low 32 bits the
    /// seed.
    #[must_use]
    pub const fn from_arg(arg: u64) -> Self {
        let high = arg >> 32;
        if high == 0 {
            Self {
                calls: DEFAULT_CALLS,
                seed: arg,
            }
        } else {
            Self {
                calls: high,
                seed: arg & 0xffff_ffff,
            }
        }
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): one add and a mix per number;
/// every seed, 0 included, gives a full-period sequence.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator seeded with `seed`.
    #[must_use]
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..bound` (`bound > 0`; 0 gives 0). The modulo bias is
    /// irrelevant here.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next_u64().checked_rem(bound).unwrap_or(0)
    }

    /// One of `choices` (which must not be empty; empty gives 0).
    pub fn pick(&mut self, choices: &[u64]) -> u64 {
        let index = usize::try_from(self.below(choices.len() as u64)).unwrap_or(0);
        choices.get(index).copied().unwrap_or(0)
    }

    /// True with probability `percent / 100`.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// One system call: `rax` and the six argument registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syscall {
    /// The call word (`rax`).
    pub word: u64,
    /// `rdi`, `rsi`, `rdx`, `r10`, `r8`, `r9`.
    pub args: [u64; 6],
}

impl Syscall {
    /// The handle part of the word, all 61 bits (the kernel must reject
    /// anything past `u32`).
    #[must_use]
    pub const fn handle(&self) -> u64 {
        self.word >> Call::BITS
    }

    /// The call number (`0..8`).
    #[must_use]
    pub const fn call_number(&self) -> u64 {
        self.word & Call::MASK
    }

    /// Whether this is `call`.
    #[must_use]
    pub fn is(&self, call: Call) -> bool {
        self.call_number() == u64::from(call.number())
    }
}

/// Whether a kernel write starting at `ptr` can only land on memory this
/// program does not use: the arena and the gap after it (fuzzer-owned),
/// the null page (never mapped), or no user address at all (the kernel
/// must refuse it). A copy runs forward and stops at the first unmapped
/// byte, so the start decides.
#[must_use]
pub fn is_safe_destination(ptr: u64, arena: u64) -> bool {
    let is_in_arena_or_gap = ptr
        .checked_sub(arena)
        .is_some_and(|offset| offset < ARENA_LEN + GAP_LEN);
    !(PAGE_SIZE..USER_END).contains(&ptr) || is_in_arena_or_gap
}

/// Whether `main` may issue `call` (see the crate docs): the calls that
/// would end or stall this program, make threads or programs, or let the
/// kernel write where this program keeps its own state are refused.
#[must_use]
pub fn is_allowed(call: &Syscall, arena: u64, arena_handle: u64) -> bool {
    let handle = call.handle();
    let [rdi, rsi, ..] = call.args;
    let is_protected = handle == 0 || handle == 1 || handle == arena_handle;
    if call.is(Call::Create) {
        rdi != u64::from(Kind::Smach) && rdi != u64::from(Kind::Scpu)
    } else if call.is(Call::Terminate) || call.is(Call::Reconfigure) {
        !is_protected
    } else if call.is(Call::Read) {
        handle != 1 && is_safe_destination(rdi, arena)
    } else if call.is(Call::Write) {
        handle != 1
    } else if call.is(Call::Query) {
        is_safe_destination(rsi, arena)
    } else {
        true
    }
}

/// Makes random calls (see the crate docs).
#[derive(Clone, Debug)]
pub struct Generator {
    rng: SplitMix64,
    arena: u64,
}

/// Scratch for a `create` argument struct: the largest is 32 bytes.
pub type Scratch = [u8; 32];

impl Generator {
    /// A generator for an arena at `arena` (`ARENA_LEN` bytes, with
    /// `GAP_LEN` unmapped bytes after it).
    #[must_use]
    pub const fn new(seed: u64, arena: u64) -> Self {
        Self {
            rng: SplitMix64::new(seed),
            arena,
        }
    }

    /// The next call. A `create` may write its argument struct into
    /// `scratch` and point `rsi` at `scratch_addr` (the caller's address
    /// of `scratch`).
    pub fn next(&mut self, scratch: &mut Scratch, scratch_addr: u64) -> Syscall {
        let word = self.word();
        let call = Syscall { word, args: [0; 6] };
        let args = if call.is(Call::Create) {
            self.create_args(scratch, scratch_addr)
        } else if call.is(Call::Read) || call.is(Call::Write) {
            [self.pointer(), self.length(), 0, 0, 0, 0]
        } else if call.is(Call::Query) {
            let selector = self.small_or_random(3);
            let out_len = if self.rng.percent(60) {
                self.rng.pick(&[0, 8, 23, 24, 32, 4096])
            } else {
                self.length()
            };
            [selector, self.pointer(), out_len, 0, 0, 0]
        } else if call.is(Call::Reconfigure) {
            let selector = self.small_or_random(6);
            let value = self.small_or_random(9);
            [selector, value, self.offset(), 0, 0, 0]
        } else {
            [self.rng.next_u64(), 0, 0, 0, 0, 0]
        };
        let [rdi, rsi, rdx, ..] = args;
        // The unused registers carry noise: the kernel must ignore them.
        let noise = if self.rng.percent(10) {
            [
                self.rng.next_u64(),
                self.rng.next_u64(),
                self.rng.next_u64(),
            ]
        } else {
            [0; 3]
        };
        let [r10, r8, r9] = noise;
        Syscall {
            word,
            args: [rdi, rsi, rdx, r10, r8, r9],
        }
    }

    /// A call word.
    fn word(&mut self) -> u64 {
        let call = self.rng.below(Call::SLOTS_PER_HANDLE);
        let handle = match self.rng.below(100) {
            0..=84 => self.rng.below(HANDLE_RANGE),
            85..=92 => self.rng.below(1 << 32),
            93..=96 => (1 << 32) + self.rng.below(4),
            _ => return self.rng.next_u64(),
        };
        (handle << Call::BITS) | call
    }

    /// A number below `bound` most of the time, else any `u64`.
    fn small_or_random(&mut self, bound: u64) -> u64 {
        if self.rng.percent(90) {
            self.rng.below(bound)
        } else {
            self.rng.next_u64()
        }
    }

    /// A user-buffer argument.
    fn pointer(&mut self) -> u64 {
        let arena_end = self.arena + ARENA_LEN;
        match self.rng.below(100) {
            0..=44 => self.arena + self.rng.below(ARENA_LEN),
            45..=54 => arena_end - 1 - self.rng.below(64),
            55..=62 => self.rng.pick(&[0, 1, 8, PAGE_SIZE - 1]),
            63..=70 => {
                let kernel = self
                    .rng
                    .pick(&[0xffff_8000_0000_0000, 0xffff_ffff_8000_0000]);
                kernel + self.rng.below(1 << 20)
            }
            71..=78 => USER_END + self.rng.below(1 << 40),
            79..=92 => arena_end + PAGE_SIZE + self.rng.below(GAP_LEN - 2 * PAGE_SIZE),
            _ => self.rng.next_u64(),
        }
    }

    /// A length argument.
    fn length(&mut self) -> u64 {
        match self.rng.below(100) {
            0..=9 => 0,
            10..=44 => 1 + self.rng.below(256),
            45..=69 => PAGE_SIZE + self.rng.below(ARENA_LEN - PAGE_SIZE),
            70..=74 => self.rng.pick(&[ARENA_LEN, ARENA_LEN + 1]),
            75..=84 => (1 << 32) + self.rng.below(1 << 46),
            85..=89 => u64::MAX,
            _ => self.rng.next_u64(),
        }
    }

    /// A seek offset (`rdx` of reconfigure), as its register bits.
    fn offset(&mut self) -> u64 {
        match self.rng.below(10) {
            0..=4 => self.rng.below(8192).wrapping_sub(4096),
            5..=6 => self
                .rng
                .pick(&[1 << 24, 1 << 40, i64::MAX as u64, i64::MIN as u64, u64::MAX]),
            _ => self.rng.next_u64(),
        }
    }

    /// `[rdi, rsi, rdx, ..]` of a `create`; may fill `scratch`.
    fn create_args(&mut self, scratch: &mut Scratch, scratch_addr: u64) -> [u64; 6] {
        let kind = match self.rng.below(100) {
            0..=49 => Kind::Sio,
            50..=84 => Kind::Smem,
            85..=92 => {
                return [
                    self.rng.pick(&[4, 5, 7, 1 << 32]),
                    self.pointer(),
                    24,
                    0,
                    0,
                    0,
                ]
            }
            _ => return [self.rng.next_u64(), self.pointer(), self.length(), 0, 0, 0],
        };
        let size = match kind {
            Kind::Sio => self.sio_args(scratch),
            _ => self.smem_args(scratch),
        };
        let args_ptr = if self.rng.percent(90) {
            scratch_addr
        } else {
            self.pointer()
        };
        let args_len = if self.rng.percent(90) {
            size
        } else {
            self.rng.pick(&[0, size - 1, size + 1, 32, 4096, u64::MAX])
        };
        [u64::from(kind), args_ptr, args_len, 0, 0, 0]
    }

    /// Fills `scratch` with an [`SioCreateArgs`]; returns its size.
    fn sio_args(&mut self, scratch: &mut Scratch) -> u64 {
        let (path_ptr, path_len) = if self.rng.percent(90) {
            let index = usize::try_from(self.rng.below(PATHS.len() as u64)).unwrap_or(0);
            let path = PATHS.get(index).copied().unwrap_or(b"/");
            (path.as_ptr() as u64, path.len() as u64)
        } else {
            let len = self.rng.pick(&[0, 1, 16, 4096, 4097, 5000, u64::MAX]);
            (self.pointer(), len)
        };
        let read_write = OpenFlags::READ | OpenFlags::WRITE;
        let flags = if self.rng.percent(85) {
            let choices = [
                OpenFlags::READ,
                OpenFlags::WRITE,
                read_write,
                read_write | OpenFlags::CREATE,
                OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE,
                read_write | OpenFlags::CREATE | OpenFlags::EXCLUSIVE,
                OpenFlags::WRITE | OpenFlags::APPEND,
                OpenFlags::READ | OpenFlags::TRUNCATE,
                OpenFlags::empty(),
                OpenFlags::from_bits_retain(1 << 6),
            ]
            .map(|flags| u64::from(flags.bits()));
            low_u32(self.rng.pick(&choices))
        } else {
            low_u32(self.rng.next_u64())
        };
        let args = SioCreateArgs {
            path_ptr,
            path_len,
            flags,
            _pad: u32::from(self.rng.percent(3)),
        };
        write_scratch(scratch, &args.to_bytes());
        SioCreateArgs::SIZE as u64
    }

    /// Fills `scratch` with an [`SmemCreateArgs`]; returns its size.
    fn smem_args(&mut self, scratch: &mut Scratch) -> u64 {
        let gap_page = self.arena + ARENA_LEN + PAGE_SIZE * (1 + self.rng.below(64));
        let addr_hint = match self.rng.below(10) {
            0..=4 => 0,
            5..=7 => gap_page,
            8 => gap_page + 1 + self.rng.below(PAGE_SIZE - 1),
            _ => self.pointer(),
        };
        let len = if self.rng.percent(85) {
            self.rng
                .pick(&[0, 1, PAGE_SIZE, 3 * PAGE_SIZE + 5, 1 << 16, 1 << 20])
        } else {
            let random = self.rng.next_u64();
            self.rng.pick(&[1 << 40, USER_END, u64::MAX, random])
        };
        let prot = low_u32(self.small_or_random(9));
        let flags = low_u32(self.small_or_random(3));
        let args = SmemCreateArgs {
            addr_hint,
            len,
            prot,
            flags,
        };
        write_scratch(scratch, &args.to_bytes());
        SmemCreateArgs::SIZE as u64
    }
}

/// The low 32 bits of `value`.
fn low_u32(value: u64) -> u32 {
    let [b0, b1, b2, b3, ..] = value.to_le_bytes();
    u32::from_le_bytes([b0, b1, b2, b3])
}

/// Copies `bytes` to the front of `scratch` (at most its length).
fn write_scratch(scratch: &mut Scratch, bytes: &[u8]) {
    for (to, from) in scratch.iter_mut().zip(bytes) {
        *to = *from;
    }
}

#[cfg(test)]
mod tests;
