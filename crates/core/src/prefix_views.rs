//! Prefixed tty streams on the kernel side: making a prefix view
//! (`reconfigure(PrefixView)`), the generic path's write through a chain
//! of them, and (in-kernel tests only) a capture of the console bytes.
//!
//! A prefix view is a view level (`sk_sio::View::new_prefix`) over the tty
//! or another prefix view; its position cell is its line state (0: at the
//! start of a line). The generic write walks the chain honestly, level by
//! level, each with its own line state, through `sk_sio::splice` (the one
//! rule), then the tty's line discipline. Reads are refused: a prefix view
//! has only `WRITE` (`NotPermitted` on a read, on both paths). The
//! synthesized write (`tty_write_prefixed`: the chain folded by
//! `sk_synth::policy::prefix_chain`, from the levels `views::facts`
//! gathers) takes the calls it can and sends the rest here: longer than
//! a piece, levels in different line states, too many lines, a fault.

use crate::share::{self, Access};
use crate::state::{Core, Sio, SmachId};
use crate::user_memory::KernelUserMemory;
use crate::views;
use sk_abi::{Handle, OpenFlags, SysError, MAX_VIEW_DEPTH};
use sk_sio::{
    input_bytes_per_piece, splice, LinePrefix, Piece, Step, UserMemory, View, ViewParent,
    MAX_CHAIN_PREFIX_BYTES, PREFIX_BYTES,
};

/// Bytes of the user's buffer one piece takes (`sk_sio::TTY_CHUNK_BYTES`:
/// the console's bytes go out with interrupts masked).
const PIECE_BYTES: usize = 64;

/// Levels a chain may have, plus one.
const LEVELS: usize = MAX_VIEW_DEPTH as usize + 1;

/// `reconfigure(PrefixView)`: a new prefix view of the tty (or prefix view)
/// at `handle` of SMACH `me`, its prefix `len` bytes at user address
/// `prefix`; returns the new handle.
///
/// # Errors
/// [`SysError::BadAddress`] for a bad pointer; [`SysError::BadValue`] for
/// a prefix with a `\n` or too deep a chain; [`SysError::WrongKind`] on
/// an SIO that is neither; [`SysError::NotPermitted`] without `WRITE` on
/// `handle`; as `share::locate`; [`SysError::NoMemory`],
/// [`SysError::TooManyHandles`].
pub(crate) fn make(
    core: &mut Core,
    me: SmachId,
    handle: Handle,
    prefix: u64,
    len: u64,
) -> Result<Handle, SysError> {
    let mut bytes = [0u8; PREFIX_BYTES];
    let n = usize::try_from(len).map_err(|_| SysError::BadValue)?;
    let bytes = bytes.get_mut(..n).ok_or(SysError::BadValue)?;
    KernelUserMemory.check(prefix, len)?;
    KernelUserMemory.read(bytes, prefix)?;
    let prefix = LinePrefix::new(bytes)?;
    let (at, at_handle) = share::locate(core, me, handle, Access::Other)?;
    let parent = views::sio_at(&core.smachs, at, at_handle).ok_or(SysError::BadHandle)?;
    if !parent.is_prefixable() {
        return Err(SysError::WrongKind);
    }
    if !parent.flags().contains(OpenFlags::WRITE)
        || share::locate(core, me, handle, Access::Write).is_err()
    {
        return Err(SysError::NotPermitted);
    }
    let depth = parent.view().map_or(0, View::depth);
    // The chain's prefixes together stay within MAX_CHAIN_PREFIX_BYTES,
    // which bounds one piece's console output (write_piece).
    let mut chain_bytes = prefix.bytes().len();
    let mut at = parent;
    while let Some(view) = at.view() {
        let Some(p) = view.prefix() else { break };
        chain_bytes = chain_bytes.saturating_add(p.bytes().len());
        at = views::parent_of(&core.smachs, view, Access::Other)?;
    }
    if chain_bytes > MAX_CHAIN_PREFIX_BYTES {
        return Err(SysError::BadValue);
    }
    let link = ViewParent {
        smach: me,
        handle: handle.index(),
        serial: parent.serial(),
    };
    let view = View::new_prefix(link, depth, prefix)?;
    views::install(core, me, view, OpenFlags::WRITE, parent.serial())
}

/// Whether `sio` is a prefix view.
pub(crate) fn is_prefix_view(sio: &Sio) -> bool {
    sio.view().is_some_and(|v| v.prefix().is_some())
}

/// One piece of the generic write through the prefix view `top` (the
/// walk checked revocation and rights): at most `PIECE_BYTES` bytes
/// of the user's buffer at `buf`, spliced with the chain's prefixes, to
/// the tty; every level's line state updated.
pub(crate) fn write_piece(
    core: &mut Core,
    top: (SmachId, Handle),
    buf: u64,
    asked: u64,
    first_piece: bool,
) -> Result<Step, SysError> {
    let Core {
        devices, smachs, ..
    } = core;
    let mut chain: [Option<&Sio>; LEVELS] = [None; LEVELS];
    let mut count = 0;
    let mut at = views::sio_at(smachs, top.0, top.1).ok_or(SysError::BadHandle)?;
    while let Some(view) = at.view().filter(|v| v.prefix().is_some()) {
        let slot = chain.get_mut(count).ok_or(SysError::BadValue)?;
        *slot = Some(at);
        count += 1;
        at = views::parent_of(smachs, view, Access::Other)?;
    }
    // Nearest the tty first.
    let levels = chain.get_mut(..count).unwrap_or(&mut []);
    levels.reverse();
    let no_prefix = LinePrefix::new(b" ")?;
    let mut prefixes = [no_prefix; LEVELS];
    let mut at_line_start = [false; LEVELS];
    for ((sio, prefix), start) in levels
        .iter()
        .flatten()
        .zip(prefixes.iter_mut())
        .zip(at_line_start.iter_mut())
    {
        if let Some(p) = sio.view().and_then(View::prefix) {
            *prefix = *p;
        }
        *start = sio.position() == 0;
    }
    let chain_bytes: usize = prefixes
        .get(..count)
        .unwrap_or(&[])
        .iter()
        .map(|p| p.bytes().len())
        .sum();
    let mut chunk = [0u8; PIECE_BYTES];
    let n = usize::try_from(asked)
        .unwrap_or(usize::MAX)
        .min(input_bytes_per_piece(PIECE_BYTES, chain_bytes))
        .min(chunk.len());
    let piece = chunk.get_mut(..n).unwrap_or(&mut []);
    let copied = KernelUserMemory.read_prefix(piece, buf);
    let good = copied.map_or_else(|(k, _)| k, |()| n);
    let states = at_line_start.get_mut(..count).unwrap_or(&mut []);
    splice(
        prefixes.get(..count).unwrap_or(&[]),
        states,
        piece.get(..good).unwrap_or(&[]),
        &mut |bytes| devices.tty_write(bytes, &mut crate::sio_calls::console_out),
    );
    for (sio, start) in levels.iter().flatten().zip(states.iter()) {
        sio.move_view_position(u64::from(!*start));
    }
    if let Err((_, error)) = copied {
        if first_piece && good == 0 {
            return Err(error);
        }
        return Ok(Step {
            outcome: Piece::Done(good as u64),
            asked: n as u64,
        });
    }
    Ok(Step {
        outcome: Piece::Done(n as u64),
        asked: n as u64,
    })
}
