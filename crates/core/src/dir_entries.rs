//! Removing a directory's entry by the native interface
//! (`reconfigure(Remove)` on a directory SIO, `sk_abi::SioReconfigure::Remove`).
//!
//! Owns [`remove`]: the name comes from user memory, must be one
//! component (`sk_fs::entry_path`, the one syntax rule), and names a child
//! of the directory the SIO has open, whose path is looked up now
//! (`FileSystem::path_of`: a renamed directory stays itself, a removed
//! one has no entries). The caller's own open of the directory may
//! remove, as its `open(CREATE)` may make; a share needs `WRITE`. A
//! removed file lives on while some SIO has it open; its data, and its
//! charge to a budget (`nest_memory`), go at the last close.

use crate::share::{self, Access};
use crate::state::{Core, SmachId};
use crate::user_memory::KernelUserMemory;
use sk_abi::{Handle, SioKind, SysError, MAX_NAME_LEN};
use sk_fs::NodeKind;
use sk_sio::UserMemory;

/// Bytes of the longest name, as a `usize` (255: no truncation).
#[allow(clippy::cast_possible_truncation)]
const NAME_BYTES: usize = MAX_NAME_LEN as usize;

/// `reconfigure(Remove)`: removes the entry of the directory SIO at
/// `handle` of SMACH `me` named by the `len` bytes at user address `name`.
///
/// # Errors
/// [`SysError::BadValue`] for a length past [`MAX_NAME_LEN`] (decode
/// refused it already); [`SysError::BadAddress`]; [`SysError::BadPath`]
/// for a name that is not one component (or not UTF-8);
/// [`SysError::WrongKind`] on an SIO that is no directory; as
/// `share::locate` ([`SysError::NotPermitted`] for a share without
/// `WRITE`); [`SysError::NotFound`]; [`SysError::NotEmpty`];
/// [`SysError::NoMemory`].
pub(crate) fn remove(
    core: &mut Core,
    me: SmachId,
    handle: Handle,
    name: u64,
    len: u64,
) -> Result<(), SysError> {
    let mut bytes = [0u8; NAME_BYTES];
    let n = usize::try_from(len).map_err(|_| SysError::BadValue)?;
    let bytes = bytes.get_mut(..n).ok_or(SysError::BadValue)?;
    KernelUserMemory.check(name, len)?;
    KernelUserMemory.read(bytes, name)?;
    let name = core::str::from_utf8(bytes).map_err(|_| SysError::BadPath)?;
    let (at, at_handle) = share::locate(core, me, handle, Access::Write)?;
    let sio = crate::views::sio_at(&core.smachs, at, at_handle).ok_or(SysError::BadHandle)?;
    if sio.kind() != SioKind::Dir {
        return Err(SysError::WrongKind);
    }
    let dir = sio.node().ok_or(SysError::WrongKind)?;
    let dir_path = core.fs.path_of(dir).map_err(sk_sio::fs_error)?;
    let path = sk_fs::entry_path(&dir_path, name).map_err(sk_sio::fs_error)?;
    let node = core.fs.lookup(&path).map_err(sk_sio::fs_error)?;
    let kind = core.fs.stat(node).map_err(sk_sio::fs_error)?.kind;
    match kind {
        NodeKind::Directory => core.fs.rmdir(&path),
        NodeKind::File => core.fs.unlink(&path),
    }
    .map_err(sk_sio::fs_error)
}
