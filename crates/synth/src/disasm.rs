//! Disassembly for humans: an instance as annotated Intel-syntax text.
//!
//! Owns [`disassemble`]. Header lines name the template, address, size,
//! instruction count, invariants, hole values and SMAP choice; each
//! instruction line shows address, bytes and text, annotated with the holes
//! it carries (`; hole base = 0x…`), user accesses (`; user access (fixup ->
//! 0x…)`) and fixup entries. Used by the golden files under `golden/` and by
//! `xtask show` (STYLE §8 `reviewable-as-disassembly`).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use iced_x86::{Decoder, DecoderOptions, Formatter, IntelFormatter};

use crate::Instance;

/// Column where the instruction text starts (after address and bytes).
const BYTES_COLUMN_WIDTH: usize = 32;
/// Column where annotations start (after the instruction text).
const TEXT_COLUMN_WIDTH: usize = 36;

/// Renders `bytes` (the instance's code) as annotated Intel-syntax assembly.
pub fn disassemble(instance: &Instance, bytes: &[u8]) -> String {
    let template = instance.template();
    let mut out = String::new();
    let names = |items: &mut dyn Iterator<Item = String>| {
        let list: Vec<String> = items.collect();
        if list.is_empty() {
            String::from("none")
        } else {
            list.join(", ")
        }
    };
    let _ = writeln!(out, "; template {}", template.name);
    let _ = writeln!(
        out,
        "; address {:#x}, {} bytes, {} instructions, smap {:?}",
        instance.address(),
        bytes.len(),
        template.instruction_count,
        instance.smap()
    );
    let _ = writeln!(
        out,
        "; invariants: {}",
        names(&mut template.invariants.iter().map(|k| alloc::format!("{k:?}")))
    );
    let _ = writeln!(
        out,
        "; holes: {}",
        names(
            &mut instance
                .hole_values()
                .map(|(name, value)| alloc::format!("{name} = {:#x}", value.as_u64()))
        )
    );
    let _ = writeln!(
        out,
        "; reads: {}",
        names(&mut template.reads.iter().map(|r| String::from(r.name())))
    );
    let _ = writeln!(
        out,
        "; clobbers: {}",
        names(&mut template.clobbers.iter().map(|r| String::from(r.name())))
    );

    let mut formatter = IntelFormatter::new();
    formatter
        .options_mut()
        .set_space_after_operand_separator(true);
    formatter.options_mut().set_hex_prefix("0x");
    formatter.options_mut().set_hex_suffix("");
    formatter.options_mut().set_uppercase_hex(false);
    formatter.options_mut().set_first_operand_char_index(8);
    let fixups: Vec<_> = instance.fault_fixups().collect();
    let mut decoder = Decoder::with_ip(64, bytes, instance.address(), DecoderOptions::NONE);
    let mut text = String::new();
    while decoder.can_decode() {
        let offset = decoder.position();
        let instruction = decoder.decode();
        text.clear();
        formatter.format(&instruction, &mut text);
        let encoded = bytes
            .get(offset..offset + instruction.len())
            .unwrap_or_default();
        let hex: String = encoded
            .iter()
            .map(|b| alloc::format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ");
        let mut line = alloc::format!(
            "{:016x}  {hex:<BYTES_COLUMN_WIDTH$}{text:<TEXT_COLUMN_WIDTH$}",
            instruction.ip()
        );
        let mut notes = Vec::new();
        for (hole, (name, value)) in template.holes.iter().zip(instance.hole_values()) {
            let carries = hole
                .sites
                .iter()
                .any(|&site| (offset..offset + instruction.len()).contains(&(site as usize)));
            if carries {
                notes.push(alloc::format!("hole {name} = {:#x}", value.as_u64()));
            }
        }
        for fixup in &fixups {
            if fixup.access == instruction.ip() {
                notes.push(alloc::format!("user access (fixup -> {:#x})", fixup.fixup));
            }
            if fixup.fixup == instruction.ip() {
                notes.push(alloc::format!("fixup for {:#x}", fixup.access));
            }
        }
        if notes.is_empty() {
            line.truncate(line.trim_end().len());
        } else {
            line.push_str("; ");
            line.push_str(&notes.join("; "));
        }
        let _ = writeln!(out, "{line}");
    }
    out
}
