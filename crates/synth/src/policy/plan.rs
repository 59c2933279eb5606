//! The plan: what each of an SIO's slots should hold, given the facts.
//!
//! Owns [`plan()`], [`SioPlan`] and [`SlotPlan`]. This function is the only
//! statement of the replug rules: the kernel never decides what to
//! synthesize itself, it gathers [`SioFacts`] after an event and lets
//! [`super::SioRoutines::replan`] bring the table in line with `plan`.
//! Neighbours: [`super::facts`] (inputs), [`super::spec`] (outputs).

use crate::templates::{
    DevMemReadHoles, DevNullWriteHoles, DevZeroReadHoles, GenericTrampolineHoles, PipeReadHoles,
    PipeWriteHoles, PortReceiveHoles, PortSendHoles, RamFileReadHoles, SemaphorePHoles,
    SemaphoreVHoles, TtyWriteCookedHoles, TtyWriteHoles,
};
use crate::{Imm32, Imm64};
use sk_abi::SysError;

use super::{
    Env, FileBasis, FileFacts, Op, PortFacts, RamFileWriteSpec, RoutineSpec, SioFacts, SioTarget,
};

/// What one slot should hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotPlan {
    /// There is no slot: the handle is beyond the table, the SIO has no
    /// owner with a table, or synthesis is off. Nothing is stored.
    NotInTable,
    /// The generic path (the kernel's slow path).
    Generic,
    /// An error stub returning this value (`-(code)`): a revoked holder's
    /// slots (`Revoked`), a holder's slot for an op its rights forbid
    /// (`NotPermitted`, what the generic path says).
    ErrorStub(i32),
    /// A synthesized routine.
    Routine(RoutineSpec),
}

/// The plan for both of an SIO's slots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SioPlan {
    /// The `read` slot.
    pub read: SlotPlan,
    /// The `write` slot.
    pub write: SlotPlan,
}

impl SioPlan {
    /// The plan for `op`'s slot.
    pub const fn slot(&self, op: Op) -> &SlotPlan {
        match op {
            Op::Read => &self.read,
            Op::Write => &self.write,
        }
    }

    /// Every slot `Generic` (or `NotInTable` when `in_table` is false).
    const fn all(in_table: bool) -> Self {
        let slot = if in_table {
            SlotPlan::Generic
        } else {
            SlotPlan::NotInTable
        };
        Self {
            read: slot,
            write: slot,
        }
    }
}

/// What `facts` call for, in `env`.
///
/// - No slot (`NotInTable`) with synthesis off, without an owner that has a
///   table, or for a handle `>= env.table_handles`.
/// - A semaphore, shared or not: read → `semaphore_p`, write →
///   `semaphore_v` (if opened for the op). The kernel plans it for every
///   SCPU of the SMACH (one `owner` each), so every table holds them.
/// - A port end, shared or not: the receive end's read → `port_receive`,
///   the send end's write → `port_send` (the queue is multi-producer
///   multi-consumer; every SCPU of the SMACH gets them, as for a
///   semaphore); the other op generic (its error). A queue whose shape
///   does not fit the `Imm32` holes stays generic.
/// - A revoked holder: both slots `ErrorStub(Revoked)`, whatever the kind.
/// - A view (owner's or holder's): [`super::view::plan_view`].
/// - A holder (an SMACH the SIO was shared with): an op its rights forbid
///   gets `ErrorStub(NotPermitted)` (read-only stays read-only, in code);
///   the others as below (a holder's SIO is shared).
/// - Everything else generic once the SIO is shared.
/// - Read: `/dev/zero` → `dev_zero_read`; `/dev/mem` → `dev_mem_read`; a
///   linked RAM file → `ram_file_read`. Write: `/dev/null` →
///   `dev_null_write`; a raw-mode tty → `tty_write`, a cooked one →
///   `tty_write_cooked` (collapsed from two layers); a linked RAM file not
///   in append mode → `ram_file_write` with its fallback trampoline. A
///   pipe's read end → `pipe_read`, its write end → `pipe_write` (a ring
///   of at most 2 GiB). Only if the SIO was opened for that op; everything
///   else is generic.
pub fn plan(facts: &SioFacts, env: &Env) -> SioPlan {
    let in_table =
        env.is_enabled && facts.owner.is_some() && facts.handle < u32::from(env.table_handles);
    if !in_table {
        return SioPlan::all(in_table);
    }
    if facts.is_revoked {
        let revoked = SlotPlan::ErrorStub(error_return(SysError::Revoked));
        return SioPlan {
            read: revoked,
            write: revoked,
        };
    }
    if let SioTarget::View(view) = facts.target {
        return super::view::plan_view(facts, &view, env);
    }
    let plan = if let SioTarget::Semaphore { cell } = facts.target {
        semaphore_plan(facts, cell, env)
    } else if let SioTarget::Port(port) = facts.target {
        port_plan(facts, &port, env)
    } else if facts.is_shared {
        SioPlan::all(in_table)
    } else {
        let routine = |spec: Option<RoutineSpec>| spec.map_or(SlotPlan::Generic, SlotPlan::Routine);
        SioPlan {
            read: routine(facts.can_read.then(|| read_spec(facts, env)).flatten()),
            write: routine(facts.can_write.then(|| write_spec(facts, env)).flatten()),
        }
    };
    if !facts.is_holder {
        return plan;
    }
    let forbidden = SlotPlan::ErrorStub(error_return(SysError::NotPermitted));
    SioPlan {
        read: if facts.can_read { plan.read } else { forbidden },
        write: if facts.can_write {
            plan.write
        } else {
            forbidden
        },
    }
}

/// The value a call failing with `error` returns (`-(code)`).
const fn error_return(error: SysError) -> i32 {
    // Codes are small positive numbers: the negation fits.
    0_i32.wrapping_sub(error.code() as i32)
}

/// The read routine for a readable, unshared SIO in the table.
fn read_spec(facts: &SioFacts, env: &Env) -> Option<RoutineSpec> {
    let bad_address = Imm32(env.bad_address);
    let max_len = Imm32(i32::try_from(env.max_copy_bytes).ok()?);
    let slow_path = Imm64(env.slow_path);
    match facts.target {
        SioTarget::Zero => Some(RoutineSpec::DevZeroRead(DevZeroReadHoles {
            bad_address,
            max_len,
            slow_path,
        })),
        SioTarget::Mem { base, window_bytes } => {
            let window_size = i32::try_from(window_bytes).ok()?;
            Some(RoutineSpec::DevMemRead(DevMemReadHoles {
                base: Imm64(base),
                window_size: Imm32(window_size),
                position_cell: Imm64(facts.position_cell),
                bad_address,
                max_len,
                slow_path,
            }))
        }
        SioTarget::File(file) => linked(&file).map(|file_basis| RoutineSpec::RamFileRead {
            read: RamFileReadHoles {
                data: Imm64(file.data_addr),
                position_cell: Imm64(facts.position_cell),
                size_cell: Imm64(file.size_cell),
                bad_address,
                max_len,
                slow_path,
            },
            file: file_basis,
        }),
        SioTarget::Pipe {
            is_read_end: true, ..
        } => pipe_holes(facts, env).map(|h| {
            RoutineSpec::PipeRead(PipeReadHoles {
                buffer: h.buffer,
                mask: h.mask,
                produced: h.produced,
                consumed: h.consumed,
                wait: h.wait,
                max_len: h.max_len,
                bad_address: h.bad_address,
                slow_path: h.slow_path,
            })
        }),
        SioTarget::Null
        | SioTarget::Tty { .. }
        | SioTarget::Dir
        | SioTarget::Semaphore { .. }
        | SioTarget::Pipe { .. }
        | SioTarget::Port(_)
        | SioTarget::View(_) => None,
    }
}

/// The write routine for a writable, unshared SIO in the table.
fn write_spec(facts: &SioFacts, env: &Env) -> Option<RoutineSpec> {
    let bad_address = Imm32(env.bad_address);
    match facts.target {
        SioTarget::Null => Some(RoutineSpec::DevNullWrite(DevNullWriteHoles { bad_address })),
        SioTarget::Tty {
            is_raw: true,
            data_port,
            status_port,
        } => Some(RoutineSpec::TtyWrite(TtyWriteHoles {
            data_port: Imm32(i32::from(data_port)),
            line_status_port: Imm32(i32::from(status_port)),
            bad_address,
            max_len: Imm32(i32::try_from(env.max_console_bytes).ok()?),
            slow_path: Imm64(env.slow_path),
        })),
        SioTarget::Tty {
            is_raw: false,
            data_port,
            status_port,
        } => Some(RoutineSpec::TtyWriteCooked(TtyWriteCookedHoles {
            bad_address,
            max_len: Imm32(i32::try_from(env.max_console_bytes).ok()?),
            slow_path: Imm64(env.slow_path),
            data_port: Imm32(i32::from(data_port)),
            line_status_port: Imm32(i32::from(status_port)),
        })),
        SioTarget::File(file) if !facts.is_append => {
            let file_basis = linked(&file)?;
            // The handle is below `table_handles` (a u16), so it fits.
            let handle = i32::try_from(facts.handle).ok()?;
            Some(RoutineSpec::RamFileWrite {
                write: RamFileWriteSpec {
                    data: Imm64(file.data_addr),
                    capacity: Imm64(file.capacity),
                    position_cell: Imm64(facts.position_cell),
                    size_cell: Imm64(file.size_cell),
                    bad_address,
                    max_len: Imm32(i32::try_from(env.max_copy_bytes).ok()?),
                },
                fallback: GenericTrampolineHoles {
                    handle: Imm32(handle),
                    op: Imm32(i32::from(Op::Write.call().number())),
                    generic_entry: Imm64(env.generic_entry),
                },
                file: file_basis,
            })
        }
        SioTarget::Pipe {
            is_read_end: false, ..
        } => pipe_holes(facts, env).map(|h| {
            RoutineSpec::PipeWrite(PipeWriteHoles {
                buffer: h.buffer,
                mask: h.mask,
                produced: h.produced,
                consumed: h.consumed,
                wait: h.wait,
                max_len: h.max_len,
                bad_address: h.bad_address,
                slow_path: h.slow_path,
            })
        }),
        SioTarget::File(_)
        | SioTarget::Zero
        | SioTarget::Mem { .. }
        | SioTarget::Dir
        | SioTarget::Semaphore { .. }
        | SioTarget::Pipe { .. }
        | SioTarget::Port(_)
        | SioTarget::View(_) => None,
    }
}

/// This slot's call word, `(handle << 3) | op`, as an `Imm32`.
fn call_word(facts: &SioFacts, op: Op) -> Option<Imm32> {
    // The handle is below `table_handles` (a u16): the word fits.
    let word = (u64::from(facts.handle) << sk_abi::Call::BITS) | u64::from(op.call().number());
    i32::try_from(word).ok().map(Imm32)
}

/// A port end's send or receive for the table of `facts.owner`: the
/// queue's addresses and shape, this slot's call word, the slow path.
fn port_plan(facts: &SioFacts, port: &PortFacts, env: &Env) -> SioPlan {
    let spec = |op: Op| -> Option<RoutineSpec> {
        let cells = Imm64(port.cells);
        let slots = Imm64(port.slots);
        let mask = Imm32(i32::try_from(port.capacity.checked_sub(1)?).ok()?);
        let slot_stride = Imm32(i32::try_from(port.slot_stride).ok()?);
        let call_word = call_word(facts, op)?;
        let bad_address = Imm32(env.bad_address);
        let slow_path = Imm64(env.slow_path);
        Some(match op {
            Op::Read => RoutineSpec::PortReceive(PortReceiveHoles {
                cells,
                slots,
                mask,
                slot_stride,
                call_word,
                bad_address,
                slow_path,
                capacity: Imm32(i32::try_from(port.capacity).ok()?),
            }),
            Op::Write => RoutineSpec::PortSend(PortSendHoles {
                cells,
                slots,
                mask,
                slot_stride,
                call_word,
                bad_address,
                slow_path,
            }),
        })
    };
    let slot = |op: Op, allowed: bool| {
        allowed
            .then(|| spec(op))
            .flatten()
            .map_or(SlotPlan::Generic, SlotPlan::Routine)
    };
    SioPlan {
        read: slot(Op::Read, port.is_receive_end && facts.can_read),
        write: slot(Op::Write, !port.is_receive_end && facts.can_write),
    }
}

/// A semaphore's P and V for the table of `facts.owner`: the cell's
/// address, this slot's call word (for the slow path), the slow path.
/// Sharing changes nothing: the code is the same for every SCPU.
fn semaphore_plan(facts: &SioFacts, cell: u64, env: &Env) -> SioPlan {
    let word = |op: Op| call_word(facts, op);
    let slot = |op: Op, allowed: bool, make: fn(Imm64, Imm32, Imm64) -> RoutineSpec| match word(op)
    {
        Some(call_word) if allowed => {
            SlotPlan::Routine(make(Imm64(cell), call_word, Imm64(env.slow_path)))
        }
        _ => SlotPlan::Generic,
    };
    SioPlan {
        read: slot(Op::Read, facts.can_read, |cell, call_word, slow_path| {
            RoutineSpec::SemaphoreP(SemaphorePHoles {
                cell,
                call_word,
                slow_path,
            })
        }),
        write: slot(Op::Write, facts.can_write, |cell, call_word, slow_path| {
            RoutineSpec::SemaphoreV(SemaphoreVHoles {
                cell,
                call_word,
                slow_path,
            })
        }),
    }
}

/// The hole values `pipe_read` and `pipe_write` share (same names, same
/// meaning), for a pipe end whose ring fits the templates: capacity a power
/// of two of at most 2 GiB, atomic size at most `i32::MAX`.
fn pipe_holes(facts: &SioFacts, env: &Env) -> Option<PipeWriteHoles> {
    let SioTarget::Pipe {
        buffer,
        capacity,
        atomic_bytes,
        produced_cell,
        consumed_cell,
        wait_cell,
        ..
    } = facts.target
    else {
        return None;
    };
    if !capacity.is_power_of_two() || atomic_bytes == 0 || atomic_bytes > capacity {
        return None;
    }
    Some(PipeWriteHoles {
        buffer: Imm64(buffer),
        mask: Imm32(i32::try_from(capacity - 1).ok()?),
        produced: Imm64(produced_cell),
        consumed: Imm64(consumed_cell),
        wait: Imm64(wait_cell),
        max_len: Imm32(i32::try_from(atomic_bytes).ok()?),
        bad_address: Imm32(env.bad_address),
        slow_path: Imm64(env.slow_path),
    })
}

/// The basis of a routine on `file`, unless it is unlinked.
const fn linked(file: &FileFacts) -> Option<FileBasis> {
    if file.is_unlinked {
        None
    } else {
        Some(FileBasis {
            node: file.node,
            generation: file.generation,
        })
    }
}
