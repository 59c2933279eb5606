//! Model-checks the single-writer byte ring with loom: transfer across the
//! wrap of a small ring and of the `u64` counters, sleeping both ways with
//! no lost wake-up, end of file after write-then-close, broken pipe for a
//! writer asleep on full when the reader closes.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p sk-queue --release --test 'loom_*'`.
#![cfg(loom)]

mod loom_support;

use loom::thread;
use loom_support::{deliver, explore, Sleeper};
use sk_queue::{pipe, ByteRingReader, ByteRingWriter, ReadOutcome, RingConfig, Wake, WriteOutcome};

/// Writes every chunk whole (sleeping on full as told), then closes.
/// Returns the bytes written before a broken pipe stopped it, if one did.
fn write_all(
    mut writer: ByteRingWriter,
    chunks: &[&[u8]],
    me: &Sleeper,
    reader: &Sleeper,
) -> Option<usize> {
    let mut written = 0;
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            match writer.write(rest) {
                WriteOutcome::Wrote { len, wake } => {
                    deliver(wake, Wake::Readers, reader);
                    rest = &rest[len..];
                    written += len;
                }
                WriteOutcome::Blocked => me.sleep(),
                WriteOutcome::BrokenPipe => return Some(written),
                WriteOutcome::WouldBlock => panic!("a blocking write returned WouldBlock"),
            }
        }
    }
    deliver(writer.close(), Wake::Readers, reader);
    None
}

/// Reads until end of file with a `buffer_len`-byte buffer, sleeping on
/// empty as told.
fn read_all(
    reader: &mut ByteRingReader,
    buffer_len: usize,
    me: &Sleeper,
    writer: &Sleeper,
) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buffer = vec![0u8; buffer_len];
    loop {
        match reader.read(&mut buffer) {
            ReadOutcome::Read { len, wake } => {
                deliver(wake, Wake::Writers, writer);
                got.extend_from_slice(&buffer[..len]);
            }
            ReadOutcome::Blocked => me.sleep(),
            ReadOutcome::EndOfFile => return got,
            ReadOutcome::WouldBlock => panic!("a blocking read returned WouldBlock"),
        }
    }
}

/// Runs a writer thread with `chunks` against the main thread reading.
fn transfer(config: RingConfig, chunks: &'static [&'static [u8]], buffer_len: usize) {
    let (writer, mut reader) = pipe(config).unwrap();
    let (reader_sleep, writer_sleep) = (Sleeper::new(), Sleeper::new());
    let writing = {
        let (me, reader) = (writer_sleep.clone(), reader_sleep.clone());
        thread::spawn(move || write_all(writer, chunks, &me, &reader))
    };
    let got = read_all(&mut reader, buffer_len, &reader_sleep, &writer_sleep);
    assert_eq!(writing.join().unwrap(), None);
    let sent: Vec<u8> = chunks.concat();
    assert_eq!(got, sent);
}

#[test]
fn transfer_wraps_ring_and_counters() {
    // 6 bytes through 4, counters crossing u64::MAX; a 3-byte chunk above
    // the atomic size may split, the 2-byte one may not.
    explore("transfer_wraps_ring_and_counters", Some(3), || {
        let config = RingConfig::new(4, 2).starting_at(u64::MAX - 2);
        transfer(config, &[&[1, 2, 3], &[4, 5], &[6]], 3);
    });
}

#[test]
fn both_sides_sleep_and_wake() {
    // One byte of room: the writer sleeps on full, the reader on empty.
    explore("both_sides_sleep_and_wake", Some(3), || {
        transfer(RingConfig::new(1, 1), &[&[7], &[8], &[9]], 1);
    });
}

#[test]
fn atomic_writes_wait_for_room_whole() {
    // Two-byte atomic writes into two bytes read one at a time: the second
    // write sleeps until both bytes are free.
    explore("atomic_writes_wait_for_room_whole", Some(3), || {
        transfer(RingConfig::new(2, 2), &[&[1, 2], &[3, 4]], 1);
    });
}

#[test]
fn close_without_data_is_end_of_file() {
    explore("close_without_data_is_end_of_file", None, || {
        transfer(RingConfig::new(2, 1), &[], 2);
    });
}

#[test]
fn reader_close_wakes_writer_asleep_on_full() {
    // The writer fills the one byte and sleeps for room; the reader reads
    // at most one byte, then closes: the writer must see broken pipe.
    explore("reader_close_wakes_writer_asleep_on_full", None, || {
        let (writer, mut reader) = pipe(RingConfig::new(1, 0)).unwrap();
        let (reader_sleep, writer_sleep) = (Sleeper::new(), Sleeper::new());
        let writing = {
            let (me, reader) = (writer_sleep.clone(), reader_sleep.clone());
            thread::spawn(move || write_all(writer, &[&[1, 2, 3]], &me, &reader))
        };
        let mut byte = [0u8];
        let read = match reader.try_read(&mut byte) {
            ReadOutcome::Read { len: 1, wake } => {
                assert_eq!(byte, [1]);
                deliver(wake, Wake::Writers, &writer_sleep);
                1
            }
            ReadOutcome::WouldBlock => 0,
            other => panic!("unexpected {other:?}"),
        };
        deliver(reader.close(), Wake::Writers, &writer_sleep);
        // The writer ends (broken pipe), having written what was read plus
        // at most the one byte of room.
        let written = writing
            .join()
            .unwrap()
            .expect("the writer never saw the close");
        assert!(
            (read..=read + 1).contains(&written),
            "read {read}, wrote {written}"
        );
    });
}
