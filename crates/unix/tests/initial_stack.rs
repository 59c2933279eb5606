//! The initial stack read back the way a libc's start-up code reads it.

use proptest::prelude::*;
use sk_unix::auxv::{at, PAGE_SIZE};
use sk_unix::{build_initial_stack, ProgramAux, StackArgs, StackError, StackImage};

const TOP: u64 = 0x7fff_f000_0000;

fn aux() -> ProgramAux {
    ProgramAux {
        phdr: 0x40_0040,
        phent: 56,
        phnum: 9,
        entry: 0x40_1000,
        hwcap: 0x178b_fbff,
        uid: 1000,
        gid: 100,
    }
}

/// The stack as a program sees it: reads at addresses.
struct Stack<'a>(&'a StackImage);

impl Stack<'_> {
    fn word(&self, address: u64) -> u64 {
        let at = usize::try_from(address - self.0.rsp).unwrap();
        u64::from_le_bytes(self.0.bytes[at..at + 8].try_into().unwrap())
    }

    fn c_string(&self, address: u64) -> Vec<u8> {
        let at = usize::try_from(address - self.0.rsp).unwrap();
        let len = self.0.bytes[at..].iter().position(|&b| b == 0).unwrap();
        self.0.bytes[at..at + len].to_vec()
    }

    fn bytes(&self, address: u64, len: usize) -> Vec<u8> {
        let at = usize::try_from(address - self.0.rsp).unwrap();
        self.0.bytes[at..at + len].to_vec()
    }
}

/// What `_start` finds: argv, envp, auxv.
type StartView = (Vec<Vec<u8>>, Vec<Vec<u8>>, Vec<(u64, u64)>);

/// Reads `image` as `_start` does.
fn read_back(image: &StackImage) -> StartView {
    let stack = Stack(image);
    let mut at = image.rsp;
    let argc = stack.word(at);
    at += 8;
    let argv: Vec<Vec<u8>> = (0..argc)
        .map(|i| stack.c_string(stack.word(at + 8 * i)))
        .collect();
    at += 8 * argc;
    assert_eq!(stack.word(at), 0, "argv[argc] is NULL");
    at += 8;
    let mut envp = Vec::new();
    while stack.word(at) != 0 {
        envp.push(stack.c_string(stack.word(at)));
        at += 8;
    }
    at += 8;
    let mut auxv = Vec::new();
    loop {
        let entry = (stack.word(at), stack.word(at + 8));
        auxv.push(entry);
        at += 16;
        if entry.0 == at::NULL {
            break;
        }
    }
    (argv, envp, auxv)
}

fn value(auxv: &[(u64, u64)], kind: u64) -> u64 {
    auxv.iter().find(|&&(k, _)| k == kind).unwrap().1
}

#[test]
fn a_busybox_like_start() {
    let argv: [&[u8]; 3] = [b"/bin/busybox", b"sh", b"-c"];
    let envp: [&[u8]; 2] = [b"PATH=/bin", b"HOME=/"];
    let args = StackArgs {
        path: b"/bin/busybox",
        argv: &argv,
        envp: &envp,
        random: *b"0123456789abcdef",
        aux: aux(),
    };
    let image = build_initial_stack(TOP, &args, 1 << 20).unwrap();
    assert_eq!(image.rsp % 16, 0);
    assert_eq!(image.rsp + image.bytes.len() as u64, TOP);
    let (got_argv, got_envp, auxv) = read_back(&image);
    assert_eq!(got_argv, argv.map(<[u8]>::to_vec));
    assert_eq!(got_envp, envp.map(<[u8]>::to_vec));
    let stack = Stack(&image);
    assert_eq!(
        stack.bytes(value(&auxv, at::RANDOM), 16),
        b"0123456789abcdef"
    );
    assert_eq!(stack.c_string(value(&auxv, at::PLATFORM)), b"x86_64");
    assert_eq!(stack.c_string(value(&auxv, at::EXECFN)), b"/bin/busybox");
    assert_eq!(value(&auxv, at::PAGESZ), PAGE_SIZE);
    assert_eq!(value(&auxv, at::PHDR), 0x40_0040);
    assert_eq!(value(&auxv, at::PHNUM), 9);
    assert_eq!(value(&auxv, at::ENTRY), 0x40_1000);
    assert_eq!(value(&auxv, at::UID), 1000);
    assert_eq!(value(&auxv, at::EGID), 100);
    assert_eq!(value(&auxv, at::CLKTCK), 100);
}

#[test]
fn bad_inputs_are_errors() {
    let args = |argv: &'static [&'static [u8]]| StackArgs {
        path: b"/p",
        argv,
        envp: &[],
        random: [0; 16],
        aux: aux(),
    };
    assert_eq!(
        build_initial_stack(TOP, &args(&[b"a\0b"]), 4096),
        Err(StackError::NulInString)
    );
    assert_eq!(
        build_initial_stack(TOP + 8, &args(&[b"a"]), 4096),
        Err(StackError::BadTop)
    );
    assert_eq!(
        build_initial_stack(64, &args(&[b"a"]), 4096),
        Err(StackError::BadTop)
    );
    let long: &'static [u8] = Box::leak(vec![b'x'; 5000].into_boxed_slice());
    let many: &'static [&'static [u8]] = Box::leak(vec![long; 1].into_boxed_slice());
    assert_eq!(
        build_initial_stack(TOP, &args(many), 4096),
        Err(StackError::TooBig)
    );
    // The limit counts the whole image, vector included.
    let image = build_initial_stack(TOP, &args(&[b"a"]), 4096).unwrap();
    assert_eq!(
        build_initial_stack(TOP, &args(&[b"a"]), image.bytes.len() - 1),
        Err(StackError::TooBig)
    );
}

proptest! {
    #[test]
    fn every_image_reads_back(
        argv in prop::collection::vec(prop::collection::vec(1u8..=255, 0..40), 0..12),
        envp in prop::collection::vec(prop::collection::vec(1u8..=255, 0..40), 0..12),
        path in prop::collection::vec(1u8..=255, 0..30),
        random in any::<[u8; 16]>(),
        top_pages in 1u64..1_000_000,
    ) {
        let top = top_pages * 4096;
        let argv_refs: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        let envp_refs: Vec<&[u8]> = envp.iter().map(Vec::as_slice).collect();
        let args = StackArgs { path: &path, argv: &argv_refs, envp: &envp_refs, random, aux: aux() };
        match build_initial_stack(top, &args, 1 << 16) {
            Ok(image) => {
                prop_assert_eq!(image.rsp % 16, 0);
                prop_assert_eq!(image.rsp + image.bytes.len() as u64, top);
                let (got_argv, got_envp, auxv) = read_back(&image);
                prop_assert_eq!(got_argv, argv);
                prop_assert_eq!(got_envp, envp);
                let stack = Stack(&image);
                prop_assert_eq!(stack.bytes(value(&auxv, at::RANDOM), 16), random.to_vec());
                prop_assert_eq!(stack.c_string(value(&auxv, at::EXECFN)), path);
                prop_assert_eq!(stack.word(top - 8), 0);
            }
            Err(error) => prop_assert_eq!(error, StackError::BadTop),
        }
    }
}
