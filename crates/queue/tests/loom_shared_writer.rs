//! Model-checks the multi-writer byte ring with loom: two writers whose
//! atomic writes must arrive whole and never interleaved, sleeping on a
//! full ring behind one shared waiting bit, and end of file only after the
//! last writer closed.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p sk-queue --release --test 'loom_*'`.
#![cfg(loom)]

mod loom_support;

use loom::sync::Arc;
use loom::thread;
use loom_support::{deliver, explore, Sleeper, WaitList};
use sk_queue::{shared_pipe, ReadOutcome, RingConfig, SharedByteRingWriter, Wake, WriteOutcome};

/// One writer: writes `bytes` whole (an atomic write), sleeping on the
/// writers' wait list as told, then closes.
fn write_then_close(
    mut writer: SharedByteRingWriter,
    bytes: [u8; 2],
    writers: &WaitList,
    reader: &Sleeper,
) {
    let me = Sleeper::new();
    loop {
        writers.register(&me);
        match writer.write(&bytes) {
            WriteOutcome::Wrote { len, wake } => {
                writers.deregister(&me);
                assert_eq!(len, 2, "an atomic write was split");
                deliver(wake, Wake::Readers, reader);
                break;
            }
            WriteOutcome::Blocked => me.sleep(),
            other => panic!("unexpected {other:?}"),
        }
    }
    deliver(writer.close(), Wake::Readers, reader);
}

/// Two writers write `[1, 1]` and `[2, 2]` into a ring of `capacity`
/// bytes; the main thread reads byte by byte until end of file.
fn two_writers(capacity: usize) {
    let (first, mut reader) = shared_pipe(RingConfig::new(capacity, 2)).unwrap();
    let second = first.clone();
    let writers = Arc::new(WaitList::default());
    let me = Sleeper::new();
    let spawn = |writer, bytes| {
        let (writers, reader) = (Arc::clone(&writers), Arc::clone(&me));
        thread::spawn(move || write_then_close(writer, bytes, &writers, &reader))
    };
    let a = spawn(first, [1, 1]);
    let b = spawn(second, [2, 2]);
    let mut got = Vec::new();
    let mut byte = [0u8];
    loop {
        match reader.read(&mut byte) {
            ReadOutcome::Read { len: 1, wake } => {
                if wake != Wake::Nobody {
                    assert_eq!(wake, Wake::Writers);
                    writers.wake_all();
                }
                got.push(byte[0]);
            }
            ReadOutcome::Blocked => me.sleep(),
            ReadOutcome::EndOfFile => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    a.join().unwrap();
    b.join().unwrap();
    assert!(got == [1, 1, 2, 2] || got == [2, 2, 1, 1], "got {got:?}");
}

#[test]
fn atomic_writes_of_two_writers_never_interleave() {
    // Two bytes of room: the second writer sleeps until the first write is
    // read.
    explore(
        "atomic_writes_of_two_writers_never_interleave",
        Some(3),
        || {
            two_writers(2);
        },
    );
}

#[test]
fn concurrent_claims_publish_in_order() {
    // Room for both: the claims overlap in time and the later claimant
    // must not publish before the earlier one has copied.
    explore("concurrent_claims_publish_in_order", Some(2), || {
        two_writers(4);
    });
}
