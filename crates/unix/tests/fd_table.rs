//! The descriptor table against Linux's rules: lowest free descriptor,
//! shared descriptions, each native object closed exactly once.

use proptest::prelude::*;
use sk_unix::fd_table::{status, FD_CLOEXEC};
use sk_unix::{Errno, FdTable};
use std::collections::BTreeSet;

#[derive(Clone, Debug)]
enum Op {
    Install { cloexec: bool },
    Close(u32),
    Dup(u32, u32),
    Dup2(u32, u32),
    Dup3(u32, u32, bool),
    SetCloexec(u32, bool),
    Exec,
}

fn op() -> impl Strategy<Value = Op> {
    let fd = 0u32..12;
    prop_oneof![
        3 => any::<bool>().prop_map(|cloexec| Op::Install { cloexec }),
        2 => fd.clone().prop_map(Op::Close),
        1 => (fd.clone(), 0u32..14).prop_map(|(a, b)| Op::Dup(a, b)),
        2 => (fd.clone(), 0u32..14).prop_map(|(a, b)| Op::Dup2(a, b)),
        1 => (fd.clone(), 0u32..14, any::<bool>()).prop_map(|(a, b, c)| Op::Dup3(a, b, c)),
        1 => (fd, any::<bool>()).prop_map(|(a, c)| Op::SetCloexec(a, c)),
        1 => Just(Op::Exec),
    ]
}

const LIMIT: u32 = 10;

proptest! {
    #[test]
    fn objects_close_exactly_once_and_fds_follow_linux(ops in prop::collection::vec(op(), 0..80)) {
        let mut table: FdTable<u32> = FdTable::new(LIMIT);
        let mut next_object = 0u32;
        let mut live: BTreeSet<u32> = BTreeSet::new();
        let release = |live: &mut BTreeSet<u32>, object: Option<u32>| -> Result<(), TestCaseError> {
            if let Some(object) = object {
                prop_assert!(live.remove(&object), "object {} closed twice or never opened", object);
            }
            Ok(())
        };
        for op in ops {
            let open: BTreeSet<u32> = table.open_fds().collect();
            let lowest = (0..).find(|fd| !open.contains(fd)).unwrap();
            match op {
                Op::Install { cloexec } => {
                    let flags = if cloexec { status::O_CLOEXEC } else { 0 };
                    match table.install(next_object, flags) {
                        Ok(fd) => {
                            prop_assert_eq!(fd, lowest);
                            live.insert(next_object);
                            next_object += 1;
                        }
                        Err(e) => {
                            prop_assert_eq!(e, Errno::EMFILE);
                            prop_assert!(lowest >= LIMIT);
                        }
                    }
                }
                Op::Close(fd) => match table.close(fd) {
                    Ok(object) => {
                        prop_assert!(open.contains(&fd));
                        release(&mut live, object)?;
                    }
                    Err(e) => {
                        prop_assert_eq!(e, Errno::EBADF);
                        prop_assert!(!open.contains(&fd));
                    }
                },
                Op::Dup(fd, min) => match table.dup(fd, min, false) {
                    Ok(new) => {
                        let expected = (min..).find(|f| !open.contains(f)).unwrap();
                        prop_assert_eq!(new, expected);
                        prop_assert!(table.same_description(fd, new));
                    }
                    Err(Errno::EBADF) => prop_assert!(!open.contains(&fd)),
                    Err(Errno::EINVAL) => prop_assert!(min >= LIMIT),
                    Err(e) => {
                        prop_assert_eq!(e, Errno::EMFILE);
                        prop_assert!((min..LIMIT).all(|f| open.contains(&f)));
                    }
                },
                Op::Dup2(old, new) => match table.dup2(old, new) {
                    Ok((fd, closed)) => {
                        prop_assert_eq!(fd, new);
                        prop_assert!(table.same_description(old, new));
                        release(&mut live, closed)?;
                    }
                    Err(e) => {
                        prop_assert_eq!(e, Errno::EBADF);
                        prop_assert!(!open.contains(&old) || new >= LIMIT);
                    }
                },
                Op::Dup3(old, new, cloexec) => {
                    let flags = if cloexec { status::O_CLOEXEC } else { 0 };
                    match table.dup3(old, new, flags) {
                        Ok((fd, closed)) => {
                            prop_assert_eq!(fd, new);
                            prop_assert!(table.same_description(old, new));
                            prop_assert_eq!(table.fd_flags(new).unwrap() == FD_CLOEXEC, cloexec);
                            release(&mut live, closed)?;
                        }
                        Err(Errno::EINVAL) => prop_assert_eq!(old, new),
                        Err(e) => {
                            prop_assert_eq!(e, Errno::EBADF);
                            prop_assert!(!open.contains(&old) || new >= LIMIT);
                        }
                    }
                }
                Op::SetCloexec(fd, on) => {
                    let flags = if on { FD_CLOEXEC } else { 0 };
                    prop_assert_eq!(table.set_fd_flags(fd, flags).is_ok(), open.contains(&fd));
                }
                Op::Exec => {
                    let survivors: BTreeSet<u32> = open
                        .iter()
                        .copied()
                        .filter(|&fd| table.fd_flags(fd) == Ok(0))
                        .collect();
                    for object in table.exec() {
                        release(&mut live, Some(object))?;
                    }
                    prop_assert_eq!(table.open_fds().collect::<BTreeSet<_>>(), survivors);
                }
            }
            // Every open descriptor names a live object.
            for fd in table.open_fds() {
                prop_assert!(live.contains(&table.object(fd).unwrap()));
            }
        }
        for object in table.close_all() {
            release(&mut live, Some(object))?;
        }
        prop_assert!(live.is_empty(), "never closed: {:?}", live);
    }
}

#[test]
fn status_flags_are_shared_and_only_some_settable() {
    let mut table: FdTable<u8> = FdTable::new(8);
    let fd = table.install(7, 2 | status::O_APPEND).unwrap();
    let copy = table.dup(fd, 0, true).unwrap();
    assert_eq!(table.status(copy), Ok(2 | status::O_APPEND));
    table.set_status(copy, status::O_NONBLOCK | 1).unwrap();
    assert_eq!(
        table.status(fd),
        Ok(2 | status::O_NONBLOCK),
        "access mode kept"
    );
    assert_eq!(table.fd_flags(copy), Ok(FD_CLOEXEC));
    assert_eq!(table.fd_flags(fd), Ok(0));
    assert_eq!(table.close(fd), Ok(None));
    assert_eq!(table.close(copy), Ok(Some(7)));
    assert_eq!(table.close(copy), Err(Errno::EBADF));
    assert_eq!(table.status(u32::MAX), Err(Errno::EBADF));
}

#[test]
fn map_objects_keeps_sharing_and_flags_and_translates_each_description_once() {
    let mut t: FdTable<u32> = FdTable::new(64);
    assert_eq!(t.install(100, 0), Ok(0));
    assert_eq!(
        t.install(200, status::O_CLOEXEC | status::O_NONBLOCK),
        Ok(1)
    );
    assert_eq!(t.dup(0, 5, true), Ok(5));
    let mut calls = Vec::new();
    let copy = t
        .map_objects(|h| {
            calls.push(h);
            Ok::<u64, ()>(u64::from(h) + 1)
        })
        .unwrap();
    calls.sort_unstable();
    assert_eq!(calls, vec![100, 200]);
    assert_eq!(copy.object(0), Ok(101));
    assert_eq!(copy.object(5), Ok(101));
    assert_eq!(copy.object(1), Ok(201));
    assert!(copy.same_description(0, 5));
    assert_eq!(copy.fd_flags(1), Ok(FD_CLOEXEC));
    assert_eq!(copy.fd_flags(5), Ok(FD_CLOEXEC));
    assert_eq!(copy.fd_flags(0), Ok(0));
    assert_eq!(copy.status(1), Ok(status::O_NONBLOCK));
    // The copy's closes count its own references: 0 and 5 share one.
    let mut copy = copy;
    assert_eq!(copy.close(0), Ok(None));
    assert_eq!(copy.close(5), Ok(Some(101)));
    assert_eq!(t.object(0), Ok(100));
    let failed = t.map_objects(|h| if h == 200 { Err("no") } else { Ok(h) });
    assert_eq!(failed.err(), Some("no"));
    let mut objects: Vec<u32> = t.objects().collect();
    objects.sort_unstable();
    assert_eq!(objects, vec![100, 200]);
}

#[test]
fn direct_io_allowed_only_for_a_plain_permitted_transfer() {
    use sk_unix::fd_table::status::{direct_io_allowed, O_APPEND, O_NONBLOCK};
    let (rdonly, wronly, rdwr) = (0, 1, 2);
    assert!(direct_io_allowed(rdonly, false));
    assert!(!direct_io_allowed(rdonly, true));
    assert!(!direct_io_allowed(wronly, false));
    assert!(direct_io_allowed(wronly, true));
    assert!(direct_io_allowed(rdwr, false) && direct_io_allowed(rdwr, true));
    assert!(!direct_io_allowed(rdwr | O_NONBLOCK, false));
    assert!(!direct_io_allowed(rdwr | O_NONBLOCK, true));
    // O_APPEND changes writes only.
    assert!(direct_io_allowed(rdwr | O_APPEND, false));
    assert!(!direct_io_allowed(rdwr | O_APPEND, true));
}
