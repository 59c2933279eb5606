//! Process relations against Linux's rules.

use proptest::prelude::*;
use sk_unix::process_table::INIT;
use sk_unix::{Errno, Pid, ProcessTable, WaitOutcome};
use std::collections::BTreeMap;

#[test]
fn orphans_go_to_init_and_zombies_wait_for_their_parent() {
    let mut t = ProcessTable::new();
    t.add_init().unwrap();
    t.add_child(INIT, 2).unwrap(); // a shell
    t.add_child(2, 3).unwrap(); // its job
    t.add_child(3, 4).unwrap(); // the job's child
    assert_eq!(t.wait(2, -1), Ok(WaitOutcome::NotYet));
    assert_eq!(
        t.wait(2, 4),
        Err(Errno::ECHILD),
        "a grandchild is not a child"
    );
    assert_eq!(t.exit(3, 7 << 8), Ok(2), "SIGCHLD goes to the shell");
    assert_eq!(t.parent(4), Ok(INIT));
    assert_eq!(
        t.kill_targets(2, 3),
        Err(Errno::ESRCH),
        "zombies get no signals"
    );
    assert_eq!(
        t.wait(2, 0),
        Ok(WaitOutcome::Reaped {
            pid: 3,
            status: 7 << 8
        })
    );
    assert_eq!(t.wait(2, -1), Err(Errno::ECHILD));
    assert_eq!(t.exit(4, 0), Ok(INIT));
    assert_eq!(
        t.wait(INIT, -1),
        Ok(WaitOutcome::Reaped { pid: 4, status: 0 })
    );
    assert_eq!(t.exit(INIT, 0), Err(Errno::EPERM));
}

#[test]
fn groups_and_sessions() {
    let mut t = ProcessTable::new();
    t.add_init().unwrap();
    t.add_child(INIT, 2).unwrap();
    assert_eq!(t.new_session(2), Ok(2));
    assert_eq!(t.new_session(2), Err(Errno::EPERM), "a group leader cannot");
    t.add_child(2, 3).unwrap();
    t.add_child(2, 4).unwrap();
    assert_eq!(t.set_group(2, 3, 0), Ok(()), "job 3 leads its group");
    assert_eq!(t.set_group(2, 4, 3), Ok(()), "4 joins it");
    assert_eq!(t.set_group(2, 4, 99), Err(Errno::EPERM), "no such group");
    assert_eq!(
        t.set_group(2, 2, 3),
        Err(Errno::EPERM),
        "a session leader cannot move"
    );
    assert_eq!(t.set_group(3, 4, 0), Err(Errno::ESRCH), "not 3's child");
    assert_eq!(t.set_group(2, 4, -1), Err(Errno::EINVAL));
    assert_eq!(t.kill_targets(2, -3), Ok(vec![3, 4]));
    assert_eq!(t.kill_targets(4, 0), Ok(vec![3, 4]));
    assert_eq!(t.kill_targets(4, -1), Ok(vec![2, 3]));
    assert_eq!(t.wait(2, -3), Ok(WaitOutcome::NotYet));
    assert_eq!(
        t.wait(2, 0),
        Err(Errno::ECHILD),
        "no child in the shell's own group"
    );
}

#[derive(Clone, Debug)]
enum Op {
    Fork(usize),
    Exit(usize, i32),
    Wait(usize, i32),
    SetGroup(usize, usize, usize),
}

proptest! {
    #[test]
    fn relations_stay_consistent(ops in prop::collection::vec(
        prop_oneof![
            3 => any::<usize>().prop_map(Op::Fork),
            2 => (any::<usize>(), any::<i32>()).prop_map(|(a, s)| Op::Exit(a, s)),
            3 => (any::<usize>(), -3i32..4).prop_map(|(a, s)| Op::Wait(a, s)),
            1 => (any::<usize>(), any::<usize>(), any::<usize>()).prop_map(|(a, b, c)| Op::SetGroup(a, b, c)),
        ],
        0..60,
    )) {
        let mut t = ProcessTable::new();
        t.add_init().unwrap();
        let mut next: Pid = 2;
        // Model: pid -> (parent, exit status if exited).
        let mut model: BTreeMap<Pid, (Pid, Option<i32>)> = BTreeMap::from([(INIT, (0, None))]);
        for op in ops {
            let live: Vec<Pid> = model.iter().filter(|(_, v)| v.1.is_none()).map(|(&p, _)| p).collect();
            let pick = |i: usize| live[i % live.len()];
            match op {
                Op::Fork(i) => {
                    let parent = pick(i);
                    t.add_child(parent, next).unwrap();
                    model.insert(next, (parent, None));
                    next += 1;
                }
                Op::Exit(i, status) => {
                    let pid = pick(i);
                    if pid == INIT {
                        prop_assert_eq!(t.exit(pid, status), Err(Errno::EPERM));
                        continue;
                    }
                    let parent = model[&pid].0;
                    prop_assert_eq!(t.exit(pid, status), Ok(parent));
                    for v in model.values_mut() {
                        if v.0 == pid {
                            v.0 = INIT;
                        }
                    }
                    model.get_mut(&pid).unwrap().1 = Some(status);
                }
                Op::Wait(i, spec) => {
                    let caller = pick(i);
                    let result = t.wait(caller, spec);
                    let children: Vec<Pid> = model.iter().filter(|(_, v)| v.0 == caller).map(|(&p, _)| p).collect();
                    match result {
                        Ok(WaitOutcome::Reaped { pid, status }) => {
                            prop_assert!(children.contains(&pid));
                            prop_assert_eq!(model[&pid].1, Some(status));
                            model.remove(&pid);
                        }
                        Ok(WaitOutcome::NotYet) => {
                            prop_assert!(!children.is_empty());
                            if spec == -1 {
                                prop_assert!(children.iter().all(|c| model[c].1.is_none()));
                            }
                        }
                        Err(e) => {
                            prop_assert_eq!(e, Errno::ECHILD);
                            if spec == -1 {
                                prop_assert!(children.is_empty());
                            }
                        }
                    }
                }
                Op::SetGroup(a, b, c) => {
                    let _ = t.set_group(pick(a), pick(b), pick(c));
                }
            }
            // Every live process's parent is live (or it is init).
            for (&pid, &(parent, exited)) in &model {
                prop_assert_eq!(t.parent(pid).ok(), exited.is_none().then_some(parent));
                if pid != INIT && exited.is_none() {
                    prop_assert!(model[&parent].1.is_none());
                }
            }
            prop_assert_eq!(t.len(), model.len());
        }
    }
}

#[test]
fn waitid_nowait_leaves_the_zombie() {
    let mut t = ProcessTable::new();
    t.add_init().unwrap();
    t.add_child(INIT, 2).unwrap();
    t.add_child(2, 3).unwrap();
    assert_eq!(t.wait_with(2, -1, false), Ok(WaitOutcome::NotYet));
    t.exit(3, 5 << 8).unwrap();
    let found = Ok(WaitOutcome::Reaped {
        pid: 3,
        status: 5 << 8,
    });
    assert_eq!(t.wait_with(2, 3, false), found, "WNOWAIT sees it");
    assert_eq!(t.wait_with(2, -1, false), found, "and it is still there");
    assert_eq!(t.wait(2, -1), found, "a real wait reaps it");
    assert_eq!(t.wait_with(2, -1, false), Err(Errno::ECHILD));
}
