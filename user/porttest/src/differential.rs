//! Mode 4, `differential`: the synthesized port routines against the
//! generic path. One port on the table path (its send and receive slots
//! hold `port_send` and `port_receive`: checked in the routines text) and
//! a twin whose every call is forced generic get the same 100,000 random
//! operations; every result, every received message and every queried
//! size must agree with each other and with a model queue. In the run
//! with `generic` set, both ports are generic (the model still checks).

use sk_user::abi::{Call, CallWord, SysError, PORT_MESSAGE_BYTES};
use sk_user::Sio;

use crate::{fail, is_failed, Message, CAPACITY, GENERIC};
use core::sync::atomic::Ordering;

const OPERATIONS: u64 = 100_000;
const MESSAGE: u64 = PORT_MESSAGE_BYTES as u64;
/// An address no program has mapped.
const UNMAPPED: u64 = 0x0000_6000_0000_0000;

/// A small deterministic generator (xorshift64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// One side: a port's two ends and the call-word bits of its path.
struct Side {
    receive: Sio,
    send: Sio,
    bits: u64,
}

impl Side {
    fn call(&self, op: Call, addr: u64, len: u64) -> Result<usize, SysError> {
        let handle = if op == Call::Write {
            self.send.handle()
        } else {
            self.receive.handle()
        };
        crate::raw_by(handle, op, addr, len, self.bits)
    }

    fn size(&self) -> Result<u64, SysError> {
        self.receive.query().map(|info| info.size)
    }
}

/// A small ring of the model's messages (at most `CAPACITY`).
struct Model {
    messages: [Message; CAPACITY],
    head: usize,
    len: usize,
}

/// `sio` has its routine `name` for `op`, or lazy synthesis waits for the
/// op's K-th generic call (the differential crosses that point).
fn routine_is(sio: &Sio, name: &str, op: &str) -> bool {
    let mut text = [0u8; 4096];
    match sio.routines(&mut text) {
        Ok(n) => {
            let text = &text[..n.min(text.len())];
            core::str::from_utf8(text).is_ok_and(|t| t.contains(name))
                || sk_user::pending_of(text, op).is_some_and(|(calls, k)| calls < k)
        }
        Err(_) => false,
    }
}

pub(crate) fn run() {
    let is_generic_run = GENERIC.load(Ordering::Relaxed);
    let (Ok((r, s)), Ok((gr, gs))) = (
        if is_generic_run {
            Sio::port_generic()
        } else {
            Sio::port()
        },
        Sio::port_generic(),
    ) else {
        fail(format_args!("differential: no ports"));
        return;
    };
    if !is_generic_run
        && (!routine_is(&s, "port_send", "write") || !routine_is(&r, "port_receive", "read"))
    {
        fail(format_args!(
            "differential: the table port has no synthesized routines"
        ));
        return;
    }
    let bits = if is_generic_run {
        CallWord::FORCE_GENERIC
    } else {
        0
    };
    let sides = [
        Side {
            receive: r,
            send: s,
            bits,
        },
        Side {
            receive: gr,
            send: gs,
            bits: CallWord::FORCE_GENERIC,
        },
    ];
    let mut model = Model {
        messages: [[0; PORT_MESSAGE_BYTES]; CAPACITY],
        head: 0,
        len: 0,
    };
    let mut rng = Rng(0x5eed_0f90_47aa);
    let mut out = [[0u8; PORT_MESSAGE_BYTES]; 2];
    let mut counts = [0u64; 2];
    for step in 0..OPERATIONS {
        let draw = rng.next();
        let kind = draw % 16;
        let mut message = [0u8; PORT_MESSAGE_BYTES];
        for chunk in message.chunks_mut(8) {
            chunk.copy_from_slice(&rng.next().to_le_bytes());
        }
        let results: [Result<usize, SysError>; 2];
        let want: Result<usize, SysError>;
        match kind {
            // Send (never blocking: only when the model has room).
            0..=6 if model.len < CAPACITY => {
                results = core::array::from_fn(|i| {
                    sides[i].call(Call::Write, message.as_ptr() as u64, MESSAGE)
                });
                model.messages[(model.head + model.len) % CAPACITY] = message;
                model.len += 1;
                want = Ok(PORT_MESSAGE_BYTES);
            }
            // Receive (only when the model holds a message).
            0..=12 if model.len > 0 => {
                out = [[0xee; PORT_MESSAGE_BYTES]; 2];
                results = core::array::from_fn(|i| {
                    sides[i].call(Call::Read, out[i].as_mut_ptr() as u64, MESSAGE)
                });
                let expected = model.messages[model.head];
                model.head = (model.head + 1) % CAPACITY;
                model.len -= 1;
                want = Ok(PORT_MESSAGE_BYTES);
                if out[0] != expected || out[1] != expected {
                    fail(format_args!(
                        "differential step {step}: received contents differ"
                    ));
                    break;
                }
                counts[0] += 1;
            }
            // A wrong length: refused on both.
            13 => {
                let len = [0, 1, 63, 65, 4096][(draw >> 8) as usize % 5];
                let op = if draw & (1 << 20) != 0 {
                    Call::Write
                } else {
                    Call::Read
                };
                let buf = out[0].as_mut_ptr() as u64;
                results = core::array::from_fn(|i| sides[i].call(op, buf, len));
                want = Err(SysError::MessageSize);
            }
            // A bad buffer: refused, nothing moved.
            14 => {
                let op = if draw & (1 << 20) != 0 {
                    Call::Write
                } else {
                    Call::Read
                };
                // A receive on an empty port would block: it is made only
                // when there is a message, a send only when there is room.
                if (op == Call::Read && model.len == 0)
                    || (op == Call::Write && model.len == CAPACITY)
                {
                    continue;
                }
                results = core::array::from_fn(|i| sides[i].call(op, UNMAPPED, MESSAGE));
                want = Err(SysError::BadAddress);
            }
            // The size both report.
            _ => {
                let sizes = [sides[0].size(), sides[1].size()];
                let want_size = Ok(model.len as u64 * MESSAGE);
                if sizes != [want_size, want_size] {
                    fail(format_args!(
                        "differential step {step}: sizes {sizes:?}, want {want_size:?}"
                    ));
                    break;
                }
                counts[1] += 1;
                continue;
            }
        }
        if results != [want, want] {
            fail(format_args!(
                "differential step {step} (draw {kind}): {results:?}, want {want:?}"
            ));
            break;
        }
    }
    if !is_failed() {
        sk_user::println!(
            "porttest: differential: {OPERATIONS} operations, {} receives, {} size checks agree",
            counts[0],
            counts[1]
        );
    }
    for side in sides {
        let _ = (side.receive.close(), side.send.close());
    }
}
