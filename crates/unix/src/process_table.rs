//! Linux's process relations: parents, children, zombies, process groups
//! and sessions, and who `wait4` reaps and `kill` reaches.
//!
//! Owns [`ProcessTable`]. Each emulated process (a SMACH with the Linux
//! personality) has an entry: its parent, group and session, and, once it
//! has exited, the wait status its parent collects. The rules are
//! Linux's: an exiting process's children go to `init` (pid 1); a zombie
//! stays until waited for; `wait4(pid)` takes `-1` (any child), `0` (a
//! child in the caller's group), `< -1` (a child in group `-pid`), `> 0`
//! (that child), and `ECHILD` when nothing could ever match; `kill`
//! targets follow the same shapes (`-1`: everyone but `init` and the
//! caller); `setpgid`/`setsid` have their `EPERM`/`ESRCH` rules. The
//! kernel asks; it keeps the processes themselves.

use crate::errno::Errno;
use alloc::collections::BTreeMap;
use alloc::vec::Vec;

/// A process id (also its group or session id where it leads one).
pub type Pid = i32;

/// The process every orphan is given to.
pub const INIT: Pid = 1;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    parent: Pid,
    group: Pid,
    session: Pid,
    /// The wait status once it has exited (a zombie).
    exit_status: Option<i32>,
}

/// What a `wait4` finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// This child had exited with this wait status; it is gone now.
    Reaped {
        /// The child.
        pid: Pid,
        /// Its wait status.
        status: i32,
    },
    /// Matching children exist but none has exited: block (or return 0
    /// with `WNOHANG`).
    NotYet,
}

/// Every emulated process's relations.
#[derive(Clone, Debug, Default)]
pub struct ProcessTable {
    entries: BTreeMap<Pid, Entry>,
}

impl ProcessTable {
    /// An empty table.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            entries: BTreeMap::new(),
        }
    }

    /// Adds `init` (its own group and session; its parent is 0).
    ///
    /// # Errors
    /// `EEXIST` if it is there already.
    pub fn add_init(&mut self) -> Result<(), Errno> {
        if self.entries.contains_key(&INIT) {
            return Err(Errno::EEXIST);
        }
        self.entries.insert(
            INIT,
            Entry {
                parent: 0,
                group: INIT,
                session: INIT,
                exit_status: None,
            },
        );
        Ok(())
    }

    /// Adds `child`, made by `parent` (`fork`, `clone` of a process): it
    /// inherits the parent's group and session.
    ///
    /// # Errors
    /// `ESRCH` if `parent` is not a live process; `EEXIST` if `child` is
    /// taken.
    pub fn add_child(&mut self, parent: Pid, child: Pid) -> Result<(), Errno> {
        let parent_entry = self.live(parent)?;
        if self.entries.contains_key(&child) || child <= 0 {
            return Err(Errno::EEXIST);
        }
        self.entries.insert(
            child,
            Entry {
                parent,
                group: parent_entry.group,
                session: parent_entry.session,
                exit_status: None,
            },
        );
        Ok(())
    }

    fn live(&self, pid: Pid) -> Result<Entry, Errno> {
        self.entries
            .get(&pid)
            .copied()
            .filter(|entry| entry.exit_status.is_none())
            .ok_or(Errno::ESRCH)
    }

    /// `pid`'s parent (`getppid`).
    ///
    /// # Errors
    /// `ESRCH`.
    pub fn parent(&self, pid: Pid) -> Result<Pid, Errno> {
        Ok(self.live(pid)?.parent)
    }

    /// `pid`'s process group (`getpgid`).
    ///
    /// # Errors
    /// `ESRCH`.
    pub fn group(&self, pid: Pid) -> Result<Pid, Errno> {
        self.entries
            .get(&pid)
            .map(|entry| entry.group)
            .ok_or(Errno::ESRCH)
    }

    /// `pid`'s session (`getsid`).
    ///
    /// # Errors
    /// `ESRCH`.
    pub fn session(&self, pid: Pid) -> Result<Pid, Errno> {
        self.entries
            .get(&pid)
            .map(|entry| entry.session)
            .ok_or(Errno::ESRCH)
    }

    /// `pid` exits with wait status `status`: it becomes a zombie for its
    /// parent, and its children (zombies included) go to `init`. Returns
    /// the parent to send `SIGCHLD` to.
    ///
    /// # Errors
    /// `ESRCH` if `pid` is not live; `EPERM` for `init` (its exit ends the
    /// system: the kernel handles that itself).
    pub fn exit(&mut self, pid: Pid, status: i32) -> Result<Pid, Errno> {
        if pid == INIT {
            return Err(Errno::EPERM);
        }
        let entry = self.live(pid)?;
        for child in self.entries.values_mut().filter(|e| e.parent == pid) {
            child.parent = INIT;
        }
        if let Some(e) = self.entries.get_mut(&pid) {
            e.exit_status = Some(status);
        }
        Ok(entry.parent)
    }

    /// Does child `entry` match `wait4`'s `pid` argument for `caller`?
    fn wait_matches(&self, caller: Pid, spec: Pid, pid: Pid, entry: &Entry) -> bool {
        entry.parent == caller
            && match spec {
                -1 => true,
                0 => self.group(caller).is_ok_and(|g| g == entry.group),
                s if s < -1 => entry.group == s.checked_neg().unwrap_or(0),
                s => s == pid,
            }
    }

    /// `wait4(spec)` by `caller`: reaps the lowest-numbered exited child
    /// that matches, if any.
    ///
    /// # Errors
    /// `ECHILD` if no child of `caller` matches at all; `ESRCH` if
    /// `caller` is unknown.
    pub fn wait(&mut self, caller: Pid, spec: Pid) -> Result<WaitOutcome, Errno> {
        self.wait_with(caller, spec, true)
    }

    /// As [`wait`](Self::wait); with `reap` false (`waitid`'s `WNOWAIT`)
    /// the child found stays a zombie, to be waited for again.
    ///
    /// # Errors
    /// As for [`wait`](Self::wait).
    pub fn wait_with(&mut self, caller: Pid, spec: Pid, reap: bool) -> Result<WaitOutcome, Errno> {
        self.live(caller)?;
        let mut any = false;
        let mut exited = None;
        for (&pid, entry) in &self.entries {
            if self.wait_matches(caller, spec, pid, entry) {
                any = true;
                if let Some(status) = entry.exit_status {
                    exited = Some((pid, status));
                    break;
                }
            }
        }
        match (any, exited) {
            (_, Some((pid, status))) => {
                if reap {
                    self.entries.remove(&pid);
                }
                Ok(WaitOutcome::Reaped { pid, status })
            }
            (true, None) => Ok(WaitOutcome::NotYet),
            (false, None) => Err(Errno::ECHILD),
        }
    }

    /// The live processes `kill(spec)` from `caller` reaches.
    ///
    /// # Errors
    /// `ESRCH` if none.
    pub fn kill_targets(&self, caller: Pid, spec: Pid) -> Result<Vec<Pid>, Errno> {
        let caller_group = self.group(caller)?;
        let targets: Vec<Pid> = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.exit_status.is_none())
            .filter(|&(&pid, entry)| match spec {
                -1 => pid != INIT && pid != caller,
                0 => entry.group == caller_group,
                s if s < -1 => entry.group == s.checked_neg().unwrap_or(0),
                s => pid == s,
            })
            .map(|(&pid, _)| pid)
            .collect();
        if targets.is_empty() {
            return Err(Errno::ESRCH);
        }
        Ok(targets)
    }

    /// `setpgid(pid, pgid)` by `caller` (`pid` 0: the caller; `pgid` 0:
    /// `pid` itself).
    ///
    /// # Errors
    /// `EINVAL` for a negative `pgid`; `ESRCH` if `pid` is neither the
    /// caller nor its child; `EPERM` for a session leader, a child in
    /// another session, or a group that does not exist in the session.
    pub fn set_group(&mut self, caller: Pid, pid: Pid, pgid: Pid) -> Result<(), Errno> {
        if pgid < 0 {
            return Err(Errno::EINVAL);
        }
        let pid = if pid == 0 { caller } else { pid };
        let pgid = if pgid == 0 { pid } else { pgid };
        let me = self.live(caller)?;
        let target = self.live(pid).map_err(|_| Errno::ESRCH)?;
        if pid != caller && target.parent != caller {
            return Err(Errno::ESRCH);
        }
        if target.session == pid || target.session != me.session {
            return Err(Errno::EPERM);
        }
        let group_exists = pgid == pid
            || self
                .entries
                .values()
                .any(|e| e.group == pgid && e.session == me.session && e.exit_status.is_none());
        if !group_exists {
            return Err(Errno::EPERM);
        }
        if let Some(entry) = self.entries.get_mut(&pid) {
            entry.group = pgid;
        }
        Ok(())
    }

    /// `setsid` by `caller`: a new session and group, both `caller`.
    ///
    /// # Errors
    /// `EPERM` if `caller` already leads a process group; `ESRCH`.
    pub fn new_session(&mut self, caller: Pid) -> Result<Pid, Errno> {
        let me = self.live(caller)?;
        if me.group == caller {
            return Err(Errno::EPERM);
        }
        if let Some(entry) = self.entries.get_mut(&caller) {
            entry.group = caller;
            entry.session = caller;
        }
        Ok(caller)
    }

    /// Processes in the table, zombies included.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the table is empty.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}
