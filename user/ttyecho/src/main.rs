//! `ttyecho`: reads the console and reports what it read, for scripted
//! console sessions (`xtask`'s `session`: the host types into the serial
//! port and reads the screen).
//!
//! Prints `ttyecho: ready`, then for each line read in cooked mode (the
//! line discipline's editing done: erase, erase word, kill line)
//! `ttyecho: line N [TEXT]`, with bytes outside printable ASCII as `\xNN`.
//! A line `raw` switches the console to raw mode without echo, reads
//! exactly 3 bytes and prints `ttyecho: raw [HEX HEX HEX]`, then returns to
//! cooked mode. End of file (Ctrl-D at the start of a line) prints
//! `ttyecho: eof after N lines` and exits with status 0; a read error
//! exits with status 1.
#![no_std]
#![no_main]

use sk_abi::TtyMode;
use sk_user::{print, println, Sio};

sk_user::entry!(main);

fn main() -> i32 {
    let console = Sio::console();
    println!("ttyecho: ready");
    let mut lines = 0_u32;
    let mut buf = [0_u8; 256];
    loop {
        let n = match console.read(&mut buf) {
            Ok(0) => {
                println!("ttyecho: eof after {lines} lines");
                return 0;
            }
            Ok(n) => n,
            Err(error) => {
                println!("ttyecho: read failed: {error:?}");
                return 1;
            }
        };
        let line = buf.get(..n).unwrap_or_default();
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        if line == b"raw" {
            if let Err(error) = raw_bytes(&console) {
                println!("ttyecho: raw mode failed: {error:?}");
                return 1;
            }
            continue;
        }
        lines += 1;
        print!("ttyecho: line {lines} [");
        for &byte in line {
            if byte.is_ascii_graphic() || byte == b' ' {
                print!("{}", char::from(byte));
            } else {
                print!("\\x{byte:02x}");
            }
        }
        println!("]");
    }
}

/// Raw mode without echo: reads 3 bytes (as many reads as it takes) and
/// prints them in hex; back to cooked mode with echo.
fn raw_bytes(console: &Sio) -> Result<(), sk_abi::SysError> {
    console.set_tty_mode(TtyMode::RAW)?;
    println!("ttyecho: raw mode");
    let mut got = [0_u8; 3];
    let mut have = 0;
    let result = loop {
        if have == got.len() {
            break Ok(());
        }
        match console.read(got.get_mut(have..).unwrap_or_default()) {
            Ok(n) => have += n,
            Err(error) => break Err(error),
        }
    };
    console.set_tty_mode(TtyMode::DEFAULT)?;
    result?;
    println!(
        "ttyecho: raw [{:02x} {:02x} {:02x}]",
        got[0], got[1], got[2]
    );
    Ok(())
}
