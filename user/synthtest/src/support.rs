//! What the cases share: failure messages, comparisons, raw calls, the
//! arena of bad buffers, and the Routines check.
//!
//! Owns [`same`] (A's result against B's; the harness, `Msg`, `fail!`
//! and `ensure!`, is `sk_user::check`), [`raw_read`]
//! and [`raw_write`] (calls with addresses `sk-user`'s typed API cannot
//! express), [`Arena`], [`expect_routine`] and [`compare_files`].

use core::fmt::Debug;

use sk_abi::{Call, CallWord, SysError};
use sk_user::{raw, routine_of, OpenFlags, Prot, Routine, Sio, Smem};
use sk_user_synthtest::{ARENA_ADDR, ARENA_LEN, MAX_IO};

/// A failure detail (or, for a differential run, its summary): longer
/// than `abitest`'s, for the two results a differential case prints.
pub(crate) type Msg = sk_user::check::Msg<320>;

/// A case's result: `Err` carries what went wrong.
pub(crate) type Outcome = Result<(), Msg>;

pub(crate) use sk_user::check::{expect_eq, must};
pub(crate) use sk_user::{ensure, fail};

/// Passes if A's result equals B's (the generic path's).
pub(crate) fn same<T: PartialEq + Debug>(what: &str, a: &T, b: &T) -> Outcome {
    ensure!(a == b, "{what}: A {a:?}, B (generic) {b:?}");
    Ok(())
}

/// The call word for `call` on `sio`, forced generic if `sio` is.
fn word(sio: &Sio, call: Call) -> u64 {
    let force = if sio.is_generic() {
        CallWord::FORCE_GENERIC
    } else {
        0
    };
    CallWord::new(sio.handle(), call).get() | force
}

/// A kernel byte count as a `usize`.
fn count(value: u64) -> usize {
    usize::try_from(value).unwrap_or(usize::MAX)
}

/// `read` on `sio` into `len` bytes at `ptr`.
///
/// # Safety
/// No Rust object may lie at `ptr..ptr + len`, except bytes of the
/// [`Arena`] (which no Rust object uses): the kernel may write there.
pub(crate) unsafe fn raw_read(sio: &Sio, ptr: u64, len: u64) -> Result<usize, SysError> {
    // SAFETY: the caller vouches that the kernel may write `ptr..ptr + len`.
    let rax = unsafe { raw::syscall2(word(sio, Call::Read), ptr, len) };
    SysError::decode_return(rax).map(count)
}

/// `write` on `sio` from `len` bytes at `ptr` (any address: the kernel
/// only reads the source).
pub(crate) fn raw_write(sio: &Sio, ptr: u64, len: u64) -> Result<usize, SysError> {
    // SAFETY: a write only reads user memory and changes the SIO.
    let rax = unsafe { raw::syscall2(word(sio, Call::Write), ptr, len) };
    SysError::decode_return(rax).map(count)
}

/// Another `Sio` for the same handle and route, for calls that consume
/// one (`close`) while the original stays in a struct.
pub(crate) fn alias(sio: &Sio) -> Sio {
    let copy = Sio::from_handle(sio.handle());
    if sio.is_generic() {
        copy.generic()
    } else {
        copy
    }
}

/// The one mapped region bad buffers touch: [`ARENA_LEN`] bytes at
/// [`ARENA_ADDR`], nothing mapped after it (the program maps no other
/// SMEM, and its image, statics and stack lie far away). No Rust object
/// lives in it; the kernel may write it (straddling reads).
pub(crate) struct Arena {
    smem: Smem,
}

impl Arena {
    /// Maps the arena.
    pub(crate) fn map() -> Result<Self, SysError> {
        let smem = Smem::create_at(ARENA_ADDR, ARENA_LEN, Prot::READ | Prot::WRITE)?;
        Ok(Self { smem })
    }

    /// One past its last byte.
    pub(crate) fn end(&self) -> u64 {
        self.smem.addr().saturating_add(self.smem.len())
    }

    /// Sets every byte to `byte`.
    pub(crate) fn fill(&mut self, byte: u8) {
        // SAFETY:
        // 1. `map` mapped the region READ | WRITE, and nothing re-protects
        //    or frees it while the slice lives (`&mut self`).
        // 2. No other reference into it exists: the program's only other
        //    uses are kernel copies during calls, none of which run while
        //    the slice lives.
        unsafe { self.smem.as_mut_slice() }.fill(byte);
    }

    /// Sets byte `i` to `byte_at(i)`.
    pub(crate) fn fill_with(&mut self, byte_at: impl Fn(u64) -> u8) {
        // SAFETY: as for `fill`.
        let bytes = unsafe { self.smem.as_mut_slice() };
        for (offset, byte) in (0_u64..).zip(bytes.iter_mut()) {
            *byte = byte_at(offset);
        }
    }

    /// Unmaps it.
    pub(crate) fn free(self) -> Result<(), SysError> {
        self.smem.free()
    }
}

/// What a Routines check expects of one op.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Want {
    /// A synthesized routine, of this template if named.
    Synthesized(Option<&'static str>),
    /// The generic path.
    Generic,
}

/// Bytes of Routines text read; the header comes first, so more is only
/// disassembly.
const ROUTINES_BYTES: usize = 2048;

/// Passes if `sio`'s Routines text says `want` for `op`.
pub(crate) fn expect_routine(sio: &Sio, op: &str, want: Want) -> Outcome {
    let mut text = [0_u8; ROUTINES_BYTES];
    let len = must("query Routines", sio.routines(&mut text))?;
    let text = text.get(..len).unwrap_or_default();
    let got = routine_of(text, op);
    let is_ok = match (want, got) {
        (Want::Generic, Some(Routine::Generic)) => true,
        (Want::Synthesized(None), Some(Routine::Synthesized(_))) => true,
        (Want::Synthesized(Some(template)), Some(Routine::Synthesized(got))) => got == template,
        // Lazy synthesis: generic until the op's K-th generic call.
        (Want::Synthesized(_), Some(Routine::Generic)) => {
            sk_user::pending_of(text, op).is_some_and(|(calls, k)| calls < k)
        }
        _ => false,
    };
    if !is_ok {
        let head = text.get(..text.len().min(60)).unwrap_or_default();
        let head = core::str::from_utf8(head).unwrap_or("<not UTF-8>");
        fail!("{op}: Routines says {got:?}, want {want:?}; text: {head:?}");
    }
    Ok(())
}

/// The facts line the Routines text gives for `op`'s routine
/// (`<op> facts: [...]`: node, layout generation, capacity, owner), or an
/// empty message if there is none.
pub(crate) fn routine_facts(sio: &Sio, op: &str) -> Msg {
    let mut text = [0_u8; ROUTINES_BYTES];
    let len = sio.routines(&mut text).unwrap_or(0);
    let text = core::str::from_utf8(text.get(..len).unwrap_or_default()).unwrap_or("");
    let prefix = Msg::new(format_args!("{op} facts: "));
    text.lines()
        .find_map(|line| line.strip_prefix(&*prefix))
        .map_or_else(
            || Msg::new(format_args!("")),
            |facts| Msg::new(format_args!("{facts}")),
        )
}

/// What `sio`'s `op` routine is, for a summary line:
/// `<op> synthesized <template>`, `<op> generic` or `<op> unknown`.
pub(crate) fn routine_summary(sio: &Sio, op: &str) -> Msg {
    let mut text = [0_u8; ROUTINES_BYTES];
    let len = sio.routines(&mut text).unwrap_or(0);
    match routine_of(text.get(..len).unwrap_or_default(), op) {
        Some(Routine::Synthesized(template)) => {
            Msg::new(format_args!("{op} synthesized {template}"))
        }
        Some(Routine::Generic) => Msg::new(format_args!("{op} generic")),
        None => Msg::new(format_args!("{op} unknown")),
    }
}

/// Buffers for comparing what A and B return: one byte past
/// [`MAX_IO`] each, to catch a write past the length asked for.
pub(crate) struct Pair {
    pub(crate) a: [u8; MAX_IO + 1],
    pub(crate) b: [u8; MAX_IO + 1],
}

impl Pair {
    pub(crate) const fn new() -> Self {
        Self {
            a: [0; MAX_IO + 1],
            b: [0; MAX_IO + 1],
        }
    }
}

/// The first index where `a` and `b` differ, with both bytes.
pub(crate) fn first_difference(a: &[u8], b: &[u8]) -> Option<(usize, u8, u8)> {
    a.iter()
        .zip(b)
        .enumerate()
        .find(|(_, (x, y))| x != y)
        .map(|(index, (&x, &y))| (index, x, y))
}

/// Most chunks [`compare_files`] reads (a bound on a misbehaving kernel).
const MAX_CHUNKS: usize = 1024;

/// Reads the files at `path_a` and `path_b` to their ends through the
/// generic path (fresh read-only SIOs) and passes if they hold the same
/// bytes; returns their length.
pub(crate) fn compare_files(path_a: &str, path_b: &str, pair: &mut Pair) -> Result<u64, Msg> {
    let a = must(path_a, Sio::open_generic(path_a, OpenFlags::READ))?;
    let b = must(path_b, Sio::open_generic(path_b, OpenFlags::READ));
    let result = b.and_then(|b| {
        let result = compare_open_files(&a, &b, pair);
        let _ = b.close();
        result
    });
    let _ = a.close();
    result
}

fn compare_open_files(a: &Sio, b: &Sio, pair: &mut Pair) -> Result<u64, Msg> {
    let mut offset = 0_u64;
    for _ in 0..MAX_CHUNKS {
        let got_a = a.read(&mut pair.a[..MAX_IO]);
        let got_b = b.read(&mut pair.b[..MAX_IO]);
        same(&format_offset(offset), &got_a, &got_b)?;
        let len = must("read back", got_a)?;
        if len == 0 {
            return Ok(offset);
        }
        if let Some((index, x, y)) = first_difference(&pair.a[..len], &pair.b[..len]) {
            fail!(
                "contents differ at byte {}: A {x:#04x}, B {y:#04x}",
                offset + index as u64
            );
        }
        offset += len as u64;
    }
    fail!("files longer than {MAX_CHUNKS} chunks")
}

fn format_offset(offset: u64) -> Msg {
    Msg::new(format_args!("read back at {offset}"))
}
