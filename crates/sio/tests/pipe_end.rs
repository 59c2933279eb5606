//! The generic pipe read and write (`PipeEnd::read_from_ring`,
//! `PipeEnd::write_to_ring`) against a `VecDeque` model, with the host
//! fake of user memory: pieces of up to 64 bytes go through the bounce
//! buffer, longer ones straight between user memory and the ring; an
//! injected fault anywhere in the buffer must move nothing (a write
//! publishes nothing, a read consumes nothing).

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use std::collections::VecDeque;

use proptest::prelude::*;
use sk_abi::SysError;
use sk_sio::testing::FakeUserMemory;
use sk_sio::{new_pipe, PipeStep, PIPE_ATOMIC_BYTES, PIPE_CAPACITY};

const BASE: u64 = 0x10_0000;
const USER_BYTES: usize = 8192;

#[derive(Clone, Debug)]
enum Op {
    Write {
        len: usize,
        seed: u8,
        fault: Option<usize>,
    },
    Read {
        len: usize,
        fault: Option<usize>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let len = prop_oneof![
        Just(1usize),
        2..=64usize,
        65..=200usize,
        4000..=5000usize,
        0..=5000usize
    ];
    let fault = prop::option::weighted(0.1, 0..5000usize);
    prop_oneof![
        (len.clone(), any::<u8>(), fault.clone()).prop_map(|(len, seed, fault)| Op::Write {
            len,
            seed,
            fault
        }),
        (len, fault).prop_map(|(len, fault)| Op::Read { len, fault }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn generic_pipe_calls_match_a_model(ops in prop::collection::vec(op(), 1..120)) {
        let (mut read_end, mut write_end) = new_pipe(1).unwrap();
        let mut model = VecDeque::new();
        let mut user = FakeUserMemory::new(BASE, USER_BYTES);
        for op in ops {
            match op {
                Op::Write { len, seed, fault } => {
                    let bytes: Vec<u8> =
                        (0..len).map(|i| (i as u8).wrapping_mul(13).wrapping_add(seed)).collect();
                    user.bytes[..len].copy_from_slice(&bytes);
                    let free = PIPE_CAPACITY - model.len();
                    let piece = len.min(PIPE_ATOMIC_BYTES);
                    // A fault in the piece's bytes (a partial write of a
                    // long piece copies fewer: only those).
                    let copied = if len > PIPE_ATOMIC_BYTES { piece.min(free) } else { piece };
                    user.fault_at = fault.filter(|&f| f < copied).map(|f| BASE + f as u64);
                    let step = write_end.write_to_ring(&mut user, BASE, len as u64);
                    if user.fault_at.is_some() {
                        // A faulting piece moves nothing (or blocks first).
                        prop_assert!(matches!(step, Err(SysError::BadAddress) | Ok(PipeStep::Blocked)), "{:?}", step);
                        continue;
                    }
                    match step {
                        Ok(PipeStep::Moved { len: n, .. }) => {
                            let n = n as usize;
                            prop_assert!(n <= piece && n <= free);
                            prop_assert!(piece > free || n == piece, "{} of {}", n, piece);
                            model.extend(&bytes[..n]);
                        }
                        Ok(PipeStep::Blocked) => {
                            prop_assert!(piece > free || (len > PIPE_ATOMIC_BYTES && free == 0));
                        }
                        Ok(PipeStep::ToConsole) => prop_assert!(false, "not sent to the console"),
                        Err(e) => prop_assert!(false, "write: {:?}", e),
                    }
                }
                Op::Read { len, fault } => {
                    user.bytes[..len.min(USER_BYTES)].fill(0xee);
                    user.fault_at = None;
                    let n = len.min(model.len()).min(PIPE_ATOMIC_BYTES);
                    user.fault_at = fault.filter(|&f| f < n).map(|f| BASE + f as u64);
                    let step = read_end.read_from_ring(&mut user, BASE, len as u64);
                    if user.fault_at.is_some() {
                        prop_assert_eq!(step, Err(SysError::BadAddress));
                        continue;
                    }
                    match step {
                        Ok(PipeStep::Moved { len: got, .. }) => {
                            prop_assert_eq!(got as usize, n);
                            let expected: Vec<u8> = model.drain(..n).collect();
                            prop_assert_eq!(&user.bytes[..n], &expected[..]);
                        }
                        Ok(PipeStep::Blocked) => prop_assert!(model.is_empty() && len > 0),
                        Ok(PipeStep::ToConsole) => prop_assert!(false, "a read end never says so"),
                        Err(e) => prop_assert!(false, "read: {:?}", e),
                    }
                }
            }
        }
    }
}
