//! Replay: every template, instantiated with random holes, written as a
//! record, parsed back and regenerated, gives the same bytes.

use proptest::prelude::*;
use sk_synth::replay::{InstallRecord, ParseError};
use sk_synth::templates::ALL;
use sk_synth::{instantiate_values, HoleKind, HoleValue, HoleValues, Smap};

fn values_for(template: usize, seeds: &[u64], address: u64) -> HoleValues {
    let holes = ALL[template].holes;
    let values: Vec<HoleValue> = holes
        .iter()
        .zip(seeds)
        .map(|(hole, &seed)| match hole.kind {
            HoleKind::Imm64 => HoleValue::Imm64(seed),
            HoleKind::Imm32 => HoleValue::Imm32(i32::from_le_bytes(
                seed.to_le_bytes()[..4].try_into().unwrap(),
            )),
            HoleKind::Disp32 => HoleValue::Disp32(i32::from_le_bytes(
                seed.to_le_bytes()[4..].try_into().unwrap(),
            )),
            HoleKind::Rel32 => HoleValue::Rel32(address.wrapping_add(seed % 0x1000_0000)),
        })
        .collect();
    HoleValues::from_slice(&values).unwrap()
}

proptest! {
    #[test]
    fn records_regenerate_the_same_bytes(
        template in 0..ALL.len(),
        seeds in prop::collection::vec(any::<u64>(), sk_synth::MAX_HOLES),
        page in 0x1_0000u64..0x7fff_0000,
        smap in any::<bool>(),
    ) {
        let address = 0xffff_8000_0000_0000 | (page << 12);
        let smap = if smap { Smap::Enabled } else { Smap::Disabled };
        let values = values_for(template, &seeds, address);
        let mut installed = vec![0u8; 4096];
        let instance = instantiate_values(ALL[template], values, address, smap, &mut installed).unwrap();
        let record = InstallRecord::from(&instance);
        prop_assert_eq!(record, InstallRecord { template: ALL[template], address, smap, values });
        let line = record.to_string();
        let parsed = InstallRecord::parse(&line, ALL).unwrap();
        prop_assert_eq!(parsed, record);
        let mut again = vec![0u8; 4096];
        let instance_again = parsed.regenerate(&mut again).unwrap();
        prop_assert_eq!(instance_again, instance);
        prop_assert_eq!(&again[..instance.size()], &installed[..instance.size()]);
    }
}

#[test]
fn a_changed_record_gives_other_bytes_and_bad_lines_are_refused() {
    let template = ALL.iter().position(|t| t.name == "dev_mem_read").unwrap();
    let address = 0xffff_9000_0000_0000;
    let values = values_for(template, &[1, 2, 3, 4, 5, 6, 7, 8], address);
    let record = InstallRecord {
        template: ALL[template],
        address,
        smap: Smap::Enabled,
        values,
    };
    let line = record.to_string();
    assert!(
        line.starts_with("synth-install 0xffff900000000000 dev_mem_read smap=on imm64:0x1 imm32:2")
    );
    let mut a = vec![0u8; 4096];
    let mut b = vec![0u8; 4096];
    let n = record.regenerate(&mut a).unwrap().size();
    let tampered = InstallRecord::parse(&line.replace("imm64:0x1 ", "imm64:0x2 "), ALL).unwrap();
    tampered.regenerate(&mut b).unwrap();
    assert_ne!(a[..n], b[..n]);
    assert_eq!(
        InstallRecord::parse("hello", ALL),
        Err(ParseError::NotARecord)
    );
    assert_eq!(
        InstallRecord::parse("synth-install 0x10 no_such smap=on", ALL),
        Err(ParseError::UnknownTemplate)
    );
    assert_eq!(
        InstallRecord::parse("synth-install 0x10 dev_mem_read smap=maybe", ALL),
        Err(ParseError::BadField(3))
    );
    assert_eq!(
        InstallRecord::parse("synth-install 0x10 dev_mem_read smap=on imm64:zz", ALL),
        Err(ParseError::BadField(4))
    );
    // Too few holes: parsing succeeds, instantiation refuses.
    let short =
        InstallRecord::parse("synth-install 0x10 dev_mem_read smap=on imm64:0x1", ALL).unwrap();
    assert!(short.regenerate(&mut a).is_err());
}
