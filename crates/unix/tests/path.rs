//! Path resolution against Linux's answers for the same tree.

use sk_unix::{resolve, Errno, Last, NameSpace, NodeType};

/// `/`, `/bin` (dir), `/bin/sh` (file), `/tmp` (dir), `/tmp/f` (file).
struct Tree;

impl NameSpace for Tree {
    fn node_type(&self, path: &str) -> Option<NodeType> {
        match path {
            "/" | "/bin" | "/tmp" => Some(NodeType::Directory),
            "/bin/sh" | "/tmp/f" => Some(NodeType::Other),
            _ => None,
        }
    }
}

fn ok(base: &str, path: &str, last: Last) -> String {
    resolve(&Tree, base, path.as_bytes(), last).unwrap().path
}

fn err(base: &str, path: &str, last: Last) -> Errno {
    resolve(&Tree, base, path.as_bytes(), last).unwrap_err()
}

#[test]
fn resolves_like_linux() {
    use Last::{MayBeMissing as Create, MustExist as Exist};
    assert_eq!(ok("/", "/bin/sh", Exist), "/bin/sh");
    assert_eq!(ok("/tmp", "f", Exist), "/tmp/f");
    assert_eq!(ok("/tmp", "../bin//./sh", Exist), "/bin/sh");
    assert_eq!(ok("/", "/../../..", Exist), "/");
    assert_eq!(ok("/tmp", ".", Exist), "/tmp");
    assert_eq!(ok("/tmp", "/bin/", Exist), "/bin");
    assert_eq!(ok("/tmp", "new", Create), "/tmp/new");
    assert_eq!(err("/", "", Exist), Errno::ENOENT);
    assert_eq!(err("/", "/nope", Exist), Errno::ENOENT);
    assert_eq!(err("/", "/nope/x", Create), Errno::ENOENT);
    // Through a file: Linux says ENOTDIR, even when `..` would undo it.
    assert_eq!(err("/", "/bin/sh/..", Exist), Errno::ENOTDIR);
    assert_eq!(err("/", "/tmp/f/x", Create), Errno::ENOTDIR);
    assert_eq!(err("/", "/tmp/f/", Exist), Errno::ENOTDIR);
    let long_name = "x".repeat(256);
    assert_eq!(err("/", &long_name, Create), Errno::ENAMETOOLONG);
    assert_eq!(ok("/", &"x".repeat(255), Create).len(), 256);
    let long_path = "/.".repeat(2048);
    assert_eq!(err("/", &long_path, Exist), Errno::ENAMETOOLONG);
    assert_eq!(
        resolve(&Tree, "/", b"/bin/\xff", Last::MustExist),
        Err(Errno::EILSEQ)
    );
}
