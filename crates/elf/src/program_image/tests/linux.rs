//! `ProgramImage::parse_linux`: static `ET_EXEC` and static-PIE `ET_DYN`
//! Linux programs, and what their auxiliary vector gets.

use super::*;

/// A static-PIE image linked at 0 (as musl's `static-pie` output is): a
/// read-only first segment holding the headers, text, data with a
/// `PT_DYNAMIC` inside, a `PT_TLS`.
fn pie() -> ElfBuilder {
    let mut builder = ElfBuilder::valid();
    builder.kind = 3;
    builder.entry = 0x1000;
    builder.phdrs = vec![
        Phdr::load(PF_R, 0, 0, 0x200, 0x200),
        Phdr::load(PF_R | PF_X, 0x1000, 0x1000, 0x100, 0x100),
        Phdr::load(PF_R | PF_W, 0x1100, 0x2100, 0x80, 0x1000),
        Phdr {
            offset: 0x1100,
            vaddr: 0x2100,
            file_size: 0x40,
            mem_size: 0x40,
            ..Phdr::other(PT_DYNAMIC)
        },
        Phdr::other(PT_TLS),
        Phdr::other(PT_GNU_STACK),
    ];
    builder
}

const BASE: u64 = 0x5555_5555_4000;

#[test]
fn a_static_pie_is_loaded_at_the_base() {
    let (image, load) = ProgramImage::parse_linux(&pie().build(), BASE).unwrap();
    assert_eq!(image.entry(), BASE + 0x1000);
    assert_eq!(image.segments()[0].vaddr, BASE);
    assert_eq!(image.segments()[2].vaddr, BASE + 0x2100);
    assert_eq!(load.bias, BASE);
    assert_eq!(load.phdr, BASE + 64, "the headers are in the first segment");
    assert_eq!((load.phnum, load.phent), (6, 56));
    assert_rules_hold(&image, pie().build().len());
}

#[test]
fn an_executable_ignores_the_base_and_a_pt_phdr_wins() {
    let mut builder = ElfBuilder::valid();
    builder.phdrs.push(Phdr {
        vaddr: 0x40_0040,
        ..Phdr::other(PT_PHDR)
    });
    let (image, load) = ProgramImage::parse_linux(&builder.build(), BASE).unwrap();
    assert_eq!(image.entry(), 0x40_1000);
    assert_eq!(load.bias, 0);
    assert_eq!(load.phdr, 0x40_0040);
}

#[test]
fn native_parsing_still_refuses_pies_and_linux_refuses_dynamic_linking() {
    assert_eq!(
        ProgramImage::parse(&pie().build()),
        Err(ElfError::NotExecutable)
    );
    let mut interp = pie();
    interp.phdrs.push(Phdr::other(PT_INTERP));
    assert_eq!(
        ProgramImage::parse_linux(&interp.build(), BASE),
        Err(ElfError::DynamicallyLinked)
    );
    let mut exec_dynamic = ElfBuilder::valid();
    exec_dynamic.phdrs.push(Phdr::other(PT_DYNAMIC));
    assert_eq!(
        ProgramImage::parse_linux(&exec_dynamic.build(), BASE),
        Err(ElfError::DynamicallyLinked)
    );
    // A shared library is also ET_DYN: nothing says "program" but the
    // entry point, which must still be executable.
    let mut no_entry = pie();
    no_entry.entry = 0;
    assert_eq!(
        ProgramImage::parse_linux(&no_entry.build(), BASE),
        Err(ElfError::EntryNotExecutable)
    );
}

#[test]
fn bad_bases_and_headers_outside_memory_are_errors() {
    assert_eq!(
        ProgramImage::parse_linux(&pie().build(), BASE + 1),
        Err(ElfError::OutsideUserSpace)
    );
    assert_eq!(
        ProgramImage::parse_linux(&pie().build(), USER_END - PAGE_SIZE),
        Err(ElfError::OutsideUserSpace)
    );
    assert_eq!(
        ProgramImage::parse_linux(&pie().build(), 0),
        Err(ElfError::BelowNullGuard),
        "linked at 0, loaded at 0: in the null guard"
    );
    assert_eq!(
        ProgramImage::parse_linux(&pie().build(), !(PAGE_SIZE - 1)),
        Err(ElfError::OutsideUserSpace)
    );
    // Program headers in no segment's file bytes.
    let headers_unloaded = pie().with_load(0, |p| p.file_size = 0);
    assert_eq!(
        ProgramImage::parse_linux(&headers_unloaded.build(), BASE),
        Err(ElfError::BadProgramHeaders)
    );
}

proptest! {
    /// Any base either fails cleanly or puts every segment, biased, in
    /// the user half above the null guard.
    #[test]
    fn any_base_keeps_the_rules(page in any::<u64>()) {
        let base = page.wrapping_mul(PAGE_SIZE);
        let bytes = pie().build();
        if let Ok((image, load)) = ProgramImage::parse_linux(&bytes, base) {
            assert_rules_hold(&image, bytes.len());
            prop_assert_eq!(load.bias, base);
            prop_assert!(image.segments().iter().all(|s| s.vaddr >= NULL_GUARD_END && s.end() <= USER_END));
        }
    }
}

#[test]
fn linux_marks_tell_a_linux_program_from_a_native_one() {
    const PT_NOTE: u32 = 4;
    assert!(
        ProgramImage::has_linux_marks(&pie().build()),
        "a static PIE"
    );
    let native = ElfBuilder::valid();
    assert!(
        !ProgramImage::has_linux_marks(&native.build()),
        "no note, no TLS"
    );
    let mut noted = ElfBuilder::valid();
    noted.phdrs.push(Phdr::other(PT_NOTE));
    assert!(
        ProgramImage::has_linux_marks(&noted.build()),
        "glibc's ABI note"
    );
    let mut tls = ElfBuilder::valid();
    tls.phdrs.push(Phdr::other(PT_TLS));
    assert!(ProgramImage::has_linux_marks(&tls.build()));
    assert!(!ProgramImage::has_linux_marks(b"\x7fELF garbage"));
}
