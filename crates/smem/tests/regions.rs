//! The user ranges of a SMACH: reserving (overlap, alignment, the end of
//! user space), releasing, first-fit placement with guard pages, the
//! mapped-bytes count; and the host fake address space other tests rely on.

use sk_abi::{SysError, PAGE_SIZE, USER_END};
use sk_smem::testing::FakeAddressSpace;
use sk_smem::{Access, AddressSpace, MapFailure, Regions, SMEM_AREA_START, USER_MAP_END};

const P: u64 = PAGE_SIZE;
const A: u64 = SMEM_AREA_START;

#[test]
fn the_constants_leave_the_top_page_out() {
    assert_eq!(USER_MAP_END, USER_END - P);
    assert!(A.is_multiple_of(P) && A < USER_MAP_END);
}

#[test]
fn a_new_set_is_empty() {
    let r = Regions::new();
    assert!(r.ranges().is_empty());
    assert_eq!(r.mapped_bytes(), 0);
    assert!(r.is_free(0, USER_END));
    assert!(Regions::default().ranges().is_empty());
}

#[test]
fn every_kind_of_overlap_is_refused_and_touching_is_not() {
    let mut r = Regions::new();
    r.reserve(0x10 * P, 0x20 * P).unwrap();
    let overlapping = [
        (0x10 * P, 0x20 * P), // the same range
        (0x12 * P, 0x14 * P), // inside it
        (0x08 * P, 0x28 * P), // around it
        (0x08 * P, 0x11 * P), // over its start
        (0x1f * P, 0x21 * P), // over its end
        (0x10 * P, 0x11 * P), // its first page
        (0x1f * P, 0x20 * P), // its last page
    ];
    for (s, e) in overlapping {
        assert!(!r.is_free(s, e), "{s:#x}..{e:#x}");
        assert_eq!(r.reserve(s, e), Err(SysError::Exists), "{s:#x}..{e:#x}");
    }
    assert_eq!(
        r.ranges(),
        &[(0x10 * P, 0x20 * P)],
        "refusals change nothing"
    );
    // Half-open ranges: the neighbours on both sides touch but do not overlap.
    assert!(r.is_free(0x0f * P, 0x10 * P) && r.is_free(0x20 * P, 0x21 * P));
    r.reserve(0x20 * P, 0x21 * P).unwrap();
    r.reserve(0x0f * P, 0x10 * P).unwrap();
    assert_eq!(
        r.ranges(),
        &[
            (0x0f * P, 0x10 * P),
            (0x10 * P, 0x20 * P),
            (0x20 * P, 0x21 * P)
        ]
    );
}

#[test]
fn ranges_are_kept_sorted_whatever_the_order_of_reservation() {
    let mut r = Regions::new();
    for start in [9u64, 1, 5, 3, 7] {
        r.reserve(start * P, (start + 1) * P).unwrap();
    }
    let starts: Vec<u64> = r.ranges().iter().map(|&(s, _)| s / P).collect();
    assert_eq!(starts, [1, 3, 5, 7, 9]);
}

#[test]
fn empty_unaligned_and_out_of_range_reservations_are_bad_addresses() {
    let mut r = Regions::new();
    let bad = [
        (P, P),                       // empty
        (2 * P, P),                   // backwards
        (P + 1, 2 * P),               // unaligned start
        (P, 2 * P - 1),               // unaligned end
        (USER_MAP_END, USER_END),     // the top page
        (USER_MAP_END - P, USER_END), // reaching into it
        (USER_END, USER_END + P),     // past user space
        (0, !(P - 1)),                // all of memory
    ];
    for (s, e) in bad {
        assert_eq!(r.reserve(s, e), Err(SysError::BadAddress), "{s:#x}..{e:#x}");
    }
    assert!(r.ranges().is_empty());
    // Page 0 and the last mappable page are fine.
    r.reserve(0, P).unwrap();
    r.reserve(USER_MAP_END - P, USER_MAP_END).unwrap();
    assert_eq!(r.ranges().len(), 2);
}

#[test]
fn release_forgets_exactly_the_range_reserved() {
    let mut r = Regions::new();
    r.reserve(4 * P, 8 * P).unwrap();
    r.reserve(10 * P, 12 * P).unwrap();
    // Not a reserved range: nothing happens.
    r.release(4 * P, 6 * P);
    r.release(4 * P, 12 * P);
    r.release(20 * P, 21 * P);
    assert_eq!(r.ranges(), &[(4 * P, 8 * P), (10 * P, 12 * P)]);
    r.release(4 * P, 8 * P);
    assert_eq!(r.ranges(), &[(10 * P, 12 * P)]);
    assert!(r.is_free(4 * P, 8 * P));
    r.reserve(5 * P, 6 * P).unwrap();
}

#[test]
fn first_fit_starts_at_the_smem_area_and_ignores_ranges_below_it() {
    let mut r = Regions::new();
    // A program image and a stack well below the area.
    r.reserve(0x40_0000, 0x40_3000).unwrap();
    r.reserve(0x7fff_0000, 0x8000_0000).unwrap();
    assert_eq!(r.find_free(P), Some(A));
    // A range straddling the area's start pushes placement past its guard.
    r.reserve(A - P, A + P).unwrap();
    assert_eq!(r.find_free(P), Some(A + 2 * P));
}

#[test]
fn first_fit_keeps_a_guard_page_after_every_range_and_the_new_one() {
    let mut r = Regions::new();
    r.reserve(A, A + 2 * P).unwrap();
    assert_eq!(r.find_free(P), Some(A + 3 * P), "guard after the range");
    // A range 3 pages up: a 1-page region fits between (guard after it).
    let mut r = Regions::new();
    r.reserve(A + 2 * P, A + 3 * P).unwrap();
    assert_eq!(r.find_free(P), Some(A), "1 page + guard fit before it");
    assert_eq!(
        r.find_free(2 * P),
        Some(A + 4 * P),
        "2 pages + guard do not"
    );
}

#[test]
fn first_fit_takes_the_lowest_hole_that_is_large_enough() {
    let mut r = Regions::new();
    // Ranges at A..A+1, A+3..A+4, A+9..A+10 (pages): holes (after guards)
    // of 1 page at A+2, 4 pages at A+5..A+9.
    for (s, e) in [(0, 1), (3, 4), (9, 10)] {
        r.reserve(A + s * P, A + e * P).unwrap();
    }
    // A hole is usable only if the new region's guard fits too: a 1-page
    // region at A+2 would touch the range at A+3, so nothing goes there.
    assert_eq!(r.find_free(P), Some(A + 5 * P));
    assert_eq!(r.find_free(3 * P), Some(A + 5 * P), "exactly len + guard");
    assert_eq!(r.find_free(4 * P), Some(A + 11 * P), "one page short");
}

#[test]
fn freed_neighbours_make_one_hole() {
    let mut r = Regions::new();
    let mut placed = Vec::new();
    for _ in 0..4 {
        let at = r.find_free(2 * P).unwrap();
        r.reserve(at, at + 2 * P).unwrap();
        placed.push(at);
    }
    // Kernel placement: 2 pages, a guard, 2 pages, a guard...
    assert_eq!(placed, [A, A + 3 * P, A + 6 * P, A + 9 * P]);
    // Free the middle two: a 5-page region now fits where they were
    // (A+3..A+8, guard at A+8, next range at A+9).
    r.release(placed[1], placed[1] + 2 * P);
    assert_eq!(
        r.find_free(5 * P),
        Some(A + 12 * P),
        "one freed range is too small"
    );
    r.release(placed[2], placed[2] + 2 * P);
    assert_eq!(r.find_free(5 * P), Some(A + 3 * P));
    assert_eq!(r.find_free(6 * P), Some(A + 12 * P));
}

#[test]
fn first_fit_refuses_empty_unaligned_and_oversized_lengths() {
    let r = Regions::new();
    assert_eq!(r.find_free(0), None);
    assert_eq!(r.find_free(1), None);
    assert_eq!(r.find_free(P + 1), None);
    assert_eq!(r.find_free(USER_MAP_END - A), Some(A), "the whole area");
    assert_eq!(r.find_free(USER_MAP_END - A + P), None);
    assert_eq!(r.find_free(!(P - 1)), None, "no overflow");
}

#[test]
fn first_fit_at_the_end_of_user_space() {
    let mut r = Regions::new();
    // Everything but the last 3 pages below the top page is in use.
    r.reserve(A, USER_MAP_END - 4 * P).unwrap();
    // The guard after that range takes one page; 3 remain, and the
    // unmapped top page is the last region's guard.
    assert_eq!(r.find_free(3 * P), Some(USER_MAP_END - 3 * P));
    assert_eq!(r.find_free(4 * P), None);
    r.reserve(USER_MAP_END - 3 * P, USER_MAP_END).unwrap();
    assert_eq!(r.find_free(P), None, "the area is full");
}

#[test]
fn mapped_bytes_count_saturates_and_clear_forgets_everything() {
    let mut r = Regions::new();
    r.reserve(A, A + 4 * P).unwrap();
    r.add_mapped(4 * P);
    r.sub_mapped(P);
    assert_eq!(r.mapped_bytes(), 3 * P);
    r.sub_mapped(10 * P);
    assert_eq!(r.mapped_bytes(), 0, "never below zero");
    r.add_mapped(u64::MAX);
    r.add_mapped(P);
    assert_eq!(r.mapped_bytes(), u64::MAX, "never wraps");
    r.clear();
    assert_eq!((r.ranges().len(), r.mapped_bytes()), (0, 0));
    assert_eq!(r.find_free(P), Some(A));
}

#[test]
fn the_fake_address_space_checks_like_the_kernels() {
    let mut a = FakeAddressSpace::with_limit(2);
    assert_eq!(
        a.map_page(P + 1, Access::READ, &[]),
        Err(MapFailure::BadAddress)
    );
    assert_eq!(
        a.map_page(USER_MAP_END, Access::READ, &[]),
        Err(MapFailure::BadAddress)
    );
    assert_eq!(
        a.map_page(USER_END, Access::READ, &[]),
        Err(MapFailure::BadAddress)
    );
    a.map_page(P, Access::READ_WRITE, &[(10, b"abc"), (4094, b"xyz")])
        .unwrap();
    assert_eq!(
        a.map_page(P, Access::READ, &[]),
        Err(MapFailure::AlreadyMapped)
    );
    assert_eq!(
        a.pages[&P].access,
        Access::READ_WRITE,
        "a refused map changes nothing"
    );
    assert_eq!(
        (a.byte(P + 10), a.byte(P + 12), a.byte(P + 13)),
        (Some(b'a'), Some(b'c'), Some(0))
    );
    // Contents past the end of the page are cut off.
    assert_eq!(
        (a.byte(P + 4094), a.byte(P + 4095)),
        (Some(b'x'), Some(b'y'))
    );
    assert_eq!(a.byte(2 * P), None);
    a.map_page(2 * P, Access::READ, &[]).unwrap();
    assert_eq!(
        a.map_page(3 * P, Access::READ, &[]),
        Err(MapFailure::NoMemory)
    );
    assert!(a.protect_page(2 * P, Access::READ_EXECUTE));
    assert_eq!(a.pages[&(2 * P)].access, Access::READ_EXECUTE);
    assert!(!a.protect_page(3 * P, Access::READ));
    assert!(a.unmap_page(2 * P));
    assert!(!a.unmap_page(2 * P));
    a.map_page(3 * P, Access::READ, &[]).unwrap();
    assert_eq!(a.pages.len(), 2);
}
