//! The address map on worked examples of Linux's behaviour (split from
//! `address_map.rs`, the model-based property test).

use sk_abi::{PAGE_SIZE, USER_END};
use sk_unix::address_map::{Access, AddressMap, MmapRequest};
use sk_unix::vma::{map, MapAction, Prot, MMAP_MIN_ADDR};
use sk_unix::Errno;

const P: u64 = PAGE_SIZE;
const BASE: u64 = MMAP_MIN_ADDR + 512 * P;
const BRK_START: u64 = MMAP_MIN_ADDR + 256 * P;

fn anon(addr: u64, len: u64, flags: u64) -> MmapRequest {
    MmapRequest {
        addr,
        len,
        prot: 3,
        flags: map::PRIVATE | map::ANONYMOUS | flags,
        offset: 0,
        file: None,
    }
}

#[test]
fn linux_examples() {
    let mut m = AddressMap::new(BASE, BRK_START).unwrap();
    // Top-down below the base.
    let a = m.mmap(&anon(0, 3 * P, 0)).unwrap();
    assert_eq!(a.addr, BASE - 3 * P);
    let b = m.mmap(&anon(0, P, 0)).unwrap();
    assert_eq!(b.addr, BASE - 4 * P);
    // A usable hint is taken; length 0 and unaligned fixed addresses are EINVAL.
    assert_eq!(m.mmap(&anon(0x4000_0000, P, 0)).unwrap().addr, 0x4000_0000);
    assert_eq!(m.mmap(&anon(0, 0, 0)), Err(Errno::EINVAL));
    assert_eq!(
        m.mmap(&anon(0x4000_0001, P, map::FIXED)),
        Err(Errno::EINVAL)
    );
    assert_eq!(
        m.mmap(&MmapRequest {
            offset: 1,
            ..anon(0, P, 0)
        }),
        Err(Errno::EINVAL)
    );
    // Page 0 and the kernel half stay unmapped.
    assert_eq!(m.mmap(&anon(0, P, map::FIXED)), Err(Errno::EPERM));
    assert_eq!(m.mmap(&anon(USER_END, P, map::FIXED)), Err(Errno::ENOMEM));
    // MAP_FIXED_NOREPLACE over a mapping: EEXIST; MAP_FIXED replaces the middle.
    assert_eq!(
        m.mmap(&anon(a.addr, P, map::FIXED_NOREPLACE)),
        Err(Errno::EEXIST)
    );
    let fixed = m
        .mmap(&MmapRequest {
            prot: 1,
            ..anon(a.addr + P, P, map::FIXED)
        })
        .unwrap();
    assert_eq!(
        fixed.actions[0],
        MapAction::Unmap {
            range: a.addr + P..a.addr + 2 * P
        }
    );
    // mprotect over a hole: ENOMEM, nothing changed.
    m.munmap(a.addr + P, P).unwrap();
    assert_eq!(m.mprotect(a.addr, 3 * P, 1), Err(Errno::ENOMEM));
    assert_eq!(m.lookup(a.addr).unwrap().prot, Prot::from_bits(3).unwrap());
    // Unmapping nothing is fine.
    assert_eq!(m.munmap(0x5000_0000, P), Ok(vec![]));
    // brk: grows, shrinks, returns the old break on failure.
    assert_eq!(m.brk(0).brk, BRK_START);
    assert_eq!(m.brk(BRK_START + 100).brk, BRK_START + 100);
    assert_eq!(m.brk(BRK_START - 1).brk, BRK_START + 100);
    m.mmap(&anon(BRK_START + 3 * P, P, map::FIXED)).unwrap();
    // The page below another mapping must stay free (guard page).
    assert_eq!(m.brk(BRK_START + 2 * P + 1).brk, BRK_START + 100);
    assert_eq!(m.brk(BRK_START + 2 * P).brk, BRK_START + 2 * P);
    // mremap: grow in place, then move.
    let r = m.mmap(&anon(0x6000_0000, P, 0)).unwrap().addr;
    assert_eq!(m.mremap(r, P, 2 * P, 0, 0).unwrap().addr, r);
    m.mmap(&anon(r + 2 * P, P, map::FIXED)).unwrap();
    m.mprotect(r + 2 * P, P, 1).unwrap();
    assert_eq!(m.mremap(r, 2 * P, 3 * P, 0, 0), Err(Errno::ENOMEM));
    let moved = m.mremap(r, 2 * P, 3 * P, 1, 0).unwrap();
    assert_eq!(
        moved.actions[0],
        MapAction::Move {
            from: r,
            to: moved.addr,
            len: 2 * P
        }
    );
    assert_eq!(m.mremap(0x7000_0000, P, 2 * P, 1, 0), Err(Errno::EFAULT));
}

#[test]
fn faults_are_classified_as_x86_linux_does() {
    let mut m = AddressMap::new(BASE, BRK_START).unwrap();
    let none = m
        .mmap(&MmapRequest {
            prot: 0,
            ..anon(0, P, 0)
        })
        .unwrap()
        .addr;
    let ro = m
        .mmap(&MmapRequest {
            prot: 1,
            ..anon(0, P, 0)
        })
        .unwrap()
        .addr;
    let rx = m
        .mmap(&MmapRequest {
            prot: 5,
            ..anon(0, P, 0)
        })
        .unwrap()
        .addr;
    let rw = m.mmap(&anon(0, P, 0)).unwrap().addr;
    const MAPERR: i32 = 1;
    const ACCERR: i32 = 2;
    let check = |a, access| m.check_access(a, access).map(|r| r.start);
    assert_eq!(check(0x1000, Access::Read), Err(MAPERR));
    assert_eq!(check(none, Access::Read), Err(ACCERR));
    assert_eq!(check(ro + 8, Access::Read), Ok(ro));
    assert_eq!(check(ro, Access::Write), Err(ACCERR));
    assert_eq!(check(ro, Access::Execute), Err(ACCERR));
    assert_eq!(check(rx, Access::Execute), Ok(rx));
    assert_eq!(check(rw, Access::Write), Ok(rw));
    assert_eq!(check(rw + P - 1, Access::Read), Ok(rw));
    assert_eq!(check(USER_END - 1, Access::Read), Err(MAPERR));
}
