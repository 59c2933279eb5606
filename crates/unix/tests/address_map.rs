//! The address map against a page-by-page model of mmap(2), munmap(2),
//! mprotect(2), mremap(2) and brk(2), with the returned actions replayed
//! on a simulated page table: after every call the map, the model and the
//! page table must agree page for page (protection, attributes and which
//! bytes each page holds), and the map's invariants must hold.

use proptest::prelude::*;
use sk_abi::{PAGE_SIZE, USER_END};
use sk_unix::address_map::{AddressMap, FileRef, MmapRequest};
use sk_unix::vma::{map, Backing, MapAction, RegionKind, MMAP_MIN_ADDR};
use sk_unix::Errno;
use std::collections::BTreeMap;

const P: u64 = PAGE_SIZE;
/// The page size as a step.
const STEP: usize = 4096;
const BASE: u64 = MMAP_MIN_ADDR + 512 * P;
const BRK_START: u64 = MMAP_MIN_ADDR + 256 * P;

/// A page's attributes: what the map must report for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Attrs {
    prot: u8,
    max_prot: u8,
    shared: bool,
    /// `(file, offset of this page)`, or `None` for anonymous.
    file: Option<(u64, u64)>,
    heap: bool,
    grows: bool,
}

impl Attrs {
    /// The attributes of the page `n` pages further on in the same mapping.
    fn advanced(self, n: u64) -> Self {
        Self {
            file: self.file.map(|(f, o)| (f, o.wrapping_add(n * P))),
            ..self
        }
    }
}

/// A page: attributes and the identity of its contents (call index, address
/// it was created at).
type Page = (Attrs, (usize, u64));

#[derive(Default)]
struct Model {
    pages: BTreeMap<u64, Page>,
    brk: u64,
}

/// A simulated page table: what the kernel would have after doing the
/// actions.
#[derive(Default)]
struct PageTable {
    pages: BTreeMap<u64, (u8, (usize, u64))>,
}

impl PageTable {
    fn apply(&mut self, actions: &[MapAction], call: usize) -> Result<(), String> {
        for action in actions {
            match action {
                MapAction::Unmap { range } => {
                    for a in range.clone().step_by(STEP) {
                        self.pages
                            .remove(&a)
                            .ok_or(format!("unmap of unmapped {a:#x}"))?;
                    }
                }
                MapAction::Map { range, prot, .. } => {
                    for a in range.clone().step_by(STEP) {
                        if self.pages.insert(a, (prot.bits(), (call, a))).is_some() {
                            return Err(format!("map over mapped {a:#x}"));
                        }
                    }
                }
                MapAction::Protect { range, prot } => {
                    for a in range.clone().step_by(STEP) {
                        self.pages
                            .get_mut(&a)
                            .ok_or(format!("protect of unmapped {a:#x}"))?
                            .0 = prot.bits();
                    }
                }
                MapAction::Move { from, to, len } => {
                    let mut moved = Vec::new();
                    for off in (0..*len).step_by(STEP) {
                        moved.push((
                            to + off,
                            self.pages.remove(&(from + off)).ok_or("move of unmapped")?,
                        ));
                    }
                    for (a, page) in moved {
                        if self.pages.insert(a, page).is_some() {
                            return Err(format!("move onto mapped {a:#x}"));
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

fn align(len: u64) -> Option<u64> {
    len.checked_add(P - 1).map(|l| l & !(P - 1))
}

impl Model {
    fn free(&self, start: u64, end: u64) -> bool {
        self.pages.range(start..end).next().is_none()
    }

    fn remove(&mut self, start: u64, end: u64) {
        let keys: Vec<u64> = self.pages.range(start..end).map(|(&a, _)| a).collect();
        for a in keys {
            self.pages.remove(&a);
        }
    }

    fn add(&mut self, start: u64, end: u64, attrs: Attrs, call: usize) {
        for (i, a) in (start..end).step_by(STEP).enumerate() {
            self.pages.insert(a, (attrs.advanced(i as u64), (call, a)));
        }
    }

    /// The end of the run of pages joinable with the one at `addr`.
    fn run_end(&self, addr: u64) -> u64 {
        let mut end = addr;
        while let Some((attrs, _)) = self.pages.get(&end) {
            end += P;
            match self.pages.get(&end) {
                Some((next, _)) if *next == attrs.advanced(1) => {}
                _ => break,
            }
        }
        end
    }

    /// The highest free `len`-byte range inside `lo..hi`: it ends at `hi`
    /// or where a mapped page starts.
    fn highest_fit(&self, len: u64, lo: u64, hi: u64) -> Option<u64> {
        let ends = std::iter::once(hi).chain(self.pages.range(lo..hi).map(|(&p, _)| p));
        ends.filter_map(|end| end.checked_sub(len))
            .filter(|&a| a >= lo && self.free(a, a + len))
            .max()
    }

    /// Where a mapping without a usable hint goes: top-down below `BASE`,
    /// else top-down above it.
    fn top_down(&self, len: u64) -> Option<u64> {
        self.highest_fit(len, MMAP_MIN_ADDR, BASE)
            .or_else(|| self.highest_fit(len, BASE, USER_END))
    }

    fn mmap(&mut self, r: &MmapRequest, call: usize) -> Result<u64, Errno> {
        // sys_mmap, ksys_mmap_pgoff, do_mmap, __get_unmapped_area, in order.
        if !r.offset.is_multiple_of(P) {
            return Err(Errno::EINVAL);
        }
        let anon = r.flags & map::ANONYMOUS != 0;
        let file = if anon {
            None
        } else {
            Some(r.file.ok_or(Errno::EBADF)?)
        };
        if r.flags & map::HUGETLB != 0 || r.len == 0 {
            return Err(Errno::EINVAL);
        }
        let len = align(r.len)
            .filter(|&l| l <= USER_END - MMAP_MIN_ADDR)
            .ok_or(Errno::ENOMEM)?;
        let addr = if r.flags & (map::FIXED | map::FIXED_NOREPLACE) != 0 {
            if r.addr > USER_END - len {
                return Err(Errno::ENOMEM);
            }
            if !r.addr.is_multiple_of(P) {
                return Err(Errno::EINVAL);
            }
            if r.addr < MMAP_MIN_ADDR {
                return Err(Errno::EPERM);
            }
            r.addr
        } else {
            let down = r.addr / P * P;
            let hint = match down {
                0 => None,
                d => Some(d.max(MMAP_MIN_ADDR)),
            }
            .filter(|&h| h <= USER_END - len && self.free(h, h + len));
            hint.or_else(|| self.top_down(len)).ok_or(Errno::ENOMEM)?
        };
        if r.flags & map::FIXED_NOREPLACE != 0 && !self.free(addr, addr + len) {
            return Err(Errno::EEXIST);
        }
        let ty = r.flags & 0xf;
        let prot = (r.prot & 7) as u8;
        let (shared, file, max_prot) = match file {
            None => match ty {
                1 if r.flags & map::GROWSDOWN != 0 => return Err(Errno::EINVAL),
                1 => (true, None, 7),
                2 => (false, None, 7),
                _ => return Err(Errno::EINVAL),
            },
            Some(f) => {
                if r.offset
                    .checked_add(len)
                    .is_none_or(|e| e > i64::MAX as u64)
                {
                    return Err(Errno::EOVERFLOW);
                }
                if ty == 3 && r.flags & !map::KNOWN != 0 {
                    return Err(Errno::EOPNOTSUPP);
                }
                if ![1, 2, 3].contains(&ty) {
                    return Err(Errno::EINVAL);
                }
                let shared = ty != 2;
                if shared && !f.writable && prot & 2 != 0 {
                    return Err(Errno::EACCES);
                }
                if !f.readable {
                    return Err(Errno::EACCES);
                }
                (
                    shared,
                    Some((f.file, r.offset)),
                    if shared && !f.writable { 5 } else { 7 },
                )
            }
        };
        self.remove(addr, addr + len);
        let attrs = Attrs {
            prot,
            max_prot,
            shared,
            file,
            heap: false,
            grows: r.flags & map::GROWSDOWN != 0,
        };
        self.add(addr, addr + len, attrs, call);
        Ok(addr)
    }

    fn munmap(&mut self, addr: u64, len: u64) -> Result<u64, Errno> {
        if !addr.is_multiple_of(P) || len == 0 || addr > USER_END {
            return Err(Errno::EINVAL);
        }
        let len = align(len)
            .filter(|&l| l <= USER_END - addr)
            .ok_or(Errno::EINVAL)?;
        self.remove(addr, addr + len);
        Ok(0)
    }

    fn mprotect(&mut self, addr: u64, len: u64, prot: u64) -> Result<u64, Errno> {
        if !addr.is_multiple_of(P) {
            return Err(Errno::EINVAL);
        }
        if len == 0 {
            return Ok(0);
        }
        let end = align(len)
            .and_then(|l| addr.checked_add(l))
            .ok_or(Errno::ENOMEM)?;
        if prot & !0xf != 0 {
            return Err(Errno::EINVAL);
        }
        let prot = (prot & 7) as u8;
        let mut a = addr;
        while a < end {
            let (attrs, _) = self.pages.get(&a).ok_or(Errno::ENOMEM)?;
            if prot & !attrs.max_prot != 0 {
                // The first region denying it decides, unless a hole comes first.
                return Err(Errno::EACCES);
            }
            a += P;
        }
        for (_, (attrs, _)) in self.pages.range_mut(addr..end) {
            attrs.prot = prot;
        }
        Ok(0)
    }

    #[allow(clippy::too_many_arguments)]
    fn mremap(
        &mut self,
        old: u64,
        old_size: u64,
        new_size: u64,
        flags: u64,
        new: u64,
        call: usize,
    ) -> Result<u64, Errno> {
        let (may_move, fixed) = (flags & 1 != 0, flags & 2 != 0);
        if flags & !3 != 0 || (fixed && !may_move) || !old.is_multiple_of(P) {
            return Err(Errno::EINVAL);
        }
        let old_len = align(old_size).filter(|&l| l != 0).ok_or(Errno::EINVAL)?;
        let new_len = align(new_size).filter(|&l| l != 0).ok_or(Errno::EINVAL)?;
        let &(first, _) = self.pages.get(&old).ok_or(Errno::EFAULT)?;
        // The region: the run of joinable pages around `old`.
        let run_end = self.run_end(old);
        let old_end = old.checked_add(old_len).ok_or(Errno::EFAULT)?;
        if old_end > run_end {
            return Err(Errno::EFAULT);
        }
        let relocate = |m: &mut Model, len: u64, to: u64, new_len: u64| {
            let moved: Vec<(u64, Page)> = (0..len)
                .step_by(STEP)
                .map(|off| (to + off, m.pages[&(old + off)]))
                .collect();
            m.remove(old, old + len);
            for (a, page) in moved {
                m.pages.insert(a, page);
            }
            m.add(to + len, to + new_len, first.advanced(len / P), call);
        };
        if fixed {
            if !new.is_multiple_of(P) || new_len > USER_END || new > USER_END - new_len {
                return Err(Errno::EINVAL);
            }
            if old_end > new && new + new_len > old {
                return Err(Errno::EINVAL);
            }
            if new < MMAP_MIN_ADDR {
                return Err(Errno::EPERM);
            }
            self.remove(new, new + new_len);
            let moved = old_len.min(new_len);
            self.remove(old + moved, old_end);
            relocate(self, moved, new, new_len);
            return Ok(new);
        }
        if new_len <= old_len {
            self.remove(old + new_len, old_end);
            return Ok(old);
        }
        if let Some(grown) = old.checked_add(new_len).filter(|&e| e <= USER_END) {
            if old_end == run_end && self.free(old_end, grown) {
                self.add(old_end, grown, first.advanced(old_len / P), call);
                return Ok(old);
            }
        }
        if !may_move {
            return Err(Errno::ENOMEM);
        }
        let to = self.top_down(new_len).ok_or(Errno::ENOMEM)?;
        relocate(self, old_len, to, new_len);
        Ok(to)
    }

    fn brk(&mut self, requested: u64, call: usize) -> u64 {
        if requested < BRK_START {
            return self.brk;
        }
        let Some(new_top) = align(requested).filter(|&t| t <= USER_END) else {
            return self.brk;
        };
        let old_top = align(self.brk).unwrap();
        if new_top <= old_top {
            self.remove(new_top, old_top);
        } else {
            if !self.free(old_top, new_top + P) {
                return self.brk;
            }
            let heap = Attrs {
                prot: 3,
                max_prot: 7,
                shared: false,
                file: None,
                heap: true,
                grows: false,
            };
            for a in (old_top..new_top).step_by(STEP) {
                self.pages.insert(a, (heap, (call, a)));
            }
        }
        self.brk = requested;
        requested
    }
}

#[derive(Clone, Debug)]
enum Op {
    Mmap(MmapRequest),
    Munmap(Target, u64),
    Mprotect(Target, u64, u64),
    Mremap(Target, u64, u64, u64, u64),
    Brk(u64),
}

/// An address: absolute, or `n` pages into the `i`-th region (modulo the
/// count) at the time of the call, so calls often hit mappings.
#[derive(Clone, Copy, Debug)]
enum Target {
    Abs(u64),
    Rel(usize, u64),
}

impl Target {
    fn resolve(self, map: &AddressMap) -> u64 {
        match self {
            Self::Abs(a) => a,
            Self::Rel(i, n) => match map.regions() {
                [] => BASE + n * P,
                regions => regions[i % regions.len()].start + n * P,
            },
        }
    }
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        2 => addr().prop_map(Target::Abs),
        3 => (any::<usize>(), 0u64..3).prop_map(|(i, n)| Target::Rel(i, n)),
    ]
}

fn addr() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (0u64..80).prop_map(|p| BASE - 64 * P + p * P),
        3 => (0u64..40).prop_map(|p| BRK_START + p * P),
        3 => (0u64..700).prop_map(|p| p * P),
        1 => (0u64..700).prop_map(|p| p * P + 123),
        1 => 1u64..MMAP_MIN_ADDR,
        1 => (1u64..4).prop_map(|k| USER_END - k * P),
        1 => any::<u64>(),
    ]
}

fn len() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => (0u64..24).prop_map(|p| p * P),
        2 => 1u64..100_000,
        1 => Just(u64::MAX - 5),
        1 => Just(USER_END),
    ]
}

fn mmap_request() -> impl Strategy<Value = MmapRequest> {
    let extra = prop::sample::subsequence(
        vec![
            map::FIXED,
            map::FIXED,
            map::FIXED_NOREPLACE,
            map::GROWSDOWN,
            map::POPULATE,
            1 << 30,
            map::HUGETLB,
        ],
        0..2,
    );
    (
        addr(),
        len(),
        0u64..9,
        prop_oneof![8 => Just(map::PRIVATE), 2 => Just(map::SHARED), 1 => 0u64..5],
        prop_oneof![4 => Just(map::ANONYMOUS), 1 => Just(0u64)],
        extra,
        prop_oneof![4 => (0u64..4).prop_map(|p| p * P), 1 => Just(7u64), 1 => Just(!(P - 1)), 1 => Just(1u64 << 62)],
        prop::option::of((1u64..3, any::<bool>(), any::<bool>())),
    )
        .prop_map(
            |(addr, len, prot, ty, anon, extra, offset, file)| MmapRequest {
                addr,
                len,
                prot,
                flags: ty | anon | extra.into_iter().fold(0, |a, b| a | b),
                offset,
                file: file.map(|(file, readable, writable)| FileRef {
                    file,
                    readable,
                    writable,
                }),
            },
        )
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => mmap_request().prop_map(Op::Mmap),
        2 => (target(), len()).prop_map(|(a, l)| Op::Munmap(a, l)),
        2 => (target(), len(), prop_oneof![0u64..8, Just(0x10u64)]).prop_map(|(a, l, p)| Op::Mprotect(a, l, p)),
        2 => (target(), len(), len(), prop_oneof![4 => 0u64..4, 1 => 0u64..8], addr()).prop_map(|(a, o, n, f, t)| Op::Mremap(a, o, n, f, t)),
        2 => prop_oneof![Just(0u64), (0u64..300_000).prop_map(|d| BRK_START + d), any::<u64>()].prop_map(Op::Brk),
    ]
}

/// The attributes the map reports for each page.
fn pages_of(map: &AddressMap) -> BTreeMap<u64, Attrs> {
    let mut pages = BTreeMap::new();
    for r in map.regions() {
        for (i, a) in (r.start..r.end).step_by(STEP).enumerate() {
            let file = match r.backing.advanced(i as u64 * P) {
                Backing::Anonymous => None,
                Backing::File { file, offset } => Some((file, offset)),
            };
            pages.insert(
                a,
                Attrs {
                    prot: r.prot.bits(),
                    max_prot: r.max_prot.bits(),
                    shared: r.shared,
                    file,
                    heap: r.kind == RegionKind::Heap,
                    grows: r.grows_down,
                },
            );
        }
    }
    pages
}

fn check_invariants(map: &AddressMap) -> Result<(), TestCaseError> {
    let regions = map.regions();
    for r in regions {
        prop_assert!(r.start < r.end, "empty region");
        prop_assert!(
            r.start.is_multiple_of(P) && r.end.is_multiple_of(P),
            "unaligned region"
        );
        prop_assert!(
            r.start >= MMAP_MIN_ADDR && r.end <= USER_END,
            "region outside user space: {r:?}"
        );
    }
    for pair in regions.windows(2) {
        prop_assert!(pair[0].end <= pair[1].start, "unsorted or overlapping");
        prop_assert!(!pair[0].joins(&pair[1]), "unmerged neighbours");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn map_follows_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut map = AddressMap::new(BASE, BRK_START).unwrap();
        let mut model = Model { brk: BRK_START, ..Model::default() };
        let mut table = PageTable::default();
        for (call, op) in ops.iter().enumerate() {
            let (got, actions) = match *op {
                Op::Mmap(ref r) => {
                    let got = map.mmap(r);
                    let addr = got.as_ref().map(|m| m.addr).map_err(|e| *e);
                    prop_assert_eq!(addr, model.mmap(r, call), "{:?}", op);
                    (addr, got.map(|m| m.actions).unwrap_or_default())
                }
                Op::Munmap(a, l) => {
                    let a = a.resolve(&map);
                    let got = map.munmap(a, l);
                    prop_assert_eq!(got.as_ref().map(|_| 0).map_err(|e| *e), model.munmap(a, l), "{:?}", op);
                    (Ok(0), got.unwrap_or_default())
                }
                Op::Mprotect(a, l, p) => {
                    let a = a.resolve(&map);
                    let got = map.mprotect(a, l, p);
                    prop_assert_eq!(got.as_ref().map(|_| 0).map_err(|e| *e), model.mprotect(a, l, p), "{:?}", op);
                    (Ok(0), got.unwrap_or_default())
                }
                Op::Mremap(a, o, n, f, t) => {
                    let a = a.resolve(&map);
                    let got = map.mremap(a, o, n, f, t);
                    let addr = got.as_ref().map(|m| m.addr).map_err(|e| *e);
                    prop_assert_eq!(addr, model.mremap(a, o, n, f, t, call), "{:?}", op);
                    (addr, got.map(|m| m.actions).unwrap_or_default())
                }
                Op::Brk(b) => {
                    let got = map.brk(b);
                    prop_assert_eq!(got.brk, model.brk(b, call), "{:?}", op);
                    prop_assert_eq!(map.current_brk(), model.brk);
                    (Ok(got.brk), got.actions)
                }
            };
            let _ = got;
            table.apply(&actions, call).map_err(TestCaseError::fail)?;
            check_invariants(&map)?;
            let model_attrs: BTreeMap<u64, Attrs> = model.pages.iter().map(|(&a, &(attrs, _))| (a, attrs)).collect();
            prop_assert_eq!(&pages_of(&map), &model_attrs, "map vs model after {:?}", op);
            let model_table: BTreeMap<u64, (u8, (usize, u64))> =
                model.pages.iter().map(|(&a, &(attrs, tag))| (a, (attrs.prot, tag))).collect();
            prop_assert_eq!(&table.pages, &model_table, "page table vs model after {:?}", op);
        }
    }
}
