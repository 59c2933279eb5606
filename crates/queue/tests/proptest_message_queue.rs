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
}

fn mode() -> impl Strategy<Value = WaitMode> {
    prop_oneof![Just(WaitMode::Blocking), Just(WaitMode::NonBlocking)]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (any::<[u8; SIZE]>(), mode()).prop_map(|(m, mode)| Op::Send(m, mode)),
        mode().prop_map(Op::Receive),
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
