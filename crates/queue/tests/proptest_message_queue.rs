//! The message queue against [`QueueModel`] on random operation sequences,
//! positions starting anywhere (near `u64::MAX` too).

mod model;

use model::QueueModel;
use proptest::collection::vec;
use proptest::prelude::*;
use sk_queue::{MessageQueue, WaitMode};

const SIZE: usize = 3;

#[derive(Clone, Debug)]
enum Op {
    Send([u8; SIZE], WaitMode),
    Receive(WaitMode),
    CloseSenders,
    CloseReceivers,
}

fn mode() -> impl Strategy<Value = WaitMode> {
    prop_oneof![Just(WaitMode::Blocking), Just(WaitMode::NonBlocking)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        20 => (any::<[u8; SIZE]>(), mode()).prop_map(|(m, mode)| Op::Send(m, mode)),
        20 => mode().prop_map(Op::Receive),
        1 => Just(Op::CloseSenders),
        1 => Just(Op::CloseReceivers),
    ]
}

fn start() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), any::<u64>(), (u64::MAX - 64)..=u64::MAX]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn message_queue_matches_model(log in 1..=4u32, start in start(), ops in vec(op(), 0..200)) {
        let capacity = 1usize << log;
        let queue = MessageQueue::<SIZE>::new(capacity, start).unwrap();
        let mut model = QueueModel::<SIZE>::new(capacity);
        for op in &ops {
            match op {
                Op::Send(message, mode) => {
                    prop_assert_eq!(queue.send_with(message, *mode), model.send(*message, *mode));
                }
                Op::Receive(mode) => {
                    prop_assert_eq!(queue.receive_with(*mode), model.receive(*mode));
                }
                Op::CloseSenders => prop_assert_eq!(queue.close_senders(), model.close_senders()),
                Op::CloseReceivers => {
                    prop_assert_eq!(queue.close_receivers(), model.close_receivers());
                }
            }
            prop_assert_eq!(queue.len(), model.messages.len());
        }
    }
}

#[test]
fn capacities_that_are_not_powers_of_two_are_refused() {
    assert!(MessageQueue::<8>::new(3, 0).is_err());
    assert!(MessageQueue::<8>::new(0, 0).is_err());
    assert_eq!(
        MessageQueue::<8>::new(1, 0).err(),
        Some(sk_queue::ConfigError::CapacityTooSmall(1))
    );
    assert!(MessageQueue::<8>::new(4, 0).is_ok());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// A receive into a buffer that faults (`deliver` fails) takes nothing
    /// out: the next receive gets the same message.
    #[test]
    fn a_failed_delivery_leaves_the_message(messages in vec(any::<[u8; SIZE]>(), 1..8), fail_at in 0..8usize) {
        let queue = MessageQueue::<SIZE>::new(8, 0).unwrap();
        for message in &messages {
            let sent = matches!(queue.send(message), sk_queue::SendOutcome::Sent { .. });
            prop_assert!(sent, "send");
        }
        for (index, message) in messages.iter().enumerate() {
            if index == fail_at {
                let failed = queue.receive_into(WaitMode::Blocking, |_| Err::<(), ()>(()));
                prop_assert_eq!(failed, Err(()));
            }
            let mut got = None;
            let outcome = queue.receive_into(WaitMode::Blocking, |m| { got = Some(*m); Ok::<(), ()>(()) });
            let received = matches!(outcome, Ok(sk_queue::ReceiveOutcome::Received { .. }));
            prop_assert!(received, "receive");
            prop_assert_eq!(got, Some(*message));
        }
        prop_assert_eq!(queue.len(), 0);
    }
}
