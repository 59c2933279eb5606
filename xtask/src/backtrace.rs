//! Names for the panic handler's backtrace: the kernel prints the text
//! addresses it found on its stack (`backtrace (stack scan, ...): 0x...`),
//! and this turns them into `function at file:line` lines with binutils'
//! `addr2line` on the kernel's ELF file (left as addresses when the host
//! has no `addr2line`).

use std::path::Path;
use std::process::Command;

/// The line the kernel's panic handler starts its addresses with.
const MARKER: &str = "backtrace (stack scan, innermost first):";

/// The addresses of the last backtrace line in `output`.
pub fn addresses(output: &str) -> Vec<u64> {
    output
        .lines()
        .rev()
        .find_map(|line| line.find(MARKER).map(|at| &line[at + MARKER.len()..]))
        .map(|rest| {
            rest.split_whitespace()
                .filter_map(|word| u64::from_str_radix(word.strip_prefix("0x")?, 16).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The backtrace of `output` with names from `kernel`, one line per
/// address, or `None` if the output has none.
pub fn symbolize(output: &str, kernel: &Path) -> Option<String> {
    let addrs = addresses(output);
    if addrs.is_empty() {
        return None;
    }
    let named = Command::new("addr2line")
        .args(["-f", "-C", "-p", "-e"])
        .arg(kernel)
        .args(addrs.iter().map(|a| format!("{a:#x}")))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let mut text =
        String::from("kernel backtrace (stack scan: return addresses and stale words)\n");
    match named {
        Some(named) => {
            for (addr, name) in addrs.iter().zip(named.lines()) {
                text.push_str(&format!("  {addr:#x} {name}\n"));
            }
        }
        None => {
            text.push_str("  (no addr2line on this host: addresses only)\n");
            for addr in &addrs {
                text.push_str(&format!("  {addr:#x}\n"));
            }
        }
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_backtrace_line_gives_the_addresses() {
        let out = "x\nbacktrace (stack scan, innermost first): 0x1 0x2\nkernel panic: a\n\
                   backtrace (stack scan, innermost first): 0xffffffff80001000 0x10 junk\n";
        assert_eq!(addresses(out), vec![0xffff_ffff_8000_1000, 0x10]);
    }

    #[test]
    fn no_backtrace_gives_nothing() {
        assert!(addresses("kernel panic: a\n").is_empty());
        assert!(symbolize("kernel panic: a\n", Path::new("/nonexistent")).is_none());
    }
}
