//! Bad arguments on live objects, and calls that name no live object.
//!
//! Every case here knows the error it must get: the kernel checks each
//! argument once, in a fixed order (the call word, then per call the
//! selector or kind, the handle, the struct's size, its address, its
//! fields, then what the object says).
//!
//! [`Fuzzer::bad_args_op`] draws one bad argument and hands it to the part
//! that knows that argument: [`create`] (the kind, the struct's size and
//! address, SCPU and SMACH fields), [`open`] (SIO paths and flags),
//! [`smem`] (SMEM fields), [`live_objects`] (`query`, `reconfigure` and
//! `create` on live handles); [`garbage`] makes the calls that name no
//! live object of the right kind.

mod create;
mod garbage;
mod live_objects;
mod open;
mod smem;

use crate::fuzzer::{Fuzzer, Obj};

impl Fuzzer<'_> {
    /// One call with a bad argument on a live object.
    pub(crate) fn bad_args_op(&mut self) {
        match self.rng.below(30) {
            draw @ 0..=2 => self.bad_create_header(draw),
            draw @ 3..=14 => self.bad_open(draw),
            draw @ 15..=21 => self.bad_smem_create(draw),
            22 => self.bad_scpu_create(),
            draw @ 23..=24 => self.bad_smach_create(draw),
            draw => self.bad_call_on_live_object(draw),
        }
    }

    /// A random live handle of this fuzzer (any kind but its arena), or
    /// handle 0 or 1.
    fn live_handle(&mut self) -> Option<u32> {
        if self.rng.percent(20) {
            return Some(self.rng.below_u32(2));
        }
        self.live_handle_where(|o| !matches!(o, Obj::Arena | Obj::Stray))
    }

    /// A random live handle `pick` says yes to.
    fn live_handle_where(&mut self, pick: impl Fn(&Obj) -> bool) -> Option<u32> {
        let (handles, n) = self.objects.handles_where(pick);
        if n == 0 {
            return None;
        }
        handles.get(self.rng.index(n)).copied()
    }
}
