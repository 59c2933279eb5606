//! `PipeEnd::send_to_console` (`program | tty`): the switch closes the
//! write end's side of the ring (the read end reads what was written
//! before, then end of file; a reader asleep is owed a wake), a second
//! switch and a switch of the read end are refused and change nothing,
//! and a write on a switched end goes to the console whatever became of
//! the read end.

use sk_abi::SysError;
use sk_sio::testing::FakeUserMemory;
use sk_sio::{new_pipe, PipeStep, Wake};

const BASE: u64 = 0x10_0000;

fn read(end: &mut sk_sio::PipeEnd, user: &mut FakeUserMemory, len: u64) -> PipeStep {
    end.read_from_ring(user, BASE, len).unwrap()
}

#[test]
fn the_read_end_reads_what_was_written_before_then_end_of_file() {
    let (mut r, mut w) = new_pipe(1).unwrap();
    let mut user = FakeUserMemory::new(BASE, 64);
    user.bytes[..3].copy_from_slice(b"abc");
    assert!(matches!(
        w.write_to_ring(&mut user, BASE, 3),
        Ok(PipeStep::Moved { len: 3, .. })
    ));
    assert_eq!(w.send_to_console(), Ok(Wake::Nobody));
    assert!(w.is_to_console() && w.layout().is_none() && w.is_empty());
    assert!(matches!(
        read(&mut r, &mut user, 64),
        PipeStep::Moved { len: 3, .. }
    ));
    assert_eq!(&user.bytes[..3], b"abc");
    assert_eq!(
        read(&mut r, &mut user, 64),
        PipeStep::Moved {
            len: 0,
            wake: Wake::Nobody
        }
    );
}

#[test]
fn a_reader_asleep_on_the_empty_ring_is_owed_a_wake() {
    let (mut r, mut w) = new_pipe(2).unwrap();
    let mut user = FakeUserMemory::new(BASE, 64);
    assert_eq!(read(&mut r, &mut user, 8), PipeStep::Blocked);
    assert_eq!(w.send_to_console(), Ok(Wake::Readers));
    assert!(matches!(
        read(&mut r, &mut user, 8),
        PipeStep::Moved { len: 0, .. }
    ));
}

#[test]
fn a_second_switch_and_the_read_ends_are_refused() {
    let (mut r, mut w) = new_pipe(3).unwrap();
    assert_eq!(r.send_to_console(), Err(SysError::WrongKind));
    assert!(!r.is_to_console() && r.layout().is_some());
    assert_eq!(w.send_to_console(), Ok(Wake::Nobody));
    assert_eq!(w.send_to_console(), Err(SysError::Exists));
    assert!(w.is_to_console());
    assert_eq!(w.pipe(), 3);
    assert_eq!(w.close(), Wake::Nobody);
    assert_eq!(r.close(), Wake::Nobody);
}

#[test]
fn a_switched_end_writes_to_the_console_whatever_the_read_end_did() {
    let mut user = FakeUserMemory::new(BASE, 64);
    // Closed before the switch: broken pipe, then the console's.
    let (r, mut w) = new_pipe(4).unwrap();
    let _ = r.close();
    assert_eq!(
        w.write_to_ring(&mut user, BASE, 1),
        Err(SysError::BrokenPipe)
    );
    assert_eq!(w.send_to_console(), Ok(Wake::Nobody));
    assert_eq!(w.write_to_ring(&mut user, BASE, 1), Ok(PipeStep::ToConsole));
    // Closed after.
    let (r, mut w) = new_pipe(5).unwrap();
    assert_eq!(w.send_to_console(), Ok(Wake::Nobody));
    let _ = r.close();
    assert_eq!(w.write_to_ring(&mut user, BASE, 1), Ok(PipeStep::ToConsole));
    assert_eq!(
        w.read_from_ring(&mut user, BASE, 1),
        Err(SysError::WrongKind)
    );
}
