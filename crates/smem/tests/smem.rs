//! The SMEM kind's generic semantics on a fake address space: placement,
//! overlap, running out of memory, protection, and a property test of
//! random operations against a model.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_abi::{Prot, SmemCreate, SmemCreateArgs, SmemCreateFlags, SysError, PAGE_SIZE};
use sk_smem::testing::FakeAddressSpace;
use sk_smem::{Access, Regions, Smem, SMEM_AREA_START, USER_MAP_END};

fn args(addr: u64, len: u64, prot: Prot, flags: SmemCreateFlags) -> SmemCreate {
    SmemCreateArgs {
        addr_hint: addr,
        len,
        prot: prot.bits(),
        flags: flags.bits(),
    }
    .check()
    .unwrap()
}

const RW: Prot = Prot::READ.union(Prot::WRITE);

#[test]
fn kernel_placement_never_overlaps_a_caller_placed_region() {
    // The bug this guards against: kernel placement took the next address
    // without checking, and the failed create then unmapped the pages of
    // the region already there.
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let fixed = Smem::create(
        &mut regions,
        &mut aspace,
        &args(SMEM_AREA_START, 2 * PAGE_SIZE, RW, SmemCreateFlags::FIXED),
    )
    .unwrap();
    let placed = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0, PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    assert!(placed.start() >= fixed.end() + PAGE_SIZE, "guard page kept");
    assert_eq!(aspace.pages.len(), 3);
    assert_eq!(regions.mapped_bytes(), 3 * PAGE_SIZE);
}

#[test]
fn a_failed_create_unmaps_only_its_own_pages() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::with_limit(3);
    let first = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0, 2 * PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    let before = aspace.pages.clone();
    let err = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0, 4 * PAGE_SIZE, RW, SmemCreateFlags::empty()),
    );
    assert_eq!(err, Err(SysError::NoMemory));
    assert_eq!(aspace.pages, before, "the first region is untouched");
    assert_eq!(regions.ranges(), &[(first.start(), first.end())]);
    assert_eq!(regions.mapped_bytes(), 2 * PAGE_SIZE);
}

#[test]
fn fixed_over_a_mapping_is_refused_and_a_hint_moves() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let at = 0x5000_0000_0000;
    let a = Smem::create(
        &mut regions,
        &mut aspace,
        &args(at, 2 * PAGE_SIZE, RW, SmemCreateFlags::FIXED),
    )
    .unwrap();
    assert_eq!(a.start(), at);
    let fixed = Smem::create(
        &mut regions,
        &mut aspace,
        &args(at + PAGE_SIZE, PAGE_SIZE, RW, SmemCreateFlags::FIXED),
    );
    assert_eq!(fixed, Err(SysError::Exists));
    let hinted = Smem::create(
        &mut regions,
        &mut aspace,
        &args(at + PAGE_SIZE, PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    assert_ne!(hinted.start(), at + PAGE_SIZE);
    assert!(regions.is_free(hinted.end(), hinted.end() + PAGE_SIZE));
}

#[test]
fn the_top_page_is_never_mapped() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let got = Smem::create(
        &mut regions,
        &mut aspace,
        &args(USER_MAP_END, PAGE_SIZE, RW, SmemCreateFlags::FIXED),
    );
    assert_eq!(got, Err(SysError::BadAddress));
    assert!(aspace.pages.is_empty());
}

#[test]
fn protect_and_terminate() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let mut smem = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0, 3 * PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    smem.protect(&mut aspace, Prot::READ | Prot::EXEC).unwrap();
    assert!(aspace
        .pages
        .values()
        .all(|p| p.access == Access::READ_EXECUTE));
    assert_eq!(smem.info().prot, (Prot::READ | Prot::EXEC).bits());
    smem.terminate(&mut regions, &mut aspace);
    assert!(aspace.pages.is_empty());
    assert!(regions.ranges().is_empty());
    assert_eq!(regions.mapped_bytes(), 0);
}

#[derive(Debug, Clone)]
enum Op {
    Create { slot: u8, pages: u8, fixed: bool },
    Protect { index: usize, exec: bool },
    Terminate { index: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..16, 1u8..6, any::<bool>()).prop_map(|(slot, pages, fixed)| Op::Create {
            slot,
            pages,
            fixed
        }),
        (any::<usize>(), any::<bool>()).prop_map(|(index, exec)| Op::Protect { index, exec }),
        any::<usize>().prop_map(|index| Op::Terminate { index }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Random creates (some at fixed addresses that collide), protects and
    /// terminates under a page limit: regions stay disjoint, every mapped
    /// page belongs to exactly one live region with its protection, the
    /// byte count matches, and terminating everything leaves nothing.
    #[test]
    fn random_operations_keep_regions_and_pages_consistent(ops in proptest::collection::vec(op(), 1..60)) {
        let mut regions = Regions::new();
        let mut aspace = FakeAddressSpace::with_limit(40);
        let mut live: Vec<Smem> = Vec::new();
        for op in ops {
            match op {
                Op::Create { slot, pages, fixed } => {
                    let addr = if fixed { SMEM_AREA_START + u64::from(slot) * 2 * PAGE_SIZE } else { 0 };
                    let flags = if fixed { SmemCreateFlags::FIXED } else { SmemCreateFlags::empty() };
                    let before = aspace.pages.len();
                    match Smem::create(&mut regions, &mut aspace, &args(addr, u64::from(pages) * PAGE_SIZE, RW, flags)) {
                        Ok(s) => live.push(s),
                        Err(e) => {
                            prop_assert!(matches!(e, SysError::Exists | SysError::NoMemory), "{e:?}");
                            prop_assert_eq!(aspace.pages.len(), before);
                        }
                    }
                }
                Op::Protect { index, exec } if !live.is_empty() => {
                    let i = index % live.len();
                    let prot = if exec { Prot::READ | Prot::EXEC } else { RW };
                    live[i].protect(&mut aspace, prot).unwrap();
                }
                Op::Terminate { index } if !live.is_empty() => {
                    let s = live.swap_remove(index % live.len());
                    s.terminate(&mut regions, &mut aspace);
                }
                _ => {}
            }
            let mut expected = 0u64;
            for (i, a) in live.iter().enumerate() {
                for b in live.iter().skip(i + 1) {
                    prop_assert!(a.end() <= b.start() || b.end() <= a.start());
                }
                let mut page = a.start();
                while page < a.end() {
                    let p = aspace.pages.get(&page);
                    prop_assert!(p.is_some());
                    prop_assert_eq!(p.map(|p| p.access), Some(Access::from(a.prot())));
                    page += PAGE_SIZE;
                }
                expected += a.len();
            }
            prop_assert_eq!(aspace.pages.len() as u64 * PAGE_SIZE, expected);
            prop_assert_eq!(regions.mapped_bytes(), expected);
        }
        for s in live.drain(..) {
            s.terminate(&mut regions, &mut aspace);
        }
        prop_assert!(aspace.pages.is_empty());
        prop_assert!(regions.ranges().is_empty());
    }
}
