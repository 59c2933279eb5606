//! Tests of reconfigure decoding: every request round-trips through its
//! registers, and bad selectors and values are rejected.

use super::*;

#[test]
fn every_request_round_trips_through_registers() {
    let smach = [
        SmachReconfigure::Suspend,
        SmachReconfigure::Resume,
        SmachReconfigure::Priority(u32::MAX),
        SmachReconfigure::Wait,
        SmachReconfigure::YieldCaller,
        SmachReconfigure::SleepCaller { ns: MAX_SLEEP_NS },
    ];
    for request in smach {
        let [rdi, rsi, rdx] = request.to_registers();
        assert_eq!(SmachReconfigure::decode(rdi, rsi, rdx), Ok(request));
    }
    let scpu = [
        ScpuReconfigure::Suspend,
        ScpuReconfigure::Resume,
        ScpuReconfigure::Priority(3),
        ScpuReconfigure::Quantum { quantum_us: 500 },
        ScpuReconfigure::Yield,
        ScpuReconfigure::Sleep { ns: 0 },
        ScpuReconfigure::Sleep { ns: MAX_SLEEP_NS },
    ];
    for request in scpu {
        let [rdi, rsi, rdx] = request.to_registers();
        assert_eq!(ScpuReconfigure::decode(rdi, rsi, rdx), Ok(request));
    }
    let protect = SmemReconfigure::Protect(Prot::READ | Prot::EXEC);
    let [rdi, rsi, rdx] = protect.to_registers();
    assert_eq!(SmemReconfigure::decode(rdi, rsi, rdx), Ok(protect));
    for request in [
        SioReconfigure::Seek {
            whence: Whence::Set,
            offset: 0,
        },
        SioReconfigure::Seek {
            whence: Whence::Current,
            offset: i64::MIN,
        },
        SioReconfigure::Seek {
            whence: Whence::End,
            offset: -1,
        },
        SioReconfigure::TtyMode(TtyMode::RAW | TtyMode::ECHO),
    ] {
        let [rdi, rsi, rdx] = request.to_registers();
        assert_eq!(SioReconfigure::decode(rdi, rsi, rdx), Ok(request));
    }
}

#[test]
fn selector_numbers_are_pinned() {
    assert_eq!(SmachSelector::Wait.number(), 3);
    assert_eq!(SmachSelector::YieldCaller.number(), 5);
    assert_eq!(SmachSelector::SleepCaller.number(), 6);
    assert_eq!(ScpuSelector::Quantum.number(), 3);
    assert_eq!(SioSelector::Seek.number(), 0);
    assert_eq!(SioSelector::TtyMode.number(), 1);
    assert_eq!(SioSelector::Share.number(), 2);
    assert_eq!(SioSelector::Revoke.number(), 3);
    assert_eq!(crate::QuerySelector::Routines.number(), 1);
    // Shared meanings share numbers.
    assert_eq!(
        SmachSelector::Suspend.number(),
        ScpuSelector::Suspend.number()
    );
    assert_eq!(
        SmachSelector::Priority.number(),
        ScpuSelector::Priority.number()
    );
}

#[test]
fn unknown_selectors_are_bad_selector() {
    assert_eq!(
        SmachReconfigure::decode(11, 0, 0),
        Err(SysError::BadSelector)
    );
    assert_eq!(
        ScpuReconfigure::decode(u64::MAX, 0, 0),
        Err(SysError::BadSelector)
    );
    assert_eq!(SmemReconfigure::decode(1, 1, 0), Err(SysError::BadSelector));
    assert_eq!(SioReconfigure::decode(7, 0, 0), Err(SysError::BadSelector));
    assert_eq!(
        crate::QuerySelector::try_from(3),
        Err(SysError::BadSelector)
    );
}

#[test]
fn bad_values_are_rejected() {
    let too_big = u64::from(u32::MAX) + 1;
    assert_eq!(
        SmachReconfigure::decode(2, too_big, 0),
        Err(SysError::BadValue)
    );
    assert_eq!(ScpuReconfigure::decode(3, 0, 0), Err(SysError::BadValue));
    assert_eq!(
        SmachReconfigure::decode(6, MAX_SLEEP_NS + 1, 0),
        Err(SysError::BadValue)
    );
    assert_eq!(SioReconfigure::decode(0, 3, 0), Err(SysError::BadValue));
    assert_eq!(SioReconfigure::decode(1, 4, 0), Err(SysError::BadFlags));
    assert_eq!(SmemReconfigure::decode(0, 6, 0), Err(SysError::BadFlags));
    assert_eq!(SmachReconfigure::decode(8, 0, 0), Err(SysError::BadValue));
    assert_eq!(
        SmachReconfigure::decode(8, 1001, 0),
        Err(SysError::BadValue)
    );
    assert_eq!(SmachReconfigure::decode(9, 2, 0), Err(SysError::BadValue));
}

#[test]
fn nesting_requests_round_trip() {
    for request in [
        SmachReconfigure::Budget { frames: 12345 },
        SmachReconfigure::Weight(1),
        SmachReconfigure::Weight(MAX_WEIGHT),
        SmachReconfigure::SubPolicy(crate::SubPolicy::RoundRobin),
        SmachReconfigure::SubPolicy(crate::SubPolicy::Weighted),
    ] {
        let [s, v, w] = request.to_registers();
        assert_eq!(SmachReconfigure::decode(s, v, w), Ok(request));
    }
    assert_eq!(SmachSelector::Budget.number(), 7);
    assert_eq!(SmachSelector::SubPolicy.number(), 9);
    assert_eq!(crate::QuerySelector::Tree.number(), 6);
    assert_eq!(SysError::OverBudget.code(), 34);
}

#[test]
fn unused_registers_are_ignored() {
    assert_eq!(
        SmachReconfigure::decode(3, 123, 456),
        Ok(SmachReconfigure::Wait)
    );
    assert_eq!(
        SioReconfigure::decode(1, 0, u64::MAX),
        Ok(SioReconfigure::TtyMode(TtyMode::empty()))
    );
}

#[test]
fn sleep_is_bounded_and_yield_ignores_values() {
    assert_eq!(ScpuSelector::Yield.number(), 4);
    assert_eq!(ScpuSelector::Sleep.number(), 5);
    assert_eq!(
        ScpuReconfigure::decode(5, MAX_SLEEP_NS + 1, 0),
        Err(SysError::BadValue)
    );
    assert_eq!(
        ScpuReconfigure::decode(5, u64::MAX, 0),
        Err(SysError::BadValue)
    );
    assert_eq!(
        ScpuReconfigure::decode(5, 1_000, 0),
        Ok(ScpuReconfigure::Sleep { ns: 1_000 })
    );
    assert_eq!(
        ScpuReconfigure::decode(4, u64::MAX, 7),
        Ok(ScpuReconfigure::Yield)
    );
    assert_eq!(ScpuReconfigure::decode(6, 0, 0), Err(SysError::BadSelector));
}

#[test]
fn share_and_revoke_round_trip_and_reject_bad_rights() {
    use crate::{Handle, OpenFlags};
    for request in [
        SioReconfigure::Share {
            smach: Handle::new(7),
            rights: OpenFlags::READ,
        },
        SioReconfigure::Share {
            smach: Handle::new(2),
            rights: OpenFlags::READ | OpenFlags::WRITE,
        },
        SioReconfigure::Revoke,
    ] {
        let [a, b, c] = request.to_registers();
        assert_eq!(SioReconfigure::decode(a, b, c), Ok(request));
    }
    // No rights, rights past READ | WRITE, an SMACH handle past 32 bits.
    assert_eq!(SioReconfigure::decode(2, 3, 0), Err(SysError::BadFlags));
    assert_eq!(SioReconfigure::decode(2, 3, 4), Err(SysError::BadFlags));
    assert_eq!(
        SioReconfigure::decode(2, 3, 1 << 32),
        Err(SysError::BadFlags)
    );
    assert_eq!(
        SioReconfigure::decode(2, 1 << 32, 1),
        Err(SysError::BadHandle)
    );
}

#[test]
fn view_requests_round_trip_with_their_numbers() {
    assert_eq!(SioSelector::View.number(), 9);
    assert_eq!(SioSelector::ReadOnlyView.number(), 10);
    assert_eq!(SioSelector::ViewReshape.number(), 11);
    for request in [
        SioReconfigure::View {
            offset: 3,
            length: u64::MAX,
            read_only: false,
        },
        SioReconfigure::View {
            offset: u64::MAX,
            length: 0,
            read_only: true,
        },
        SioReconfigure::ViewReshape {
            offset: 1,
            length: 2,
        },
    ] {
        let [a, b, c] = request.to_registers();
        assert_eq!(SioReconfigure::decode(a, b, c), Ok(request));
    }
    assert_eq!(SioReconfigure::decode(14, 0, 0), Err(SysError::BadSelector));
}

#[test]
fn prefix_view_round_trips_and_bounds_its_length() {
    assert_eq!(SioSelector::PrefixView.number(), 12);
    for len in [1, crate::MAX_PREFIX_LEN] {
        let request = SioReconfigure::PrefixView {
            prefix: 0x40_0000,
            len,
        };
        let [a, b, c] = request.to_registers();
        assert_eq!(a, 12);
        assert_eq!(SioReconfigure::decode(a, b, c), Ok(request));
    }
    assert_eq!(
        SioReconfigure::decode(12, 0x1000, 0),
        Err(SysError::BadValue)
    );
    assert_eq!(
        SioReconfigure::decode(12, 0x1000, crate::MAX_PREFIX_LEN + 1),
        Err(SysError::BadValue)
    );
    assert_eq!(
        SioReconfigure::decode(12, 0x1000, u64::MAX),
        Err(SysError::BadValue)
    );
}

#[test]
fn root_round_trips_and_rejects_wide_handles() {
    assert_eq!(SmachSelector::Root.number(), 10);
    let request = SmachReconfigure::Root {
        directory: Handle::new(7),
    };
    let [a, b, c] = request.to_registers();
    assert_eq!([a, b, c], [10, 7, 0]);
    assert_eq!(SmachReconfigure::decode(a, b, c), Ok(request));
    assert_eq!(
        SmachReconfigure::decode(10, 1 << 32, 0),
        Err(SysError::BadHandle)
    );
}

#[test]
fn remove_round_trips_and_bounds_its_name() {
    assert_eq!(SioSelector::Remove.number(), 13);
    for len in [1, crate::MAX_NAME_LEN] {
        let request = SioReconfigure::Remove {
            name: 0x40_0000,
            len,
        };
        let [a, b, c] = request.to_registers();
        assert_eq!(a, 13);
        assert_eq!(SioReconfigure::decode(a, b, c), Ok(request));
    }
    for bad in [0, crate::MAX_NAME_LEN + 1, u64::MAX] {
        assert_eq!(
            SioReconfigure::decode(13, 0x1000, bad),
            Err(SysError::BadValue)
        );
    }
}
