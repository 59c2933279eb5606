//! Host tests of the generic port: random sends and receives (right and
//! wrong lengths, faulting buffers, closes) against a `VecDeque` model.

// Test code: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

extern crate std;

use super::*;
use crate::testing::FakeUserMemory;
use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::VecDeque;

const BASE: u64 = 0x10_0000;
const MESSAGE: u64 = PORT_MESSAGE_BYTES as u64;

#[derive(Clone, Debug)]
enum Op {
    /// Send the message filled with this byte, from a good or faulting
    /// buffer, with this length.
    Send {
        fill: u8,
        faults: bool,
        len: u64,
    },
    /// Receive into a good or faulting buffer, with this length.
    Receive {
        faults: bool,
        len: u64,
    },
    CloseSend,
    CloseReceive,
}

fn len() -> impl Strategy<Value = u64> {
    prop_oneof![8 => Just(MESSAGE), 1 => 0..200u64]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        10 => (any::<u8>(), proptest::bool::weighted(0.1), len())
            .prop_map(|(fill, faults, len)| Op::Send { fill, faults, len }),
        10 => (proptest::bool::weighted(0.1), len()).prop_map(|(faults, len)| Op::Receive { faults, len }),
        1 => Just(Op::CloseSend),
        1 => Just(Op::CloseReceive),
    ]
}

/// The spec: what a port call returns, by the `sk_abi::port` rules.
#[derive(Default)]
struct Model {
    messages: VecDeque<u8>,
    send_closed: bool,
    receive_closed: bool,
    senders_waiting: bool,
    receivers_waiting: bool,
}

/// The wake owed if `waiting` was set (and clears it).
fn owed(waiting: &mut bool, wake: Wake) -> Wake {
    if core::mem::take(waiting) {
        wake
    } else {
        Wake::Nobody
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generic_port_matches_the_model(ops in vec(op(), 0..120)) {
        let (mut receive, mut send) = new_port(1).unwrap();
        let mut receive = Some(receive_end(&mut receive));
        let mut send = Some(receive_end(&mut send));
        let mut model = Model::default();
        let mut user = FakeUserMemory::new(BASE, 2 * PORT_MESSAGE_BYTES);
        for op in ops {
            match op {
                Op::Send { fill, faults, len } => {
                    let Some(end) = send.as_mut() else { continue };
                    user.bytes[..PORT_MESSAGE_BYTES].fill(fill);
                    user.fault_at = faults.then_some(BASE + 63);
                    let got = end.send_from(&mut user, BASE, len);
                    let want = if len != MESSAGE {
                        Err(SysError::MessageSize)
                    } else if faults {
                        Err(SysError::BadAddress)
                    } else if model.receive_closed {
                        Err(SysError::BrokenPipe)
                    } else if model.messages.len() == PORT_CAPACITY {
                        model.senders_waiting = true;
                        Ok(PortStep::Blocked)
                    } else {
                        model.messages.push_back(fill);
                        let wake = owed(&mut model.receivers_waiting, Wake::Readers);
                        Ok(PortStep::Moved { len: MESSAGE, wake })
                    };
                    prop_assert_eq!(got, want);
                }
                Op::Receive { faults, len } => {
                    let Some(end) = receive.as_mut() else { continue };
                    let out = BASE + MESSAGE;
                    user.fault_at = faults.then_some(out + 1);
                    user.bytes[PORT_MESSAGE_BYTES..].fill(0xee);
                    let got = end.receive_into(&mut user, out, len);
                    let want = if len != MESSAGE {
                        Err(SysError::MessageSize)
                    } else if model.messages.is_empty() {
                        if model.send_closed {
                            Ok(PortStep::Moved { len: 0, wake: Wake::Nobody })
                        } else {
                            model.receivers_waiting = true;
                            Ok(PortStep::Blocked)
                        }
                    } else if faults {
                        Err(SysError::BadAddress)
                    } else {
                        let fill = model.messages.pop_front().unwrap();
                        prop_assert_eq!(user.slice(out, PORT_MESSAGE_BYTES), &[fill; PORT_MESSAGE_BYTES][..]);
                        let wake = owed(&mut model.senders_waiting, Wake::Writers);
                        Ok(PortStep::Moved { len: MESSAGE, wake })
                    };
                    prop_assert_eq!(got, want);
                }
                Op::CloseSend => {
                    if let Some(end) = send.take() {
                        model.send_closed = true;
                        prop_assert_eq!(end.close(), owed(&mut model.receivers_waiting, Wake::Readers));
                    }
                }
                Op::CloseReceive => {
                    if let Some(end) = receive.take() {
                        model.receive_closed = true;
                        prop_assert_eq!(end.close(), owed(&mut model.senders_waiting, Wake::Writers));
                    }
                }
            }
            user.fault_at = None;
        }
    }
}

/// Moves an end out of its `new_port` slot (the test owns both).
fn receive_end(end: &mut PortEnd) -> PortEnd {
    PortEnd {
        port: end.port,
        is_receive_end: end.is_receive_end,
        queue: end.queue.clone(),
    }
}

#[test]
fn the_wrong_end_is_refused() {
    let (mut receive, mut send) = new_port(7).unwrap();
    let mut user = FakeUserMemory::new(BASE, PORT_MESSAGE_BYTES);
    assert_eq!(receive.port(), 7);
    assert_eq!(
        receive.send_from(&mut user, BASE, MESSAGE),
        Err(SysError::WrongKind)
    );
    assert_eq!(
        send.receive_into(&mut user, BASE, MESSAGE),
        Err(SysError::WrongKind)
    );
}

#[test]
fn closing_wakes_the_sleeping_other_side() {
    let (mut receive, send) = new_port(1).unwrap();
    let mut user = FakeUserMemory::new(BASE, PORT_MESSAGE_BYTES);
    assert_eq!(
        receive.receive_into(&mut user, BASE, MESSAGE),
        Ok(PortStep::Blocked)
    );
    assert_eq!(send.close(), Wake::Readers);
    assert_eq!(
        receive.receive_into(&mut user, BASE, MESSAGE),
        Ok(PortStep::Moved {
            len: 0,
            wake: Wake::Nobody
        })
    );
}
