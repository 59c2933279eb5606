//! Tests of the info structs' encoding and typed accessors.

use super::*;

#[test]
fn sizes_match_the_abi() {
    assert_eq!(SmachInfo::SIZE, 32);
    assert_eq!(ScpuInfo::SIZE, 24);
    assert_eq!(SmemInfo::SIZE, 24);
    assert_eq!(SioInfo::SIZE, 24);
}

#[test]
fn smach_info_round_trips_and_reports_exit_status() -> Result<(), SysError> {
    let info = SmachInfo {
        state: SmachState::Exited.number(),
        handle_count: 3,
        exit_status: ExitStatus::new(-5).to_info(),
        memory_bytes: 1 << 20,
        id: 9,
    };
    let decoded = SmachInfo::from_bytes(&info.to_bytes())?;
    assert_eq!(decoded, info);
    assert_eq!(decoded.state(), Ok(SmachState::Exited));
    assert_eq!(decoded.exit_status(), Some(ExitStatus::new(-5)));
    let running = SmachInfo {
        state: SmachState::Running.number(),
        ..info
    };
    assert_eq!(running.exit_status(), None);
    Ok(())
}

#[test]
fn unknown_numbers_decode_as_unknown() {
    let info = SioInfo {
        kind: 99,
        ..Default::default()
    };
    assert_eq!(info.kind(), Err(SysError::Unknown));
    let scpu = ScpuInfo {
        state: 99,
        ..Default::default()
    };
    assert_eq!(scpu.state(), Err(SysError::Unknown));
}

#[test]
fn flag_accessors_drop_unknown_bits() {
    let sio = SioInfo {
        flags: OpenFlags::READ.bits() | (1 << 30),
        ..Default::default()
    };
    assert_eq!(sio.flags(), OpenFlags::READ);
    let smem = SmemInfo {
        prot: Prot::READ.bits() | (1 << 30),
        ..Default::default()
    };
    assert_eq!(smem.prot(), Prot::READ);
}
