//! The futex table against a model, and the user-vector readers against
//! a fake user memory with unmapped pages.

use proptest::prelude::*;
use sk_unix::futex_table::MATCH_ANY;
use sk_unix::{read_iovecs, read_string_vector, Errno, FutexKey, FutexTable, IoVec, UserReader};
use std::collections::BTreeMap;

fn key(n: u8) -> FutexKey {
    if n.is_multiple_of(2) {
        FutexKey::Private {
            process: u64::from(n % 3),
            address: 0x1000 + u64::from(n) * 4,
        }
    } else {
        FutexKey::Shared {
            physical: 0x9000 + u64::from(n) * 4,
        }
    }
}

proptest! {
    #[test]
    fn wakes_take_the_oldest_matching_sleepers(ops in prop::collection::vec(
        (any::<bool>(), 0u8..4, 1u64..20, 1u32..4, prop_oneof![Just(MATCH_ANY), 1u32..16]),
        0..60,
    )) {
        let mut table = FutexTable::new();
        let mut model: Vec<(FutexKey, u64, u32)> = Vec::new();
        for (is_wait, k, thread, count, bitset) in ops {
            let key = key(k);
            if is_wait {
                if model.iter().any(|&(_, t, _)| t == thread) {
                    continue; // a thread sleeps in one place at a time
                }
                table.wait(key, thread, bitset).unwrap();
                model.push((key, thread, bitset));
            } else {
                let woken = table.wake(key, count, bitset).unwrap();
                let expected: Vec<u64> = model
                    .iter()
                    .filter(|&&(k, _, mask)| k == key && mask & bitset != 0)
                    .take(count as usize)
                    .map(|&(_, t, _)| t)
                    .collect();
                prop_assert_eq!(&woken, &expected);
                model.retain(|&(_, t, _)| !expected.contains(&t));
            }
            prop_assert_eq!(table.len(), model.len());
        }
        for &(_, thread, _) in &model {
            prop_assert!(table.forget(thread));
        }
        prop_assert!(table.is_empty());
    }
}

#[test]
fn futex_rules() {
    let mut table = FutexTable::new();
    assert_eq!(FutexTable::check_address(0x1002), Err(Errno::EINVAL));
    assert_eq!(FutexTable::check_address(0x1004), Ok(()));
    assert_eq!(table.wait(key(0), 1, 0), Err(Errno::EINVAL));
    assert_eq!(table.wake(key(0), 1, 0), Err(Errno::EINVAL));
    table.wait(key(0), 1, MATCH_ANY).unwrap();
    table.wait(key(2), 2, MATCH_ANY).unwrap();
    table.wait(key(1), 3, MATCH_ANY).unwrap();
    // key(0) and key(2)'s process is 0 and 2 % 3 = 2: forget process 0.
    assert_eq!(table.forget_process(0), vec![1]);
    assert_eq!(table.len(), 2);
    assert_eq!(table.wake(key(1), u32::MAX, MATCH_ANY), Ok(vec![3]));
}

/// User memory: mapped 4 KiB pages and their bytes.
struct Memory(BTreeMap<u64, Vec<u8>>);

impl Memory {
    fn new() -> Self {
        Self(BTreeMap::new())
    }

    fn write(&mut self, address: u64, bytes: &[u8]) {
        for (i, &b) in bytes.iter().enumerate() {
            let a = address + i as u64;
            self.0.entry(a & !4095).or_insert_with(|| vec![0; 4096])[(a % 4096) as usize] = b;
        }
    }

    fn map(&mut self, page: u64) {
        self.0.entry(page).or_insert_with(|| vec![0; 4096]);
    }
}

impl UserReader for Memory {
    fn read(&mut self, address: u64, buf: &mut [u8]) -> Result<(), Errno> {
        for (i, out) in buf.iter_mut().enumerate() {
            let a = address.checked_add(i as u64).ok_or(Errno::EFAULT)?;
            let page = self.0.get(&(a & !4095)).ok_or(Errno::EFAULT)?;
            *out = page[(a % 4096) as usize];
        }
        Ok(())
    }
}

#[test]
fn argv_reading_follows_linux() {
    let mut m = Memory::new();
    // "sh" ends 3 bytes before an unmapped page: reading must not fault.
    m.map(0x1000);
    m.write(0x1ffd, b"sh\0");
    m.write(0x3000, b"-c\0");
    let argv = 0x4000;
    for (i, p) in [0x1ffdu64, 0x3000, 0].iter().enumerate() {
        m.write(argv + 8 * i as u64, &p.to_le_bytes());
    }
    assert_eq!(
        read_string_vector(&mut m, argv, 1 << 20),
        Ok(vec![b"sh".to_vec(), b"-c".to_vec()])
    );
    assert_eq!(
        read_string_vector(&mut m, 0, 1 << 20),
        Ok(vec![]),
        "a null vector is empty"
    );
    assert_eq!(read_string_vector(&mut m, argv, 12), Err(Errno::E2BIG));
    assert_eq!(
        read_string_vector(&mut m, 0x7000, 1 << 20),
        Err(Errno::EFAULT)
    );
    // A pointer to an unmapped string, and a string running into one.
    m.write(0x5000, &0x9000u64.to_le_bytes());
    m.write(0x5008, &0u64.to_le_bytes());
    assert_eq!(
        read_string_vector(&mut m, 0x5000, 1 << 20),
        Err(Errno::EFAULT)
    );
    m.write(0x6000, &0x1ff0u64.to_le_bytes());
    m.write(0x1ff0, &[b'x'; 16]);
    m.write(0x6008, &0u64.to_le_bytes());
    assert_eq!(
        read_string_vector(&mut m, 0x6000, 1 << 20),
        Err(Errno::EFAULT)
    );
}

#[test]
fn iovec_reading_follows_linux() {
    let mut m = Memory::new();
    m.write(
        0x1fe0,
        &[0x10u64, 5, 0x20, 7].map(u64::to_le_bytes).concat(),
    );
    assert_eq!(
        read_iovecs(&mut m, 0x1fe0, 2),
        Ok(vec![
            IoVec { base: 0x10, len: 5 },
            IoVec { base: 0x20, len: 7 }
        ])
    );
    assert_eq!(read_iovecs(&mut m, 0x1fe0, 0), Ok(vec![]));
    assert_eq!(read_iovecs(&mut m, 0x1fe0, 1025), Err(Errno::EINVAL));
    assert_eq!(read_iovecs(&mut m, 0x1fe0, 3), Err(Errno::EFAULT));
    m.write(
        0x3000,
        &[0x10u64, u64::MAX / 2, 0x20, u64::MAX / 2 + 2]
            .map(u64::to_le_bytes)
            .concat(),
    );
    assert_eq!(
        read_iovecs(&mut m, 0x3000, 2),
        Err(Errno::EINVAL),
        "total past isize::MAX"
    );
}
