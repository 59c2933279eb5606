use super::*;

const ARENA_HANDLE: u64 = 2;

/// `count` calls from `seed`, with a scratch at a made-up address.
fn calls(seed: u64, count: usize) -> impl Iterator<Item = (Syscall, Scratch)> {
    let mut generator = Generator::new(seed, ARENA_ADDR);
    (0..count).map(move |_| {
        let mut scratch = [0; 32];
        let call = generator.next(&mut scratch, 0x1000_0000);
        (call, scratch)
    })
}

#[test]
fn splitmix_matches_the_reference_sequence() {
    // The first outputs of SplitMix64 seeded with 0 (Vigna's splitmix64.c).
    let mut rng = SplitMix64::new(0);
    let first = [rng.next_u64(), rng.next_u64(), rng.next_u64()];
    assert_eq!(
        first,
        [
            0xe220_a839_7b1d_cdaf,
            0x6e78_9e6a_a1b9_65f4,
            0x06c4_5d18_8009_454f
        ]
    );
    assert!((0..1000).all(|_| rng.below(24) < 24));
    assert_eq!(rng.below(0), 0);
}

#[test]
fn plan_splits_the_start_argument() {
    assert_eq!(
        Plan::from_arg(42),
        Plan {
            calls: DEFAULT_CALLS,
            seed: 42
        }
    );
    assert_eq!(
        Plan::from_arg((5000 << 32) | 7),
        Plan {
            calls: 5000,
            seed: 7
        }
    );
    assert_eq!(Plan::from_arg(u64::MAX).calls, u64::from(u32::MAX));
}

#[test]
fn same_seed_same_calls() {
    assert!(calls(9, 1000).eq(calls(9, 1000)));
    assert!(!calls(9, 1000).eq(calls(10, 1000)));
}

#[test]
fn policy_refuses_the_dangerous_calls() {
    let word = |handle: u64, call: Call| (handle << 3) | u64::from(call.number());
    let arena_ptr = [ARENA_ADDR, 16, 0, 0, 0, 0];
    let cases = [
        (word(0, Call::Terminate), [0; 6], false),
        (word(1, Call::Terminate), [0; 6], false),
        (word(ARENA_HANDLE, Call::Terminate), [0; 6], false),
        (word(3, Call::Terminate), [0; 6], true),
        (word(0, Call::Reconfigure), [3, 0, 0, 0, 0, 0], false),
        (word(1, Call::Reconfigure), [1, 3, 0, 0, 0, 0], false),
        (word(ARENA_HANDLE, Call::Reconfigure), [0; 6], false),
        (word(1, Call::Read), arena_ptr, false),
        (word(1, Call::Write), arena_ptr, false),
        (word(3, Call::Read), arena_ptr, true),
        (word(3, Call::Read), [0x20_0000, 16, 0, 0, 0, 0], false),
        (word(3, Call::Read), [USER_END - 8, 16, 0, 0, 0, 0], false),
        (word(3, Call::Read), [USER_END, 16, 0, 0, 0, 0], true),
        (
            word(3, Call::Query),
            [0, 0x7fff_0000_0000, 24, 0, 0, 0],
            false,
        ),
        (
            word(3, Call::Query),
            [0, ARENA_ADDR + ARENA_LEN, 24, 0, 0, 0],
            true,
        ),
        (word(0, Call::Create), [0, 0, 32, 0, 0, 0], false),
        (word(0, Call::Create), [1, 0, 32, 0, 0, 0], false),
        (word(5, Call::Create), [1, 0, 32, 0, 0, 0], false),
        (word(0, Call::Create), [2, 0, 24, 0, 0, 0], true),
        (word(0, Call::Create), [3, 0, 24, 0, 0, 0], true),
        (word(0, Call::Null), [0; 6], true),
        (7, [0; 6], true),
    ];
    for (word, args, want) in cases {
        let call = Syscall { word, args };
        assert_eq!(
            is_allowed(&call, ARENA_ADDR, ARENA_HANDLE),
            want,
            "{call:x?}"
        );
    }
}

#[test]
fn generated_calls_that_pass_the_policy_are_safe_and_varied() {
    let mut allowed = 0_u32;
    let mut per_call = [0_u32; 8];
    let mut creates_with_struct = 0_u32;
    for (call, scratch) in calls(1, 200_000) {
        if !is_allowed(&call, ARENA_ADDR, ARENA_HANDLE) {
            continue;
        }
        allowed += 1;
        per_call[usize::try_from(call.call_number()).unwrap()] += 1;
        let handle = call.handle();
        let [rdi, rsi, rdx, ..] = call.args;
        if call.is(Call::Create) {
            assert!(rdi > 1, "{call:x?}");
            if rsi == 0x1000_0000 && rdx == 24 && rdi == u64::from(Kind::Sio) {
                let args = SioCreateArgs::from_bytes(&scratch[..24]).unwrap();
                let is_listed = PATHS.iter().any(|path| {
                    (path.as_ptr() as u64, path.len() as u64) == (args.path_ptr, args.path_len)
                });
                creates_with_struct += u32::from(is_listed);
            }
        }
        if call.is(Call::Terminate) || call.is(Call::Reconfigure) {
            assert!(![0, 1, ARENA_HANDLE].contains(&handle), "{call:x?}");
        }
        if call.is(Call::Read) {
            assert!(handle != 1 && is_safe_destination(rdi, ARENA_ADDR));
        }
    }
    // Most draws pass; every call number is exercised.
    assert!(allowed > 150_000, "{allowed}");
    assert!(per_call.iter().all(|&count| count > 10_000), "{per_call:?}");
    assert!(creates_with_struct > 2000, "{creates_with_struct}");
}

#[test]
fn paths_never_name_the_console_or_programs() {
    for path in PATHS {
        assert!(!path.starts_with(b"/dev/tty") && !path.starts_with(b"/bin"));
    }
    for file in FUZZ_FILES {
        assert!(PATHS.contains(&file.as_bytes()));
    }
}
