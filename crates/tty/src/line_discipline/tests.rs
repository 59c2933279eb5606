//! Host tests for the line discipline: every editing key, EOF semantics,
//! raw mode, mode switches, long lines, full queues, output translation,
//! and a property test over arbitrary input.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects
)]

extern crate std;

use super::*;
use crate::{MAX_LINE_BYTES, READ_QUEUE_CAPACITY};
use proptest::prelude::*;
use std::vec;
use std::vec::Vec;

const CTRL_D: u8 = 0x04;
const CTRL_U: u8 = 0x15;
const CTRL_W: u8 = 0x17;
const RUBOUT: &[u8] = b"\x08 \x08";

/// Feeds `bytes`, returning everything echoed.
fn feed(tty: &mut LineDiscipline, bytes: &[u8]) -> Vec<u8> {
    let mut echoed = Vec::new();
    for &byte in bytes {
        tty.input(byte, &mut |out: &[u8]| echoed.extend_from_slice(out));
    }
    echoed
}

/// One read with a buffer of `size`, as bytes, or `None` for EOF; panics
/// on `WouldBlock`.
fn read(tty: &mut LineDiscipline, size: usize) -> Option<Vec<u8>> {
    let mut buf = vec![0_u8; size];
    match tty.read(&mut buf) {
        ReadResult::Data(n) => Some(buf[..n].to_vec()),
        ReadResult::Eof => None,
        ReadResult::WouldBlock => panic!("nothing readable"),
    }
}

fn read_line(tty: &mut LineDiscipline) -> Vec<u8> {
    read(tty, 2 * MAX_LINE_BYTES).expect("data, not EOF")
}

fn assert_would_block(tty: &mut LineDiscipline) {
    assert!(!tty.is_readable());
    assert_eq!(tty.read(&mut [0_u8; 16]), ReadResult::WouldBlock);
}

fn rubouts(columns: usize) -> Vec<u8> {
    RUBOUT.repeat(columns)
}

#[test]
fn a_line_is_readable_only_once_ended_and_keeps_its_newline() {
    let mut tty = LineDiscipline::new();
    assert_eq!(feed(&mut tty, b"ls -l"), b"ls -l");
    assert_would_block(&mut tty);
    assert_eq!(feed(&mut tty, b"\n"), b"\r\n");
    assert_eq!(read_line(&mut tty), b"ls -l\n");
    assert_would_block(&mut tty);
}

#[test]
fn carriage_return_ends_the_line_as_a_newline() {
    let mut tty = LineDiscipline::new();
    assert_eq!(feed(&mut tty, b"hi\r"), b"hi\r\n");
    assert_eq!(read_line(&mut tty), b"hi\n");
}

#[test]
fn an_empty_line_is_just_a_newline() {
    let mut tty = LineDiscipline::new();
    feed(&mut tty, b"\r");
    assert_eq!(read_line(&mut tty), b"\n");
}

#[test]
fn backspace_and_delete_each_erase_one_character() {
    for erase in [0x08, 0x7f] {
        let mut tty = LineDiscipline::new();
        assert_eq!(feed(&mut tty, b"abc"), b"abc");
        assert_eq!(feed(&mut tty, &[erase]), RUBOUT);
        assert_eq!(feed(&mut tty, &[erase]), RUBOUT);
        feed(&mut tty, b"x\n");
        assert_eq!(read_line(&mut tty), b"ax\n", "erase byte {erase:#x}");
    }
}

#[test]
fn erasing_an_empty_line_echoes_nothing() {
    let mut tty = LineDiscipline::new();
    assert_eq!(feed(&mut tty, &[0x7f, 0x08, CTRL_U, CTRL_W]), b"");
    assert_would_block(&mut tty);
}

#[test]
fn erase_removes_a_utf8_character_whole() {
    let mut tty = LineDiscipline::new();
    feed(&mut tty, "né€".as_bytes());
    assert_eq!(feed(&mut tty, &[0x7f, 0x7f]), rubouts(2));
    feed(&mut tty, b"o\n");
    assert_eq!(read_line(&mut tty), b"no\n");
}

#[test]
fn control_bytes_echo_as_carets_and_erase_two_columns() {
    let mut tty = LineDiscipline::new();
    assert_eq!(feed(&mut tty, b"a\x03\t"), b"a^C^I");
    assert_eq!(feed(&mut tty, &[0x7f]), rubouts(2));
    feed(&mut tty, b"\n");
    assert_eq!(read_line(&mut tty), b"a\x03\n");
}

#[test]
fn ctrl_u_erases_the_whole_line() {
    let mut tty = LineDiscipline::new();
    feed(&mut tty, b"rm -rf");
    assert_eq!(feed(&mut tty, &[CTRL_U]), rubouts(6));
    feed(&mut tty, b"ls\n");
    assert_eq!(read_line(&mut tty), b"ls\n");
}

#[test]
fn ctrl_w_erases_trailing_blanks_then_one_word() {
    let mut tty = LineDiscipline::new();
    feed(&mut tty, b"echo hello \t ");
    // " \t " then "hello": the tab was echoed as ^I, two columns.
    assert_eq!(feed(&mut tty, &[CTRL_W]), rubouts(1 + 2 + 1 + 5));
    assert_eq!(
        feed(&mut tty, &[CTRL_W]),
        rubouts(5),
        "the blank after echo, then echo"
    );
    assert_eq!(feed(&mut tty, &[CTRL_W]), b"");
    feed(&mut tty, b"a b");
    feed(&mut tty, &[CTRL_W]);
    feed(&mut tty, b"c\n");
    assert_eq!(read_line(&mut tty), b"a c\n");
}

#[test]
fn ctrl_d_at_the_start_of_a_line_is_one_eof() {
    let mut tty = LineDiscipline::new();
    assert_eq!(feed(&mut tty, &[CTRL_D]), b"", "EOF is not echoed");
    assert!(tty.is_readable());
    assert_eq!(read(&mut tty, 16), None);
    assert_would_block(&mut tty);
}

#[test]
fn eof_sits_between_lines_in_order() {
    let mut tty = LineDiscipline::new();
    feed(&mut tty, b"abc\n");
    feed(&mut tty, &[CTRL_D, CTRL_D]);
    feed(&mut tty, b"def\n");
    assert_eq!(read_line(&mut tty), b"abc\n");
    assert_eq!(read(&mut tty, 16), None);
    assert_eq!(read(&mut tty, 16), None);
    assert_eq!(read_line(&mut tty), b"def\n");
    assert_would_block(&mut tty);
}

#[test]
fn ctrl_d_mid_line_pushes_the_partial_line_without_newline() {
    let mut tty = LineDiscipline::new();
    feed(&mut tty, b"ab");
    assert_eq!(feed(&mut tty, &[CTRL_D]), b"");
    feed(&mut tty, b"cd\n");
    assert_eq!(read_line(&mut tty), b"ab");
    assert_eq!(read_line(&mut tty), b"cd\n");
    // Ctrl-D right after a pushed partial line starts a fresh line: EOF.
    feed(&mut tty, b"x");
    feed(&mut tty, &[CTRL_D, CTRL_D]);
    assert_eq!(read_line(&mut tty), b"x");
    assert_eq!(read(&mut tty, 16), None);
}

#[test]
fn a_read_returns_at_most_one_line() {
    let mut tty = LineDiscipline::new();
    feed(&mut tty, b"one\ntwo\n");
    assert_eq!(read_line(&mut tty), b"one\n");
    assert_eq!(read_line(&mut tty), b"two\n");
}

#[test]
fn a_short_buffer_gets_the_line_in_pieces() {
    let mut tty = LineDiscipline::new();
    feed(&mut tty, b"hello\nx\n");
    assert_eq!(read(&mut tty, 2).unwrap(), b"he");
    assert_eq!(read(&mut tty, 2).unwrap(), b"ll");
    assert_eq!(read(&mut tty, 2).unwrap(), b"o\n");
    assert_eq!(read(&mut tty, 2).unwrap(), b"x\n");
    assert_would_block(&mut tty);
}

#[test]
fn an_empty_buffer_consumes_nothing() {
    let mut tty = LineDiscipline::new();
    assert_eq!(tty.read(&mut []), ReadResult::WouldBlock);
    feed(&mut tty, &[CTRL_D]);
    assert_eq!(tty.read(&mut []), ReadResult::Data(0));
    assert_eq!(read(&mut tty, 4), None);
}

#[test]
fn a_long_line_is_capped_with_a_bell_per_dropped_byte() {
    let mut tty = LineDiscipline::new();
    let echoed = feed(&mut tty, &[b'x'; 5000]);
    let kept = MAX_LINE_BYTES - 1;
    assert_eq!(echoed.iter().filter(|&&b| b == b'x').count(), kept);
    assert_eq!(echoed.iter().filter(|&&b| b == 0x07).count(), 5000 - kept);
    // Editing still works on a full line.
    assert_eq!(feed(&mut tty, &[0x7f]), RUBOUT);
    assert_eq!(feed(&mut tty, b"yz"), b"y\x07");
    assert_eq!(feed(&mut tty, b"\n"), b"\r\n");
    let line = read_line(&mut tty);
    assert_eq!(line.len(), MAX_LINE_BYTES);
    assert_eq!(&line[kept - 2..], b"xy\n");
}

#[test]
fn a_full_read_queue_refuses_the_newline_and_keeps_the_line() {
    let mut tty = LineDiscipline::new();
    let line = [b'q'; 99];
    let fitting = READ_QUEUE_CAPACITY / 100;
    for _ in 0..fitting {
        feed(&mut tty, &line);
        assert_eq!(feed(&mut tty, b"\n"), b"\r\n");
    }
    feed(&mut tty, &line);
    assert_eq!(feed(&mut tty, b"\n"), b"\x07", "no room: bell, line kept");
    assert_eq!(feed(&mut tty, &[CTRL_D]), b"\x07");
    assert_eq!(read_line(&mut tty).len(), 100);
    assert_eq!(feed(&mut tty, b"\n"), b"\r\n");
    let mut lines = 0;
    while tty.is_readable() {
        assert_eq!(read_line(&mut tty).len(), 100);
        lines += 1;
    }
    assert_eq!(lines, fitting);
}

#[test]
fn echo_off_echoes_nothing_but_still_edits() {
    let mut tty = LineDiscipline::with_mode(Mode::Cooked, false);
    assert!(!tty.is_echo_on());
    let echoed = feed(&mut tty, b"secret\x7fT\x03\x7f\n");
    assert_eq!(echoed, b"");
    assert_eq!(read_line(&mut tty), b"secreT\n");
    assert_eq!(
        feed(&mut tty, &[b'x'; MAX_LINE_BYTES + 5]),
        b"",
        "not even bells"
    );
}

#[test]
fn set_echo_toggles_echo() {
    let mut tty = LineDiscipline::new();
    tty.set_echo(false);
    assert_eq!(feed(&mut tty, b"a"), b"");
    tty.set_echo(true);
    assert_eq!(feed(&mut tty, b"b"), b"b");
}

#[test]
fn raw_mode_makes_every_byte_readable_unchanged() {
    let mut tty = LineDiscipline::with_mode(Mode::Raw, false);
    assert_eq!(tty.mode(), Mode::Raw);
    assert_would_block(&mut tty);
    let typed = [b'a', b'\r', 0x7f, CTRL_D, CTRL_U, b'\n', 0xff];
    assert_eq!(feed(&mut tty, &typed), b"");
    assert_eq!(read(&mut tty, 64).unwrap(), typed);
    assert_would_block(&mut tty);
}

#[test]
fn raw_reads_cross_line_boundaries_and_respect_the_buffer() {
    let mut tty = LineDiscipline::with_mode(Mode::Raw, false);
    feed(&mut tty, b"a\nb\nc");
    assert_eq!(read(&mut tty, 3).unwrap(), b"a\nb");
    assert_eq!(read(&mut tty, 3).unwrap(), b"\nc");
}

#[test]
fn raw_mode_echoes_bytes_as_they_are() {
    let mut tty = LineDiscipline::with_mode(Mode::Raw, true);
    assert_eq!(feed(&mut tty, b"a\r\x7f"), b"a\r\x7f");
}

#[test]
fn raw_mode_drops_bytes_when_the_queue_is_full() {
    let mut tty = LineDiscipline::with_mode(Mode::Raw, true);
    let echoed = feed(&mut tty, &vec![b'r'; READ_QUEUE_CAPACITY + 3]);
    assert_eq!(&echoed[READ_QUEUE_CAPACITY..], b"\x07\x07\x07");
    assert_eq!(
        read(&mut tty, 2 * READ_QUEUE_CAPACITY).unwrap().len(),
        READ_QUEUE_CAPACITY
    );
    assert_would_block(&mut tty);
}

#[test]
fn switching_to_raw_makes_the_partial_line_readable() {
    let mut tty = LineDiscipline::new();
    feed(&mut tty, b"done\npart");
    tty.set_mode(Mode::Raw);
    feed(&mut tty, b"!");
    assert_eq!(read(&mut tty, 64).unwrap(), b"done\npart!");
}

#[test]
fn switching_to_cooked_turns_unread_raw_bytes_into_one_line() {
    let mut tty = LineDiscipline::with_mode(Mode::Raw, false);
    feed(&mut tty, b"ab\ncd");
    tty.set_mode(Mode::Cooked);
    feed(&mut tty, b"next\n");
    // Raw bytes carry no line boundaries: they come back as one record.
    assert_eq!(read_line(&mut tty), b"ab\ncd");
    assert_eq!(read_line(&mut tty), b"next\n");
    tty.set_mode(Mode::Cooked);
    assert_would_block(&mut tty);
}

#[test]
fn cooked_output_turns_newlines_into_crlf() {
    let tty = LineDiscipline::new();
    let mut out = Vec::new();
    tty.output(b"a\nb\n\nc", &mut |bytes: &[u8]| {
        out.extend_from_slice(bytes)
    });
    assert_eq!(out, b"a\r\nb\r\n\r\nc");
    out.clear();
    tty.output(b"", &mut |bytes: &[u8]| out.extend_from_slice(bytes));
    assert_eq!(out, b"");
}

#[test]
fn raw_output_passes_bytes_through() {
    let tty = LineDiscipline::with_mode(Mode::Raw, true);
    let mut out = Vec::new();
    tty.output(b"a\nb\r\n", &mut |bytes: &[u8]| {
        out.extend_from_slice(bytes)
    });
    assert_eq!(out, b"a\nb\r\n");
}

#[test]
fn default_is_cooked_with_echo() {
    let tty = LineDiscipline::default();
    assert_eq!(tty.mode(), Mode::Cooked);
    assert!(tty.is_echo_on());
}

/// One thing that can happen to a tty.
#[derive(Debug, Clone)]
enum Event {
    Type(u8),
    Read(usize),
    SetMode(Mode),
    SetEcho(bool),
}

fn event() -> impl Strategy<Value = Event> {
    let special = prop::sample::select(vec![
        b'\r', b'\n', 0x08, 0x7f, CTRL_D, CTRL_U, CTRL_W, b' ', 0xc3, 0xa9,
    ]);
    prop_oneof![
        8 => any::<u8>().prop_map(Event::Type),
        6 => special.prop_map(Event::Type),
        3 => (0..20_usize).prop_map(Event::Read),
        1 => prop_oneof![Just(Mode::Raw), Just(Mode::Cooked)].prop_map(Event::SetMode),
        1 => any::<bool>().prop_map(Event::SetEcho),
    ]
}

proptest! {
    #[test]
    fn arbitrary_input_never_panics_or_invents_bytes(events in proptest::collection::vec(event(), 0..400)) {
        let mut tty = LineDiscipline::new();
        let (mut typed, mut readable) = (0_usize, 0_usize);
        for event in events {
            match event {
                Event::Type(byte) => {
                    let mut echoed = 0;
                    tty.input(byte, &mut |out: &[u8]| echoed += out.len());
                    if !tty.is_echo_on() {
                        prop_assert_eq!(echoed, 0);
                    }
                    typed += 1;
                }
                Event::Read(size) => {
                    let mut buf = vec![0_u8; size];
                    match tty.read(&mut buf) {
                        ReadResult::Data(n) => {
                            prop_assert!(n <= size);
                            prop_assert!(n <= MAX_LINE_BYTES || tty.mode() == Mode::Raw);
                            readable += n;
                        }
                        ReadResult::Eof => {}
                        ReadResult::WouldBlock => prop_assert!(!tty.is_readable()),
                    }
                }
                Event::SetMode(mode) => tty.set_mode(mode),
                Event::SetEcho(is_on) => tty.set_echo(is_on),
            }
            prop_assert!(readable <= typed, "read {} of {} typed", readable, typed);
        }
        // Drain what is left: still never more than was typed.
        tty.set_mode(Mode::Raw);
        let mut buf = [0_u8; 64];
        loop {
            match tty.read(&mut buf) {
                ReadResult::Data(n) => readable += n,
                ReadResult::Eof => {}
                ReadResult::WouldBlock => break,
            }
        }
        prop_assert!(readable <= typed);
    }
}

#[test]
fn queued_counts_what_a_read_would_get() {
    let mut tty = LineDiscipline::new();
    assert_eq!(tty.queued(), 0);
    // A half-typed line is not readable in cooked mode.
    feed(&mut tty, b"ab");
    assert_eq!(tty.queued(), 0);
    feed(&mut tty, b"\n");
    assert_eq!(tty.queued(), 3);
    let mut buf = [0u8; 8];
    let _ = tty.read(&mut buf);
    assert_eq!(tty.queued(), 0);
    tty.set_mode(Mode::Raw);
    feed(&mut tty, b"xyz");
    assert_eq!(tty.queued(), 3);
}
