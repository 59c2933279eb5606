//! Child SMACHs of a run: more fuzzers (other seeds, their own SCPUs),
//! victims killed while they run, and `/bin/hostile` children that enter
//! the kernel the ways docs/ring0-entries.md lists.
//!
//! Owns starting them ([`Fuzzer::spawn_fuzzer`], [`Fuzzer::spawn_victim`],
//! [`Fuzzer::hostile_batch`]), polling and collecting them, and the
//! statistics file a child fuzzer leaves for its parent
//! ([`Fuzzer::write_stats`], [`Fuzzer::read_stats`]).

use sk_abi::{Call, Kind, OpenFlags, SmachInfo, SmachState};
use sk_user_sysfuzz::entries;
use sk_user_sysfuzz::plan::{Mode, Plan};
use sk_user_sysfuzz::stats::{Cell, Stats, WORDS};

use crate::format::format_into;
use crate::fuzzer::{word, Expect, Fuzzer, Obj};
use crate::objects::{Role, SYSFUZZ};

/// `hostile`'s path.
const HOSTILE: &str = "/bin/hostile";

/// Victim kinds (the `calls` field of a victim's plan).
pub(crate) const VICTIM_BUSY: u64 = 1;
/// A victim that waits for a busy grandchild.
pub(crate) const VICTIM_WAITS: u64 = 2;

/// The statistics file of the child fuzzer with `seed`.
pub(crate) fn stats_path(out: &mut [u8; 48], seed: u64) -> &str {
    let len = format_into(out, format_args!("/tmp/sysfuzz-stats-{seed:06x}"));
    core::str::from_utf8(out.get(..len).unwrap_or_default()).unwrap_or("/tmp/sysfuzz-stats")
}

impl Fuzzer<'_> {
    /// Starts a child fuzzer with `seed` and `calls`.
    pub(crate) fn spawn_fuzzer(&mut self, seed: u64, calls: u64) -> Option<u32> {
        let plan = Plan {
            mode: Mode::Child,
            seed,
            calls,
        };
        self.spawn(SYSFUZZ, plan.to_arg(), Role::Fuzzer(seed), Some(0))
    }

    /// Starts a victim of `kind` ([`VICTIM_BUSY`], ...), at the lowest
    /// priority.
    pub(crate) fn spawn_victim(&mut self, seed: u64, kind: u64) -> Option<u32> {
        let plan = Plan {
            mode: Mode::Victim,
            seed,
            calls: kind,
        };
        let handle = self.spawn(SYSFUZZ, plan.to_arg(), Role::Victim, None)?;
        self.lowest_priority(handle);
        Some(handle)
    }

    /// Gives a child priority 0 (the shortest turns).
    fn lowest_priority(&mut self, handle: u32) {
        let registers = sk_abi::SmachReconfigure::Priority(0).to_registers();
        let cell = self.cell_of(handle, Call::Reconfigure);
        let _ = self.sys(
            word(handle, Call::Reconfigure),
            &registers,
            [(0, 0); 2],
            cell,
            "victim priority",
            Expect::Is(Ok(0)),
        );
    }

    /// Kills a victim (it is running, or blocked in a call).
    pub(crate) fn kill(&mut self, handle: u32) {
        let cell = self.cell_of(handle, Call::Terminate);
        let status = self.rng.next_u64();
        let _ = self.sys(
            word(handle, Call::Terminate),
            &[status],
            [(0, 0); 2],
            cell,
            "kill victim SMACH",
            Expect::Is(Ok(0)),
        );
        self.objects.remove(handle);
        self.stats.kills += 1;
    }

    /// Starts `count` hostile children (the next kinds in turn), waits for
    /// each, checks its exit status.
    pub(crate) fn hostile_batch(&mut self, count: u64) {
        let mut started = [0_u32; 4];
        let mut n = 0;
        for _ in 0..count.min(4) {
            let entry = entries::draw(self.entries, &mut self.rng);
            self.entries += 1;
            if let Some(handle) = self.spawn(HOSTILE, entry.arg(), Role::Hostile(entry.want), None)
            {
                if let Some(slot) = started.get_mut(n) {
                    *slot = handle;
                    n += 1;
                }
            }
        }
        for &handle in started.iter().take(n) {
            if let Some(Obj::Smach(child)) = self.objects.get(handle) {
                self.end_child(handle, child);
            }
        }
    }

    /// Whether the child at `handle` has exited (a query, not a wait).
    pub(crate) fn has_exited(&mut self, handle: u32) -> bool {
        let mut out = [0_u8; 32];
        let ptr = out.as_mut_ptr() as u64;
        let cell = self.cell_of(handle, Call::Query);
        if self
            .sys(
                word(handle, Call::Query),
                &[0, ptr, 32],
                [(ptr, ptr + 32), (0, 0)],
                cell,
                "query child",
                Expect::Is(Ok(32)),
            )
            .is_err()
        {
            return true;
        }
        SmachInfo::from_bytes(&out).is_ok_and(|info| info.state() == Ok(SmachState::Exited))
    }

    /// Waits for the child fuzzer at `handle` (status 0 wanted), reads the
    /// counts it left, adds them to `into`.
    pub(crate) fn collect_fuzzer(&mut self, handle: u32, seed: u64, into: &mut Stats) {
        if let Some(Obj::Smach(child)) = self.objects.get(handle) {
            self.end_child(handle, child);
        }
        match self.read_stats(seed) {
            Some(stats) => into.add(&stats),
            None => self.fail(
                "child fuzzer",
                format_args!("seed {seed:#x} left no counts"),
            ),
        }
    }

    /// Writes `stats` to this child's statistics file.
    pub(crate) fn write_stats(&mut self, seed: u64, stats: &Stats) {
        let mut path = [0_u8; 48];
        let path = stats_path(&mut path, seed);
        let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
        let Some(handle) = self.open_plain(path, flags) else {
            return;
        };
        let buf = self.arena.zone().buf_a();
        let bytes = self.arena.buffer(buf, (WORDS * 8) as u64);
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(stats.to_words()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        let len = (WORDS * 8) as u64;
        let cell = Cell::new(Call::Write, Some(Kind::Sio), true);
        let _ = self.sys(
            word(handle, Call::Write),
            &[buf, len],
            [(buf, buf + len), (0, 0)],
            cell,
            "write counts",
            Expect::Is(Ok(len)),
        );
        self.close_plain(handle);
    }

    /// Reads the statistics a child with `seed` left.
    pub(crate) fn read_stats(&mut self, seed: u64) -> Option<Stats> {
        let mut path = [0_u8; 48];
        let path = stats_path(&mut path, seed);
        let handle = self.open_plain(path, OpenFlags::READ)?;
        let buf = self.arena.zone().buf_a();
        let len = (WORDS * 8) as u64;
        let cell = Cell::new(Call::Read, Some(Kind::Sio), true);
        let got = self.sys(
            word(handle, Call::Read),
            &[buf, len],
            [(buf, buf + len), (0, 0)],
            cell,
            "read counts",
            Expect::Is(Ok(len)),
        );
        self.close_plain(handle);
        got.ok()?;
        let mut words = [0_u64; WORDS];
        for (word, chunk) in words
            .iter_mut()
            .zip(self.arena.buffer(buf, len).chunks_exact(8))
        {
            let mut bytes = [0_u8; 8];
            bytes.copy_from_slice(chunk);
            *word = u64::from_le_bytes(bytes);
        }
        Some(Stats::from_words(&words))
    }
}
