//! Lazy synthesis's break-even table (Synthesis only): for every SIO kind
//! the kernel synthesizes for, what its routine costs to make and saves per
//! call, all counted by the kernel's single-step counter.
//!
//! Per kind, on a fresh object, with the kernel's default `synth.lazy=auto`:
//! calls (each traced) until `query(Routines)` shows the routine: `K` is
//! that call's number; `install` is what those `K` calls cost beyond `K`
//! generic calls (the counting, the plan the first call makes, the replan
//! at the `K`-th that installs the routine). Then one call with the call
//! word's `FORCE_GENERIC` bit (the generic path; `generic`), one plain
//! call (the routine;
//! `synthesized`), and the close, against the close of a fresh object of
//! the same kind that never got a routine (`retire` = the difference). It
//! prints, after the metrics (no `bench: ` prefix: not a metric),
//!
//! ```text
//! lazy: <kind> k=<K> generic=<n> synthesized=<n> install=<n> retire=<n>
//! ```
//!
//! and `lazy: <kind> error: <why>` for a kind it could not measure; the
//! xtask turns these into the break-even table (synthesis = install +
//! retire; saving = generic - synthesized; break-even = ⌈synthesis /
//! saving⌉ calls).

use sk_user::abi::{Call, CallWord, Handle, OpenFlags};
use sk_user::Sio;

/// Calls made before a kind is declared never synthesized.
const MAX_CALLS: u32 = 64;

/// Which op a kind's routine serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Read,
    Write,
}

impl Op {
    const fn name(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::Write => "write",
        }
    }
}

/// A measured object: the SIO whose routine is measured, its op and buffer
/// length, and what must happen around each call (a semaphore's V before
/// a P, a pipe's read after a write, ...), on the object's other end.
struct Subject {
    sio: Sio,
    op: Op,
    len: usize,
    /// Another SIO made with it (a pipe's or port's other end), closed last.
    other: Option<Sio>,
    /// Before each measured call: this op on `other` (or on `sio` if none).
    before: Option<Op>,
    /// After each measured call.
    after: Option<Op>,
}

/// Prints the table's lines.
pub(crate) fn run() {
    for kind in &KINDS {
        match measure(kind) {
            Ok(line) => crate::println!("{line}"),
            Err(why) => crate::println!("lazy: {} error: {why}", kind.0),
        }
    }
}

type Open = fn() -> Result<Subject, &'static str>;

/// Every kind, with how to make a fresh object of it.
const KINDS: [(&str, Open); 12] = [
    ("dev_null_write", || {
        open("/dev/null", OpenFlags::WRITE, Op::Write, 1)
    }),
    ("dev_zero_read", || {
        open("/dev/zero", OpenFlags::READ, Op::Read, 1)
    }),
    ("dev_mem_read", || {
        open("/dev/mem", OpenFlags::READ, Op::Read, 1)
    }),
    ("ram_file_read", || {
        open("/tmp/bench-data", OpenFlags::READ, Op::Read, 1)
    }),
    ("ram_file_write", || {
        open("/tmp/bench-write", OpenFlags::WRITE, Op::Write, 1)
    }),
    ("tty_write_cooked", || {
        open("/dev/tty", OpenFlags::WRITE, Op::Write, 1)
    }),
    ("semaphore_p", || semaphore(Op::Read)),
    ("semaphore_v", || semaphore(Op::Write)),
    ("pipe_read", || pipe(Op::Read)),
    ("pipe_write", || pipe(Op::Write)),
    ("port_receive", || port(Op::Read)),
    ("port_send", || port(Op::Write)),
];

fn open(path: &str, flags: OpenFlags, op: Op, len: usize) -> Result<Subject, &'static str> {
    let sio = Sio::open(path, flags).map_err(|_| "open")?;
    Ok(Subject {
        sio,
        op,
        len,
        other: None,
        before: None,
        after: None,
    })
}

fn semaphore(op: Op) -> Result<Subject, &'static str> {
    let sio = Sio::semaphore().map_err(|_| "open semaphore")?;
    // P after a V never blocks; a V is undone by a P.
    let (before, after) = match op {
        Op::Read => (Some(Op::Write), None),
        Op::Write => (None, Some(Op::Read)),
    };
    Ok(Subject {
        sio,
        op,
        len: 0,
        other: None,
        before,
        after,
    })
}

fn pipe(op: Op) -> Result<Subject, &'static str> {
    let (read, write) = Sio::pipe().map_err(|_| "open pipe")?;
    Ok(match op {
        Op::Read => Subject {
            sio: read,
            op,
            len: 1,
            other: Some(write),
            before: Some(Op::Write),
            after: None,
        },
        Op::Write => Subject {
            sio: write,
            op,
            len: 1,
            other: Some(read),
            before: None,
            after: Some(Op::Read),
        },
    })
}

fn port(op: Op) -> Result<Subject, &'static str> {
    let (receive, send) = Sio::port().map_err(|_| "open port")?;
    Ok(match op {
        Op::Read => Subject {
            sio: receive,
            op,
            len: 64,
            other: Some(send),
            before: Some(Op::Write),
            after: None,
        },
        Op::Write => Subject {
            sio: send,
            op,
            len: 64,
            other: Some(receive),
            before: None,
            after: Some(Op::Read),
        },
    })
}

impl Subject {
    /// The companion call (`op` on the other end, or on this SIO).
    fn companion(&self, op: Option<Op>) -> Result<(), &'static str> {
        let Some(op) = op else { return Ok(()) };
        let sio = self.other.as_ref().unwrap_or(&self.sio);
        let mut buf = [0_u8; 64];
        let buf = &mut buf[..self.len];
        let done = match op {
            Op::Read => sio.read(buf),
            Op::Write => sio.write(buf),
        };
        done.map(drop).map_err(|_| "companion call")
    }

    /// One measured call, traced: its kernel instructions.
    fn traced(&self, force_generic: bool) -> Result<u64, &'static str> {
        self.companion(self.before)?;
        let call = match self.op {
            Op::Read => Call::Read,
            Op::Write => Call::Write,
        };
        let mut word = CallWord::new(self.sio.handle(), call).get();
        if force_generic {
            word |= CallWord::FORCE_GENERIC;
        }
        let mut buf = [b'\n'; 64];
        let buf = &mut buf[..self.len];
        let count = super::traced_word(word, [buf.as_mut_ptr() as u64, buf.len() as u64, 0])
            .ok_or("traced call")?;
        self.companion(self.after)?;
        Ok(count)
    }

    fn is_synthesized(&self) -> bool {
        let mut text = [0_u8; 1024];
        super::trace::query_routines(self.sio.handle(), &mut text).is_ok_and(|n| {
            sk_user::routine_of(&text[..n], self.op.name()).is_some_and(|r| r.is_synthesized())
        })
    }

    /// Closes it, traced: kernel instructions of this SIO's close.
    fn close_traced(self) -> Result<u64, &'static str> {
        let handle: Handle = self.sio.handle();
        let count = super::traced_word(CallWord::new(handle, Call::Terminate).get(), [0; 3]);
        if count.is_none() {
            let _ = self.sio.close();
        }
        if let Some(other) = self.other {
            let _ = other.close();
        }
        count.ok_or("traced close")
    }
}

fn measure(&(kind, make): &(&'static str, Open)) -> Result<alloc_free::Line, &'static str> {
    let subject = make()?;
    if subject.is_synthesized() {
        let _ = subject.close_traced();
        return Err("synthesized at open (synth.lazy=off?)");
    }
    let mut counts = [0_u64; MAX_CALLS as usize];
    let mut k = None;
    for call in 1..=MAX_CALLS {
        counts[call as usize - 1] = subject.traced(false)?;
        if subject.is_synthesized() {
            k = Some(call);
            break;
        }
    }
    let Some(k) = k else {
        let _ = subject.close_traced();
        return Err("never synthesized");
    };
    let generic = subject.traced(true)?;
    // What the K calls cost beyond K generic calls: the count, the plan
    // made at the first call, the replan that installed the routine.
    let install = counts[..k as usize]
        .iter()
        .map(|c| c.saturating_sub(generic))
        .sum();
    let synthesized = subject.traced(false)?;
    let close = subject.close_traced()?;
    let fresh = make()?;
    let fresh_close = fresh.close_traced()?;
    Ok(alloc_free::Line {
        kind,
        k,
        generic,
        synthesized,
        install,
        retire: close.saturating_sub(fresh_close),
    })
}

/// The printed line, formatted without the heap.
mod alloc_free {
    pub(super) struct Line {
        pub(super) kind: &'static str,
        pub(super) k: u32,
        pub(super) generic: u64,
        pub(super) synthesized: u64,
        pub(super) install: u64,
        pub(super) retire: u64,
    }

    impl core::fmt::Display for Line {
        fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
            write!(
                f,
                "lazy: {} k={} generic={} synthesized={} install={} retire={}",
                self.kind, self.k, self.generic, self.synthesized, self.install, self.retire
            )
        }
    }
}
