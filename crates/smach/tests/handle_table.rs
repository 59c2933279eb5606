//! Handle tables and the kernel's id maps: unit cases for each operation
//! and property tests of random operations against `BTreeMap` models.

// Test arithmetic on small, known values: truncating casts cannot bite.
#![allow(clippy::cast_possible_truncation)]

use proptest::prelude::*;
use sk_abi::{Handle, SysError};
use sk_smach::{HandleTable, IdMap, MAX_HANDLES};
use std::collections::BTreeMap;

const LIMIT: u32 = MAX_HANDLES as u32;

fn h(i: u32) -> Handle {
    Handle::new(i)
}

fn live(t: &HandleTable<u32>) -> Vec<(u32, u32)> {
    t.iter().map(|(h, &v)| (h.index(), v)).collect()
}

/// A table as the kernel makes it: self at 0, console at 1.
fn started() -> HandleTable<u32> {
    let mut t = HandleTable::new();
    assert_eq!(t.install_at(Handle::SELF, 100), Ok(None));
    assert_eq!(t.install_at(Handle::CONSOLE, 101), Ok(None));
    t
}

#[test]
fn an_empty_table_names_nothing() {
    let mut t = HandleTable::<u32>::new();
    assert_eq!(t.count(), 0);
    for i in [0, 1, 2, 1000, u32::MAX] {
        assert_eq!(t.get(h(i)), Err(SysError::BadHandle));
        assert_eq!(t.get_mut(h(i)), Err(SysError::BadHandle));
        assert_eq!(t.remove(h(i)), Err(SysError::BadHandle));
    }
    assert!(live(&t).is_empty());
    assert_eq!(HandleTable::<u32>::default().count(), 0);
}

#[test]
fn insert_never_hands_out_0_or_1() {
    // Even with 0 and 1 free, new handles start at 2.
    let mut t = HandleTable::new();
    assert_eq!(t.insert(7u32), Ok(h(2)));
    assert_eq!(t.insert(8), Ok(h(3)));
    assert_eq!(t.get(Handle::SELF), Err(SysError::BadHandle));
    assert_eq!(t.count(), 2);
    let mut t = started();
    assert_eq!(t.remove(Handle::CONSOLE), Ok(101));
    assert_eq!(t.insert(9), Ok(h(2)), "a free slot 1 is not reused");
}

#[test]
fn install_at_places_and_replaces() {
    let mut t = started();
    assert_eq!(t.install_at(Handle::CONSOLE, 201), Ok(Some(101)));
    assert_eq!(t.get(Handle::CONSOLE), Ok(&201));
    // A slot far up: the slots below stay free.
    assert_eq!(t.install_at(h(10), 110), Ok(None));
    assert_eq!(t.count(), 3);
    for i in 2..10 {
        assert_eq!(t.get(h(i)), Err(SysError::BadHandle));
    }
    // insert fills the lowest free slot first, below the high one.
    assert_eq!(t.insert(2), Ok(h(2)));
    assert_eq!(live(&t), [(0, 100), (1, 201), (2, 2), (10, 110)]);
}

#[test]
fn insert_takes_the_lowest_free_slot_and_slots_are_reused() {
    let mut t = started();
    for i in 2..8 {
        assert_eq!(t.insert(i), Ok(h(i)));
    }
    assert_eq!(t.remove(h(5)), Ok(5));
    assert_eq!(t.remove(h(3)), Ok(3));
    assert_eq!(t.remove(h(7)), Ok(7), "the last slot");
    assert_eq!(t.insert(33), Ok(h(3)));
    assert_eq!(t.insert(55), Ok(h(5)));
    assert_eq!(t.insert(77), Ok(h(7)));
    assert_eq!(t.insert(88), Ok(h(8)));
    assert_eq!(t.count(), 9);
}

#[test]
fn get_get_mut_and_remove_check_range_and_liveness() {
    let mut t = started();
    let a = t.insert(5).unwrap();
    *t.get_mut(a).unwrap() += 1;
    assert_eq!(t.get(a), Ok(&6));
    assert_eq!(t.remove(a), Ok(6));
    // A removed handle, one never used, one out of range: all BadHandle.
    for i in [a.index(), 3, 99, LIMIT, u32::MAX] {
        assert_eq!(t.get(h(i)), Err(SysError::BadHandle), "#{i}");
        assert_eq!(t.get_mut(h(i)), Err(SysError::BadHandle), "#{i}");
        assert_eq!(t.remove(h(i)), Err(SysError::BadHandle), "#{i}");
    }
    assert_eq!(t.count(), 2);
}

#[test]
fn the_limit_holds_and_a_freed_slot_is_usable_at_the_limit() {
    let mut t = started();
    for i in 2..LIMIT {
        assert_eq!(t.insert(i), Ok(h(i)));
    }
    assert_eq!(t.count(), MAX_HANDLES);
    assert_eq!(t.insert(9999), Err((SysError::TooManyHandles, 9999)));
    assert_eq!(
        t.install_at(h(LIMIT), 9998),
        Err((SysError::TooManyHandles, 9998))
    );
    assert_eq!(
        t.install_at(h(u32::MAX), 9997),
        Err((SysError::TooManyHandles, 9997))
    );
    // The last slot can still be replaced.
    assert_eq!(t.install_at(h(LIMIT - 1), 1), Ok(Some(LIMIT - 1)));
    assert_eq!(t.count(), MAX_HANDLES, "refusals change nothing");
    assert_eq!(t.remove(h(500)), Ok(500));
    assert_eq!(t.insert(5000), Ok(h(500)));
    assert_eq!(t.insert(5001), Err((SysError::TooManyHandles, 5001)));
}

#[test]
fn iter_and_iter_mut_walk_live_handles_in_order() {
    let mut t = started();
    t.install_at(h(6), 6).unwrap();
    t.insert(2).unwrap();
    assert_eq!(live(&t), [(0, 100), (1, 101), (2, 2), (6, 6)]);
    for (handle, v) in t.iter_mut() {
        *v += handle.index();
    }
    assert_eq!(live(&t), [(0, 100), (1, 102), (2, 4), (6, 12)]);
}

#[test]
fn drain_hands_back_everything_and_leaves_an_empty_table() {
    let mut t = started();
    t.insert(2).unwrap();
    t.install_at(h(9), 9).unwrap();
    let drained: Vec<(u32, u32)> = t.drain().map(|(h, v)| (h.index(), v)).collect();
    assert_eq!(drained, [(0, 100), (1, 101), (2, 2), (9, 9)]);
    assert_eq!(t.count(), 0);
    assert_eq!(t.get(Handle::SELF), Err(SysError::BadHandle));
    assert_eq!(t.insert(1), Ok(h(2)), "usable again");
}

#[test]
fn id_maps_are_sorted_and_replace_on_insert() {
    let mut m = IdMap::new();
    assert!(m.is_empty());
    assert_eq!(m.get(&1), None);
    assert_eq!(m.remove(&1), None);
    for id in [40u64, 10, 30, 20, u64::MAX, 0] {
        m.insert(id, id.wrapping_add(1)).unwrap();
    }
    let keys: Vec<u64> = m.iter().map(|(&k, _)| k).collect();
    assert_eq!(keys, [0, 10, 20, 30, 40, u64::MAX]);
    m.insert(20, 7).unwrap();
    assert_eq!((m.len(), m.get(&20)), (6, Some(&7)), "replaced, not added");
    *m.get_mut(&30).unwrap() = 8;
    assert_eq!(m.remove(&30), Some(8));
    assert_eq!(m.get_mut(&30), None);
    assert!(!m.contains_key(&30) && m.contains_key(&u64::MAX));
    let values: Vec<u64> = m.values().copied().collect();
    assert_eq!(values, [1, 11, 7, 41, 0]);
    for value in m.values_mut() {
        *value = value.wrapping_mul(2);
    }
    let doubled: Vec<u64> = m.values().copied().collect();
    assert_eq!(doubled, [2, 22, 14, 82, 0]);
    for value in m.values_mut() {
        *value /= 2;
    }
    let mut seen = Vec::new();
    for (&k, &v) in &m {
        seen.push((k, v));
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0], (0, 1));
    assert_eq!(IdMap::<u8>::default().len(), 0);
}

#[derive(Debug, Clone)]
enum TableOp {
    Insert(u32),
    InstallAt(u32, u32),
    Remove(u32),
    Get(u32),
    GetMut(u32, u32),
    /// Insert until the table is full.
    Fill,
    Drain,
}

/// Mostly small handles (so slots collide and are reused), some near the
/// limit and past it.
fn index() -> impl Strategy<Value = u32> {
    prop_oneof![
        8 => 0u32..12,
        1 => LIMIT - 3..LIMIT + 3,
        1 => Just(u32::MAX),
    ]
}

fn table_op() -> impl Strategy<Value = TableOp> {
    prop_oneof![
        12 => any::<u32>().prop_map(TableOp::Insert),
        4 => (index(), any::<u32>()).prop_map(|(i, v)| TableOp::InstallAt(i, v)),
        10 => index().prop_map(TableOp::Remove),
        4 => index().prop_map(TableOp::Get),
        4 => (index(), any::<u32>()).prop_map(|(i, v)| TableOp::GetMut(i, v)),
        // Filling costs MAX_HANDLES inserts: rare, but in most runs.
        1 => Just(TableOp::Fill),
        2 => Just(TableOp::Drain),
    ]
}

/// The lowest index from 2 up the model has no value at.
fn lowest_free(model: &BTreeMap<u32, u32>) -> u32 {
    (2..).find(|i| !model.contains_key(i)).unwrap()
}

fn insert_into_model(model: &mut BTreeMap<u32, u32>, v: u32) -> Result<Handle, (SysError, u32)> {
    let i = lowest_free(model);
    if i >= LIMIT {
        return Err((SysError::TooManyHandles, v));
    }
    model.insert(i, v);
    Ok(h(i))
}

#[derive(Debug, Clone)]
enum MapOp {
    Insert(u64, u8),
    Remove(u64),
    GetMut(u64, u8),
}

fn map_op() -> impl Strategy<Value = MapOp> {
    let id = prop_oneof![0u64..16, Just(u64::MAX)];
    prop_oneof![
        3 => (id.clone(), any::<u8>()).prop_map(|(k, v)| MapOp::Insert(k, v)),
        2 => id.clone().prop_map(MapOp::Remove),
        1 => (id, any::<u8>()).prop_map(|(k, v)| MapOp::GetMut(k, v)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random inserts, installs, removes, lookups, fills to the limit and
    /// drains: every result and the live contents agree with a map from
    /// index to value in which insert takes the lowest free index from 2
    /// and nothing lives at or past MAX_HANDLES.
    #[test]
    fn random_table_operations_match_a_model(ops in proptest::collection::vec(table_op(), 1..60)) {
        let mut t = HandleTable::new();
        let mut model: BTreeMap<u32, u32> = BTreeMap::new();
        for op in ops {
            match op {
                TableOp::Insert(v) => {
                    let want = insert_into_model(&mut model, v);
                    prop_assert_eq!(t.insert(v), want);
                }
                TableOp::InstallAt(i, v) => {
                    let want = if i < LIMIT { Ok(model.insert(i, v)) } else { Err((SysError::TooManyHandles, v)) };
                    prop_assert_eq!(t.install_at(h(i), v), want);
                }
                TableOp::Remove(i) => {
                    prop_assert_eq!(t.remove(h(i)), model.remove(&i).ok_or(SysError::BadHandle));
                }
                TableOp::Get(i) => {
                    prop_assert_eq!(t.get(h(i)).copied(), model.get(&i).copied().ok_or(SysError::BadHandle));
                }
                TableOp::GetMut(i, v) => {
                    match (t.get_mut(h(i)), model.get_mut(&i)) {
                        (Ok(got), Some(want)) => {
                            prop_assert_eq!(*got, *want);
                            *got = v;
                            *want = v;
                        }
                        (Err(e), None) => prop_assert_eq!(e, SysError::BadHandle),
                        (got, want) => prop_assert!(false, "get_mut #{}: {:?}, model {:?}", i, got, want),
                    }
                }
                TableOp::Fill => {
                    // Each insert takes the lowest free slot: the free
                    // slots in increasing order, then the table is full.
                    let free: Vec<u32> = (2..LIMIT).filter(|i| !model.contains_key(i)).collect();
                    for i in free {
                        prop_assert_eq!(t.insert(i), Ok(h(i)));
                        model.insert(i, i);
                    }
                    prop_assert_eq!(t.insert(0), Err((SysError::TooManyHandles, 0)));
                }
                TableOp::Drain => {
                    let drained: Vec<(u32, u32)> = t.drain().map(|(h, v)| (h.index(), v)).collect();
                    prop_assert_eq!(drained, std::mem::take(&mut model).into_iter().collect::<Vec<_>>());
                }
            }
            prop_assert_eq!(live(&t), model.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>());
            prop_assert_eq!(t.count(), model.len());
            prop_assert!(t.count() <= MAX_HANDLES);
        }
    }

    /// Random inserts (new ids and replacements), removes and updates:
    /// an IdMap holds what a BTreeMap holds, in the same order.
    #[test]
    fn random_id_map_operations_match_a_btree_map(ops in proptest::collection::vec(map_op(), 1..80)) {
        let mut m = IdMap::new();
        let mut model: BTreeMap<u64, u8> = BTreeMap::new();
        for op in ops {
            match op {
                MapOp::Insert(k, v) => {
                    prop_assert!(m.insert(k, v).is_ok());
                    model.insert(k, v);
                }
                MapOp::Remove(k) => prop_assert_eq!(m.remove(&k), model.remove(&k)),
                MapOp::GetMut(k, v) => {
                    let got = m.get_mut(&k).map(|x| { *x = v; });
                    let want = model.get_mut(&k).map(|x| { *x = v; });
                    prop_assert_eq!(got, want);
                }
            }
            let got: Vec<(u64, u8)> = m.iter().map(|(&k, &v)| (k, v)).collect();
            prop_assert_eq!(got, model.iter().map(|(&k, &v)| (k, v)).collect::<Vec<_>>());
            prop_assert_eq!((m.len(), m.is_empty()), (model.len(), model.is_empty()));
            for k in (0u64..16).chain([u64::MAX]) {
                prop_assert_eq!(m.get(&k), model.get(&k));
                prop_assert_eq!(m.contains_key(&k), model.contains_key(&k));
            }
        }
    }
}
