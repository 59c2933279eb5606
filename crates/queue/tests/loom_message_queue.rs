//! Model-checks the message queue with loom: two senders and two
//! receivers, every message delivered exactly once and each sender's
//! messages in order, senders asleep on full and receivers asleep on
//! empty behind shared waiting bits, with no lost wake-up; a sender's
//! messages then its close reach a receiver asleep on empty before the
//! end of the stream; a receivers' close wakes a sender asleep on full
//! with a broken pipe.
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

/// Receives until the end of the stream (sleeping on empty as told).
fn receive_to_end(port: &Port, me: &Arc<Sleeper>) -> Vec<u8> {
    let mut got = Vec::new();
    loop {
        port.receivers.register(me);
        match port.queue.receive() {
            ReceiveOutcome::Received { message, wake } => {
                port.receivers.deregister(me);
                port.deliver(wake);
                got.push(message[0]);
            }
            ReceiveOutcome::Blocked => me.sleep(),
            ReceiveOutcome::EndOfStream => {
                port.receivers.deregister(me);
                return got;
            }
            ReceiveOutcome::Empty => panic!("a blocking receive returned Empty"),
        }
    }
}

#[test]
fn messages_then_close_reach_a_sleeping_receiver_before_the_end() {
    explore(
        "messages_then_close_reach_a_sleeping_receiver_before_the_end",
        Some(3),
        || {
            let port = Arc::new(Port {
                queue: MessageQueue::new(2, u64::MAX).unwrap(),
                senders: WaitList::default(),
                receivers: WaitList::default(),
            });
            let sender = {
                let port = Arc::clone(&port);
                thread::spawn(move || {
                    let me = Sleeper::new();
                    for i in 0..3 {
                        port.send(i, &me);
                    }
                    port.deliver(port.queue.close_senders());
                })
            };
            let me = Sleeper::new();
            assert_eq!(receive_to_end(&port, &me), vec![0, 1, 2]);
            sender.join().unwrap();
        },
    );
}

#[test]
fn receivers_close_wakes_a_sender_asleep_on_full() {
    explore(
        "receivers_close_wakes_a_sender_asleep_on_full",
        None,
        || {
            let port = Arc::new(Port {
                queue: MessageQueue::new(2, 0).unwrap(),
                senders: WaitList::default(),
                receivers: WaitList::default(),
            });
            let sender = {
                let port = Arc::clone(&port);
                thread::spawn(move || {
                    let me = Sleeper::new();
                    let mut sent = 0;
                    loop {
                        port.senders.register(&me);
                        match port.queue.send(&[sent]) {
                            SendOutcome::Sent { wake } => {
                                port.senders.deregister(&me);
                                port.deliver(wake);
                                sent += 1;
                            }
                            SendOutcome::Blocked => me.sleep(),
                            SendOutcome::BrokenPipe => {
                                port.senders.deregister(&me);
                                return sent;
                            }
                            SendOutcome::Full => panic!("a blocking send returned Full"),
                        }
                    }
                })
            };
            port.deliver(port.queue.close_receivers());
            let sent = sender.join().unwrap();
            assert!(sent <= 2, "sent {sent} into a queue of 2");
        },
    );
}
