//! SMEMs a fuzzer makes: placement (chosen by the kernel or FIXED in the
//! fuzzer's zone), length, protection, fresh contents, and whether the
//! kernel honours the protection when a read lands in the region.
//!
//! Owns [`SmemObj`] and the SMEM operations and lifecycle.

use sk_abi::{
    Call, Kind, Prot, QuerySelector, SmemCreateArgs, SmemCreateFlags, SmemInfo, SmemReconfigure,
    SysError, PAGE_SIZE,
};
use sk_user_sysfuzz::model::{self, Buf};
use sk_user_sysfuzz::stats::Cell;

use crate::fuzzer::{generic, word, Expect, Fuzzer, Obj, SELF};
use crate::memory::{ZONES, ZONE_BYTES};

/// Where the kernel places SMEMs it chooses the address of.
const SMEM_AREA_START: u64 = 0x0000_1000_0000_0000;

/// Most SMEMs a fuzzer keeps at once.
const MAX_SMEMS: usize = 4;

/// An SMEM region of a fuzzer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SmemObj {
    pub(crate) addr: u64,
    pub(crate) len: u64,
    pub(crate) prot: u32,
}

impl Fuzzer<'_> {
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
}
