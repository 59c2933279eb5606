//! The port metric (`port_send_receive_64`): one 64-byte message sent and
//! received back in one thread (Synthesis: `/dev/port`; Linux: a
//! `SOCK_SEQPACKET` unix socket pair).

use super::{check, close, print_trace, Failure};
use crate::measure::{self, timed_loop, Plan};
use crate::os;
use crate::TracedCall;

/// A 64-byte message sent on a port and received back, one thread.
pub(super) fn port_send_receive(name: &'static str, plan: Plan) -> Result<(), Failure> {
    const MESSAGE: usize = 64;
    let (r, s) = os::new_port().map_err(|e| Failure::os("port", e))?;
    let mut data = [0_u8; MESSAGE];
    crate::fixture::fill_pattern(&mut data, 0);
    let mut back = [0_u8; MESSAGE];
    check("port send", s.write(&data), MESSAGE)?;
    check("port receive", r.read(&mut back), MESSAGE)?;
    if back != data {
        return Err(Failure::Short("port received another message", MESSAGE));
    }
    // Lazy synthesis: past K on both ends before the traced send.
    for _ in 0..super::WARM_UP_CALLS {
        check("port send", s.write(&data), MESSAGE)?;
        check("port receive", r.read(&mut back), MESSAGE)?;
    }
    // The traced send leaves its message queued: each pair below then
    // receives the message one send older.
    print_trace(name, TracedCall::Write(&s, &data));
    let stats = measure::repeat::<Failure>(plan, |n| {
        Ok(timed_loop(n, || {
            let _ = s.write(&data);
            let _ = r.read(&mut back);
        }))
    })?;
    stats.print(name);
    close(r)?;
    close(s)
}
