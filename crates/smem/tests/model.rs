//! A property test of random SMEM creates (kernel-placed, hinted and
//! `FIXED`), protects and terminates, next to ranges reserved by others
//! (a program, stacks), under a page limit, against a model that places
//! regions by the README's rule stated declaratively: the lowest address
//! at or above the SMEM area whose region and the guard page after it
//! overlap no range in use nor any range's guard page.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_abi::{Prot, SmemCreateArgs, SmemCreateFlags, SysError, PAGE_SIZE};
use sk_smem::testing::FakeAddressSpace;
use sk_smem::{Access, Regions, Smem, SMEM_AREA_START, USER_MAP_END};
use std::collections::BTreeMap;

const P: u64 = PAGE_SIZE;
const SLOTS: u64 = 48;
const PROTS: [Prot; 4] = [
    Prot::empty(),
    Prot::READ,
    Prot::READ.union(Prot::WRITE),
    Prot::READ.union(Prot::EXEC),
];

#[derive(Debug, Clone, Copy)]
enum Placement {
    Kernel,
    Hint(u64),
    Fixed(u64),
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        placement: Placement,
        pages: u64,
        prot: usize,
    },
    Protect {
        index: usize,
        prot: usize,
    },
    Terminate {
        index: usize,
    },
}

fn slot() -> impl Strategy<Value = u64> {
    0..SLOTS
}

fn op() -> impl Strategy<Value = Op> {
    let placement = prop_oneof![
        Just(Placement::Kernel),
        slot().prop_map(Placement::Hint),
        slot().prop_map(Placement::Fixed),
    ];
    prop_oneof![
        3 => (placement, 1u64..6, 0..PROTS.len()).prop_map(|(placement, pages, prot)| Op::Create { placement, pages, prot }),
        1 => (any::<usize>(), 0..PROTS.len()).prop_map(|(index, prot)| Op::Protect { index, prot }),
        2 => any::<usize>().prop_map(|index| Op::Terminate { index }),
    ]
}

/// A range reserved by someone else (say, a stack): slot and pages.
fn foreign() -> impl Strategy<Value = (u64, u64)> {
    (slot(), 1u64..4)
}

fn address(slot: u64) -> u64 {
    SMEM_AREA_START + slot * P
}

/// What the model knows: ranges reserved by others, live regions
/// (start, len, prot) in creation order, and the page limit.
struct Model {
    foreign: Vec<(u64, u64)>,
    live: Vec<(u64, u64, Prot)>,
    page_limit: u64,
}

impl Model {
    fn ranges(&self) -> Vec<(u64, u64)> {
        let mut all: Vec<(u64, u64)> = self.foreign.clone();
        all.extend(self.live.iter().map(|&(s, len, _)| (s, s + len)));
        all.sort_unstable();
        all
    }

    fn is_free(&self, start: u64, end: u64) -> bool {
        self.ranges().iter().all(|&(s, e)| end <= s || e <= start)
    }

    /// The lowest `c >= SMEM_AREA_START` such that `c..c+len+guard`
    /// meets no `s..e+guard` of a range in use. It is either the area's
    /// start or just past some range's guard.
    fn first_fit(&self, len: u64) -> Option<u64> {
        let ranges = self.ranges();
        let candidates = std::iter::once(SMEM_AREA_START)
            .chain(ranges.iter().map(|&(_, e)| e + P))
            .filter(|&c| c >= SMEM_AREA_START);
        candidates
            .filter(|&c| c + len <= USER_MAP_END)
            .filter(|&c| ranges.iter().all(|&(s, e)| c + len + P <= s || e + P <= c))
            .min()
    }

    fn mapped_pages(&self) -> u64 {
        self.live.iter().map(|&(_, len, _)| len / P).sum()
    }

    /// What a create should return (the start), or its error.
    fn create(&self, placement: Placement, len: u64) -> Result<u64, SysError> {
        let start = match placement {
            Placement::Fixed(slot) => {
                let at = address(slot);
                if !self.is_free(at, at + len) {
                    return Err(SysError::Exists);
                }
                at
            }
            Placement::Hint(slot) if self.is_free(address(slot), address(slot) + len) => {
                address(slot)
            }
            Placement::Hint(_) | Placement::Kernel => {
                self.first_fit(len).ok_or(SysError::NoMemory)?
            }
        };
        if self.mapped_pages() + len / P > self.page_limit {
            return Err(SysError::NoMemory);
        }
        Ok(start)
    }
}

fn args(placement: Placement, len: u64, prot: Prot) -> sk_abi::SmemCreate {
    let (addr_hint, flags) = match placement {
        Placement::Kernel => (0, SmemCreateFlags::empty()),
        Placement::Hint(slot) => (address(slot), SmemCreateFlags::empty()),
        Placement::Fixed(slot) => (address(slot), SmemCreateFlags::FIXED),
    };
    SmemCreateArgs {
        addr_hint,
        len,
        prot: prot.bits(),
        flags: flags.bits(),
    }
    .check()
    .unwrap()
}

/// The system and the model agree on everything observable.
fn check(
    model: &Model,
    regions: &Regions,
    aspace: &FakeAddressSpace,
    smems: &[Smem],
) -> Result<(), TestCaseError> {
    // The recorded ranges are the model's, sorted and pairwise disjoint.
    let ranges = model.ranges();
    prop_assert_eq!(regions.ranges(), &ranges[..]);
    for pair in regions.ranges().windows(2) {
        prop_assert!(pair[0].1 <= pair[1].0, "{:x?} overlap", pair);
    }
    // The mapped pages are exactly the live regions' pages, each with its
    // region's access; the ranges of others are not mapped.
    let mut want: BTreeMap<u64, Access> = BTreeMap::new();
    for &(s, len, prot) in &model.live {
        for page in (s..s + len).step_by(P as usize) {
            prop_assert!(
                want.insert(page, Access::from(prot)).is_none(),
                "page {page:#x} twice"
            );
        }
    }
    let got: BTreeMap<u64, Access> = aspace.pages.iter().map(|(&a, p)| (a, p.access)).collect();
    prop_assert_eq!(got, want);
    prop_assert_eq!(regions.mapped_bytes(), model.mapped_pages() * P);
    // Each region reports what the model holds.
    prop_assert_eq!(smems.len(), model.live.len());
    for (smem, &(s, len, prot)) in smems.iter().zip(&model.live) {
        let info = smem.info();
        prop_assert_eq!((info.addr, info.len, info.prot), (s, len, prot.bits()));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn random_map_unmap_protect_match_a_model(
        foreign_ranges in proptest::collection::vec(foreign(), 0..4),
        page_limit in 4u64..40,
        ops in proptest::collection::vec(op(), 1..50),
    ) {
        let mut regions = Regions::new();
        let mut aspace = FakeAddressSpace::with_limit(page_limit as usize);
        let mut model = Model { foreign: Vec::new(), live: Vec::new(), page_limit };
        // Others' ranges: those that do not collide are reserved.
        for (slot, pages) in foreign_ranges {
            let (s, e) = (address(slot), address(slot) + pages * P);
            if model.is_free(s, e) {
                regions.reserve(s, e).unwrap();
                model.foreign.push((s, e));
            } else {
                prop_assert_eq!(regions.reserve(s, e), Err(SysError::Exists));
            }
        }
        let mut smems: Vec<Smem> = Vec::new();
        for op in ops {
            match op {
                Op::Create { placement, pages, prot } => {
                    let (len, prot) = (pages * P, PROTS[prot]);
                    let want = model.create(placement, len);
                    let got = Smem::create(&mut regions, &mut aspace, &args(placement, len, prot));
                    prop_assert_eq!(got.as_ref().map(Smem::start).map_err(|e| *e), want, "{:?}", placement);
                    if let Ok(smem) = got {
                        for page in (smem.start()..smem.end()).step_by(P as usize) {
                            prop_assert!(aspace.pages[&page].bytes.iter().all(|&b| b == 0), "zeroed");
                        }
                        model.live.push((smem.start(), len, prot));
                        smems.push(smem);
                    }
                }
                Op::Protect { index, prot } if !smems.is_empty() => {
                    let i = index % smems.len();
                    prop_assert_eq!(smems[i].protect(&mut aspace, PROTS[prot]), Ok(()));
                    model.live[i].2 = PROTS[prot];
                }
                Op::Terminate { index } if !smems.is_empty() => {
                    let i = index % smems.len();
                    smems.remove(i).terminate(&mut regions, &mut aspace);
                    model.live.remove(i);
                }
                Op::Protect { .. } | Op::Terminate { .. } => {}
            }
            check(&model, &regions, &aspace, &smems)?;
        }
        for smem in smems.drain(..) {
            smem.terminate(&mut regions, &mut aspace);
        }
        model.live.clear();
        check(&model, &regions, &aspace, &smems)?;
        prop_assert!(aspace.pages.is_empty());
    }
}
