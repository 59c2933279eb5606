//! Runs the semaphore templates (`semaphore_p`, `semaphore_v`) through
//! `sk-hostexec`: the counter cell is a hole, the slow path a bare `ret`
//! that shows the call word the routine handed to the generic path.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

mod rig;

use rig::*;
use sk_synth::{Imm32, Imm64};

// ---- semaphores ------------------------------------------------------------

/// The slow path as a bare `ret`: the routine's result is then what it put
/// in `rax` for the generic path (the call word).
const CALL_WORD: i32 = (5 << 3) | 4;

fn semaphore(is_v: bool) -> Rig {
    use sk_synth::templates::{SemaphorePHoles, SemaphoreVHoles};
    let parts = |data: u64, code: u64| {
        (
            Imm64(data + POSITION_CELL as u64),
            Imm32(CALL_WORD),
            Imm64(code + HELPER_OFFSET),
        )
    };
    if is_v {
        Rig::with_helper(
            |data, code| {
                let (cell, call_word, slow_path) = parts(data, code);
                SemaphoreVHoles {
                    cell,
                    call_word,
                    slow_path,
                }
            },
            |_, _| vec![0xc3],
        )
    } else {
        Rig::with_helper(
            |data, code| {
                let (cell, call_word, slow_path) = parts(data, code);
                SemaphorePHoles {
                    cell,
                    call_word,
                    slow_path,
                }
            },
            |_, _| vec![0xc3],
        )
    }
}

impl Rig {
    fn cell(&self) -> u64 {
        u64::from_le_bytes(self.bytes(POSITION_CELL, 8).try_into().unwrap())
    }

    fn set_cell(&mut self, value: u64) {
        self.fill(POSITION_CELL, &value.to_le_bytes());
    }
}

#[test]
fn semaphore_p_takes_a_unit_or_goes_generic_with_its_call_word() {
    let mut rig = semaphore(false);
    rig.set_cell(3);
    for left in [2, 1, 0] {
        assert_eq!(rig.call_buffer(0xdead, 7), 0, "P with a unit returns 0");
        assert_eq!(rig.cell(), left);
    }
    assert_eq!(
        rig.call_buffer(0, 0),
        i64::from(CALL_WORD),
        "count 0: the generic path, with the call word in rax"
    );
    assert_eq!(rig.cell(), 0, "a failed P changes nothing");
    // Waiters and no count (the only state the generic path leaves with
    // waiters): generic, untouched.
    rig.set_cell(2 << 32);
    assert_eq!(rig.call_buffer(0, 0), i64::from(CALL_WORD));
    assert_eq!(rig.cell(), 2 << 32);
}

#[test]
fn semaphore_v_adds_a_unit_unless_someone_waits_or_it_would_overflow() {
    let mut rig = semaphore(true);
    rig.set_cell(0);
    assert_eq!(rig.call_buffer(0, 0), 0);
    assert_eq!(rig.call_buffer(0, 0), 0);
    assert_eq!(rig.cell(), 2);
    rig.set_cell(u64::from(u32::MAX) - 1);
    assert_eq!(rig.call_buffer(0, 0), 0);
    assert_eq!(rig.cell(), u64::from(u32::MAX));
    assert_eq!(
        rig.call_buffer(0, 0),
        i64::from(CALL_WORD),
        "a full count goes generic (BadValue there), never wraps"
    );
    assert_eq!(rig.cell(), u64::from(u32::MAX));
    for waiters in [1_u64 << 32, (1 << 32) | 5, u64::MAX] {
        rig.set_cell(waiters);
        assert_eq!(
            rig.call_buffer(0, 0),
            i64::from(CALL_WORD),
            "a waiter sends V to the generic path ({waiters:#x})"
        );
        assert_eq!(rig.cell(), waiters);
    }
}
