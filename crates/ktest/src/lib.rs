#![doc = include_str!("../README.md")]
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod audio;
pub mod protocol;
mod registry;

pub use registry::{Expect, KTest, TestResult};

/// Returns `Err(message)` from the enclosing test unless `cond` holds.
#[macro_export]
macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(::alloc::format!($($fmt)+));
        }
    };
    ($cond:expr) => {
        if !$cond {
            return Err(::alloc::format!("check failed: {}", stringify!($cond)));
        }
    };
}

/// Returns `Err` from the enclosing test unless `left == right`.
#[macro_export]
macro_rules! ensure_eq {
    ($left:expr, $right:expr $(,)?) => {{
        let (l, r) = (&$left, &$right);
        if l != r {
            return Err(::alloc::format!(
                "{} == {} failed: {:?} != {:?}",
                stringify!($left),
                stringify!($right),
                l,
                r
            ));
        }
    }};
}

/// Registers an in-kernel test in the `.ktest` section.
///
/// ```ignore
/// ktest!(fn heap_many_sizes() { ...; Ok(()) });
/// ktest!(#[double_fault] fn stack_overflow() { recurse() });
/// ```
#[macro_export]
macro_rules! ktest {
    (fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, $crate::Expect::Pass, $body);
    };
    (#[double_fault] fn $name:ident() $body:block) => {
        $crate::ktest!(@register $name, $crate::Expect::DoubleFault, $body);
    };
    (@register $name:ident, $expect:expr, $body:block) => {
        fn $name() -> $crate::TestResult $body
        const _: () = {
            // The one attribute `unsafe_code` flags here: placing the entry
            // in the registry section the runner walks.
            #[allow(unsafe_code)]
            #[used]
            #[unsafe(link_section = ".ktest")]
            static ENTRY: $crate::KTest = $crate::KTest {
                name: concat!(module_path!(), "::", stringify!($name)),
                run: $name,
                expect: $expect,
            };
        };
    };
}
