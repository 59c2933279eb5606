//! SMEMs, SCPUs and SMACHs a fuzzer makes, and calls on its own SMACH.
//!
//! Owns [`SmemObj`], [`ScpuObj`], [`SmachObj`] and their operations. Each
//! object carries what it must answer: an SMEM its placement, length and
//! protection (and, through reads into it, whether the kernel honours the
//! protection); an SCPU (a thread spinning on a stack it never touches)
//! its state, priority (exact unless another fuzzer of the SMACH may have
//! set every SCPU's: [`sk_user_sysfuzz::priority`]) and quantum; a child
//! SMACH (`sysfuzz` in its echo mode, or `/bin/worker`) the exit status it
//! must end with.

use sk_abi::{
    Call, ExitStatus, Kind, Prot, QuerySelector, ScpuCreateArgs, ScpuInfo, ScpuReconfigure,
    ScpuState, SmachCreateArgs, SmachInfo, SmachReconfigure, SmachState, SmemCreateArgs,
    SmemCreateFlags, SmemInfo, SmemReconfigure, SysError, PAGE_SIZE,
};
use sk_user_sysfuzz::model::{self, Buf};
use sk_user_sysfuzz::plan::{Mode, Plan};
use sk_user_sysfuzz::priority::{self, PriorityClock, ScpuPriority};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer, Obj, SELF};
use crate::memory::{ZONES, ZONE_BYTES};

/// Where the kernel places SMEMs it chooses the address of.
const SMEM_AREA_START: u64 = 0x0000_1000_0000_0000;

/// Most SMEMs, spinning SCPUs and children a fuzzer keeps at once.
const MAX_SMEMS: usize = 4;
const MAX_SCPUS: usize = 2;
const MAX_CHILDREN: usize = 2;

/// The program of echo children (and of every `sysfuzz`).
pub(crate) const SYSFUZZ: &str = "/bin/sysfuzz";

/// A program that counts primes and exits with the count mod 200.
const WORKER: &str = "/bin/worker";

/// The priority-self calls of this SMACH's fuzzers (a static: one per
/// SMACH, shared by its worker SCPUs).
static PRIORITY_CLOCK: PriorityClock = PriorityClock::new();

/// An SMEM region of a fuzzer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SmemObj {
    pub(crate) addr: u64,
    pub(crate) len: u64,
    pub(crate) prot: u32,
}

/// A spinning SCPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ScpuObj {
    pub(crate) suspended: bool,
    pub(crate) priority: ScpuPriority,
    /// `None` until the kernel says (it clamps what was asked).
    pub(crate) quantum: Option<u32>,
}

/// A child SMACH.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SmachObj {
    /// The exit status it must end with (`None`: not predictable, e.g. a
    /// fuzzer child whose status the parent reads otherwise).
    pub(crate) status: Option<i32>,
    pub(crate) suspended: bool,
    /// What it is, for the parent's bookkeeping.
    pub(crate) role: Role,
}

/// What a child SMACH is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    /// `sysfuzz` echo or `/bin/worker`: ends at once with a known status.
    Quick,
    /// A child fuzzer (its seed names its statistics file).
    Fuzzer(u64),
    /// A victim, to be killed.
    Victim,
    /// A `/bin/hostile` child and the status it must end with.
    Hostile(sk_user_sysfuzz::entries::Want),
}

/// A thread that spins and touches no memory: the SCPUs the fuzzer makes.
/// (No `pause`: QEMU's TCG leaves its execution loop on every one.)
#[unsafe(naked)]
extern "C" fn spin(_arg: u64) -> ! {
    core::arch::naked_asm!("2:", "jmp 2b")
}

impl Fuzzer<'_> {
    /// Handles of this fuzzer's objects of a sort.
    fn handles_of(
        &self,
        pick: impl Fn(&Obj) -> bool,
    ) -> ([u32; crate::fuzzer::MAX_OBJECTS], usize) {
        self.objects.handles_where(pick)
    }

    /// A random handle among those `pick` says yes to.
    fn pick_handle(&mut self, pick: impl Fn(&Obj) -> bool) -> Option<u32> {
        let (handles, n) = self.handles_of(pick);
        if n == 0 {
            return None;
        }
        handles.get(self.rng.index(n)).copied()
    }

    // ----- SMEM -----

    /// Creates an SMEM from `args`, wanting success; queries it and checks
    /// where it landed. Returns the handle.
    pub(crate) fn create_smem(
        &mut self,
        args: SmemCreateArgs,
        want_at: Option<u64>,
    ) -> Option<u32> {
        let bytes = args.to_bytes();
        let ptr = bytes.as_ptr() as u64;
        let predicted = self.next_handle();
        let got = self.sys(
            word(SELF, Call::Create),
            &[u64::from(Kind::Smem), ptr, bytes.len() as u64],
            [(ptr, ptr + bytes.len() as u64), (0, 0)],
            Cell::new(Call::Create, Some(Kind::Smem), true),
            "create SMEM",
            Expect::Ok,
        );
        let handle = self.check_new_handle("create SMEM", predicted, got.ok()?)?;
        let len = args.len.div_ceil(PAGE_SIZE) * PAGE_SIZE;
        let obj = SmemObj {
            addr: 0,
            len,
            prot: args.prot,
        };
        if !self.objects.insert(handle, Obj::Smem(obj)) {
            self.close_untracked(handle, Kind::Smem);
            return None;
        }
        let info = self.query_smem(handle)?;
        let placed_ok = match want_at {
            Some(addr) => info.addr == addr,
            None => {
                info.addr >= SMEM_AREA_START
                    && !(ZONES..ZONES + 64 * ZONE_BYTES).contains(&info.addr)
            }
        };
        if !placed_ok || info.len != len || info.prot != args.prot {
            self.fail("SMEM placement", format_args!("{info:?}, asked {args:?}"));
        }
        if let Some(Obj::Smem(obj)) = self.objects.get_mut(handle) {
            obj.addr = info.addr;
        }
        // Fresh memory reads as zeros (every page is readable).
        let first = self.peek(info.addr);
        let last = self.peek(info.addr + len - 1);
        if first != 0 || last != 0 {
            self.fail(
                "SMEM contents",
                format_args!("fresh region at {:#x}: {first}, {last}", info.addr),
            );
        }
        Some(handle)
    }

    /// A byte of one of this fuzzer's SMEMs.
    fn peek(&self, addr: u64) -> u8 {
        let ptr = core::ptr::with_exposed_provenance::<u8>(usize::try_from(addr).unwrap_or(0));
        // SAFETY: `addr` lies in a region this fuzzer mapped and has not
        // unmapped (the kernel maps every page of a region readable, what
        // ever its protection); no Rust reference covers it.
        unsafe { ptr.read_volatile() }
    }

    /// `query(Info)` on an SMEM handle.
    fn query_smem(&mut self, handle: u32) -> Option<SmemInfo> {
        let mut out = [0_u8; 32];
        let ptr = out.as_mut_ptr() as u64;
        let len = [24, 32][self.rng.index(2)];
        let mut w = word(handle, Call::Query);
        if self.rng.percent(30) {
            w = generic(w);
        }
        let cell = self.cell_of(handle, Call::Query);
        self.sys(
            w,
            &[u64::from(QuerySelector::Info), ptr, len],
            [(ptr, ptr + len), (0, 0)],
            cell,
            "query SMEM",
            Expect::Is(Ok(24)),
        )
        .ok()?;
        SmemInfo::from_bytes(out.get(..24).unwrap_or_default()).ok()
    }

    /// A random valid protection.
    fn prot(&mut self) -> u32 {
        let choices = [
            Prot::READ | Prot::WRITE,
            Prot::READ | Prot::WRITE,
            Prot::READ,
            Prot::READ | Prot::EXEC,
            Prot::empty(),
            Prot::WRITE,
            Prot::EXEC,
        ];
        choices[self.rng.index(choices.len())].bits()
    }

    /// A free FIXED slot of the zone for an SMEM of `len` bytes.
    fn free_smem_slot(&mut self) -> u64 {
        let zone = self.arena.zone();
        let start = self.rng.below(16);
        (0..16)
            .map(|i| zone.smem_slot((start + i) % 16))
            .find(|&addr| {
                self.objects
                    .handles_where(|o| matches!(o, Obj::Smem(s) if s.addr == addr))
                    .1
                    == 0
            })
            .unwrap_or_else(|| zone.smem_slot(start))
    }

    /// One drawn SMEM operation.
    pub(crate) fn smem_op(&mut self) {
        let count = self.handles_of(|o| matches!(o, Obj::Smem(_))).1;
        let draw = self.rng.below(100);
        if count == 0 || (draw < 25 && count < MAX_SMEMS && self.objects.has_room(1)) {
            let len = self.rng.pick(&[
                PAGE_SIZE,
                2 * PAGE_SIZE,
                3 * PAGE_SIZE + 5,
                64 << 10,
                256 << 10,
                1 << 20,
            ]);
            let prot = self.prot();
            let (addr_hint, flags, want_at) = match self.rng.below(3) {
                0 => (0, 0, None),
                1 => {
                    let slot = self.free_smem_slot();
                    (slot, SmemCreateFlags::FIXED.bits(), Some(slot))
                }
                _ => {
                    let slot = self.free_smem_slot();
                    (slot, 0, Some(slot))
                }
            };
            self.create_smem(
                SmemCreateArgs {
                    addr_hint,
                    len,
                    prot,
                    flags,
                },
                want_at,
            );
            return;
        }
        let Some(handle) = self.pick_handle(|o| matches!(o, Obj::Smem(_))) else {
            return;
        };
        let Some(Obj::Smem(obj)) = self.objects.get(handle) else {
            return;
        };
        match draw {
            25..=44 => {
                if let Some(info) = self.query_smem(handle) {
                    if info.addr != obj.addr || info.len != obj.len || info.prot != obj.prot {
                        self.fail("query SMEM", format_args!("{info:?}, model {obj:?}"));
                    }
                }
            }
            45..=64 => {
                let prot = self.prot();
                let registers =
                    SmemReconfigure::Protect(Prot::from_bits_retain(prot)).to_registers();
                let mut w = word(handle, Call::Reconfigure);
                if self.rng.percent(30) {
                    w = generic(w);
                }
                let cell = self.cell_of(handle, Call::Reconfigure);
                if self
                    .sys(
                        w,
                        &registers,
                        [(0, 0); 2],
                        cell,
                        "protect SMEM",
                        Expect::Is(Ok(0)),
                    )
                    .is_ok()
                {
                    if let Some(Obj::Smem(o)) = self.objects.get_mut(handle) {
                        o.prot = prot;
                    }
                }
            }
            65..=89 => self.smem_io(obj),
            _ => self.free_smem(handle),
        }
    }

    /// Terminates an SMEM; alone, checks the handle is gone.
    pub(crate) fn free_smem(&mut self, handle: u32) {
        let mut w = word(handle, Call::Terminate);
        if self.rng.percent(30) {
            w = generic(w);
        }
        let cell = self.cell_of(handle, Call::Terminate);
        let value = self.rng.next_u64();
        let _ = self.sys(
            w,
            &[value],
            [(0, 0); 2],
            cell,
            "terminate SMEM",
            Expect::Is(Ok(0)),
        );
        self.objects.remove(handle);
        if self.solo {
            let mut out = [0_u8; 24];
            let ptr = out.as_mut_ptr() as u64;
            let cell = self.cell_of(handle, Call::Query);
            let _ = self.sys(
                word(handle, Call::Query),
                &[0, ptr, 24],
                [(ptr, ptr + 24), (0, 0)],
                cell,
                "query freed SMEM",
                Expect::Err(SysError::BadHandle),
            );
        }
    }

    /// Reads from `/dev/zero` or `/dev/mem` into the region on both paths
    /// (the generic twin into a buffer the kernel reaches the same way):
    /// a region without WRITE must refuse the bytes.
    fn smem_io(&mut self, obj: SmemObj) {
        let writable = Prot::from_bits_retain(obj.prot).contains(Prot::WRITE);
        let source = if self.rng.percent(50) {
            "/dev/zero"
        } else {
            "/dev/mem"
        };
        let Some(handle) = self.open_plain(source, sk_abi::OpenFlags::READ) else {
            return;
        };
        let len = self.rng.range(1, obj.len.min(8192));
        let offset = self.rng.below(obj.len - len + 1);
        let a = obj.addr + offset;
        let (b, reach) = if writable {
            (self.arena.zone().buf_b() + offset % 4096, Buf::Good)
        } else {
            (self.unmapped_addr(), Buf::Prefix(0))
        };
        let io = model::Io {
            target: if source == "/dev/zero" {
                model::Target::Zero
            } else {
                model::Target::Mem
            },
            can_read: true,
            can_write: false,
            append: false,
            pos: 0,
            size: sk_abi::DEV_MEM_BYTES,
        };
        let want = model::read(&io, a, len, reach);
        let cell = Cell::new(Call::Read, Some(Kind::Sio), true);
        let got_a = self.sys(
            word(handle, Call::Read),
            &[a, len],
            [(a, a + len), (0, 0)],
            cell,
            "read into SMEM",
            Expect::Is(want.result),
        );
        let seek = sk_abi::SioReconfigure::Seek {
            whence: sk_abi::Whence::Set,
            offset: 0,
        }
        .to_registers();
        let cell_seek = Cell::new(Call::Reconfigure, Some(Kind::Sio), true);
        let _ = self.sys(
            word(handle, Call::Reconfigure),
            &seek,
            [(0, 0); 2],
            cell_seek,
            "seek",
            Expect::Is(Ok(0)),
        );
        let got_b = self.sys(
            generic(word(handle, Call::Read)),
            &[b, len],
            [(b, b + len), (0, 0)],
            cell,
            "read into SMEM (FORCE_GENERIC)",
            Expect::Is(want.result),
        );
        self.stats.twins += 1;
        if got_a != got_b {
            self.fail(
                "twin read into SMEM",
                format_args!("prot {:#x}: normal {got_a:?}, generic {got_b:?}", obj.prot),
            );
        }
        if let (Ok(n), true) = (got_a, writable) {
            let mut ok = true;
            for i in 0..n {
                let byte = self.peek(a + i);
                let want_byte = if source == "/dev/zero" {
                    0
                } else {
                    sk_abi::dev_mem_byte(i)
                };
                ok &= byte == want_byte;
            }
            if !ok {
                self.fail("read into SMEM", format_args!("{source}: bytes differ"));
            }
        }
        self.close_plain(handle);
    }

    /// Opens `path` as a plain SIO (not a twin); tracks it.
    pub(crate) fn open_plain(&mut self, path: &str, flags: sk_abi::OpenFlags) -> Option<u32> {
        if !self.objects.has_room(1) {
            return None;
        }
        let args = sk_abi::SioCreateArgs {
            path_ptr: path.as_ptr() as u64,
            path_len: path.len() as u64,
            flags: flags.bits(),
            _pad: 0,
        }
        .to_bytes();
        let ptr = args.as_ptr() as u64;
        let predicted = self.next_handle();
        let got = self.sys(
            word(SELF, Call::Create),
            &[u64::from(Kind::Sio), ptr, 24],
            [
                (ptr, ptr + 24),
                (
                    path.as_ptr() as u64,
                    path.as_ptr() as u64 + path.len() as u64,
                ),
            ],
            Cell::new(Call::Create, Some(Kind::Sio), true),
            "open",
            Expect::Ok,
        );
        let handle = self.check_new_handle("open", predicted, got.ok()?)?;
        self.objects.insert(handle, Obj::Sio);
        Some(handle)
    }

    /// Closes a plain SIO.
    pub(crate) fn close_plain(&mut self, handle: u32) {
        let cell = self.cell_of(handle, Call::Terminate);
        let _ = self.sys(
            word(handle, Call::Terminate),
            &[0],
            [(0, 0); 2],
            cell,
            "close",
            Expect::Is(Ok(0)),
        );
        self.objects.remove(handle);
    }

    /// The SMEM lifecycle: a FIXED region, touched, made read-only (a read
    /// into it must fail), writable again (a read must land), queried,
    /// freed, and made again at the same place.
    pub(crate) fn smem_sequence(&mut self) {
        if !self.objects.has_room(2) {
            self.smem_op();
            return;
        }
        let addr = self.free_smem_slot();
        let rw = (Prot::READ | Prot::WRITE).bits();
        let args = SmemCreateArgs {
            addr_hint: addr,
            len: 3 * PAGE_SIZE,
            prot: rw,
            flags: SmemCreateFlags::FIXED.bits(),
        };
        let Some(handle) = self.create_smem(args, Some(addr)) else {
            return;
        };
        // A second FIXED region on top of it is refused.
        let bytes = args.to_bytes();
        let ptr = bytes.as_ptr() as u64;
        let got = self.sys(
            word(SELF, Call::Create),
            &[u64::from(Kind::Smem), ptr, 24],
            [(ptr, ptr + 24), (0, 0)],
            Cell::new(Call::Create, Some(Kind::Smem), true),
            "overlapping FIXED SMEM",
            Expect::Err(SysError::Exists),
        );
        self.stray(got);
        for prot in [Prot::READ, Prot::READ | Prot::WRITE] {
            let registers = SmemReconfigure::Protect(prot).to_registers();
            let cell = self.cell_of(handle, Call::Reconfigure);
            let _ = self.sys(
                word(handle, Call::Reconfigure),
                &registers,
                [(0, 0); 2],
                cell,
                "protect SMEM",
                Expect::Is(Ok(0)),
            );
            if let Some(Obj::Smem(o)) = self.objects.get_mut(handle) {
                o.prot = prot.bits();
            }
            if let Some(Obj::Smem(o)) = self.objects.get(handle) {
                self.smem_io(o);
            }
        }
        self.free_smem(handle);
        if let Some(handle) = self.create_smem(args, Some(addr)) {
            self.free_smem(handle);
        }
    }

    // ----- SCPU -----

    /// Starts a spinning SCPU (suspended at once, mostly).
    fn create_scpu(&mut self) -> Option<u32> {
        let priority = self.rng.below_u32(8);
        let quantum = [0, 100, 1000, 100_000][self.rng.index(4)];
        let args = ScpuCreateArgs {
            entry: spin as *const () as u64,
            stack_top: self.spin_stack_top,
            arg: self.rng.next_u64(),
            priority,
            quantum_us: quantum,
        }
        .to_bytes();
        let ptr = args.as_ptr() as u64;
        let predicted = self.next_handle();
        let since = PRIORITY_CLOCK.finished();
        let got = self.sys(
            word(SELF, Call::Create),
            &[u64::from(Kind::Scpu), ptr, 32],
            [(ptr, ptr + 32), (0, 0)],
            Cell::new(Call::Create, Some(Kind::Scpu), true),
            "create SCPU",
            Expect::Ok,
        );
        let handle = self.check_new_handle("create SCPU", predicted, got.ok()?)?;
        let obj = ScpuObj {
            suspended: false,
            // 0 is the lowest priority, not a default.
            priority: ScpuPriority {
                value: priority,
                since,
            },
            quantum: None,
        };
        if !self.objects.insert(handle, Obj::Scpu(obj)) {
            self.close_untracked(handle, Kind::Scpu);
            return None;
        }
        // A spinner that runs takes CPU time from every fuzzer: suspended
        // at once (it runs only if this thread is preempted before that).
        self.scpu_reconfigure(handle, ScpuReconfigure::Suspend);
        Some(handle)
    }

    /// Reconfigures an SCPU and updates its model.
    fn scpu_reconfigure(&mut self, handle: u32, request: ScpuReconfigure) {
        let want = match request {
            ScpuReconfigure::Priority(p) if p > 7 => Err(SysError::BadValue),
            ScpuReconfigure::Quantum { quantum_us: 0 } => Err(SysError::BadValue),
            _ => Ok(0),
        };
        let mut w = word(handle, Call::Reconfigure);
        if self.rng.percent(30) {
            w = generic(w);
        }
        let cell = self.cell_of(handle, Call::Reconfigure);
        let since = PRIORITY_CLOCK.finished();
        let got = self.sys(
            w,
            &request.to_registers(),
            [(0, 0); 2],
            cell,
            "reconfigure SCPU",
            Expect::Is(want),
        );
        if got.is_ok() {
            if let Some(Obj::Scpu(o)) = self.objects.get_mut(handle) {
                match request {
                    ScpuReconfigure::Suspend => o.suspended = true,
                    ScpuReconfigure::Resume => o.suspended = false,
                    ScpuReconfigure::Priority(value) => {
                        o.priority = ScpuPriority { value, since };
                    }
                    ScpuReconfigure::Quantum { .. } => o.quantum = None,
                }
            }
        }
    }

    /// Queries an SCPU and checks its state, priority and quantum.
    fn query_scpu(&mut self, handle: u32) {
        let Some(Obj::Scpu(obj)) = self.objects.get(handle) else {
            return;
        };
        let mut out = [0_u8; 24];
        let ptr = out.as_mut_ptr() as u64;
        let cell = self.cell_of(handle, Call::Query);
        let finished_before = PRIORITY_CLOCK.finished();
        let got = self.sys(
            word(handle, Call::Query),
            &[0, ptr, 24],
            [(ptr, ptr + 24), (0, 0)],
            cell,
            "query SCPU",
            Expect::Is(Ok(24)),
        );
        let started_after = PRIORITY_CLOCK.started();
        if got.is_err() {
            return;
        }
        let Ok(info) = ScpuInfo::from_bytes(&out) else {
            return;
        };
        let priority =
            priority::check_query(obj.priority, info.priority, finished_before, started_after);
        let state = info.state();
        let state_ok = if obj.suspended {
            state == Ok(ScpuState::Suspended)
        } else {
            matches!(state, Ok(ScpuState::Ready | ScpuState::Running))
        };
        let quantum_ok = obj.quantum.is_none_or(|q| q == info.quantum_us)
            && (100..=100_000).contains(&info.quantum_us);
        if !state_ok || priority.is_none() || !quantum_ok {
            self.fail(
                "query SCPU",
                format_args!(
                    "{info:?}, model {obj:?} (priority-self calls: {started_after} started)"
                ),
            );
        }
        if let Some(Obj::Scpu(o)) = self.objects.get_mut(handle) {
            o.quantum = Some(info.quantum_us);
            if let Some(priority) = priority {
                o.priority = priority;
            }
        }
    }

    /// One drawn SCPU operation.
    pub(crate) fn scpu_op(&mut self) {
        let count = self.handles_of(|o| matches!(o, Obj::Scpu(_))).1;
        let draw = self.rng.below(100);
        if count == 0 || (draw < 15 && count < MAX_SCPUS && self.objects.has_room(1)) {
            self.create_scpu();
            return;
        }
        let Some(handle) = self.pick_handle(|o| matches!(o, Obj::Scpu(_))) else {
            return;
        };
        match draw {
            0..=39 => self.query_scpu(handle),
            40..=79 => {
                let request = match self.rng.below(6) {
                    0 => ScpuReconfigure::Suspend,
                    1 => ScpuReconfigure::Resume,
                    2 => ScpuReconfigure::Priority(self.rng.below_u32(10)),
                    3 => ScpuReconfigure::Quantum {
                        quantum_us: self.rng.pick_u32(&[0, 1, 100, 5000, 200_000]),
                    },
                    _ => ScpuReconfigure::Suspend,
                };
                self.scpu_reconfigure(handle, request);
                // A running spinner takes CPU from the fuzzers: not for long.
                if request == ScpuReconfigure::Resume {
                    self.query_scpu(handle);
                    self.scpu_reconfigure(handle, ScpuReconfigure::Suspend);
                }
            }
            _ => self.end_scpu(handle),
        }
    }

    /// Terminates a spinning SCPU.
    pub(crate) fn end_scpu(&mut self, handle: u32) {
        let cell = self.cell_of(handle, Call::Terminate);
        let value = self.rng.next_u64();
        let _ = self.sys(
            word(handle, Call::Terminate),
            &[value],
            [(0, 0); 2],
            cell,
            "terminate SCPU",
            Expect::Is(Ok(0)),
        );
        self.objects.remove(handle);
    }

    /// The SCPU lifecycle: start, suspend, query, resume, priority, query,
    /// kill.
    pub(crate) fn scpu_sequence(&mut self) {
        if self.handles_of(|o| matches!(o, Obj::Scpu(_))).1 >= MAX_SCPUS
            || !self.objects.has_room(1)
        {
            self.scpu_op();
            return;
        }
        let Some(handle) = self.create_scpu() else {
            return;
        };
        self.scpu_reconfigure(handle, ScpuReconfigure::Suspend);
        self.query_scpu(handle);
        self.scpu_reconfigure(handle, ScpuReconfigure::Resume);
        let priority = self.rng.below_u32(8);
        self.scpu_reconfigure(handle, ScpuReconfigure::Priority(priority));
        self.scpu_reconfigure(handle, ScpuReconfigure::Quantum { quantum_us: 100 });
        self.query_scpu(handle);
        self.scpu_reconfigure(handle, ScpuReconfigure::Suspend);
        self.end_scpu(handle);
    }

    // ----- SMACH -----

    /// Starts `path` with `arg` as a child with `role`; returns its handle.
    pub(crate) fn spawn(
        &mut self,
        path: &str,
        arg: u64,
        role: Role,
        status: Option<i32>,
    ) -> Option<u32> {
        if !self.objects.has_room(1) {
            return None;
        }
        let args = SmachCreateArgs {
            path_ptr: path.as_ptr() as u64,
            path_len: path.len() as u64,
            arg,
            flags: 0,
            _pad: 0,
        }
        .to_bytes();
        let ptr = args.as_ptr() as u64;
        let predicted = self.next_handle();
        let got = self.sys(
            word(SELF, Call::Create),
            &[u64::from(Kind::Smach), ptr, 32],
            [
                (ptr, ptr + 32),
                (
                    path.as_ptr() as u64,
                    path.as_ptr() as u64 + path.len() as u64,
                ),
            ],
            Cell::new(Call::Create, Some(Kind::Smach), true),
            "create SMACH",
            Expect::Ok,
        );
        let handle = self.check_new_handle("create SMACH", predicted, got.ok()?)?;
        let obj = SmachObj {
            status,
            suspended: false,
            role,
        };
        if !self.objects.insert(handle, Obj::Smach(obj)) {
            self.close_untracked(handle, Kind::Smach);
            return None;
        }
        Some(handle)
    }

    /// A quick child: `sysfuzz` echoing a status, or `/bin/worker`.
    fn spawn_quick(&mut self) -> Option<u32> {
        if self.rng.percent(90) {
            let status = self.rng.below_u32(201);
            let plan = Plan {
                mode: Mode::Echo,
                seed: u64::from(status),
                calls: 1,
            };
            let want = i32::try_from(status).ok();
            self.spawn(SYSFUZZ, plan.to_arg(), Role::Quick, want)
        } else {
            let n = self.rng.below(64);
            self.spawn(WORKER, n, Role::Quick, Some(sk_user_worker::status(n)))
        }
    }

    /// `query(Info)` on a child; checks state and status.
    fn query_child(&mut self, handle: u32) -> Option<SmachInfo> {
        let Some(Obj::Smach(obj)) = self.objects.get(handle) else {
            return None;
        };
        let mut out = [0_u8; 32];
        let ptr = out.as_mut_ptr() as u64;
        let cell = self.cell_of(handle, Call::Query);
        self.sys(
            word(handle, Call::Query),
            &[0, ptr, 32],
            [(ptr, ptr + 32), (0, 0)],
            cell,
            "query SMACH",
            Expect::Is(Ok(32)),
        )
        .ok()?;
        let info = SmachInfo::from_bytes(&out).ok()?;
        let state = info.state();
        let ok = match state {
            Ok(SmachState::Exited) => obj
                .status
                .is_none_or(|s| info.exit_status().map(ExitStatus::get) == Some(s)),
            Ok(SmachState::Suspended) => obj.suspended,
            Ok(SmachState::Running) => !obj.suspended,
            Err(_) => false,
        };
        if !ok {
            self.fail("query SMACH", format_args!("{info:?}, model {obj:?}"));
        }
        Some(info)
    }

    /// `reconfigure` on a child.
    fn reconfigure_child(
        &mut self,
        handle: u32,
        request: SmachReconfigure,
    ) -> Result<u64, SysError> {
        let Some(Obj::Smach(obj)) = self.objects.get(handle) else {
            return Err(SysError::BadHandle);
        };
        let want = match request {
            SmachReconfigure::Priority(p) if p > 7 => Expect::Err(SysError::BadValue),
            SmachReconfigure::Wait => match obj.status {
                Some(status) => Expect::Is(Ok(ExitStatus::new(status).to_register())),
                None => Expect::Ok,
            },
            _ => Expect::Is(Ok(0)),
        };
        let cell = self.cell_of(handle, Call::Reconfigure);
        let got = self.sys(
            word(handle, Call::Reconfigure),
            &request.to_registers(),
            [(0, 0); 2],
            cell,
            "reconfigure SMACH",
            want,
        );
        if got.is_ok() {
            if let Some(Obj::Smach(o)) = self.objects.get_mut(handle) {
                match request {
                    SmachReconfigure::Suspend => o.suspended = true,
                    SmachReconfigure::Resume => o.suspended = false,
                    _ => {}
                }
            }
        }
        got
    }

    /// Waits for a child (resuming it first) and releases its handle.
    pub(crate) fn end_child(&mut self, handle: u32, child: SmachObj) {
        match child.role {
            Role::Quick | Role::Hostile(_) | Role::Fuzzer(_) => {
                if child.suspended {
                    let _ = self.reconfigure_child(handle, SmachReconfigure::Resume);
                }
                let status = self.reconfigure_child(handle, SmachReconfigure::Wait);
                if let (Role::Hostile(want), Ok(status)) = (child.role, status) {
                    let status = ExitStatus::from_register(status).get();
                    if !want.accepts(status) {
                        self.fail(
                            "hostile entry",
                            format_args!("child status {status}, want {want:?}"),
                        );
                    }
                }
            }
            Role::Victim => {}
        }
        let cell = self.cell_of(handle, Call::Terminate);
        let _ = self.sys(
            word(handle, Call::Terminate),
            &[0],
            [(0, 0); 2],
            cell,
            "terminate SMACH",
            Expect::Is(Ok(0)),
        );
        self.objects.remove(handle);
    }

    /// One drawn SMACH operation (on a quick child, or on itself).
    pub(crate) fn smach_op(&mut self) {
        let quick = |o: &Obj| matches!(o, Obj::Smach(c) if c.role == Role::Quick);
        let count = self.handles_of(quick).1;
        let draw = self.rng.below(100);
        if count == 0 || (draw < 20 && count < MAX_CHILDREN) {
            self.spawn_quick();
            return;
        }
        let Some(handle) = self.pick_handle(quick) else {
            return;
        };
        match draw {
            20..=39 => {
                self.query_child(handle);
            }
            40..=69 => {
                let request = match self.rng.below(4) {
                    0 => SmachReconfigure::Suspend,
                    1 => SmachReconfigure::Resume,
                    _ => SmachReconfigure::Priority(self.rng.below_u32(9)),
                };
                let _ = self.reconfigure_child(handle, request);
            }
            70..=84 => {
                if let Some(Obj::Smach(child)) = self.objects.get(handle) {
                    self.end_child(handle, child);
                }
            }
            _ => {
                // Kill it, whatever it is doing.
                let cell = self.cell_of(handle, Call::Terminate);
                let _ = self.sys(
                    word(handle, Call::Terminate),
                    &[0],
                    [(0, 0); 2],
                    cell,
                    "kill SMACH",
                    Expect::Is(Ok(0)),
                );
                self.objects.remove(handle);
            }
        }
    }

    /// Calls on the fuzzer's own SMACH: null, query, priority, and the
    /// requests an SMACH may not make of itself.
    pub(crate) fn self_op(&mut self) {
        let cell = |call| Cell::new(call, Some(Kind::Smach), true);
        let mut out = [0_u8; 64];
        let ptr = out.as_mut_ptr() as u64;
        let path_bit = if self.rng.percent(40) {
            sk_abi::CallWord::FORCE_GENERIC
        } else {
            0
        };
        match self.rng.below(10) {
            0..=3 => {
                let _ = self.sys(
                    word(SELF, Call::Null) | path_bit,
                    &[],
                    [(0, 0); 2],
                    cell(Call::Null),
                    "null",
                    Expect::Is(Ok(0)),
                );
            }
            4 | 5 => {
                let len = [32, 33, 64][self.rng.index(3)];
                if self
                    .sys(
                        word(SELF, Call::Query) | path_bit,
                        &[0, ptr, len],
                        [(ptr, ptr + len), (0, 0)],
                        cell(Call::Query),
                        "query self",
                        Expect::Is(Ok(32)),
                    )
                    .is_ok()
                {
                    let info = SmachInfo::from_bytes(out.get(..32).unwrap_or_default()).ok();
                    if info
                        .is_none_or(|i| i.state() != Ok(SmachState::Running) || i.handle_count < 2)
                    {
                        self.fail("query self", format_args!("{info:?}"));
                    }
                }
            }
            6 => {
                // Sets the priority of every SCPU of the SMACH, the other
                // fuzzers' spinners too: counted (see `priority`).
                let p = self.rng.below_u32(8);
                PRIORITY_CLOCK.start();
                let got = self.sys(
                    word(SELF, Call::Reconfigure) | path_bit,
                    &SmachReconfigure::Priority(p).to_registers(),
                    [(0, 0); 2],
                    cell(Call::Reconfigure),
                    "priority self",
                    Expect::Is(Ok(0)),
                );
                PRIORITY_CLOCK.finish();
                if self.solo && got == Ok(0) {
                    // No other SCPU of the SMACH makes calls: this call
                    // was the last to set the priorities, exactly.
                    let since = PRIORITY_CLOCK.finished();
                    let (handles, n) = self.objects.handles_where(|o| matches!(o, Obj::Scpu(_)));
                    for &handle in handles.iter().take(n) {
                        if let Some(Obj::Scpu(o)) = self.objects.get_mut(handle) {
                            o.priority = ScpuPriority { value: p, since };
                        }
                    }
                }
            }
            7 => {
                let request = [
                    SmachReconfigure::Suspend,
                    SmachReconfigure::Resume,
                    SmachReconfigure::Wait,
                ][self.rng.index(3)];
                let _ = self.sys(
                    word(SELF, Call::Reconfigure) | path_bit,
                    &request.to_registers(),
                    [(0, 0); 2],
                    cell(Call::Reconfigure),
                    "suspend/resume/wait self",
                    Expect::Err(SysError::Busy),
                );
            }
            8 => {
                let _ = self.sys(
                    word(SELF, Call::Query) | path_bit,
                    &[u64::from(QuerySelector::LastTrace), 0, 0],
                    [(0, 0); 2],
                    cell(Call::Query),
                    "query last trace",
                    Expect::Ok,
                );
            }
            _ => {
                let priority = 8 + self.rng.below_u32(100);
                let _ = self.sys(
                    word(SELF, Call::Reconfigure) | path_bit,
                    &SmachReconfigure::Priority(priority).to_registers(),
                    [(0, 0); 2],
                    cell(Call::Reconfigure),
                    "priority self too high",
                    Expect::Err(SysError::BadValue),
                );
            }
        }
    }

    /// The child lifecycle: start, query, suspend, resume, priority, wait,
    /// release.
    pub(crate) fn smach_sequence(&mut self) {
        let Some(handle) = self.spawn_quick() else {
            return;
        };
        self.query_child(handle);
        let _ = self.reconfigure_child(handle, SmachReconfigure::Suspend);
        self.query_child(handle);
        let _ = self.reconfigure_child(handle, SmachReconfigure::Resume);
        let priority = self.rng.below_u32(8);
        let _ = self.reconfigure_child(handle, SmachReconfigure::Priority(priority));
        if let Some(Obj::Smach(child)) = self.objects.get(handle) {
            self.end_child(handle, child);
        }
    }

    /// One of the lifecycles.
    pub(crate) fn sequence_op(&mut self) {
        match self.rng.below(100) {
            0..=54 => self.file_sequence(),
            55..=79 => self.smem_sequence(),
            80..=89 => self.scpu_sequence(),
            _ => self.smach_sequence(),
        }
    }
}
