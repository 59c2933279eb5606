//! Part 8, the tty output differential: one seeded script of writes and
//! mode changes ([`sk_user_synthtest::tty_script`]) on `/dev/tty`, first
//! through a normal handle (A: the synthesized `tty_write_cooked` in
//! cooked mode, `tty_write` in raw mode, replugged at each mode change),
//! then through a `FORCE_GENERIC` one (B: the layered path, line
//! discipline then UART); then the same on the write end of a pipe whose
//! reader is the console (`program | tty`): C through its synthesized
//! routine (the console's), D through the generic path (pipe piece, line
//! discipline, UART).
//!
//! Owns [`run`]. Every call's result is checked here against the script's
//! [`TtyOp::result`]; the bytes each run puts on the serial port lie
//! between its begin and end markers, and the host compares them with each
//! other and with the line discipline's output of the script (`xtask`'s
//! `tty_output` check; the begin marker carries the seed and op count it
//! needs):
//!
//! ```text
//! synthtest: tty output A begin seed=0x5717e5 ops=100000
//! <A's bytes>
//! synthtest: tty output A end
//! synthtest: tty output B begin seed=0x5717e5 ops=100000
//! <B's bytes>
//! synthtest: tty output B end
//! (C and D alike)
//! ```

use sk_abi::{OpenFlags, SysError, TtyMode};
use sk_user::{print, println, Sio};
use sk_user_synthtest::tty_script::{arena_byte, TtyOp, TtyScript, RUNS, TEXT};
use sk_user_synthtest::{Plan, KERNEL_ADDR};

use crate::support::{expect_routine, fail, must, raw_write, Arena, Msg, Outcome, Want};

/// Runs the script on A, B, C and D.
pub(crate) fn run(plan: &Plan) -> Outcome {
    let mut arena = must("map the arena", Arena::map())?;
    arena.fill_with(arena_byte);
    let mut outcome = Ok(());
    for (label, _) in RUNS {
        outcome = run_one(label, plan, &arena);
        if outcome.is_err() {
            break;
        }
    }
    let freed = arena.free();
    outcome?;
    must("unmap the arena", freed)
}

/// The SIO a run writes to, and for a pipe its read end (kept open: a
/// pipe without a reader would refuse the switch).
fn open(label: char) -> Result<(Sio, Option<Sio>), Msg> {
    let console = |opened| must("open /dev/tty", opened).map(|sio| (sio, None));
    let piped = |opened: Result<(Sio, Sio), SysError>| {
        let (read, write) = must("create a pipe", opened)?;
        if let Err(error) = write.pipe_to_console() {
            let _ = read.close();
            let _ = write.close();
            fail!("pipe_to_console: {error:?}");
        }
        Ok((write, Some(read)))
    };
    match label {
        'A' => console(Sio::open("/dev/tty", OpenFlags::WRITE)),
        'B' => console(Sio::open_generic("/dev/tty", OpenFlags::WRITE)),
        'C' => piped(Sio::pipe()),
        _ => piped(Sio::pipe_generic()),
    }
}

/// One run between its markers; the console is cooked before and after.
fn run_one(label: char, plan: &Plan, arena: &Arena) -> Outcome {
    must(
        "tty to cooked mode",
        Sio::console().set_tty_mode(TtyMode::DEFAULT),
    )?;
    let (sio, read_end) = open(label)?;
    if matches!(label, 'A' | 'C') {
        // The point of A and C: their writes really reach the console's
        // synthesized routine.
        expect_routine(&sio, "write", Want::Synthesized(Some("tty_write_cooked")))?;
    }
    println!(
        "synthtest: tty output {label} begin seed={:#x} ops={}",
        plan.seed, plan.ops
    );
    let mut script = TtyScript::new(plan.seed);
    let mut outcome = Ok(());
    for index in 0..plan.ops {
        let op = script.next_op();
        let got = apply(&sio, op, arena);
        if got != op.result() {
            outcome = Err(Msg::new(format_args!(
                "{label}: op {index} {op}: returned {got:?}, the script expects {:?}",
                op.result()
            )));
            break;
        }
    }
    let cooked = Sio::console().set_tty_mode(TtyMode::DEFAULT);
    print!("\n");
    println!("synthtest: tty output {label} end");
    let closed = sio.close();
    let read_closed = read_end.map_or(Ok(()), Sio::close);
    outcome?;
    must("close the read end", read_closed)?;
    must("tty back to cooked mode", cooked)?;
    must("close /dev/tty", closed)
}

/// Makes `op`'s call on `sio`; a mode change returns `Ok(0)`.
fn apply(sio: &Sio, op: TtyOp, arena: &Arena) -> Result<usize, SysError> {
    match op {
        TtyOp::Write { src, len } => {
            sio.write(TEXT.get(src..src.saturating_add(len)).unwrap_or_default())
        }
        TtyOp::Straddle { inside, len } => {
            let ptr = arena.end().saturating_sub(inside as u64);
            raw_write(sio, ptr, len as u64)
        }
        TtyOp::Kernel { len } => raw_write(sio, KERNEL_ADDR, len as u64),
        TtyOp::Mode { raw } => {
            let mode = if raw { TtyMode::RAW } else { TtyMode::DEFAULT };
            Sio::console().set_tty_mode(mode).map(|()| 0)
        }
    }
}
