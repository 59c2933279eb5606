//! The registry entry: one [`KTest`] per test, placed in `.ktest`.

/// A test's outcome: `Err` carries the reason it failed.
pub type TestResult = Result<(), alloc::string::String>;

/// How a test is expected to end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// It returns (`Ok` passes, `Err` fails).
    Pass,
    /// It ends its boot through the double-fault handler, which then
    /// reports it passed (stack-overflow tests).
    DoubleFault,
}

/// One registered test (`repr(C)`: the runner reads an array of them
/// from a linker section).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct KTest {
    /// Full name: module path and function name.
    pub name: &'static str,
    /// The test body.
    pub run: fn() -> TestResult,
    /// How it should end.
    pub expect: Expect,
}
