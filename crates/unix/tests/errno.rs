//! The errno mapping against the kernel's own documentation of it.

use sk_abi::SysError;
use sk_unix::Errno;

/// Each `SysError` variant's `doc(alias)` errno names, read from the
/// source of `sk-abi` (the table users read), by variant name.
fn documented_aliases() -> Vec<(String, Vec<String>)> {
    let source = include_str!("../../abi/src/error.rs");
    let mut out = Vec::new();
    let mut pending: Vec<String> = Vec::new();
    for line in source.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#[doc(alias = ") {
            pending = rest
                .split('"')
                .filter(|part| part.starts_with('E'))
                .map(str::to_owned)
                .collect();
        } else if let Some((name, _)) = line.split_once(" = ") {
            if !pending.is_empty() && name.chars().all(char::is_alphanumeric) {
                out.push((name.to_owned(), core::mem::take(&mut pending)));
            }
        }
    }
    out
}

#[test]
fn every_native_error_maps_to_an_errno_it_documents() {
    let aliases = documented_aliases();
    assert!(aliases.len() >= 27, "parsed {} variants", aliases.len());
    let mut checked = 0;
    for code in 1..=200 {
        let Some(error) = SysError::from_code(code).filter(|&e| e != SysError::Unknown) else {
            continue;
        };
        let name = format!("{error:?}");
        let errno = Errno::from_sys_error(error);
        let errno_name = errno.name().unwrap();
        let documented = &aliases
            .iter()
            .find(|(variant, _)| *variant == name)
            .unwrap_or_else(|| panic!("{name} has no doc(alias) errno"))
            .1;
        assert!(
            documented.iter().any(|alias| alias == errno_name),
            "{name} maps to {errno_name}, but its docs say {documented:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, aliases.len(), "a documented variant has no code");
}

#[test]
fn names_messages_and_returns() {
    assert_eq!(Errno::ENOENT.0, 2);
    assert_eq!(Errno::ENOSYS.name(), Some("ENOSYS"));
    assert_eq!(Errno::EPIPE.message(), Some("Broken pipe"));
    assert_eq!(Errno::EWOULDBLOCK, Errno::EAGAIN);
    assert_eq!(Errno::EFAULT.to_return() as i64, -14);
    assert_eq!(Errno(0).name(), None);
    assert_eq!(Errno(9999).message(), None);
}
