//! Tests of `SysError` codes and the `rax` convention.

use super::SysError;

extern crate std;
use std::collections::BTreeSet;
use std::string::ToString;

#[test]
fn every_code_round_trips() {
    for &error in SysError::ALL {
        assert_eq!(SysError::from_code(error.code()), Some(error), "{error:?}");
        assert_eq!(SysError::decode_return(error.to_return()), Err(error));
    }
}

#[test]
fn codes_are_unique_and_start_at_one() {
    let codes: BTreeSet<u32> = SysError::ALL.iter().map(|error| error.code()).collect();
    assert_eq!(codes.len(), SysError::ALL.len());
    assert_eq!(codes.first(), Some(&1));
    assert!(!codes.contains(&0));
}

#[test]
fn codes_are_dense_except_unknown() {
    // New errors take the next code: no gaps but 29 (reserved for SIO
    // sharing while branches were merged, never sent; it stays unused),
    // Unknown sits apart at u32::MAX.
    let known = SysError::ALL
        .iter()
        .filter(|&&error| error != SysError::Unknown);
    // 31..=33 are pre-assigned to branches merged in any order in the
    // same session: a branch without them skips them.
    let expected_codes = (1_u32..).filter(|&code| {
        code != 29
            && !((31..=33).contains(&code) && SysError::from_code(code) == Some(SysError::Unknown))
    });
    for (expected, error) in expected_codes.zip(known) {
        assert_eq!(error.code(), expected, "{error:?}");
    }
    assert_eq!(SysError::Unknown.code(), u32::MAX);
}

#[test]
fn stable_codes_never_change() {
    // Pinned: user programs already compiled depend on these numbers.
    assert_eq!(SysError::BadCall.code(), 1);
    assert_eq!(SysError::BadHandle.code(), 2);
    assert_eq!(SysError::NotFound.code(), 9);
    assert_eq!(SysError::Interrupted.code(), 23);
    assert_eq!(SysError::NoSpace.code(), 24);
    assert_eq!(SysError::NameTooLong.code(), 25);
    assert_eq!(SysError::BadValue.code(), 26);
    assert_eq!(SysError::BrokenPipe.code(), 27);
    assert_eq!(SysError::Revoked.code(), 28);
    assert_eq!(SysError::MessageSize.code(), 30);
}

#[test]
fn zero_is_not_an_error_and_unknown_codes_stay_errors() {
    assert_eq!(SysError::from_code(0), None);
    assert_eq!(SysError::from_code(29), Some(SysError::Unknown));
    assert_eq!(SysError::from_code(31), Some(SysError::Unknown));
    assert_eq!(SysError::from_code(0x7ffe), Some(SysError::Unknown));
    assert_eq!(SysError::from_code(0x7fff), Some(SysError::Unknown));
}

#[test]
fn decode_return_splits_success_and_error() {
    assert_eq!(SysError::decode_return(0), Ok(0));
    assert_eq!(
        SysError::decode_return(i64::MAX),
        Ok(i64::MAX.unsigned_abs())
    );
    assert_eq!(SysError::decode_return(-1), Err(SysError::BadCall));
    assert_eq!(SysError::decode_return(-9), Err(SysError::NotFound));
    assert_eq!(SysError::decode_return(-1000), Err(SysError::Unknown));
    assert_eq!(SysError::decode_return(i64::MIN), Err(SysError::Unknown));
    assert_eq!(
        SysError::decode_return(-(1_i64 << 40)),
        Err(SysError::Unknown)
    );
}

#[test]
fn encode_result_is_the_inverse_of_decode_return() {
    assert_eq!(SysError::encode_result(Ok(42)), 42);
    assert_eq!(SysError::encode_result(Err(SysError::IsDir)), -12);
    // A success value past i64::MAX would read as an error: it is reported
    // as BadValue, never as some unrelated error.
    assert_eq!(
        SysError::encode_result(Ok(u64::MAX)),
        SysError::BadValue.to_return()
    );
}

#[test]
fn display_is_lowercase_prose_and_error_trait_works() {
    assert_eq!(SysError::NotFound.to_string(), "no such file or directory");
    assert_eq!(SysError::BadHandle.to_string(), "bad handle");
    for &error in SysError::ALL {
        let text = error.to_string();
        assert!(!text.is_empty());
        assert!(text.starts_with(|c: char| c.is_ascii_lowercase()), "{text}");
    }
    let as_error: &dyn core::error::Error = &SysError::Busy;
    assert!(as_error.source().is_none());
}
