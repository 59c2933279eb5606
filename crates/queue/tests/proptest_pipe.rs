//! Every byte ring (one writer, several writers) against [`PipeModel`] on
//! random operation sequences, counters starting anywhere (near `u64::MAX`
//! too, so they wrap mid-sequence).

mod model;

use model::PipeModel;
use proptest::collection::vec;
use proptest::prelude::*;
use sk_queue::{
    pipe, shared_pipe, ByteRingReader, ReadOutcome, RingConfig, SharedByteRingWriter, WaitMode,
};

#[derive(Clone, Debug)]
enum Op {
    Write {
        writer: usize,
        data: Vec<u8>,
        mode: WaitMode,
    },
    Read {
        len: usize,
        mode: WaitMode,
    },
    CloneWriter {
        writer: usize,
    },
    CloseWriter {
        writer: usize,
    },
    CloseReader,
}

fn mode() -> impl Strategy<Value = WaitMode> {
    prop_oneof![Just(WaitMode::Blocking), Just(WaitMode::NonBlocking)]
}

fn op(capacity: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..3usize, vec(any::<u8>(), 0..=2 * capacity), mode())
            .prop_map(|(writer, data, mode)| Op::Write { writer, data, mode }),
        8 => (0..=2 * capacity, mode()).prop_map(|(len, mode)| Op::Read { len, mode }),
        1 => (0..3usize).prop_map(|writer| Op::CloneWriter { writer }),
        1 => (0..3usize).prop_map(|writer| Op::CloseWriter { writer }),
        1 => Just(Op::CloseReader),
    ]
}

fn start() -> impl Strategy<Value = u64> {
    prop_oneof![Just(0), any::<u64>(), (u64::MAX - 64)..=u64::MAX]
}

fn config_and_ops() -> impl Strategy<Value = (RingConfig, Vec<Op>)> {
    (0..=4u32, start()).prop_flat_map(|(log, start)| {
        let capacity = 1usize << log;
        (0..=capacity, vec(op(capacity), 0..200)).prop_map(move |(atomic_size, ops)| {
            (
                RingConfig::new(capacity, atomic_size).starting_at(start),
                ops,
            )
        })
    })
}

/// The reader's half of one step, checked against the model.
fn read_step(
    reader: &mut Option<ByteRingReader>,
    model: &mut PipeModel,
    len: usize,
    mode: WaitMode,
) -> Result<(), TestCaseError> {
    let Some(reader) = reader.as_mut() else {
        return Ok(());
    };
    let mut out = vec![0u8; len];
    let got = reader.read_with(&mut out, mode);
    let (expected, expected_bytes) = model.read(len, mode);
    prop_assert_eq!(got, expected);
    if let ReadOutcome::Read { len, .. } = got {
        prop_assert_eq!(&out[..len], &expected_bytes[..]);
    }
    prop_assert_eq!(reader.len(), model.bytes.len());
    prop_assert_eq!(reader.free(), model.free());
    Ok(())
}

/// Runs `ops` on writers made by `write`/`clone`/`close` closures over
/// handle type `W`, and the reader, against the model.
fn run<W>(
    config: RingConfig,
    ops: &[Op],
    multi_writer: bool,
    (first_writer, reader): (W, ByteRingReader),
    write: impl Fn(&mut W, &[u8], WaitMode) -> sk_queue::WriteOutcome,
    clone: impl Fn(&W) -> Option<W>,
    close: impl Fn(W) -> sk_queue::Wake,
) -> Result<(), TestCaseError> {
    let mut model = PipeModel::new(config.capacity, config.atomic_size);
    let mut writers: Vec<Option<W>> = vec![Some(first_writer)];
    let mut reader = Some(reader);
    for op in ops {
        match op {
            Op::Write { writer, data, mode } => {
                let Some(Some(handle)) = writers.get_mut(*writer) else {
                    continue;
                };
                let got = write(handle, data, *mode);
                prop_assert_eq!(got, model.write(data, *mode));
            }
            Op::Read { len, mode } => read_step(&mut reader, &mut model, *len, *mode)?,
            Op::CloneWriter { writer } => {
                if !multi_writer {
                    continue;
                }
                let Some(Some(handle)) = writers.get(*writer) else {
                    continue;
                };
                if let Some(new) = clone(handle) {
                    model.open_writers += 1;
                    writers.push(Some(new));
                }
            }
            Op::CloseWriter { writer } => {
                let Some(slot) = writers.get_mut(*writer) else {
                    continue;
                };
                if let Some(handle) = slot.take() {
                    prop_assert_eq!(close(handle), model.close_writer());
                }
            }
            Op::CloseReader => {
                if let Some(handle) = reader.take() {
                    prop_assert_eq!(handle.close(), model.close_reader());
                }
            }
        }
    }
    // Drain: what is left reads back in order, then end of file if every
    // writer closed.
    if let Some(mut handle) = reader.take() {
        let mut rest = vec![0u8; config.capacity];
        let got = handle.try_read(&mut rest);
        let (expected, bytes) = model.read(config.capacity, WaitMode::NonBlocking);
        prop_assert_eq!(got, expected);
        if let ReadOutcome::Read { len, .. } = got {
            prop_assert_eq!(&rest[..len], &bytes[..]);
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn single_writer_ring_matches_model((config, ops) in config_and_ops()) {
        run(config, &ops, false, pipe(config).unwrap(),
            |w, data, mode| w.write_with(data, mode), |_| None, |w| w.close())?;
    }

    #[test]
    fn multi_writer_ring_matches_model((config, ops) in config_and_ops()) {
        run(config, &ops, true, shared_pipe(config).unwrap(),
            |w: &mut SharedByteRingWriter, data, mode| w.write_with(data, mode),
            |w| Some(w.clone()), |w| w.close())?;
    }
}
