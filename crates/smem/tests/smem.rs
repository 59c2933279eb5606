//! The SMEM kind's generic semantics on a fake address space: placement,
//! overlap, running out of memory, protection, and a property test of
//! random operations against a model.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_abi::{Prot, SmemCreate, SmemCreateArgs, SmemCreateFlags, SysError, PAGE_SIZE};
use sk_smem::testing::FakeAddressSpace;
use sk_smem::{
    Access, AddressSpace, Regions, Smem, MAX_REGION_BYTES, SMEM_AREA_START, USER_MAP_END,
};

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

#[test]
fn without_an_address_a_region_is_zeroed_pages_at_the_first_fit() {
    for prot in [Prot::READ, RW, Prot::READ | Prot::EXEC, Prot::empty()] {
        let mut regions = Regions::new();
        let mut aspace = FakeAddressSpace::new();
        let smem = Smem::create(
            &mut regions,
            &mut aspace,
            &args(0, 3 * PAGE_SIZE, prot, SmemCreateFlags::empty()),
        )
        .unwrap();
        assert_eq!(smem.start(), SMEM_AREA_START);
        assert_eq!(
            (smem.len(), smem.end()),
            (3 * PAGE_SIZE, SMEM_AREA_START + 3 * PAGE_SIZE)
        );
        assert!(!smem.is_empty());
        assert_eq!(smem.prot(), prot);
        let info = smem.info();
        assert_eq!(
            (info.addr, info.len, info.prot, info._pad),
            (SMEM_AREA_START, 3 * PAGE_SIZE, prot.bits(), 0)
        );
        let pages: Vec<u64> = aspace.pages.keys().copied().collect();
        assert_eq!(pages, [0, 1, 2].map(|i| SMEM_AREA_START + i * PAGE_SIZE));
        for page in aspace.pages.values() {
            assert_eq!(page.access, Access::from(prot));
            assert!(page.bytes.iter().all(|&b| b == 0), "zeroed");
        }
        assert_eq!(regions.ranges(), &[(smem.start(), smem.end())]);
        assert_eq!(regions.mapped_bytes(), 3 * PAGE_SIZE);
    }
}

#[test]
fn write_xor_execute_reaches_the_pages() {
    assert_eq!(Access::from(RW), Access::READ_WRITE);
    assert_eq!(Access::from(Prot::READ | Prot::EXEC), Access::READ_EXECUTE);
    assert_eq!(Access::from(Prot::READ), Access::READ);
    assert_eq!(
        Access::from(Prot::WRITE),
        Access::READ_WRITE,
        "write implies read"
    );
    assert_eq!(
        Access::from(Prot::EXEC),
        Access::READ_EXECUTE,
        "exec implies read"
    );
}

#[test]
fn a_length_is_whole_pages() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let smem = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0, 3 * PAGE_SIZE + 5, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    assert_eq!(smem.len(), 4 * PAGE_SIZE);
    assert_eq!(aspace.pages.len(), 4);
}

#[test]
fn kernel_placed_regions_are_separated_by_guard_pages() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let mut starts = Vec::new();
    for pages in [1u64, 2, 1] {
        let s = Smem::create(
            &mut regions,
            &mut aspace,
            &args(0, pages * PAGE_SIZE, RW, SmemCreateFlags::empty()),
        )
        .unwrap();
        starts.push((s.start() - SMEM_AREA_START) / PAGE_SIZE);
    }
    assert_eq!(starts, [0, 2, 5]);
    for guard in [1u64, 4, 6] {
        assert!(!aspace
            .pages
            .contains_key(&(SMEM_AREA_START + guard * PAGE_SIZE)));
    }
}

#[test]
fn a_free_hint_is_taken_as_is_and_a_taken_one_moves() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    // Below the SMEM area too: a hint is the caller's choice.
    let low = 0x1000_0000;
    let a = Smem::create(
        &mut regions,
        &mut aspace,
        &args(low, 2 * PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    assert_eq!(a.start(), low);
    // Right after it (no guard needed for a caller's choice).
    let b = Smem::create(
        &mut regions,
        &mut aspace,
        &args(low + 2 * PAGE_SIZE, PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    assert_eq!(b.start(), low + 2 * PAGE_SIZE);
    // Overlapping either by one page: placed by first fit instead.
    let c = Smem::create(
        &mut regions,
        &mut aspace,
        &args(low - PAGE_SIZE, 2 * PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    assert_eq!(c.start(), SMEM_AREA_START);
    assert_eq!(aspace.pages.len(), 5);
    assert_eq!(regions.mapped_bytes(), 5 * PAGE_SIZE);
}

#[test]
fn a_hint_reaching_the_top_page_moves_instead_of_failing() {
    // A hint is only a hint: one the kernel cannot honour (the top page is
    // never mapped) is placed by first fit, as one that overlaps is.
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    for (hint, len) in [
        (USER_MAP_END, PAGE_SIZE),
        (USER_MAP_END - PAGE_SIZE, 2 * PAGE_SIZE),
    ] {
        let s = Smem::create(
            &mut regions,
            &mut aspace,
            &args(hint, len, RW, SmemCreateFlags::empty()),
        )
        .unwrap();
        assert!(
            s.end() <= USER_MAP_END && s.start() >= SMEM_AREA_START,
            "{:#x}",
            s.start()
        );
    }
    // The last mappable page is a fine hint.
    let last = Smem::create(
        &mut regions,
        &mut aspace,
        &args(
            USER_MAP_END - PAGE_SIZE,
            PAGE_SIZE,
            RW,
            SmemCreateFlags::empty(),
        ),
    )
    .unwrap();
    assert_eq!(last.start(), USER_MAP_END - PAGE_SIZE);
    assert!(!aspace.pages.keys().any(|&p| p >= USER_MAP_END));
}

#[test]
fn fixed_takes_the_address_or_fails_without_side_effects() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let at = SMEM_AREA_START + 8 * PAGE_SIZE;
    let a = Smem::create(
        &mut regions,
        &mut aspace,
        &args(at, 2 * PAGE_SIZE, RW, SmemCreateFlags::FIXED),
    )
    .unwrap();
    assert_eq!(a.start(), at);
    // Touching it on either side is fine.
    for neighbour in [at - PAGE_SIZE, at + 2 * PAGE_SIZE] {
        let n = Smem::create(
            &mut regions,
            &mut aspace,
            &args(neighbour, PAGE_SIZE, RW, SmemCreateFlags::FIXED),
        )
        .unwrap();
        assert_eq!(n.start(), neighbour);
    }
    let ranges = regions.ranges().to_vec();
    let pages = aspace.pages.clone();
    for (s, pages_long) in [
        (at, 1),
        (at - 2 * PAGE_SIZE, 2),
        (at + PAGE_SIZE, 4),
        (at - 4 * PAGE_SIZE, 10),
    ] {
        assert_eq!(
            Smem::create(
                &mut regions,
                &mut aspace,
                &args(s, pages_long * PAGE_SIZE, RW, SmemCreateFlags::FIXED)
            ),
            Err(SysError::Exists),
            "{s:#x}, {pages_long} pages"
        );
        assert_eq!(regions.ranges(), &ranges[..]);
        assert_eq!(aspace.pages, pages);
    }
    // Reaching into the top page.
    assert_eq!(
        Smem::create(
            &mut regions,
            &mut aspace,
            &args(
                USER_MAP_END - PAGE_SIZE,
                2 * PAGE_SIZE,
                RW,
                SmemCreateFlags::FIXED
            )
        ),
        Err(SysError::BadAddress)
    );
    assert_eq!(regions.ranges(), &ranges[..]);
    assert_eq!(regions.mapped_bytes(), 4 * PAGE_SIZE);
}

#[test]
fn too_large_or_no_room_is_no_memory() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    assert_eq!(MAX_REGION_BYTES, 256 << 20);
    for flags in [SmemCreateFlags::empty(), SmemCreateFlags::FIXED] {
        assert_eq!(
            Smem::create(
                &mut regions,
                &mut aspace,
                &args(SMEM_AREA_START, MAX_REGION_BYTES + PAGE_SIZE, RW, flags)
            ),
            Err(SysError::NoMemory)
        );
    }
    // The whole SMEM area in use: nowhere to place a region...
    regions.reserve(SMEM_AREA_START, USER_MAP_END).unwrap();
    assert_eq!(
        Smem::create(
            &mut regions,
            &mut aspace,
            &args(0, PAGE_SIZE, RW, SmemCreateFlags::empty())
        ),
        Err(SysError::NoMemory)
    );
    // ... nor to move a taken hint to.
    assert_eq!(
        Smem::create(
            &mut regions,
            &mut aspace,
            &args(SMEM_AREA_START, PAGE_SIZE, RW, SmemCreateFlags::empty())
        ),
        Err(SysError::NoMemory)
    );
    assert!(aspace.pages.is_empty());
    assert_eq!(regions.ranges(), &[(SMEM_AREA_START, USER_MAP_END)]);
    // Below the area, a free hint still works.
    let s = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0x1000_0000, PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    assert_eq!(s.start(), 0x1000_0000);
}

#[test]
fn a_page_mapped_behind_the_regions_back_fails_the_create_cleanly() {
    // Cannot happen in the kernel (every mapping is in the regions); if it
    // did, the create must report it and undo only its own pages.
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let foreign = SMEM_AREA_START + 2 * PAGE_SIZE;
    aspace
        .map_page(foreign, Access::READ, &[(0, b"mine")])
        .unwrap();
    assert_eq!(
        Smem::create(
            &mut regions,
            &mut aspace,
            &args(SMEM_AREA_START, 4 * PAGE_SIZE, RW, SmemCreateFlags::FIXED)
        ),
        Err(SysError::Exists)
    );
    assert_eq!(aspace.pages.keys().copied().collect::<Vec<_>>(), [foreign]);
    assert_eq!(aspace.byte(foreign), Some(b'm'));
    assert!(regions.ranges().is_empty());
    assert_eq!(regions.mapped_bytes(), 0);
}

#[test]
fn protect_changes_every_page_and_a_missing_page_is_reported() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let mut smem = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0, 3 * PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    for prot in [Prot::READ, Prot::READ | Prot::EXEC, Prot::empty(), RW] {
        smem.protect(&mut aspace, prot).unwrap();
        assert_eq!(smem.prot(), prot);
        assert_eq!(smem.info().prot, prot.bits());
        assert!(aspace
            .pages
            .values()
            .all(|p| p.access == Access::from(prot)));
        assert_eq!(aspace.pages.len(), 3, "protect maps and unmaps nothing");
    }
    // A page gone from under the region: reported, protection unchanged.
    assert!(aspace.unmap_page(smem.start() + 2 * PAGE_SIZE));
    assert_eq!(
        smem.protect(&mut aspace, Prot::READ),
        Err(SysError::BadAddress)
    );
    assert_eq!(smem.prot(), RW);
}

#[test]
fn terminate_frees_the_range_for_the_next_region() {
    let mut regions = Regions::new();
    let mut aspace = FakeAddressSpace::new();
    let a = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0, 2 * PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    let b = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0, PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    let a_start = a.start();
    a.terminate(&mut regions, &mut aspace);
    assert_eq!(regions.ranges(), &[(b.start(), b.end())]);
    assert_eq!(regions.mapped_bytes(), PAGE_SIZE);
    assert_eq!(
        aspace.pages.keys().copied().collect::<Vec<_>>(),
        [b.start()]
    );
    let c = Smem::create(
        &mut regions,
        &mut aspace,
        &args(0, PAGE_SIZE, RW, SmemCreateFlags::empty()),
    )
    .unwrap();
    assert_eq!(c.start(), a_start, "first fit reuses the hole");
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
