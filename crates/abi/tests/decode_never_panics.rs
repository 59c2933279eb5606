//! Property tests: no decoder panics on any register value, and what
//! decodes re-encodes to the same registers.

use proptest::prelude::*;
use sk_abi::{
    Call, CallWord, Handle, Kind, OpenFlags, Prot, QuerySelector, ScpuCreateArgs, ScpuReconfigure,
    SioCreateArgs, SioReconfigure, SmachCreateArgs, SmachReconfigure, SmemCreateArgs,
    SmemReconfigure, SysError, UserRange, USER_END,
};

proptest! {
    #[test]
    fn call_word_decode_never_panics_and_round_trips(word in any::<u64>()) {
        match CallWord::decode(word) {
            Ok((handle, call)) => prop_assert_eq!(CallWord::new(handle, call).get(), word),
            Err(error) => {
                let is_bad_call = word & 7 == 7;
                prop_assert!(is_bad_call || word >> 3 > u64::from(u32::MAX));
                prop_assert!(matches!(error, SysError::BadCall | SysError::BadHandle));
            }
        }
    }

    #[test]
    fn call_word_encode_decode(handle in any::<u32>(), call in 0_u64..7) {
        let call = Call::try_from(call).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let word = CallWord::new(Handle::new(handle), call);
        prop_assert_eq!(CallWord::decode(word.get()), Ok((Handle::new(handle), call)));
    }

    #[test]
    fn return_values_decode_never_panic(rax in any::<i64>()) {
        match SysError::decode_return(rax) {
            Ok(value) => prop_assert_eq!(i64::try_from(value).ok(), Some(rax)),
            Err(error) => {
                prop_assert!(rax < 0);
                if error != SysError::Unknown {
                    prop_assert_eq!(error.to_return(), rax);
                }
            }
        }
    }

    #[test]
    fn selectors_and_flags_decode_never_panic(a in any::<u64>(), b in any::<u64>(), c in any::<u64>()) {
        let _ = Kind::try_from(a);
        let _ = QuerySelector::try_from(a);
        let _ = (OpenFlags::decode(a), Prot::decode(a));
        if let Ok(request) = SmachReconfigure::decode(a, b, c) {
            prop_assert_eq!(SmachReconfigure::decode(request.to_registers()[0], request.to_registers()[1], 0), Ok(request));
        }
        if let Ok(request) = ScpuReconfigure::decode(a, b, c) {
            let [rdi, rsi, rdx] = request.to_registers();
            prop_assert_eq!(ScpuReconfigure::decode(rdi, rsi, rdx), Ok(request));
        }
        if let Ok(request) = SmemReconfigure::decode(a, b, c) {
            let [rdi, rsi, rdx] = request.to_registers();
            prop_assert_eq!(SmemReconfigure::decode(rdi, rsi, rdx), Ok(request));
        }
        if let Ok(request) = SioReconfigure::decode(a, b, c) {
            let [rdi, rsi, rdx] = request.to_registers();
            prop_assert_eq!(SioReconfigure::decode(rdi, rsi, rdx), Ok(request));
        }
    }

    #[test]
    fn user_range_is_in_bounds_when_accepted(start in any::<u64>(), len in any::<u64>()) {
        match UserRange::new(start, len) {
            Ok(range) => {
                prop_assert!(range.start() <= range.end() && range.end() <= USER_END);
                prop_assert_eq!(range.len(), len);
            }
            Err(error) => {
                prop_assert_eq!(error, SysError::BadAddress);
                prop_assert!(start.checked_add(len).is_none_or(|end| end > USER_END));
            }
        }
    }

    #[test]
    fn create_args_checks_never_panic(bytes in proptest::collection::vec(any::<u8>(), 32)) {
        let _ = SmachCreateArgs::from_bytes(&bytes).map(|args| args.check());
        let _ = ScpuCreateArgs::from_bytes(&bytes).map(|args| args.check());
        let short = &bytes[..24];
        if let Ok(args) = SmemCreateArgs::from_bytes(short) {
            prop_assert_eq!(&args.to_bytes()[..], short);
            if let Ok(create) = args.check() {
                prop_assert!(create.len > 0 && create.len % 4096 == 0);
            }
        }
        if let Ok(args) = SioCreateArgs::from_bytes(short) {
            prop_assert_eq!(&args.to_bytes()[..], short);
            let _ = args.check();
        }
    }
}
