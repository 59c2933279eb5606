//! Template source: the call counter placed in front of a routine when the
//! kernel counts calls (observability), then a jump to the routine.

use super::builder::{Kind, TemplateAsm, TemplateSource};
use iced_x86::code_asm::{qword_ptr, r9};
use iced_x86::IcedError;

pub fn source() -> Result<TemplateSource, IcedError> {
    let mut a = TemplateAsm::new()?;
    let counter = a.hole(
        "counter",
        Kind::Imm64,
        "Address of the routine's `u64` call counter (kernel memory).",
    );
    let routine = a.hole(
        "routine",
        Kind::Imm64,
        "Entry of the routine being counted.",
    );
    a.mov_imm64(r9, counter)?;
    a.inc(qword_ptr(r9))?;
    a.mov_imm64(r9, routine)?;
    a.jmp(r9)?;
    Ok(TemplateSource {
        name: "call_counter",
        doc: "Call counter: `inc qword [counter]`, then a tail jump to the routine.\n\n\
              Installed in a table slot in front of a synthesized routine only when the kernel \
              counts calls (`synth.count` on the command line, implied by `show`), so the \
              measured routines carry no counting cost by default. Uses `r9`, which the native \
              ABI declares clobbered and no routine reads. Not atomic across CPUs (a statistic).",
        invariants: &[],
        reads: &[],
        clobbers: &["R9"],
        asm: a,
    })
}
