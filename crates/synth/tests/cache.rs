//! The code cache's rules (`sk_synth::policy::CodeCache`), against a model:
//! random acquires, releases and idle flushes over a small key space.
//! After every step: every hold's block is live and made from the key it
//! was acquired for, at the address it was given; the holds of one key
//! that go through the cache share one block; a live block is held, or
//! idle (at most `IDLE` of them); no block is retired twice or while held.
//! At the end, with every hold released and the idle entries flushed, every
//! block installed was retired exactly once.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use sk_synth::policy::{CacheRef, CodeCache, InstallError, RoutineHoles};
use sk_synth::templates::{DevNullWriteHoles, DevZeroReadHoles};
use sk_synth::{Imm32, Imm64};

/// A block of the fake arena: its number.
#[derive(Debug, PartialEq, Eq)]
struct Block(u64);

#[derive(Default)]
struct Arena {
    next: u64,
    /// Live blocks and the key each was made from.
    live: BTreeMap<u64, RoutineHoles>,
    retired: BTreeSet<u64>,
    installs: usize,
}

impl Arena {
    fn install(&mut self, key: &RoutineHoles) -> Result<(Block, u64), InstallError> {
        self.next += 1;
        self.installs += 1;
        self.live.insert(self.next, *key);
        Ok((Block(self.next), 0x1000 * self.next))
    }

    fn retire(&mut self, block: Block) -> Result<(), String> {
        if self.live.remove(&block.0).is_none() || !self.retired.insert(block.0) {
            return Err(format!("block {} retired twice or never live", block.0));
        }
        Ok(())
    }
}

fn key(n: u8) -> RoutineHoles {
    if n.is_multiple_of(2) {
        RoutineHoles::DevNullWrite(DevNullWriteHoles {
            bad_address: Imm32(-i32::from(n)),
        })
    } else {
        RoutineHoles::DevZeroRead(DevZeroReadHoles {
            bad_address: Imm32(-14),
            max_len: Imm32(i32::from(n)),
            slow_path: Imm64(0xffff_ffff_8000_0000),
        })
    }
}

#[derive(Clone, Debug)]
enum Step {
    Acquire(u8),
    Release(usize),
    Flush,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        5 => (0u8..48).prop_map(Step::Acquire),
        4 => any::<usize>().prop_map(Step::Release),
        1 => Just(Step::Flush),
    ]
}

struct Hold {
    key: RoutineHoles,
    entry: u64,
    held: CacheRef<Block>,
}

fn check(cache: &CodeCache<Block>, arena: &Arena, holds: &[Hold]) -> Result<(), String> {
    let mut held_blocks = BTreeSet::new();
    let mut by_key: BTreeMap<String, u64> = BTreeMap::new();
    for hold in holds {
        let block = cache.block(&hold.held).ok_or("a hold on no block")?;
        let made_from = arena
            .live
            .get(&block.0)
            .ok_or("a hold on a retired block")?;
        if *made_from != hold.key || hold.entry != 0x1000 * block.0 {
            return Err(format!("hold of {:?} runs block {}", hold.key, block.0));
        }
        if let CacheRef::Shared { .. } = hold.held {
            let first = by_key.entry(format!("{:?}", hold.key)).or_insert(block.0);
            if *first != block.0 {
                return Err(format!("{:?} installed twice while held", hold.key));
            }
        }
        held_blocks.insert(block.0);
    }
    let (_, idle) = cache.counts();
    if idle > CodeCache::<Block>::IDLE {
        return Err(format!("{idle} idle entries"));
    }
    if arena.live.len() != held_blocks.len() + idle {
        return Err(format!(
            "{} live blocks, {} held, {idle} idle",
            arena.live.len(),
            held_blocks.len()
        ));
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn blocks_are_shared_by_content_and_retired_after_their_last_user(
        steps in prop::collection::vec(step(), 1..200),
    ) {
        let mut cache = CodeCache::new();
        prop_assert!(cache.reserve());
        let mut arena = Arena::default();
        let mut holds: Vec<Hold> = Vec::new();
        for step in &steps {
            match *step {
                Step::Acquire(n) => {
                    let key = key(n);
                    let (held, entry) = cache.acquire(&key, |k| arena.install(k)).unwrap();
                    holds.push(Hold { key, entry, held });
                }
                Step::Release(i) if !holds.is_empty() => {
                    let hold = holds.swap_remove(i % holds.len());
                    if let Some(block) = cache.release(hold.held) {
                        arena.retire(block).map_err(TestCaseError::fail)?;
                    }
                }
                Step::Release(_) => {}
                Step::Flush => {
                    let mut result = Ok(());
                    cache.flush_idle(|b| result = result.clone().and(arena.retire(b)));
                    result.map_err(TestCaseError::fail)?;
                }
            }
            check(&cache, &arena, &holds)
                .map_err(|e| TestCaseError::fail(format!("after {step:?}: {e}")))?;
        }
        for hold in holds {
            if let Some(block) = cache.release(hold.held) {
                arena.retire(block).map_err(TestCaseError::fail)?;
            }
        }
        let mut result = Ok(());
        cache.flush_idle(|b| result = result.clone().and(arena.retire(b)));
        result.map_err(TestCaseError::fail)?;
        prop_assert!(arena.live.is_empty(), "left live: {:?}", arena.live);
        prop_assert_eq!(arena.retired.len(), arena.installs);
    }
}

#[test]
fn a_reopen_finds_the_idle_block_and_a_full_cache_installs_privately() {
    let mut cache = CodeCache::new();
    assert!(cache.reserve());
    let mut arena = Arena::default();
    let (first, entry) = cache.acquire(&key(0), |k| arena.install(k)).unwrap();
    assert!(cache.release(first).is_none(), "kept idle");
    let (again, entry_again) = cache.acquire(&key(0), |k| arena.install(k)).unwrap();
    assert_eq!(
        (entry_again, arena.installs),
        (entry, 1),
        "no second install"
    );
    let mut holds = vec![again];
    for n in 0..i32::try_from(CodeCache::<Block>::CAPACITY).unwrap() + 8 {
        let key = RoutineHoles::DevNullWrite(DevNullWriteHoles {
            bad_address: Imm32(1000 + n),
        });
        holds.push(cache.acquire(&key, |k| arena.install(k)).unwrap().0);
    }
    let private = holds
        .iter()
        .filter(|h| matches!(h, CacheRef::Private(_)))
        .count();
    assert_eq!(private, 9, "the entries past the capacity are private");
    for hold in holds {
        if let Some(block) = cache.release(hold) {
            arena.retire(block).unwrap();
        }
    }
    cache.flush_idle(|b| arena.retire(b).unwrap());
    assert!(arena.live.is_empty());
}

#[test]
fn without_idle_blocks_the_last_user_retires_the_block() {
    let mut cache = CodeCache::new();
    assert!(cache.reserve());
    cache.keep_idle(false);
    let mut arena = Arena::default();
    let (one, _) = cache.acquire(&key(3), |k| arena.install(k)).unwrap();
    let (two, _) = cache.acquire(&key(3), |k| arena.install(k)).unwrap();
    assert_eq!(arena.installs, 1, "shared while held");
    assert!(cache.release(one).is_none());
    let block = cache.release(two).expect("the last user retires it");
    arena.retire(block).unwrap();
    let (again, _) = cache.acquire(&key(3), |k| arena.install(k)).unwrap();
    assert_eq!(arena.installs, 2, "a reopen installs again");
    arena.retire(cache.release(again).unwrap()).unwrap();
    assert!(arena.live.is_empty());
}
