//! Tests of the create-argument structs and their checks.

use super::*;
use crate::{Kind, ScpuInfo, SioInfo, SmachInfo, SmemInfo};

#[test]
fn sizes_match_the_abi() {
    assert_eq!(SmachCreateArgs::SIZE, 32);
    assert_eq!(ScpuCreateArgs::SIZE, 32);
    assert_eq!(SmemCreateArgs::SIZE, 24);
    assert_eq!(SioCreateArgs::SIZE, 24);
    assert_eq!(Kind::Sio.create_args_size(), 24);
    assert_eq!(Kind::Smach.info_size(), SmachInfo::SIZE);
    assert_eq!(Kind::Scpu.info_size(), ScpuInfo::SIZE);
    assert_eq!(Kind::Smem.info_size(), SmemInfo::SIZE);
    assert_eq!(Kind::Sio.info_size(), SioInfo::SIZE);
}

#[test]
fn bytes_round_trip_and_are_little_endian_in_field_order() -> Result<(), SysError> {
    let args = ScpuCreateArgs {
        entry: 0x40_1000,
        stack_top: 0x7fff_0000,
        arg: 0x0102_0304_0506_0708,
        priority: 5,
        quantum_us: 10_000,
    };
    let bytes = args.to_bytes();
    assert_eq!(bytes.get(..8), Some(&0x40_1000_u64.to_le_bytes()[..]));
    assert_eq!(bytes.get(24..28), Some(&5_u32.to_le_bytes()[..]));
    assert_eq!(ScpuCreateArgs::from_bytes(&bytes)?, args);
    Ok(())
}

#[test]
fn from_bytes_rejects_wrong_length() {
    assert_eq!(
        SioCreateArgs::from_bytes(&[0; 23]),
        Err(SysError::BadLength)
    );
    assert_eq!(
        SioCreateArgs::from_bytes(&[0; 25]),
        Err(SysError::BadLength)
    );
    assert_eq!(SioCreateArgs::from_bytes(&[]), Err(SysError::BadLength));
}

fn sio(path_ptr: u64, path_len: u64, flags: OpenFlags) -> SioCreateArgs {
    SioCreateArgs {
        path_ptr,
        path_len,
        flags: flags.bits(),
        _pad: 0,
    }
}

#[test]
fn sio_check_accepts_good_and_rejects_bad() {
    let good = sio(0x1000, 9, OpenFlags::READ).check();
    assert_eq!(good.map(|open| open.path.len()), Ok(9));
    assert_eq!(
        sio(0x1000, 0, OpenFlags::READ).check(),
        Err(SysError::BadPath)
    );
    assert_eq!(
        sio(0x1000, PATH_MAX + 1, OpenFlags::READ).check(),
        Err(SysError::NameTooLong)
    );
    assert_eq!(
        sio(u64::MAX - 2, 9, OpenFlags::READ).check(),
        Err(SysError::BadAddress)
    );
    assert_eq!(
        sio(0x1000, 9, OpenFlags::empty()).check(),
        Err(SysError::BadFlags)
    );
    let bad_bits = SioCreateArgs {
        flags: 1 << 31,
        ..sio(0x1000, 9, OpenFlags::READ)
    };
    assert_eq!(bad_bits.check(), Err(SysError::BadFlags));
    let bad_pad = SioCreateArgs {
        _pad: 1,
        ..sio(0x1000, 9, OpenFlags::READ)
    };
    assert_eq!(bad_pad.check(), Err(SysError::BadFlags));
}

#[test]
fn smach_check_rejects_flags_and_pad() {
    let args = SmachCreateArgs {
        path_ptr: 0x2000,
        path_len: 10,
        arg: 7,
        flags: 0,
        _pad: 0,
    };
    assert_eq!(args.check().map(|create| create.arg), Ok(7));
    assert_eq!(
        SmachCreateArgs { flags: 4, ..args }.check(),
        Err(SysError::BadFlags)
    );
    assert_eq!(
        SmachCreateArgs { _pad: 1, ..args }.check(),
        Err(SysError::BadFlags)
    );
}

#[test]
fn scpu_check_wants_user_entry_and_aligned_stack() {
    let args = ScpuCreateArgs {
        entry: 0x40_1000,
        stack_top: 0x7fff_f000,
        ..Default::default()
    };
    assert!(args.check().is_ok());
    let at_top = ScpuCreateArgs {
        stack_top: USER_END,
        ..args
    };
    assert!(at_top.check().is_ok());
    for bad in [
        ScpuCreateArgs { entry: 0, ..args },
        ScpuCreateArgs {
            entry: USER_END,
            ..args
        },
        ScpuCreateArgs {
            stack_top: 0,
            ..args
        },
        ScpuCreateArgs {
            stack_top: 0x7fff_f008,
            ..args
        },
        ScpuCreateArgs {
            stack_top: USER_END + 16,
            ..args
        },
    ] {
        assert_eq!(bad.check(), Err(SysError::BadAddress), "{bad:?}");
    }
}

#[test]
fn smem_check_rounds_and_places() -> Result<(), SysError> {
    let args = SmemCreateArgs {
        addr_hint: 0,
        len: 1,
        prot: (Prot::READ | Prot::WRITE).bits(),
        flags: 0,
    };
    let create = args.check()?;
    assert_eq!((create.len, create.placement), (PAGE_SIZE, None));

    let placed = SmemCreateArgs {
        addr_hint: 0x10_0000,
        len: 0x2001,
        ..args
    }
    .check()?;
    assert_eq!(placed.len, 0x3000);
    assert_eq!(placed.placement.map(|range| range.end()), Some(0x10_3000));

    let cases = [
        (SmemCreateArgs { len: 0, ..args }, SysError::BadLength),
        (
            SmemCreateArgs {
                len: u64::MAX,
                ..args
            },
            SysError::BadLength,
        ),
        (
            SmemCreateArgs {
                addr_hint: 0x10_0001,
                ..args
            },
            SysError::BadAddress,
        ),
        (
            SmemCreateArgs {
                addr_hint: USER_END,
                ..args
            },
            SysError::BadAddress,
        ),
        (
            SmemCreateArgs {
                flags: SmemCreateFlags::FIXED.bits(),
                ..args
            },
            SysError::BadAddress,
        ),
        (SmemCreateArgs { prot: 8, ..args }, SysError::BadFlags),
        (
            SmemCreateArgs {
                prot: (Prot::WRITE | Prot::EXEC).bits(),
                ..args
            },
            SysError::BadFlags,
        ),
        (SmemCreateArgs { flags: 2, ..args }, SysError::BadFlags),
    ];
    for (bad, error) in cases {
        assert_eq!(bad.check(), Err(error), "{bad:?}");
    }
    Ok(())
}
