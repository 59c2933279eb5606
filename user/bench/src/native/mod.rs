//! The native backend (default): the suite's OS layer on Synthesis's native
//! ABI through `sk-user`.
//!
//! Owns the same interface as the Linux backend ([`File`], [`null_call`],
//! [`write_console`], …) and what only Synthesis has: [`trace_call`] (the
//! kernel's single-step count of one call's kernel instructions) and
//! [`synthesis_cost`] (what the kernel reports it spent synthesizing an
//! SIO's routines). Smoke mode is the start argument 1, which the kernel's
//! `bench` boot mode passes for `bench.smoke`.

mod break_even;
#[allow(
    unsafe_code,
    reason = "a static stack lent to one SCPU at a time; SAFETY per block"
)]
mod switches;
#[allow(
    unsafe_code,
    reason = "the traced `syscall` and the raw query calls; SAFETY per block"
)]
mod trace;

pub(crate) use break_even::run as break_even_table;

pub(crate) use switches::{
    create_and_join_thread, new_pipe, new_port, yield_now, EchoThread, PingPong, ProcessPartner,
    ThreadPartner,
};

use sk_user::abi::{
    Call, CallWord, Handle, Kind, OpenFlags, SioCreateArgs, SmachReconfigure, SysError, Whence,
};
use sk_user::{Sio, Smach};

use crate::paths::Path;
use crate::TracedCall;

pub(crate) use sk_user::SysError as Error;

/// Name of this system in the output.
pub(crate) const SYSTEM: &str = "synthesis";

/// The memory device of Programs 1 and 2.
pub(crate) const MEM: Path = Path::new("/dev/mem\0");

sk_user::entry!(main);

fn main() -> i32 {
    if sk_user::start_arg() == switches::PARTNER_ARG {
        switches::be_process_partner();
    }
    if sk_user::start_arg() == switches::PINGPONG_ARG {
        switches::be_pipe_echo();
    }
    crate::run()
}

/// A window view of `file`: `length` bytes from `offset` (issue 15's
/// views; `None` if the kernel refuses).
pub(crate) fn view(file: &File, offset: u64, length: u64) -> Option<File> {
    file.sio
        .view(offset, length, false)
        .ok()
        .map(File::from_sio)
}

/// Synthesis has prefix views of the tty.
pub(crate) const HAS_PREFIX_VIEWS: bool = true;

/// A prefix view of the tty `file` (issue 15's prefixed tty streams;
/// `None` if the kernel refuses).
pub(crate) fn prefix_view(file: &File, prefix: &[u8]) -> Option<File> {
    file.sio.prefix_view(prefix).ok().map(File::from_sio)
}

/// How a file is opened.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Access {
    /// Read only.
    Read,
    /// Write only.
    Write,
    /// Read and write, created if missing, truncated.
    CreateTruncate,
}

/// The open flags of `access`.
fn open_flags(access: Access) -> OpenFlags {
    match access {
        Access::Read => OpenFlags::READ,
        Access::Write => OpenFlags::WRITE,
        Access::CreateTruncate => {
            OpenFlags::READ | OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE
        }
    }
}

/// An open SIO.
#[derive(Debug)]
pub(crate) struct File {
    sio: Sio,
}

impl File {
    /// Wraps an open SIO.
    pub(crate) fn from_sio(sio: Sio) -> Self {
        Self { sio }
    }

    /// Its handle.
    pub(crate) fn handle(&self) -> Handle {
        self.sio.handle()
    }

    /// `create(Kind::Sio)`.
    #[inline(always)]
    pub(crate) fn open(path: Path, access: Access) -> Result<Self, Error> {
        Sio::open(path.without_nul(), open_flags(access)).map(|sio| Self { sio })
    }

    /// `read`.
    #[inline(always)]
    pub(crate) fn read(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.sio.read(buf)
    }

    /// `write`.
    #[inline(always)]
    pub(crate) fn write(&self, buf: &[u8]) -> Result<usize, Error> {
        self.sio.write(buf)
    }

    /// Seek to 0.
    pub(crate) fn rewind(&self) -> Result<(), Error> {
        self.sio.seek(Whence::Set, 0).map(drop)
    }

    /// `terminate`.
    #[inline(always)]
    pub(crate) fn close(self) -> Result<(), Error> {
        self.sio.close()
    }
}

/// A new `/dev/semaphore`: V is a `write`, P a `read` (buffers ignored).
pub(crate) fn open_semaphore() -> Result<File, Error> {
    Sio::semaphore().map(|sio| File { sio })
}

/// What P and V move (nothing: the semaphore ignores the buffer).
pub(crate) const SEMAPHORE_TOKEN: [u8; 0] = [];

/// The null call (`Call::Null`).
#[inline(always)]
pub(crate) fn null_call() {
    let _ = sk_user::null_call();
}

/// Writes to the console (handle 1).
pub(crate) fn write_console(bytes: &[u8]) {
    let _ = Sio::console().write_all(bytes);
}

/// Smoke mode: start argument 1.
pub(crate) fn is_smoke() -> bool {
    sk_user::start_arg() == 1
}

/// Synthesis counts one call's kernel instructions.
pub(crate) const HAS_KERNEL_TRACE: bool = true;

/// Kernel instructions of one `call`, from the `syscall` instruction to the
/// return to user mode: arms `TraceNextCall`, makes the call with TF set,
/// reads `LastTrace`. `None` if the kernel refuses any step (a kernel
/// without the counter) or the call itself fails.
pub(crate) fn trace_call(mut call: TracedCall<'_>) -> Option<u64> {
    let (word, arg0, arg1) = match &mut call {
        TracedCall::Null => (CallWord::new(Handle::SELF, Call::Null), 0, 0),
        TracedCall::Read(file, buf) => (
            CallWord::new(file.sio.handle(), Call::Read),
            buf.as_mut_ptr() as u64,
            buf.len() as u64,
        ),
        TracedCall::Write(file, buf) => (
            CallWord::new(file.sio.handle(), Call::Write),
            buf.as_ptr() as u64,
            buf.len() as u64,
        ),
        TracedCall::OpenClose(path, access) => return trace_open_close(*path, *access),
    };
    traced(word, [arg0, arg1, 0])
}

/// Arms `TraceNextCall`, makes the call with TF set, reads `LastTrace`.
fn traced(word: CallWord, args: [u64; 3]) -> Option<u64> {
    traced_word(word.get(), args)
}

/// [`traced`] with a raw call word (it may carry `FORCE_GENERIC`). Only
/// for the calls [`trace::traced_call`] allows.
fn traced_word(word: u64, args: [u64; 3]) -> Option<u64> {
    Smach::this()
        .reconfigure(SmachReconfigure::TraceNextCall)
        .ok()?;
    // The caller keeps whatever the arguments point at alive across the
    // traced call.
    let rax = trace::traced_call(word, args[0], args[1], args[2]);
    SysError::decode_return(rax).ok()?;
    trace::last_trace().ok()
}

/// Kernel instructions of an open of `path` plus those of its close.
fn trace_open_close(path: Path, access: Access) -> Option<u64> {
    let path = path.without_nul();
    let args = SioCreateArgs {
        path_ptr: path.as_ptr() as u64,
        path_len: path.len() as u64,
        flags: open_flags(access).bits(),
        _pad: 0,
    }
    .to_bytes();
    let create = CallWord::new(Handle::SELF, Call::Create);
    Smach::this()
        .reconfigure(SmachReconfigure::TraceNextCall)
        .ok()?;
    // `args` and `path` live until the end of this function.
    let rax = trace::traced_call(
        create.get(),
        u64::from(Kind::Sio),
        args.as_ptr() as u64,
        args.len() as u64,
    );
    let handle = SysError::decode_return(rax).ok()?;
    let open = trace::last_trace().ok();
    let handle = Handle::new(u32::try_from(handle).ok()?);
    let close = traced(CallWord::new(handle, Call::Terminate), [0; 3]);
    if close.is_none() {
        let _ = Sio::from_handle(handle).close();
    }
    Some(open? + close?)
}

/// What the kernel says synthesizing `file`'s routines cost, in TSC ticks:
/// the sum of the per-routine figures in its `Routines` query text
/// (`created in <N> TSC ticks`, or `creation cost <N>`). `None` if the
/// query fails or names no cost (the generic path synthesizes nothing).
pub(crate) fn synthesis_cost(file: &File) -> Option<u64> {
    // Disassembly follows each routine's header line: leave room for all.
    let mut text = [0_u8; 32 * 1024];
    let len = trace::query_routines(file.sio.handle(), &mut text).ok()?;
    sum_creation_costs(text.get(..len)?)
}

/// Synthesis prints its TSC rate in the boot log (`tsc: … MHz`); nothing
/// more to say here.
pub(crate) fn describe_system() {
    crate::println!("bench: system synthesis");
}

/// Sums the number after every `created in` or `creation cost` in `text`
/// (case-insensitive; `:`, `=` and blanks may stand between the words and
/// the number; `_` and `,` inside it are skipped). `None` if there is none.
fn sum_creation_costs(text: &[u8]) -> Option<u64> {
    const KEYS: [&[u8]; 2] = [b"created in", b"creation cost"];
    let mut total: Option<u64> = None;
    let mut rest = text;
    while let Some((at, key)) = KEYS
        .iter()
        .filter_map(|key| {
            let at = rest
                .windows(key.len())
                .position(|window| window.eq_ignore_ascii_case(key))?;
            Some((at, key.len()))
        })
        .min()
    {
        rest = rest.get(at + key..).unwrap_or(&[]);
        let skip = rest
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b':' | b'='))
            .unwrap_or(rest.len());
        rest = rest.get(skip..).unwrap_or(&[]);
        let mut value: Option<u64> = None;
        let mut used = 0;
        for &byte in rest {
            match byte {
                b'0'..=b'9' => {
                    let digit = u64::from(byte - b'0');
                    value = Some(value.unwrap_or(0).saturating_mul(10).saturating_add(digit));
                }
                b'_' | b',' if value.is_some() => {}
                _ => break,
            }
            used += 1;
        }
        rest = rest.get(used..).unwrap_or(&[]);
        if let Some(value) = value {
            total = Some(total.unwrap_or(0).saturating_add(value));
        }
    }
    total
}
