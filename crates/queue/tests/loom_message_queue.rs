//! Model-checks the message queue with loom: two senders and two
//! receivers, every message delivered exactly once and each sender's
//! messages in order, senders asleep on full and receivers asleep on
//! empty behind shared waiting bits, with no lost wake-up.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p sk-queue --release --test 'loom_*'`.
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use loom_support::{explore, Sleeper, WaitList};
use sk_queue::{MessageQueue, ReceiveOutcome, SendOutcome, Wake};

/// A port and the wait lists of its two sides.
struct Port {
    queue: MessageQueue<1>,
    senders: WaitList,
    receivers: WaitList,
}

impl Port {
    fn deliver(&self, wake: Wake) {
        match wake {
            Wake::Nobody => {}
            Wake::Readers => self.receivers.wake_all(),
            Wake::Writers => self.senders.wake_all(),
        }
    }

    fn send(&self, message: u8, me: &Arc<Sleeper>) {
        loop {
            self.senders.register(me);
            match self.queue.send(&[message]) {
                SendOutcome::Sent { wake } => {
                    self.senders.deregister(me);
                    assert_ne!(wake, Wake::Writers);
                    return self.deliver(wake);
                }
                SendOutcome::Blocked => me.sleep(),
                SendOutcome::Full => panic!("a blocking send returned Full"),
                SendOutcome::BrokenPipe => panic!("no end is closed here"),
            }
        }
    }

    fn receive(&self, me: &Arc<Sleeper>) -> u8 {
        loop {
            self.receivers.register(me);
            match self.queue.receive() {
                ReceiveOutcome::Received { message, wake } => {
                    self.receivers.deregister(me);
                    assert_ne!(wake, Wake::Readers);
                    self.deliver(wake);
                    return message[0];
                }
                ReceiveOutcome::Blocked => me.sleep(),
                ReceiveOutcome::Empty => panic!("a blocking receive returned Empty"),
                ReceiveOutcome::EndOfStream => panic!("no end is closed here"),
            }
        }
    }
}

/// `senders` threads each send `per_sender` messages (`10 * sender + i`)
/// into a queue of `capacity` slots; `receivers` threads (the main thread
/// among them) each receive `per_receiver`. Checks exactly-once delivery
/// and per-sender order.
fn run(capacity: usize, start: u64, senders: u8, per_sender: u8, receivers: usize) {
    let total = usize::from(senders) * usize::from(per_sender);
    let per_receiver = total / receivers;
    let port = Arc::new(Port {
        queue: MessageQueue::new(capacity, start).unwrap(),
        senders: WaitList::default(),
        receivers: WaitList::default(),
    });
    let mut sending = Vec::new();
    for sender in 0..senders {
        let port = Arc::clone(&port);
        sending.push(thread::spawn(move || {
            let me = Sleeper::new();
            for i in 0..per_sender {
                port.send(10 * sender + i, &me);
            }
        }));
    }
    let mut receiving = Vec::new();
    for _ in 1..receivers {
        let port = Arc::clone(&port);
        receiving.push(thread::spawn(move || {
            let me = Sleeper::new();
            (0..per_receiver)
                .map(|_| port.receive(&me))
                .collect::<Vec<u8>>()
        }));
    }
    let me = Sleeper::new();
    let mut all: Vec<Vec<u8>> = vec![(0..per_receiver).map(|_| port.receive(&me)).collect()];
    all.extend(receiving.into_iter().map(|r| r.join().unwrap()));
    sending.into_iter().for_each(|s| s.join().unwrap());
    for got in &all {
        for sender in 0..senders {
            let from: Vec<u8> = got.iter().copied().filter(|m| m / 10 == sender).collect();
            assert!(
                from.windows(2).all(|w| w[0] < w[1]),
                "out of order: {got:?}"
            );
        }
    }
    let mut delivered: Vec<u8> = all.concat();
    delivered.sort_unstable();
    let expected: Vec<u8> = (0..senders)
        .flat_map(|s| (0..per_sender).map(move |i| 10 * s + i))
        .collect();
    assert_eq!(delivered, expected, "not delivered exactly once");
}

#[test]
fn one_sender_one_receiver_sleep_both_ways() {
    explore("one_sender_one_receiver_sleep_both_ways", Some(3), || {
        run(2, u64::MAX - 1, 1, 3, 1);
    });
}

#[test]
fn two_senders_two_receivers_deliver_exactly_once() {
    explore(
        "two_senders_two_receivers_deliver_exactly_once",
        Some(2),
        || {
            run(2, u64::MAX, 2, 1, 2);
        },
    );
}

#[test]
fn two_senders_sleep_on_full_behind_one_bit() {
    explore("two_senders_sleep_on_full_behind_one_bit", Some(2), || {
        run(2, u64::MAX, 2, 2, 1);
    });
}
