//! Model test (`seam-and-oracle`): random operation sequences run against
//! the file system and against a small path-keyed oracle built on
//! `BTreeMap`. Every result, the node count, the `Freed` events, the
//! layout-stability promise and the final tree and contents must agree.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::arithmetic_side_effects,
    clippy::cast_possible_truncation
)]

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
mod support;

use sk_fs::{
    CreateMode, DataLayout, EventKind, FileSystem, FsError, NodeId, NodeKind, OpenNode, Room,
};

/// A data operation, applied to a path or to an open reference.
#[derive(Debug, Clone)]
enum Io {
    Write {
        offset: u64,
        data: Vec<u8>,
    },
    Read {
        offset: u64,
        len: usize,
    },
    Truncate {
        size: u64,
    },
    /// `make_room` until ready: changes no contents.
    MakeRoom {
        end: u64,
    },
}

#[derive(Debug, Clone)]
enum Op {
    Mkdir(&'static str),
    Create(&'static str, CreateMode),
    Unlink(&'static str),
    Rmdir(&'static str),
    Rename(&'static str, &'static str),
    Open(&'static str),
    Close(usize),
    PathIo(&'static str, Io),
    OpenIo(usize, Io),
}

/// Few names, so operations collide often; shallow paths weigh most.
fn path() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        1 => Just("/"),
        8 => prop::sample::select(&["/a", "/b", "/c"][..]),
        4 => prop::sample::select(&["/a/x", "/a/y", "/b/x"][..]),
        1 => prop::sample::select(&["/a/x/z", "/b/x/z"][..]),
    ]
}

fn io() -> impl Strategy<Value = Io> {
    let offset = prop_oneof![4 => 0..200_u64, 1 => 4000..9000_u64];
    prop_oneof![
        3 => (offset.clone(), prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(offset, data)| Io::Write { offset, data }),
        2 => (offset, 0..64_usize).prop_map(|(offset, len)| Io::Read { offset, len }),
        1 => prop_oneof![0..300_u64, 4000..9000_u64].prop_map(|size| Io::Truncate { size }),
        1 => prop_oneof![0..9000_u64, 1_000_000..3_000_000_u64].prop_map(|end| Io::MakeRoom { end }),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => path().prop_map(Op::Mkdir),
        4 => (path(), prop_oneof![Just(CreateMode::Exclusive), Just(CreateMode::OpenExisting)])
            .prop_map(|(path, mode)| Op::Create(path, mode)),
        2 => path().prop_map(Op::Unlink),
        2 => path().prop_map(Op::Rmdir),
        3 => (path(), path()).prop_map(|(from, to)| Op::Rename(from, to)),
        2 => path().prop_map(Op::Open),
        1 => any::<usize>().prop_map(Op::Close),
        8 => (path(), io()).prop_map(|(path, io)| Op::PathIo(path, io)),
        4 => (any::<usize>(), io()).prop_map(|(index, io)| Op::OpenIo(index, io)),
    ]
}

/// What an operation returned. `Node` holds a real id's bits on the file
/// system's side and a model id on the oracle's; `Harness::step` matches
/// them up.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Out {
    Unit,
    Node(u64),
    Count(usize),
    Bytes(Vec<u8>),
}

#[derive(Debug)]
enum Body {
    Dir,
    File(Vec<u8>),
}

#[derive(Debug)]
struct ModelNode {
    body: Body,
    is_linked: bool,
    opens: u32,
}

/// The oracle: full paths to model ids, ids to nodes. Node 0 is `/`.
#[derive(Debug)]
struct Model {
    names: BTreeMap<String, u32>,
    nodes: BTreeMap<u32, ModelNode>,
    next_id: u32,
    freed: Vec<u32>,
}

fn split(path: &str) -> (String, String) {
    let (parent, name) = path.rsplit_once('/').unwrap();
    (
        if parent.is_empty() {
            "/".into()
        } else {
            parent.into()
        },
        name.into(),
    )
}

fn child(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

impl Model {
    fn new() -> Self {
        let root = ModelNode {
            body: Body::Dir,
            is_linked: true,
            opens: 0,
        };
        Self {
            names: BTreeMap::new(),
            nodes: BTreeMap::from([(0, root)]),
            next_id: 1,
            freed: Vec::new(),
        }
    }

    fn is_dir(&self, id: u32) -> bool {
        matches!(self.nodes[&id].body, Body::Dir)
    }

    /// Walks like the real file system: NotFound for a missing component,
    /// NotDir when a file is walked through.
    fn resolve(&self, path: &str) -> Result<u32, FsError> {
        let mut current = 0;
        let mut walked = String::new();
        for name in path.split('/').filter(|name| !name.is_empty()) {
            if !self.is_dir(current) {
                return Err(FsError::NotDir);
            }
            walked = child(if walked.is_empty() { "/" } else { &walked }, name);
            current = *self.names.get(&walked).ok_or(FsError::NotFound)?;
        }
        Ok(current)
    }

    /// The directory that will hold `path`'s last name.
    fn parent_dir(&self, path: &str) -> Result<(), FsError> {
        let parent = self.resolve(&split(path).0)?;
        if self.is_dir(parent) {
            Ok(())
        } else {
            Err(FsError::NotDir)
        }
    }

    fn add(&mut self, path: &str, body: Body) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        self.nodes.insert(
            id,
            ModelNode {
                body,
                is_linked: true,
                opens: 0,
            },
        );
        self.names.insert(path.into(), id);
        id
    }

    fn drop_link(&mut self, id: u32) {
        self.nodes.get_mut(&id).unwrap().is_linked = false;
        self.free_if_unreferenced(id);
    }

    fn free_if_unreferenced(&mut self, id: u32) {
        let node = &self.nodes[&id];
        if !node.is_linked && node.opens == 0 {
            self.nodes.remove(&id);
            self.freed.push(id);
        }
    }

    fn is_empty_dir(&self, path: &str) -> bool {
        let prefix = child(path, "");
        self.names.keys().all(|name| !name.starts_with(&prefix))
    }

    fn mkdir(&mut self, path: &str) -> Result<Out, FsError> {
        if path == "/" {
            return Err(FsError::Exists);
        }
        self.parent_dir(path)?;
        if self.names.contains_key(path) {
            return Err(FsError::Exists);
        }
        Ok(Out::Node(self.add(path, Body::Dir).into()))
    }

    fn create(&mut self, path: &str, mode: CreateMode) -> Result<Out, FsError> {
        let existing = if path == "/" {
            Some(0)
        } else {
            self.parent_dir(path)?;
            self.names.get(path).copied()
        };
        match (existing, mode) {
            (Some(_), CreateMode::Exclusive) => Err(FsError::Exists),
            (Some(id), CreateMode::OpenExisting) if self.is_dir(id) => Err(FsError::IsDir),
            (Some(id), CreateMode::OpenExisting) => Ok(Out::Node(id.into())),
            (None, _) => Ok(Out::Node(self.add(path, Body::File(Vec::new())).into())),
        }
    }

    fn unlink(&mut self, path: &str) -> Result<Out, FsError> {
        if path == "/" {
            return Err(FsError::IsDir);
        }
        self.parent_dir(path)?;
        let id = *self.names.get(path).ok_or(FsError::NotFound)?;
        if self.is_dir(id) {
            return Err(FsError::IsDir);
        }
        self.names.remove(path);
        self.drop_link(id);
        Ok(Out::Unit)
    }

    fn rmdir(&mut self, path: &str) -> Result<Out, FsError> {
        if path == "/" {
            return Err(FsError::Busy);
        }
        self.parent_dir(path)?;
        let id = *self.names.get(path).ok_or(FsError::NotFound)?;
        if !self.is_dir(id) {
            return Err(FsError::NotDir);
        }
        if !self.is_empty_dir(path) {
            return Err(FsError::NotEmpty);
        }
        self.names.remove(path);
        self.drop_link(id);
        Ok(Out::Unit)
    }

    fn rename(&mut self, from: &str, to: &str) -> Result<Out, FsError> {
        if from == "/" || to == "/" {
            return Err(FsError::Busy);
        }
        self.parent_dir(from)?;
        let source = *self.names.get(from).ok_or(FsError::NotFound)?;
        self.parent_dir(to)?;
        let to_parent = split(to).0;
        if self.is_dir(source) && (to_parent == from || to_parent.starts_with(&child(from, ""))) {
            return Err(FsError::IntoOwnSubtree);
        }
        let target = self.names.get(to).copied();
        if target == Some(source) {
            return Ok(Out::Unit);
        }
        if let Some(target) = target {
            match (self.is_dir(source), self.is_dir(target)) {
                (false, true) => return Err(FsError::IsDir),
                (true, false) => return Err(FsError::NotDir),
                (true, true) if !self.is_empty_dir(to) => return Err(FsError::NotEmpty),
                _ => {}
            }
            self.names.remove(to);
        }
        let moved: Vec<(String, u32)> = self
            .names
            .iter()
            .filter(|(name, _)| *name == from || name.starts_with(&child(from, "")))
            .map(|(name, id)| (name.clone(), *id))
            .collect();
        for (name, id) in moved {
            self.names.remove(&name);
            self.names
                .insert(format!("{to}{}", &name[from.len()..]), id);
        }
        if let Some(target) = target {
            self.drop_link(target);
        }
        Ok(Out::Unit)
    }

    fn io(&mut self, id: u32, io: &Io) -> Result<Out, FsError> {
        let Body::File(bytes) = &mut self.nodes.get_mut(&id).unwrap().body else {
            return Err(FsError::IsDir);
        };
        match io {
            Io::Write { offset, data } => {
                let offset = *offset as usize;
                if !data.is_empty() {
                    if bytes.len() < offset + data.len() {
                        bytes.resize(offset + data.len(), 0);
                    }
                    bytes[offset..offset + data.len()].copy_from_slice(data);
                }
                Ok(Out::Count(data.len()))
            }
            Io::Read { offset, len } => {
                let start = (*offset as usize).min(bytes.len());
                let end = (start + len).min(bytes.len());
                Ok(Out::Bytes(bytes[start..end].to_vec()))
            }
            Io::Truncate { size } => {
                bytes.resize(*size as usize, 0);
                Ok(Out::Unit)
            }
            Io::MakeRoom { .. } => Ok(Out::Unit),
        }
    }
}

/// The file system under test, the oracle, and the open references of both.
struct Harness {
    fs: FileSystem,
    model: Model,
    /// Model id → real id, for every node ever made.
    ids: BTreeMap<u32, NodeId>,
    opens: Vec<(u32, OpenNode)>,
    layouts: BTreeMap<NodeId, DataLayout>,
}

fn real_io(fs: &mut FileSystem, node: NodeId, io: &Io) -> Result<Out, FsError> {
    match io {
        Io::Write { offset, data } => fs.write(node, *offset, data).map(Out::Count),
        Io::Read { offset, len } => {
            let mut buf = vec![0xAA; *len];
            let count = fs.read(node, *offset, &mut buf)?;
            buf.truncate(count);
            Ok(Out::Bytes(buf))
        }
        Io::Truncate { size } => fs.truncate(node, *size).map(|()| Out::Unit),
        Io::MakeRoom { end } => {
            let mut steps = 0;
            while fs.make_room(node, *end)? == Room::Growing {
                steps += 1;
                assert!(steps <= 3, "each step grows by up to 1 MiB");
            }
            assert!(fs.stat(node)?.capacity_bytes >= *end);
            Ok(Out::Unit)
        }
    }
}

impl Harness {
    /// Buffers on the heap (`None`), or from `allocator`.
    fn new(allocator: Option<&'static support::Reserving>) -> Self {
        let mut fs = FileSystem::new().unwrap();
        if let Some(allocator) = allocator {
            fs.set_data_allocator(allocator);
        }
        let ids = BTreeMap::from([(0, fs.root())]);
        Self {
            fs,
            model: Model::new(),
            ids,
            opens: Vec::new(),
            layouts: BTreeMap::new(),
        }
    }

    /// Runs `op` on both sides and returns (real, model) outcomes.
    fn apply(&mut self, op: &Op) -> (Result<Out, FsError>, Result<Out, FsError>) {
        let (fs, model) = (&mut self.fs, &mut self.model);
        let node = |result: Result<NodeId, FsError>| result.map(|id| Out::Node(id.to_bits()));
        match op {
            Op::Mkdir(path) => (node(fs.mkdir(path)), model.mkdir(path)),
            Op::Create(path, mode) => (node(fs.create(path, *mode)), model.create(path, *mode)),
            Op::Unlink(path) => (fs.unlink(path).map(|()| Out::Unit), model.unlink(path)),
            Op::Rmdir(path) => (fs.rmdir(path).map(|()| Out::Unit), model.rmdir(path)),
            Op::Rename(from, to) => (
                fs.rename(from, to).map(|()| Out::Unit),
                model.rename(from, to),
            ),
            Op::Open(path) => {
                let real = fs.lookup(path).and_then(|id| fs.open(id));
                let expected = model.resolve(path);
                if let (Ok(open), Ok(id)) = (real.as_ref(), expected) {
                    assert_eq!(open.node(), self.ids[&id]);
                    model.nodes.get_mut(&id).unwrap().opens += 1;
                }
                let real = real.map(|open| {
                    self.opens.push((expected.unwrap(), open));
                    Out::Unit
                });
                (real, expected.map(|_| Out::Unit))
            }
            Op::Close(index) if !self.opens.is_empty() => {
                let (id, open) = self.opens.remove(index % self.opens.len());
                model.nodes.get_mut(&id).unwrap().opens -= 1;
                model.free_if_unreferenced(id);
                (fs.close(open).map(|()| Out::Unit), Ok(Out::Unit))
            }
            Op::PathIo(path, io) => {
                let real = fs.lookup(path).and_then(|id| real_io(fs, id, io));
                let expected = model.resolve(path).and_then(|id| model.io(id, io));
                (real, expected)
            }
            Op::OpenIo(index, io) if !self.opens.is_empty() => {
                let (id, open) = &self.opens[index % self.opens.len()];
                (real_io(fs, open.node(), io), model.io(*id, io))
            }
            Op::Close(_) | Op::OpenIo(..) => (Ok(Out::Unit), Ok(Out::Unit)),
        }
    }

    fn step(&mut self, op: &Op) {
        let (real, expected) = self.apply(op);
        // New nodes: learn the real id of each model id.
        if let (Ok(Out::Node(real_bits)), Ok(Out::Node(model_id))) = (&real, &expected) {
            let real_id = NodeId::from_bits(*real_bits);
            let model_id = u32::try_from(*model_id).unwrap();
            assert_eq!(
                *self.ids.entry(model_id).or_insert(real_id),
                real_id,
                "{op:?}"
            );
        } else {
            assert_eq!(real, expected, "{op:?}");
        }
        self.check_events_and_layouts(op);
        assert_eq!(self.fs.node_count(), self.model.nodes.len(), "{op:?}");
    }

    /// `Freed` events name exactly the nodes the model freed; a live file's
    /// buffer moves only with a `DataMoved` event; the size cell never moves.
    fn check_events_and_layouts(&mut self, op: &Op) {
        let events: Vec<_> = self.fs.take_events().collect();
        let freed: BTreeSet<NodeId> = events
            .iter()
            .filter(|event| event.kind == EventKind::Freed)
            .map(|event| event.node)
            .collect();
        let expected: BTreeSet<NodeId> =
            self.model.freed.drain(..).map(|id| self.ids[&id]).collect();
        assert_eq!(freed, expected, "{op:?}");
        let moved: BTreeSet<NodeId> = events
            .iter()
            .filter(|event| event.kind == EventKind::DataMoved)
            .map(|event| event.node)
            .collect();
        self.layouts.retain(|node, _| !freed.contains(node));
        for (&model_id, node) in &self.model.nodes {
            let Body::File(_) = node.body else { continue };
            let id = self.ids[&model_id];
            let layout = self.fs.data_layout(id).unwrap();
            if let Some(old) = self.layouts.insert(id, layout) {
                assert_eq!(old.size_cell_addr, layout.size_cell_addr);
                if !moved.contains(&id) {
                    assert_eq!(
                        (old.data_addr, old.capacity),
                        (layout.data_addr, layout.capacity),
                        "{op:?}"
                    );
                }
            }
        }
    }

    /// The whole tree and every file's contents agree.
    fn check_tree(&self) {
        let mut real = BTreeMap::new();
        walk(&self.fs, self.fs.root(), "/", &mut real);
        let expected: BTreeMap<String, Option<Vec<u8>>> = self
            .model
            .names
            .iter()
            .map(|(path, id)| match &self.model.nodes[id].body {
                Body::Dir => (path.clone(), None),
                Body::File(bytes) => (path.clone(), Some(bytes.clone())),
            })
            .collect();
        assert_eq!(real, expected);
    }
}

fn walk(fs: &FileSystem, dir: NodeId, path: &str, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
    for entry in fs.readdir(dir).unwrap() {
        let entry_path = child(path, entry.name);
        match entry.kind {
            NodeKind::Directory => {
                out.insert(entry_path.clone(), None);
                walk(fs, entry.node, &entry_path, out);
            }
            NodeKind::File => {
                let size = fs.stat(entry.node).unwrap().size_bytes as usize;
                let mut bytes = vec![0; size];
                assert_eq!(fs.read(entry.node, 0, &mut bytes).unwrap(), size);
                out.insert(entry_path, Some(bytes));
            }
        }
    }
}

/// Runs `ops` on a harness and checks the end state.
fn run_model(ops: &[Op], allocator: Option<&'static support::Reserving>) {
    let mut harness = Harness::new(allocator);
    for op in ops {
        harness.step(op);
    }
    harness.check_tree();
    // Closing everything frees every unlinked node.
    while let Some((id, open)) = harness.opens.pop() {
        harness.model.nodes.get_mut(&id).unwrap().opens -= 1;
        harness.model.free_if_unreferenced(id);
        harness.fs.close(open).unwrap();
        harness.check_events_and_layouts(&Op::Close(0));
    }
    assert_eq!(harness.fs.node_count(), harness.model.names.len() + 1);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn file_system_matches_model(ops in prop::collection::vec(op(), 1..120)) {
        run_model(&ops, None);
    }

    /// The same with stores that grow in place (small reservations of
    /// 8 KiB, so files also move to large ones of 4 MiB).
    #[test]
    fn file_system_matches_model_with_stores_that_grow_in_place(
        ops in prop::collection::vec(op(), 1..120)
    ) {
        static ALLOCATOR: std::sync::OnceLock<&'static support::Reserving> =
            std::sync::OnceLock::new();
        let allocator = *ALLOCATOR.get_or_init(|| support::Reserving::leaked(8192, 4 << 20));
        run_model(&ops, Some(allocator));
    }
}
