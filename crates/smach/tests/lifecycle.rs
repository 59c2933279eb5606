//! The SMACH lifecycle and `reconfigure` policy on the host: a new
//! record, every request in every state from the SMACH itself and from
//! its parent, exit handing back every object, thread and waiter, the
//! orphan and release rules; and a property test of random lifecycle
//! operations against a model.

use proptest::prelude::*;
use sk_abi::{
    ExitStatus, Handle, Kind, OpenFlags, SioKind, SmachReconfigure, SmachState, SmemCreateArgs,
    SysError, PAGE_SIZE,
};
use sk_fs::FileSystem;
use sk_sio::Sio;
use sk_smach::{Object, Smach, SmachAction, Teardown};
use sk_smem::testing::FakeAddressSpace;
use sk_smem::{AddressSpace, Smem};
use std::collections::BTreeMap;

type TestSmach = Smach<(), FakeAddressSpace>;
type R = SmachReconfigure;

fn smach(parent: Option<u64>) -> TestSmach {
    TestSmach::new(5, "/bin/x".into(), parent, FakeAddressSpace::new())
}

/// A SMACH in `state`: exited by `exit`, suspended by its parent.
fn smach_in(state: SmachState) -> TestSmach {
    let mut m = smach(Some(1));
    match state {
        SmachState::Suspended => {
            m.reconfigure(R::Suspend, false, false).unwrap();
        }
        SmachState::Exited => {
            m.exit(ExitStatus::new(4)).unwrap();
        }
        _ => {}
    }
    assert_eq!(m.state(), state);
    m
}

const STATES: [SmachState; 3] = [
    SmachState::Running,
    SmachState::Suspended,
    SmachState::Exited,
];

/// What a handle named, comparable: index, kind, id (or SMEM start).
fn named(objects: &[(Handle, Object<()>)]) -> Vec<(u32, Kind, u64)> {
    objects
        .iter()
        .map(|(h, o)| {
            let id = match o {
                Object::Smach(id) | Object::Scpu(id) => *id,
                Object::Smem(s) => s.start(),
                Object::Sio(_) | Object::Shared(_) => 0,
            };
            (h.index(), o.kind(), id)
        })
        .collect()
}

#[test]
fn a_new_smach_runs_with_nothing() {
    let m = smach(Some(1));
    assert_eq!((m.id(), m.name(), m.parent()), (5, "/bin/x", Some(1)));
    assert_eq!(m.state(), SmachState::Running);
    assert_eq!(m.exit_status(), ExitStatus::SUCCESS);
    assert_eq!(m.priority(), sk_abi::DEFAULT_PRIORITY);
    assert!(!m.is_released());
    assert_eq!(m.handles.count(), 0);
    assert!(m.threads.is_empty() && m.waiters.is_empty());
    assert!(m.regions.ranges().is_empty());
    assert!(m.aspace.is_some());
    let info = m.info();
    assert_eq!(info.state(), Ok(SmachState::Running));
    assert_eq!(
        (
            info.handle_count,
            info.exit_status,
            info.memory_bytes,
            info.id
        ),
        (0, 0, 0, 5)
    );
    assert_eq!(info.exit_status(), None, "not exited: no status");
}

#[test]
fn info_counts_handles_and_mapped_memory() {
    let mut m = smach(None);
    m.handles
        .install_at(Handle::SELF, Object::Smach(5))
        .unwrap();
    m.handles.insert(Object::Scpu(8)).unwrap();
    m.regions.add_mapped(3 * PAGE_SIZE);
    let info = m.info();
    assert_eq!((info.handle_count, info.memory_bytes), (2, 3 * PAGE_SIZE));
}

#[test]
fn trace_next_call_is_for_oneself_and_only_when_allowed() {
    for state in STATES {
        for trace_allowed in [false, true] {
            let mut m = smach_in(state);
            assert_eq!(
                m.reconfigure(R::TraceNextCall, false, trace_allowed),
                Err(SysError::NotSupported),
                "another SMACH, {state:?}"
            );
        }
        let mut m = smach_in(state);
        assert_eq!(
            m.reconfigure(R::TraceNextCall, true, false),
            Err(SysError::NotPermitted)
        );
        assert_eq!(
            m.reconfigure(R::TraceNextCall, true, true),
            Ok(SmachAction::TraceNextCall)
        );
        assert_eq!(m.state(), state, "tracing never moves the state");
    }
}

#[test]
fn wait_is_for_another_smach_in_any_state() {
    for state in STATES {
        for trace_allowed in [false, true] {
            let mut m = smach_in(state);
            assert_eq!(
                m.reconfigure(R::Wait, true, trace_allowed),
                Err(SysError::Busy),
                "waiting for oneself would never end"
            );
            assert_eq!(
                m.reconfigure(R::Wait, false, trace_allowed),
                Ok(SmachAction::Wait),
                "{state:?}"
            );
            assert_eq!(m.state(), state);
        }
    }
}

#[test]
fn priority_0_to_7_for_either_caller_in_any_state() {
    for state in STATES {
        for is_self in [false, true] {
            let mut m = smach_in(state);
            for p in 0..=sk_abi::MAX_PRIORITY {
                assert_eq!(
                    m.reconfigure(R::Priority(p), is_self, false),
                    Ok(SmachAction::SetPriority(p))
                );
                assert_eq!(m.priority(), p);
            }
            for p in [8, 1000, u32::MAX] {
                assert_eq!(
                    m.reconfigure(R::Priority(p), is_self, true),
                    Err(SysError::BadValue)
                );
                assert_eq!(m.priority(), sk_abi::MAX_PRIORITY, "unchanged");
            }
            assert_eq!(m.state(), state);
        }
    }
}

#[test]
fn suspend_and_resume_by_another_smach_in_every_state() {
    let expected = [
        (SmachState::Running, R::Suspend, SmachState::Suspended),
        (SmachState::Suspended, R::Suspend, SmachState::Suspended),
        (SmachState::Exited, R::Suspend, SmachState::Exited),
        (SmachState::Running, R::Resume, SmachState::Running),
        (SmachState::Suspended, R::Resume, SmachState::Running),
        (SmachState::Exited, R::Resume, SmachState::Exited),
    ];
    for (before, request, after) in expected {
        let mut m = smach_in(before);
        let action = match request {
            R::Suspend => SmachAction::Suspend,
            _ => SmachAction::Resume,
        };
        assert_eq!(m.reconfigure(request, false, false), Ok(action));
        assert_eq!(m.state(), after, "{request:?} in {before:?}");
    }
}

#[test]
fn suspending_or_resuming_oneself_is_busy_and_changes_nothing() {
    for state in STATES {
        for request in [R::Suspend, R::Resume] {
            let mut m = smach_in(state);
            assert_eq!(m.reconfigure(request, true, true), Err(SysError::Busy));
            assert_eq!(m.state(), state);
        }
    }
}

#[test]
fn exit_hands_back_every_object_thread_waiter_and_the_address_space() {
    let mut fs = FileSystem::new().unwrap();
    let mut m = smach(Some(1));
    m.handles
        .install_at(Handle::SELF, Object::Smach(5))
        .unwrap();
    let console = Sio::open(&mut fs, "/dev/tty", OpenFlags::READ | OpenFlags::WRITE).unwrap();
    m.handles
        .install_at(Handle::CONSOLE, Object::Sio(console))
        .unwrap();
    let args = SmemCreateArgs {
        addr_hint: 0,
        len: 2 * PAGE_SIZE,
        prot: 3,
        flags: 0,
    }
    .check()
    .unwrap();
    let aspace = m.aspace.as_mut().unwrap();
    let region = Smem::create(&mut m.regions, aspace, &args).unwrap();
    let region_start = region.start();
    m.handles.insert(Object::Smem(region)).unwrap();
    m.handles.insert(Object::Scpu(20)).unwrap();
    m.handles.insert(Object::Smach(30)).unwrap();
    m.handles.insert(Object::Scpu(21)).unwrap();
    m.handles.remove(Handle::new(3)).unwrap();
    for t in [20, 21, 22] {
        m.add_thread(t, 64).unwrap();
    }
    for w in [40, 41, 40] {
        m.add_waiter(w).unwrap();
    }
    assert_eq!(m.info().memory_bytes, 2 * PAGE_SIZE);

    let t: Teardown<(), FakeAddressSpace> = m.exit(ExitStatus::new(-1)).unwrap();
    assert_eq!(
        named(&t.objects),
        [
            (0, Kind::Smach, 5),
            (1, Kind::Sio, 0),
            (2, Kind::Smem, region_start),
            (4, Kind::Smach, 30),
            (5, Kind::Scpu, 21),
        ]
    );
    assert_eq!(t.objects[1].1.as_sio().map(Sio::kind), Some(SioKind::Tty));
    assert_eq!(t.threads, [20, 21, 22]);
    assert_eq!(t.waiters, [40, 41], "each waiter once");
    let mut aspace = t.aspace.unwrap();
    assert_eq!(aspace.pages.len(), 2, "the pages go with the address space");
    assert!(aspace.unmap_page(region_start));

    // The record stays, exited, empty.
    assert_eq!(m.state(), SmachState::Exited);
    assert_eq!(m.exit_status(), ExitStatus::new(-1));
    assert_eq!(m.handles.count(), 0);
    assert!(m.threads.is_empty() && m.waiters.is_empty() && m.aspace.is_none());
    assert!(m.regions.ranges().is_empty());
    let info = m.info();
    assert_eq!(info.state(), Ok(SmachState::Exited));
    assert_eq!(
        (info.handle_count, info.exit_status, info.memory_bytes),
        (0, -1, 0)
    );
    assert_eq!(info.exit_status(), Some(ExitStatus::new(-1)));

    // Exit happens once; the first status stands.
    assert!(m.exit(ExitStatus::KILLED).is_none());
    assert_eq!(m.exit_status(), ExitStatus::new(-1));
}

#[test]
fn a_suspended_smach_can_exit() {
    let mut m = smach_in(SmachState::Suspended);
    m.add_thread(3, 4).unwrap();
    let t = m.exit(ExitStatus::KILLED).unwrap();
    assert_eq!(t.threads, [3]);
    assert_eq!(m.state(), SmachState::Exited);
    assert_eq!(m.info().exit_status, 137);
}

#[test]
fn threads_are_limited_and_waiters_are_distinct() {
    let mut m = smach(None);
    assert_eq!(m.add_thread(1, 0), Err(SysError::NoMemory), "limit 0");
    for t in [7, 3, 9] {
        m.add_thread(t, 3).unwrap();
    }
    assert_eq!(m.add_thread(4, 3), Err(SysError::NoMemory));
    assert_eq!(m.threads, [7, 3, 9], "in order, the refused one not added");
    for w in [5, 2, 5, 2, 8] {
        m.add_waiter(w).unwrap();
    }
    assert_eq!(m.waiters, [5, 2, 8]);
}

#[test]
fn orphan_rules() {
    // (parent, released, parent alive) -> may the record be forgotten?
    let cases = [
        (None, false, false, false), // the kernel's own: kept
        (None, false, true, false),
        (None, true, false, true), // released: nobody holds a handle
        (None, true, true, true),
        (Some(1), false, true, false), // its parent holds a handle
        (Some(1), false, false, true), // its parent is gone
        (Some(1), true, true, true),
        (Some(1), true, false, true),
    ];
    for (parent, released, parent_alive, orphan) in cases {
        let mut m = smach(parent);
        if released {
            m.release();
        }
        assert_eq!(m.is_released(), released);
        assert_eq!(
            m.is_orphan(parent_alive),
            orphan,
            "parent {parent:?}, released {released}, parent alive {parent_alive}"
        );
    }
    // Release survives exit, and exit does not release.
    let mut m = smach(Some(1));
    m.exit(ExitStatus::SUCCESS).unwrap();
    assert!(!m.is_released() && !m.is_orphan(true));
    m.release();
    assert!(m.is_orphan(true));
}

#[test]
fn objects_know_their_kind() {
    let mut fs = FileSystem::new().unwrap();
    let mut sio: Object<()> =
        Object::Sio(Sio::open(&mut fs, "/dev/null", OpenFlags::READ).unwrap());
    assert_eq!(sio.kind(), Kind::Sio);
    assert_eq!(sio.as_sio().map(Sio::kind), Some(SioKind::Null));
    assert!(sio.as_sio_mut().is_some());
    for mut o in [Object::<()>::Smach(1), Object::Scpu(2)] {
        assert!(o.as_sio().is_none() && o.as_sio_mut().is_none());
    }
    assert_eq!(Object::<()>::Smach(1).kind(), Kind::Smach);
    assert_eq!(Object::<()>::Scpu(1).kind(), Kind::Scpu);
}

#[derive(Debug, Clone)]
enum Op {
    Reconfigure(SmachReconfigure, bool, bool),
    AddThread(u64),
    AddWaiter(u64),
    InsertScpu(u64),
    RemoveHandle(u32),
    Exit(i32),
    Release,
}

fn request() -> impl Strategy<Value = SmachReconfigure> {
    prop_oneof![
        Just(R::Suspend),
        Just(R::Resume),
        Just(R::Wait),
        Just(R::TraceNextCall),
        Just(R::YieldCaller),
        (0u64..3).prop_map(|ns| R::SleepCaller { ns }),
        prop_oneof![0u32..=9, Just(u32::MAX)].prop_map(R::Priority),
        (0u64..100).prop_map(|frames| R::Budget { frames }),
        (1u32..=1000).prop_map(R::Weight),
        prop_oneof![
            Just(sk_abi::SubPolicy::RoundRobin),
            Just(sk_abi::SubPolicy::Weighted)
        ]
        .prop_map(R::SubPolicy),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (request(), any::<bool>(), any::<bool>()).prop_map(|(r, me, trace)| Op::Reconfigure(r, me, trace)),
        2 => (0u64..6).prop_map(Op::AddThread),
        2 => (0u64..6).prop_map(Op::AddWaiter),
        2 => (0u64..100).prop_map(Op::InsertScpu),
        1 => (0u32..8).prop_map(Op::RemoveHandle),
        1 => any::<i32>().prop_map(Op::Exit),
        1 => Just(Op::Release),
    ]
}

const THREAD_LIMIT: usize = 4;

/// What the README and the ABI say about one SMACH.
#[derive(Debug)]
struct Model {
    parent: Option<u64>,
    state: SmachState,
    status: i32,
    priority: u32,
    released: bool,
    threads: Vec<u64>,
    waiters: Vec<u64>,
    handles: BTreeMap<u32, u64>,
}

impl Model {
    fn reconfigure(
        &mut self,
        request: SmachReconfigure,
        is_self: bool,
        trace: bool,
    ) -> Result<SmachAction, SysError> {
        let exited = self.state == SmachState::Exited;
        match request {
            R::TraceNextCall if !is_self => Err(SysError::NotSupported),
            R::TraceNextCall if !trace => Err(SysError::NotPermitted),
            R::TraceNextCall => Ok(SmachAction::TraceNextCall),
            R::YieldCaller | R::SleepCaller { .. } if !is_self => Err(SysError::NotPermitted),
            R::YieldCaller => Ok(SmachAction::YieldOrSleepCaller { ns: 0 }),
            R::SleepCaller { ns } => Ok(SmachAction::YieldOrSleepCaller { ns }),
            R::Wait | R::Suspend | R::Resume if is_self => Err(SysError::Busy),
            R::Wait => Ok(SmachAction::Wait),
            R::Priority(p) if p > sk_abi::MAX_PRIORITY => Err(SysError::BadValue),
            R::Priority(p) => {
                self.priority = p;
                Ok(SmachAction::SetPriority(p))
            }
            R::Suspend => {
                if !exited {
                    self.state = SmachState::Suspended;
                }
                Ok(SmachAction::Suspend)
            }
            R::Resume => {
                if !exited {
                    self.state = SmachState::Running;
                }
                Ok(SmachAction::Resume)
            }
            // Budget and weight are the parent's to set.
            R::Budget { .. } | R::Weight(_) if is_self => Err(SysError::NotPermitted),
            R::Budget { frames } => Ok(SmachAction::SetBudget(frames)),
            R::Weight(w) => Ok(SmachAction::SetWeight(w)),
            R::SubPolicy(p) => Ok(SmachAction::SetSubPolicy(p)),
            // A root is the parent's to set.
            R::Root { .. } if is_self => Err(SysError::NotPermitted),
            R::Root { directory } => Ok(SmachAction::SetRoot(directory)),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random requests from the SMACH itself and from its parent, threads
    /// and waiters joining, handles coming and going, exits (the first
    /// one counts) and a release: every result, every exit's teardown and
    /// the state, status, priority, info and orphan rule agree with a model.
    #[test]
    fn random_lifecycle_operations_match_a_model(
        parent in proptest::option::of(0u64..3),
        ops in proptest::collection::vec(op(), 1..50),
    ) {
        let mut m = TestSmach::new(9, "/bin/p".into(), parent, FakeAddressSpace::new());
        m.handles.install_at(Handle::SELF, Object::Smach(9)).unwrap();
        let mut model = Model {
            parent,
            state: SmachState::Running,
            status: 0,
            priority: sk_abi::DEFAULT_PRIORITY,
            released: false,
            threads: Vec::new(),
            waiters: Vec::new(),
            handles: BTreeMap::from([(0, 9)]),
        };
        for op in ops {
            let exited = model.state == SmachState::Exited;
            match op {
                Op::Reconfigure(request, is_self, trace) => {
                    let want = model.reconfigure(request, is_self, trace);
                    prop_assert_eq!(m.reconfigure(request, is_self, trace), want, "{:?}", request);
                }
                // Threads, waiters and handles only join a live SMACH.
                Op::AddThread(t) if !exited => {
                    let want = if model.threads.len() < THREAD_LIMIT {
                        model.threads.push(t);
                        Ok(())
                    } else {
                        Err(SysError::NoMemory)
                    };
                    prop_assert_eq!(m.add_thread(t, THREAD_LIMIT), want);
                }
                Op::AddWaiter(w) if !exited => {
                    if !model.waiters.contains(&w) {
                        model.waiters.push(w);
                    }
                    prop_assert_eq!(m.add_waiter(w), Ok(()));
                }
                Op::InsertScpu(id) if !exited => {
                    let h = m.handles.insert(Object::Scpu(id)).map_err(|(e, _)| e);
                    let i = (2..).find(|i| !model.handles.contains_key(i)).unwrap();
                    prop_assert_eq!(h, Ok(Handle::new(i)));
                    model.handles.insert(i, id);
                }
                Op::RemoveHandle(i) if !exited => {
                    let got = m.handles.remove(Handle::new(i)).map(|o| named(&[(Handle::new(i), o)]));
                    let want = model.handles.remove(&i).map(|id| {
                        let kind = if i == 0 { Kind::Smach } else { Kind::Scpu };
                        vec![(i, kind, id)]
                    });
                    prop_assert_eq!(got, want.ok_or(SysError::BadHandle));
                }
                Op::Exit(status) => {
                    match m.exit(ExitStatus::new(status)) {
                        None => prop_assert!(exited, "a live SMACH must exit"),
                        Some(t) => {
                            prop_assert!(!exited, "exit happens once");
                            let want: Vec<(u32, Kind, u64)> = model.handles.iter()
                                .map(|(&i, &id)| (i, if i == 0 { Kind::Smach } else { Kind::Scpu }, id))
                                .collect();
                            prop_assert_eq!(named(&t.objects), want);
                            prop_assert_eq!(&t.threads, &model.threads);
                            prop_assert_eq!(&t.waiters, &model.waiters);
                            prop_assert!(t.aspace.is_some());
                            model.state = SmachState::Exited;
                            model.status = status;
                            model.threads.clear();
                            model.waiters.clear();
                            model.handles.clear();
                        }
                    }
                }
                Op::Release => {
                    m.release();
                    model.released = true;
                }
                Op::AddThread(_) | Op::AddWaiter(_) | Op::InsertScpu(_) | Op::RemoveHandle(_) => {}
            }
            prop_assert_eq!(m.state(), model.state);
            prop_assert_eq!(m.exit_status(), ExitStatus::new(model.status));
            prop_assert_eq!(m.priority(), model.priority);
            prop_assert_eq!(m.is_released(), model.released);
            prop_assert_eq!(&m.threads, &model.threads);
            prop_assert_eq!(&m.waiters, &model.waiters);
            prop_assert_eq!(m.aspace.is_none(), model.state == SmachState::Exited);
            let info = m.info();
            prop_assert_eq!(info.state(), Ok(model.state));
            prop_assert_eq!(info.handle_count as usize, model.handles.len());
            prop_assert_eq!(info.exit_status, i64::from(model.status));
            prop_assert_eq!(info.id, 9);
            for parent_alive in [false, true] {
                let orphan = model.released || (model.parent.is_some() && !parent_alive);
                prop_assert_eq!(m.is_orphan(parent_alive), orphan);
            }
        }
    }
}
