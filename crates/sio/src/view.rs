//! A view of an SIO: a window (offset, length) of its parent, read-only or
//! not, with a position of its own.
//!
//! Owns [`View`] (one level: its parent's identity, its window, its
//! revoked bit, the facts of its base the kernel needs without a walk)
//! and the base SIOs' positional transfers ([`Sio::read_at`],
//! [`Sio::write_at`]) that a walk ends in. One level's rule is
//! [`View::clip`]: the kernel's generic path (`crates/core/src/views.rs`)
//! applies it at every level, then the next, down to the base; the
//! synthesized path folds the whole chain once
//! (`sk_synth::policy::collapse`).

use crate::{fs_error, Devices, LinePrefix, PartialWrite, Sio, Target, UserMemory};
use sk_abi::{SioKind, SysError, MAX_VIEW_DEPTH};
use sk_fs::{FileSystem, NodeId};

/// Bytes moved per step of a write through a view.
const BOUNCE_BYTES: usize = 4096;

/// The SIO a view is a view of, by its SMACH, handle and open serial (a
/// handle closed and reused names another open: the view is then dead).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ViewParent {
    /// The SMACH whose table holds the parent's handle.
    pub smach: u64,
    /// The parent's handle number there (its own SIO, or a share of one).
    pub handle: u32,
    /// The serial of the open SIO that handle named at the view's making.
    pub serial: u64,
}

/// One view level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    parent: ViewParent,
    offset: u64,
    length: u64,
    depth: u32,
    base_kind: SioKind,
    base_node: Option<NodeId>,
    is_revoked: bool,
    /// A prefix view's prefix (its window is then the whole stream).
    prefix: Option<LinePrefix>,
}

impl View {
    /// A view of `parent` (whose own depth is `parent_depth`, 0 for a base
    /// SIO of kind `base_kind` on file node `base_node`): `length` bytes
    /// from `offset`.
    ///
    /// # Errors
    /// [`SysError::BadOffset`] if `offset + length` overflows;
    /// [`SysError::BadValue`] past [`MAX_VIEW_DEPTH`].
    pub fn new(
        parent: ViewParent,
        parent_depth: u32,
        window: (u64, u64),
        base_kind: SioKind,
        base_node: Option<NodeId>,
    ) -> Result<Self, SysError> {
        let (offset, length) = window;
        check_window(offset, length)?;
        let depth = parent_depth.checked_add(1).ok_or(SysError::BadValue)?;
        if depth > MAX_VIEW_DEPTH {
            return Err(SysError::BadValue);
        }
        Ok(Self {
            parent,
            offset,
            length,
            depth,
            base_kind,
            base_node,
            is_revoked: false,
            prefix: None,
        })
    }

    /// A prefix view of `parent` (the tty, `parent_depth` 0, or a prefix
    /// view): every line written through it starts with `prefix`. Its
    /// window is the whole stream; its position cell is its line state.
    ///
    /// # Errors
    /// [`SysError::BadValue`] past [`MAX_VIEW_DEPTH`].
    pub fn new_prefix(
        parent: ViewParent,
        parent_depth: u32,
        prefix: LinePrefix,
    ) -> Result<Self, SysError> {
        let mut view = Self::new(parent, parent_depth, (0, u64::MAX), SioKind::Tty, None)?;
        view.prefix = Some(prefix);
        Ok(view)
    }

    /// A prefix view's prefix; `None` for a window.
    pub fn prefix(&self) -> Option<&LinePrefix> {
        self.prefix.as_ref()
    }

    /// One level of a transfer of `len` bytes at this view's byte `pos`:
    /// the parent's byte and how many bytes may go, or `None` at or past
    /// the window's end (end of file).
    pub fn clip(&self, pos: u64, len: u64) -> Option<(u64, u64)> {
        let room = self.length.checked_sub(pos).filter(|r| *r > 0)?;
        let parent_pos = pos.checked_add(self.offset)?;
        Some((parent_pos, len.min(room)))
    }

    /// Moves the window.
    ///
    /// # Errors
    /// [`SysError::BadOffset`] if `offset + length` overflows;
    /// [`SysError::WrongKind`] on a prefix view (it has no window).
    pub fn reshape(&mut self, offset: u64, length: u64) -> Result<(), SysError> {
        check_window(offset, length)?;
        if self.prefix.is_some() {
            return Err(SysError::WrongKind);
        }
        self.offset = offset;
        self.length = length;
        Ok(())
    }

    /// Kills the view for every user (and every view below it).
    pub fn revoke(&mut self) {
        self.is_revoked = true;
    }

    /// Revoked.
    pub fn is_revoked(&self) -> bool {
        self.is_revoked
    }

    /// Its parent.
    pub fn parent(&self) -> ViewParent {
        self.parent
    }

    /// First byte in the parent's coordinates.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes.
    pub fn length(&self) -> u64 {
        self.length
    }

    /// Levels down to the base (1: a view of a base SIO).
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// The base SIO's kind (what `query` reports for the view).
    pub fn base_kind(&self) -> SioKind {
        self.base_kind
    }

    /// The base file's node (a file-system event on it replans the view).
    pub fn base_node(&self) -> Option<NodeId> {
        self.base_node
    }
}

fn check_window(offset: u64, length: u64) -> Result<(), SysError> {
    offset
        .checked_add(length)
        .map(drop)
        .ok_or(SysError::BadOffset)
}

impl<R> Sio<R> {
    /// A new open of `view` with `flags` (its own position, at 0).
    ///
    /// # Errors
    /// [`SysError::NoMemory`].
    pub fn open_view(view: View, flags: sk_abi::OpenFlags) -> Result<Self, SysError> {
        Ok(Self::with_target(
            Target::View(view),
            flags,
            crate::PositionCell::new()?,
        ))
    }

    /// The view, if this SIO is one.
    pub fn view(&self) -> Option<&View> {
        match self.target() {
            Target::View(view) => Some(view),
            _ => None,
        }
    }

    /// The view, if this SIO is one, for a change.
    pub fn view_mut(&mut self) -> Option<&mut View> {
        match self.target_mut() {
            Target::View(view) => Some(view),
            _ => None,
        }
    }

    /// Sets a view's position (the kernel's walk moved `to - position`
    /// bytes through it); nothing on any other SIO.
    pub fn move_view_position(&self, to: u64) {
        if self.view().is_some() {
            self.set_position(to);
        }
    }

    /// Whether a window view may be made of this SIO: a file, `/dev/mem`,
    /// a window view.
    pub fn is_viewable(&self) -> bool {
        match self.target() {
            Target::Mem | Target::File(_) => true,
            Target::View(view) => view.prefix().is_none(),
            _ => false,
        }
    }

    /// Whether a prefix view may be made of this SIO: the tty or a prefix
    /// view.
    pub fn is_prefixable(&self) -> bool {
        match self.target() {
            Target::Tty => true,
            Target::View(view) => view.prefix().is_some(),
            _ => false,
        }
    }

    /// The base's read of `len` bytes at its byte `pos` (not its position,
    /// which does not move) into user memory at `buf`: the bottom of a
    /// walk through views. Rights are the walk's to check.
    ///
    /// # Errors
    /// [`SysError::BadAddress`]; [`SysError::WrongKind`] on a kind no
    /// view is made of.
    pub fn read_at(
        &self,
        fs: &FileSystem,
        devices: &Devices,
        user: &mut impl UserMemory,
        pos: u64,
        buf: u64,
        len: u64,
    ) -> Result<u64, SysError> {
        user.check(buf, len)?;
        match self.target() {
            Target::Mem => {
                let window = devices.mem;
                let n = len.min((window.len() as u64).saturating_sub(pos));
                let start = usize::try_from(pos).unwrap_or(usize::MAX);
                let end = usize::try_from(pos.saturating_add(n)).unwrap_or(usize::MAX);
                user.write(buf, window.get(start..end).unwrap_or(&[]))?;
                Ok(n)
            }
            Target::File(open) => fs
                .read_with(open.node(), pos, len, |bytes| {
                    user.write(buf, bytes).map(|()| bytes.len() as u64)
                })
                .map_err(fs_error)?,
            _ => Err(SysError::WrongKind),
        }
    }

    /// The base's write of `len` bytes from user memory at `buf` at its
    /// byte `pos`, never past the file's end (a view does not grow its
    /// file): returns the bytes written. A fault part-way leaves the bytes
    /// before it written.
    ///
    /// # Errors
    /// [`SysError::NotPermitted`] on `/dev/mem`; [`SysError::BadAddress`];
    /// [`SysError::WrongKind`] on a kind no view is made of.
    pub fn write_at(
        &self,
        fs: &mut FileSystem,
        user: &mut impl UserMemory,
        pos: u64,
        buf: u64,
        len: u64,
    ) -> Result<u64, PartialWrite> {
        let nothing = |error| PartialWrite { written: 0, error };
        user.check(buf, len).map_err(nothing)?;
        let node = match self.target() {
            Target::Mem => return Err(nothing(SysError::NotPermitted)),
            Target::File(open) => open.node(),
            _ => return Err(nothing(SysError::WrongKind)),
        };
        let size = fs.stat(node).map_err(|e| nothing(fs_error(e)))?.size_bytes;
        let len = len.min(size.saturating_sub(pos));
        let mut chunk = [0u8; BOUNCE_BYTES];
        let mut done = 0u64;
        while done < len {
            let n = usize::try_from(len.saturating_sub(done))
                .unwrap_or(usize::MAX)
                .min(chunk.len());
            let piece = chunk.get_mut(..n).unwrap_or(&mut []);
            let copied = user.read_prefix(piece, buf.saturating_add(done));
            let good = copied.map_or_else(|(k, _)| k, |()| n);
            fs.write(
                node,
                pos.saturating_add(done),
                piece.get(..good).unwrap_or(&[]),
            )
            .map_err(|e| PartialWrite {
                written: done,
                error: fs_error(e),
            })?;
            done = done.saturating_add(good as u64);
            copied.map_err(|(_, error)| PartialWrite {
                written: done,
                error,
            })?;
        }
        Ok(done)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;

    const PARENT: ViewParent = ViewParent {
        smach: 1,
        handle: 2,
        serial: 3,
    };

    fn view(offset: u64, length: u64) -> View {
        View::new(PARENT, 0, (offset, length), SioKind::Mem, None).unwrap()
    }

    #[test]
    fn clip_translates_inside_and_ends_at_the_window() {
        let v = view(10, 5);
        assert_eq!(v.clip(0, 100), Some((10, 5)));
        assert_eq!(v.clip(4, 1), Some((14, 1)));
        assert_eq!(v.clip(3, 0), Some((13, 0)));
        assert_eq!(v.clip(5, 1), None);
        assert_eq!(v.clip(u64::MAX, 1), None);
        // A translation that would overflow is the end too.
        let far = view(u64::MAX - 1, 1);
        assert_eq!(far.clip(0, 9), Some((u64::MAX - 1, 1)));
        assert_eq!(view(0, 0).clip(0, 1), None);
    }

    #[test]
    fn windows_that_overflow_and_chains_too_deep_are_refused() {
        assert_eq!(
            View::new(PARENT, 0, (u64::MAX, 1), SioKind::Mem, None),
            Err(SysError::BadOffset)
        );
        assert!(View::new(PARENT, MAX_VIEW_DEPTH - 1, (0, 1), SioKind::Mem, None).is_ok());
        assert_eq!(
            View::new(PARENT, MAX_VIEW_DEPTH, (0, 1), SioKind::Mem, None),
            Err(SysError::BadValue)
        );
        assert_eq!(
            View::new(PARENT, u32::MAX, (0, 1), SioKind::Mem, None),
            Err(SysError::BadValue)
        );
        let mut v = view(1, 2);
        assert_eq!(v.reshape(u64::MAX, 1), Err(SysError::BadOffset));
        assert_eq!((v.offset(), v.length()), (1, 2));
        v.reshape(4, 0).unwrap();
        assert_eq!((v.offset(), v.length(), v.depth()), (4, 0, 1));
        assert!(!v.is_revoked());
        v.revoke();
        assert!(v.is_revoked());
    }
}
