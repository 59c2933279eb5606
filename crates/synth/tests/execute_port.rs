//! Runs the port templates (`port_send`, `port_receive`) through
//! `sk-hostexec` against a real `sk_queue::MessageQueue<64>`: the sandbox
//! runs code in a child process that shares only its data pages, so each
//! synthesized call runs on the queue's memory image
//! (`MessageQueue::image`, at the documented offsets) copied into the
//! data region, and the queue then loads what the routine left
//! (`load_image`). The slow path is a bare `ret` that shows the call word, and
//! the test then does what the kernel's generic path would (the queue's
//! own `send_with`/`receive_with`). Random sequences of synthesized and
//! generic sends and receives, wrong lengths, faulting buffers, sleepers
//! announced by blocked generic calls and closes are compared with a
//! `VecDeque` model: every message is received once, in order, with its
//! contents; the fast path runs exactly when the spec says it may (length
//! 64, wait word 0, slot ready), and a fault moves nothing.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

mod rig;

use std::collections::VecDeque;

use proptest::collection::vec;
use proptest::prelude::*;
use rig::*;
use sk_queue::{MessageQueue, ReceiveOutcome, SendOutcome, WaitMode, Wake};
use sk_synth::templates::{PortReceiveHoles, PortSendHoles};
use sk_synth::{Imm32, Imm64};

const MESSAGE: usize = 64;
const CAPACITY: usize = 4;
const CALL_WORD: i32 = (6 << 3) | 5;
type Queue = MessageQueue<MESSAGE>;

/// Where the queue's image sits in each sandbox's data region.
const IMAGE: usize = WINDOW;

/// The send and receive routines of one queue, each in its own sandbox.
struct Port {
    queue: Queue,
    send: Rig,
    receive: Rig,
}

impl Port {
    fn new(start: u64) -> Self {
        let queue = Queue::new(CAPACITY, start).unwrap();
        let layout = queue.layout();
        assert_eq!(
            queue.image().len(),
            Queue::CELLS_BYTES + CAPACITY * layout.slot_stride
        );
        assert!(IMAGE + queue.image().len() <= USER_BUFFER);
        let cells = |data: u64| Imm64(data + IMAGE as u64);
        let slots = |data: u64| Imm64(data + (IMAGE + Queue::CELLS_BYTES) as u64);
        let mask = Imm32(layout.mask as i32);
        let slot_stride = Imm32(layout.slot_stride as i32);
        let send = Rig::with_helper(
            |data, code| PortSendHoles {
                cells: cells(data),
                slots: slots(data),
                mask,
                slot_stride,
                call_word: Imm32(CALL_WORD),
                bad_address: Imm32(BAD_ADDRESS),
                slow_path: Imm64(code + HELPER_OFFSET),
            },
            |_, _| vec![0xc3],
        );
        let receive = Rig::with_helper(
            |data, code| PortReceiveHoles {
                cells: cells(data),
                slots: slots(data),
                mask,
                slot_stride,
                call_word: Imm32(CALL_WORD),
                bad_address: Imm32(BAD_ADDRESS),
                slow_path: Imm64(code + HELPER_OFFSET),
                capacity: Imm32(CAPACITY as i32),
            },
            |_, _| vec![0xc3],
        );
        Self {
            queue,
            send,
            receive,
        }
    }

    /// One synthesized call (`is_send`) on the queue's image.
    fn call(&mut self, is_send: bool, buffer: u64, len: u64) -> i64 {
        let rig = if is_send {
            &mut self.send
        } else {
            &mut self.receive
        };
        rig.fill(IMAGE, &self.queue.image());
        let result = rig.call_buffer(buffer, len);
        let image = rig.bytes(IMAGE, self.queue.image().len());
        self.queue.load_image(&image);
        result
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// A synthesized send of the message filled with `fill`.
    Send {
        fill: u8,
        len: u64,
        faults: bool,
    },
    /// A synthesized receive.
    Receive {
        len: u64,
        faults: bool,
    },
    /// A generic send (another SCPU without the routine).
    GenericSend(u8),
    /// A generic receive.
    GenericReceive,
    CloseSenders,
    CloseReceivers,
}

fn len() -> impl Strategy<Value = u64> {
    prop_oneof![10 => Just(MESSAGE as u64), 1 => 0..130u64]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        12 => (any::<u8>(), len(), prop::bool::weighted(0.08))
            .prop_map(|(fill, len, faults)| Op::Send { fill, len, faults }),
        12 => (len(), prop::bool::weighted(0.08)).prop_map(|(len, faults)| Op::Receive { len, faults }),
        4 => any::<u8>().prop_map(Op::GenericSend),
        4 => Just(Op::GenericReceive),
        1 => Just(Op::CloseSenders),
        1 => Just(Op::CloseReceivers),
    ]
}

/// The spec, with the wait word's bits as the queue keeps them.
#[derive(Default)]
struct Model {
    messages: VecDeque<u8>,
    senders_waiting: bool,
    receivers_waiting: bool,
    senders_closed: bool,
    receivers_closed: bool,
}

impl Model {
    fn wait_word_is_zero(&self) -> bool {
        !(self.senders_waiting
            || self.receivers_waiting
            || self.senders_closed
            || self.receivers_closed)
    }

    /// What a generic send does (non-blocking: a full queue announces a
    /// sleeper in the kernel; here `Blocking` mode is used the same way).
    fn send(&mut self, fill: u8) -> SendOutcome {
        if self.receivers_closed {
            return SendOutcome::BrokenPipe;
        }
        if self.messages.len() == CAPACITY {
            self.senders_waiting = true;
            return SendOutcome::Blocked;
        }
        self.messages.push_back(fill);
        let wake = if std::mem::take(&mut self.receivers_waiting) {
            Wake::Readers
        } else {
            Wake::Nobody
        };
        SendOutcome::Sent { wake }
    }

    fn receive(&mut self) -> ReceiveOutcome<u8> {
        if let Some(fill) = self.messages.pop_front() {
            let wake = if std::mem::take(&mut self.senders_waiting) {
                Wake::Writers
            } else {
                Wake::Nobody
            };
            return ReceiveOutcome::Received {
                message: fill,
                wake,
            };
        }
        if self.senders_closed {
            return ReceiveOutcome::EndOfStream;
        }
        self.receivers_waiting = true;
        ReceiveOutcome::Blocked
    }
}

fn generic_send(queue: &Queue, fill: u8) -> SendOutcome {
    queue.send_with(&[fill; MESSAGE], WaitMode::Blocking)
}

fn generic_receive(queue: &Queue) -> ReceiveOutcome<u8> {
    match queue.receive_with(WaitMode::Blocking) {
        ReceiveOutcome::Received { message, wake } => {
            assert!(message.iter().all(|&b| b == message[0]), "a torn message");
            ReceiveOutcome::Received {
                message: message[0],
                wake,
            }
        }
        ReceiveOutcome::Empty => ReceiveOutcome::Empty,
        ReceiveOutcome::Blocked => ReceiveOutcome::Blocked,
        ReceiveOutcome::EndOfStream => ReceiveOutcome::EndOfStream,
    }
}

fn start() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), any::<u64>(), (u64::MAX - 16)..=u64::MAX]
}

proptest! {
    // Each call forks a sandbox child: 96 cases of up to 150 calls.
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn port_routines_match_the_generic_queue(start in start(), ops in vec(op(), 0..150)) {
        let mut port = Port::new(start);
        let mut model = Model::default();
        for op in ops {
            match op {
                Op::Send { fill, len, faults } => {
                    let buffer = if faults {
                        port.send.sandbox.guard_address()
                    } else {
                        port.send.fill(USER_BUFFER, &[fill; MESSAGE]);
                        port.send.user_buffer()
                    };
                    let fast = len == MESSAGE as u64
                        && model.wait_word_is_zero()
                        && model.messages.len() < CAPACITY;
                    let result = port.call(true, buffer, len);
                    if fast && faults {
                        prop_assert_eq!(result, i64::from(BAD_ADDRESS), "a fault sends nothing");
                    } else if fast {
                        prop_assert_eq!(result, MESSAGE as i64, "the fast path sends");
                        prop_assert_eq!(model.send(fill), SendOutcome::Sent { wake: Wake::Nobody });
                    } else {
                        prop_assert_eq!(result, i64::from(CALL_WORD), "slow path with the call word");
                        if len == MESSAGE as u64 && !faults {
                            prop_assert_eq!(generic_send(&port.queue, fill), model.send(fill));
                        }
                    }
                }
                Op::Receive { len, faults } => {
                    port.receive.fill(USER_BUFFER, &[0xee; MESSAGE]);
                    let buffer = if faults {
                        port.receive.sandbox.guard_address()
                    } else {
                        port.receive.user_buffer()
                    };
                    let fast = len == MESSAGE as u64
                        && model.wait_word_is_zero()
                        && !model.messages.is_empty();
                    let result = port.call(false, buffer, len);
                    if fast && faults {
                        prop_assert_eq!(result, i64::from(BAD_ADDRESS), "a fault takes nothing");
                    } else if fast {
                        prop_assert_eq!(result, MESSAGE as i64, "the fast path receives");
                        let want = model.messages.pop_front().unwrap();
                        prop_assert_eq!(port.receive.bytes(USER_BUFFER, MESSAGE), vec![want; MESSAGE]);
                    } else {
                        prop_assert_eq!(result, i64::from(CALL_WORD), "slow path with the call word");
                        prop_assert_eq!(port.receive.bytes(USER_BUFFER, MESSAGE), vec![0xee; MESSAGE]);
                        if len == MESSAGE as u64 && !faults {
                            prop_assert_eq!(generic_receive(&port.queue), model.receive());
                        }
                    }
                }
                Op::GenericSend(fill) => {
                    prop_assert_eq!(generic_send(&port.queue, fill), model.send(fill));
                }
                Op::GenericReceive => {
                    prop_assert_eq!(generic_receive(&port.queue), model.receive());
                }
                Op::CloseSenders => {
                    model.senders_closed = true;
                    let owed = std::mem::take(&mut model.receivers_waiting);
                    let want = if owed { Wake::Readers } else { Wake::Nobody };
                    prop_assert_eq!(port.queue.close_senders(), want);
                }
                Op::CloseReceivers => {
                    model.receivers_closed = true;
                    let owed = std::mem::take(&mut model.senders_waiting);
                    let want = if owed { Wake::Writers } else { Wake::Nobody };
                    prop_assert_eq!(port.queue.close_receivers(), want);
                }
            }
            prop_assert_eq!(port.queue.len(), model.messages.len());
        }
        // Whatever is left comes out once, in order, on the generic path.
        while let Some(want) = model.messages.pop_front() {
            let got = generic_receive(&port.queue);
            let is_want = matches!(got, ReceiveOutcome::Received { message, .. } if message == want);
            prop_assert!(is_want, "left over: {:?}, want {}", got, want);
        }
    }
}

#[test]
fn a_full_queue_and_an_empty_one_go_to_the_slow_path() {
    let mut port = Port::new(u64::MAX - 1);
    let buffer = port.send.user_buffer();
    for fill in 0..CAPACITY as u8 {
        port.send.fill(USER_BUFFER, &[fill; MESSAGE]);
        assert_eq!(port.call(true, buffer, MESSAGE as u64), MESSAGE as i64);
    }
    assert_eq!(
        port.call(true, buffer, MESSAGE as u64),
        i64::from(CALL_WORD)
    );
    let out = port.receive.user_buffer();
    for fill in 0..CAPACITY as u8 {
        assert_eq!(port.call(false, out, MESSAGE as u64), MESSAGE as i64);
        assert_eq!(
            port.receive.bytes(USER_BUFFER, MESSAGE),
            vec![fill; MESSAGE]
        );
    }
    assert_eq!(port.call(false, out, MESSAGE as u64), i64::from(CALL_WORD));
    // A range past the user half never reaches the queue.
    assert_eq!(
        port.call(false, USER_END - 8, MESSAGE as u64),
        i64::from(BAD_ADDRESS)
    );
}
