//! Linux errno values, and the one mapping from the kernel's errors to them.
//!
//! Owns [`Errno`] (a Linux error number, `Errno::ENOENT.0 == 2`, with its
//! message) and [`Errno::from_sys_error`], the only place a [`SysError`]
//! becomes an errno. The constants are the Linux UAPI headers
//! `asm-generic/errno-base.h` and `errno.h` (131 values), transcribed once.

use sk_abi::SysError;

/// A Linux error number (positive; a call returns `-errno` in `rax`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Errno(pub u16);

#[allow(missing_docs)] // Each constant is Linux's name; `message` is its doc.
impl Errno {
    pub const EPERM: Self = Self(1);
    pub const ENOENT: Self = Self(2);
    pub const ESRCH: Self = Self(3);
    pub const EINTR: Self = Self(4);
    pub const EIO: Self = Self(5);
    pub const ENXIO: Self = Self(6);
    pub const E2BIG: Self = Self(7);
    pub const ENOEXEC: Self = Self(8);
    pub const EBADF: Self = Self(9);
    pub const ECHILD: Self = Self(10);
    pub const EAGAIN: Self = Self(11);
    pub const ENOMEM: Self = Self(12);
    pub const EACCES: Self = Self(13);
    pub const EFAULT: Self = Self(14);
    pub const ENOTBLK: Self = Self(15);
    pub const EBUSY: Self = Self(16);
    pub const EEXIST: Self = Self(17);
    pub const EXDEV: Self = Self(18);
    pub const ENODEV: Self = Self(19);
    pub const ENOTDIR: Self = Self(20);
    pub const EISDIR: Self = Self(21);
    pub const EINVAL: Self = Self(22);
    pub const ENFILE: Self = Self(23);
    pub const EMFILE: Self = Self(24);
    pub const ENOTTY: Self = Self(25);
    pub const ETXTBSY: Self = Self(26);
    pub const EFBIG: Self = Self(27);
    pub const ENOSPC: Self = Self(28);
    pub const ESPIPE: Self = Self(29);
    pub const EROFS: Self = Self(30);
    pub const EMLINK: Self = Self(31);
    pub const EPIPE: Self = Self(32);
    pub const EDOM: Self = Self(33);
    pub const ERANGE: Self = Self(34);
    pub const EDEADLK: Self = Self(35);
    pub const ENAMETOOLONG: Self = Self(36);
    pub const ENOLCK: Self = Self(37);
    pub const ENOSYS: Self = Self(38);
    pub const ENOTEMPTY: Self = Self(39);
    pub const ELOOP: Self = Self(40);
    pub const ENOMSG: Self = Self(42);
    pub const EIDRM: Self = Self(43);
    pub const ECHRNG: Self = Self(44);
    pub const EL2NSYNC: Self = Self(45);
    pub const EL3HLT: Self = Self(46);
    pub const EL3RST: Self = Self(47);
    pub const ELNRNG: Self = Self(48);
    pub const EUNATCH: Self = Self(49);
    pub const ENOCSI: Self = Self(50);
    pub const EL2HLT: Self = Self(51);
    pub const EBADE: Self = Self(52);
    pub const EBADR: Self = Self(53);
    pub const EXFULL: Self = Self(54);
    pub const ENOANO: Self = Self(55);
    pub const EBADRQC: Self = Self(56);
    pub const EBADSLT: Self = Self(57);
    pub const EBFONT: Self = Self(59);
    pub const ENOSTR: Self = Self(60);
    pub const ENODATA: Self = Self(61);
    pub const ETIME: Self = Self(62);
    pub const ENOSR: Self = Self(63);
    pub const ENONET: Self = Self(64);
    pub const ENOPKG: Self = Self(65);
    pub const EREMOTE: Self = Self(66);
    pub const ENOLINK: Self = Self(67);
    pub const EADV: Self = Self(68);
    pub const ESRMNT: Self = Self(69);
    pub const ECOMM: Self = Self(70);
    pub const EPROTO: Self = Self(71);
    pub const EMULTIHOP: Self = Self(72);
    pub const EDOTDOT: Self = Self(73);
    pub const EBADMSG: Self = Self(74);
    pub const EOVERFLOW: Self = Self(75);
    pub const ENOTUNIQ: Self = Self(76);
    pub const EBADFD: Self = Self(77);
    pub const EREMCHG: Self = Self(78);
    pub const ELIBACC: Self = Self(79);
    pub const ELIBBAD: Self = Self(80);
    pub const ELIBSCN: Self = Self(81);
    pub const ELIBMAX: Self = Self(82);
    pub const ELIBEXEC: Self = Self(83);
    pub const EILSEQ: Self = Self(84);
    pub const ERESTART: Self = Self(85);
    pub const ESTRPIPE: Self = Self(86);
    pub const EUSERS: Self = Self(87);
    pub const ENOTSOCK: Self = Self(88);
    pub const EDESTADDRREQ: Self = Self(89);
    pub const EMSGSIZE: Self = Self(90);
    pub const EPROTOTYPE: Self = Self(91);
    pub const ENOPROTOOPT: Self = Self(92);
    pub const EPROTONOSUPPORT: Self = Self(93);
    pub const ESOCKTNOSUPPORT: Self = Self(94);
    pub const EOPNOTSUPP: Self = Self(95);
    pub const EPFNOSUPPORT: Self = Self(96);
    pub const EAFNOSUPPORT: Self = Self(97);
    pub const EADDRINUSE: Self = Self(98);
    pub const EADDRNOTAVAIL: Self = Self(99);
    pub const ENETDOWN: Self = Self(100);
    pub const ENETUNREACH: Self = Self(101);
    pub const ENETRESET: Self = Self(102);
    pub const ECONNABORTED: Self = Self(103);
    pub const ECONNRESET: Self = Self(104);
    pub const ENOBUFS: Self = Self(105);
    pub const EISCONN: Self = Self(106);
    pub const ENOTCONN: Self = Self(107);
    pub const ESHUTDOWN: Self = Self(108);
    pub const ETOOMANYREFS: Self = Self(109);
    pub const ETIMEDOUT: Self = Self(110);
    pub const ECONNREFUSED: Self = Self(111);
    pub const EHOSTDOWN: Self = Self(112);
    pub const EHOSTUNREACH: Self = Self(113);
    pub const EALREADY: Self = Self(114);
    pub const EINPROGRESS: Self = Self(115);
    pub const ESTALE: Self = Self(116);
    pub const EUCLEAN: Self = Self(117);
    pub const ENOTNAM: Self = Self(118);
    pub const ENAVAIL: Self = Self(119);
    pub const EISNAM: Self = Self(120);
    pub const EREMOTEIO: Self = Self(121);
    pub const EDQUOT: Self = Self(122);
    pub const ENOMEDIUM: Self = Self(123);
    pub const EMEDIUMTYPE: Self = Self(124);
    pub const ECANCELED: Self = Self(125);
    pub const ENOKEY: Self = Self(126);
    pub const EKEYEXPIRED: Self = Self(127);
    pub const EKEYREVOKED: Self = Self(128);
    pub const EKEYREJECTED: Self = Self(129);
    pub const EOWNERDEAD: Self = Self(130);
    pub const ENOTRECOVERABLE: Self = Self(131);
    pub const ERFKILL: Self = Self(132);
    pub const EHWPOISON: Self = Self(133);
    /// `EAGAIN` under its other name.
    pub const EWOULDBLOCK: Self = Self::EAGAIN;
    /// `EOPNOTSUPP` under its other name (`ENOTSUP` in libc).
    pub const ENOTSUP: Self = Self::EOPNOTSUPP;
}

/// Every errno with its Linux name and message, sorted by number.
const TABLE: [(Errno, &str, &str); 131] = [
    (Errno::EPERM, "EPERM", "Operation not permitted"),
    (Errno::ENOENT, "ENOENT", "No such file or directory"),
    (Errno::ESRCH, "ESRCH", "No such process"),
    (Errno::EINTR, "EINTR", "Interrupted system call"),
    (Errno::EIO, "EIO", "I/O error"),
    (Errno::ENXIO, "ENXIO", "No such device or address"),
    (Errno::E2BIG, "E2BIG", "Argument list too long"),
    (Errno::ENOEXEC, "ENOEXEC", "Exec format error"),
    (Errno::EBADF, "EBADF", "Bad file number"),
    (Errno::ECHILD, "ECHILD", "No child processes"),
    (Errno::EAGAIN, "EAGAIN", "Try again"),
    (Errno::ENOMEM, "ENOMEM", "Out of memory"),
    (Errno::EACCES, "EACCES", "Permission denied"),
    (Errno::EFAULT, "EFAULT", "Bad address"),
    (Errno::ENOTBLK, "ENOTBLK", "Block device required"),
    (Errno::EBUSY, "EBUSY", "Device or resource busy"),
    (Errno::EEXIST, "EEXIST", "File exists"),
    (Errno::EXDEV, "EXDEV", "Cross-device link"),
    (Errno::ENODEV, "ENODEV", "No such device"),
    (Errno::ENOTDIR, "ENOTDIR", "Not a directory"),
    (Errno::EISDIR, "EISDIR", "Is a directory"),
    (Errno::EINVAL, "EINVAL", "Invalid argument"),
    (Errno::ENFILE, "ENFILE", "File table overflow"),
    (Errno::EMFILE, "EMFILE", "Too many open files"),
    (Errno::ENOTTY, "ENOTTY", "Not a typewriter"),
    (Errno::ETXTBSY, "ETXTBSY", "Text file busy"),
    (Errno::EFBIG, "EFBIG", "File too large"),
    (Errno::ENOSPC, "ENOSPC", "No space left on device"),
    (Errno::ESPIPE, "ESPIPE", "Illegal seek"),
    (Errno::EROFS, "EROFS", "Read-only file system"),
    (Errno::EMLINK, "EMLINK", "Too many links"),
    (Errno::EPIPE, "EPIPE", "Broken pipe"),
    (Errno::EDOM, "EDOM", "Math argument out of domain of func"),
    (Errno::ERANGE, "ERANGE", "Math result not representable"),
    (Errno::EDEADLK, "EDEADLK", "Resource deadlock would occur"),
    (Errno::ENAMETOOLONG, "ENAMETOOLONG", "File name too long"),
    (Errno::ENOLCK, "ENOLCK", "No record locks available"),
    (Errno::ENOSYS, "ENOSYS", "Invalid system call number"),
    (Errno::ENOTEMPTY, "ENOTEMPTY", "Directory not empty"),
    (Errno::ELOOP, "ELOOP", "Too many symbolic links encountered"),
    (Errno::ENOMSG, "ENOMSG", "No message of desired type"),
    (Errno::EIDRM, "EIDRM", "Identifier removed"),
    (Errno::ECHRNG, "ECHRNG", "Channel number out of range"),
    (Errno::EL2NSYNC, "EL2NSYNC", "Level 2 not synchronized"),
    (Errno::EL3HLT, "EL3HLT", "Level 3 halted"),
    (Errno::EL3RST, "EL3RST", "Level 3 reset"),
    (Errno::ELNRNG, "ELNRNG", "Link number out of range"),
    (Errno::EUNATCH, "EUNATCH", "Protocol driver not attached"),
    (Errno::ENOCSI, "ENOCSI", "No CSI structure available"),
    (Errno::EL2HLT, "EL2HLT", "Level 2 halted"),
    (Errno::EBADE, "EBADE", "Invalid exchange"),
    (Errno::EBADR, "EBADR", "Invalid request descriptor"),
    (Errno::EXFULL, "EXFULL", "Exchange full"),
    (Errno::ENOANO, "ENOANO", "No anode"),
    (Errno::EBADRQC, "EBADRQC", "Invalid request code"),
    (Errno::EBADSLT, "EBADSLT", "Invalid slot"),
    (Errno::EBFONT, "EBFONT", "Bad font file format"),
    (Errno::ENOSTR, "ENOSTR", "Device not a stream"),
    (Errno::ENODATA, "ENODATA", "No data available"),
    (Errno::ETIME, "ETIME", "Timer expired"),
    (Errno::ENOSR, "ENOSR", "Out of streams resources"),
    (Errno::ENONET, "ENONET", "Machine is not on the network"),
    (Errno::ENOPKG, "ENOPKG", "Package not installed"),
    (Errno::EREMOTE, "EREMOTE", "Object is remote"),
    (Errno::ENOLINK, "ENOLINK", "Link has been severed"),
    (Errno::EADV, "EADV", "Advertise error"),
    (Errno::ESRMNT, "ESRMNT", "Srmount error"),
    (Errno::ECOMM, "ECOMM", "Communication error on send"),
    (Errno::EPROTO, "EPROTO", "Protocol error"),
    (Errno::EMULTIHOP, "EMULTIHOP", "Multihop attempted"),
    (Errno::EDOTDOT, "EDOTDOT", "RFS specific error"),
    (Errno::EBADMSG, "EBADMSG", "Not a data message"),
    (
        Errno::EOVERFLOW,
        "EOVERFLOW",
        "Value too large for defined data type",
    ),
    (Errno::ENOTUNIQ, "ENOTUNIQ", "Name not unique on network"),
    (Errno::EBADFD, "EBADFD", "File descriptor in bad state"),
    (Errno::EREMCHG, "EREMCHG", "Remote address changed"),
    (
        Errno::ELIBACC,
        "ELIBACC",
        "Can not access a needed shared library",
    ),
    (
        Errno::ELIBBAD,
        "ELIBBAD",
        "Accessing a corrupted shared library",
    ),
    (Errno::ELIBSCN, "ELIBSCN", ".lib section in a.out corrupted"),
    (
        Errno::ELIBMAX,
        "ELIBMAX",
        "Attempting to link in too many shared libraries",
    ),
    (
        Errno::ELIBEXEC,
        "ELIBEXEC",
        "Cannot exec a shared library directly",
    ),
    (Errno::EILSEQ, "EILSEQ", "Illegal byte sequence"),
    (
        Errno::ERESTART,
        "ERESTART",
        "Interrupted system call should be restarted",
    ),
    (Errno::ESTRPIPE, "ESTRPIPE", "Streams pipe error"),
    (Errno::EUSERS, "EUSERS", "Too many users"),
    (
        Errno::ENOTSOCK,
        "ENOTSOCK",
        "Socket operation on non-socket",
    ),
    (
        Errno::EDESTADDRREQ,
        "EDESTADDRREQ",
        "Destination address required",
    ),
    (Errno::EMSGSIZE, "EMSGSIZE", "Message too long"),
    (
        Errno::EPROTOTYPE,
        "EPROTOTYPE",
        "Protocol wrong type for socket",
    ),
    (Errno::ENOPROTOOPT, "ENOPROTOOPT", "Protocol not available"),
    (
        Errno::EPROTONOSUPPORT,
        "EPROTONOSUPPORT",
        "Protocol not supported",
    ),
    (
        Errno::ESOCKTNOSUPPORT,
        "ESOCKTNOSUPPORT",
        "Socket type not supported",
    ),
    (
        Errno::EOPNOTSUPP,
        "EOPNOTSUPP",
        "Operation not supported on transport endpoint",
    ),
    (
        Errno::EPFNOSUPPORT,
        "EPFNOSUPPORT",
        "Protocol family not supported",
    ),
    (
        Errno::EAFNOSUPPORT,
        "EAFNOSUPPORT",
        "Address family not supported by protocol",
    ),
    (Errno::EADDRINUSE, "EADDRINUSE", "Address already in use"),
    (
        Errno::EADDRNOTAVAIL,
        "EADDRNOTAVAIL",
        "Cannot assign requested address",
    ),
    (Errno::ENETDOWN, "ENETDOWN", "Network is down"),
    (Errno::ENETUNREACH, "ENETUNREACH", "Network is unreachable"),
    (
        Errno::ENETRESET,
        "ENETRESET",
        "Network dropped connection because of reset",
    ),
    (
        Errno::ECONNABORTED,
        "ECONNABORTED",
        "Software caused connection abort",
    ),
    (Errno::ECONNRESET, "ECONNRESET", "Connection reset by peer"),
    (Errno::ENOBUFS, "ENOBUFS", "No buffer space available"),
    (
        Errno::EISCONN,
        "EISCONN",
        "Transport endpoint is already connected",
    ),
    (
        Errno::ENOTCONN,
        "ENOTCONN",
        "Transport endpoint is not connected",
    ),
    (
        Errno::ESHUTDOWN,
        "ESHUTDOWN",
        "Cannot send after transport endpoint shutdown",
    ),
    (
        Errno::ETOOMANYREFS,
        "ETOOMANYREFS",
        "Too many references: cannot splice",
    ),
    (Errno::ETIMEDOUT, "ETIMEDOUT", "Connection timed out"),
    (Errno::ECONNREFUSED, "ECONNREFUSED", "Connection refused"),
    (Errno::EHOSTDOWN, "EHOSTDOWN", "Host is down"),
    (Errno::EHOSTUNREACH, "EHOSTUNREACH", "No route to host"),
    (Errno::EALREADY, "EALREADY", "Operation already in progress"),
    (
        Errno::EINPROGRESS,
        "EINPROGRESS",
        "Operation now in progress",
    ),
    (Errno::ESTALE, "ESTALE", "Stale file handle"),
    (Errno::EUCLEAN, "EUCLEAN", "Structure needs cleaning"),
    (Errno::ENOTNAM, "ENOTNAM", "Not a XENIX named type file"),
    (Errno::ENAVAIL, "ENAVAIL", "No XENIX semaphores available"),
    (Errno::EISNAM, "EISNAM", "Is a named type file"),
    (Errno::EREMOTEIO, "EREMOTEIO", "Remote I/O error"),
    (Errno::EDQUOT, "EDQUOT", "Quota exceeded"),
    (Errno::ENOMEDIUM, "ENOMEDIUM", "No medium found"),
    (Errno::EMEDIUMTYPE, "EMEDIUMTYPE", "Wrong medium type"),
    (Errno::ECANCELED, "ECANCELED", "Operation Canceled"),
    (Errno::ENOKEY, "ENOKEY", "Required key not available"),
    (Errno::EKEYEXPIRED, "EKEYEXPIRED", "Key has expired"),
    (Errno::EKEYREVOKED, "EKEYREVOKED", "Key has been revoked"),
    (
        Errno::EKEYREJECTED,
        "EKEYREJECTED",
        "Key was rejected by service",
    ),
    (Errno::EOWNERDEAD, "EOWNERDEAD", "Owner died"),
    (
        Errno::ENOTRECOVERABLE,
        "ENOTRECOVERABLE",
        "State not recoverable",
    ),
    (
        Errno::ERFKILL,
        "ERFKILL",
        "Operation not possible due to RF-kill",
    ),
    (
        Errno::EHWPOISON,
        "EHWPOISON",
        "Memory page has hardware error",
    ),
];

impl Errno {
    fn entry(self) -> Option<&'static (Errno, &'static str, &'static str)> {
        TABLE
            .binary_search_by_key(&self, |&(errno, _, _)| errno)
            .ok()
            .and_then(|at| TABLE.get(at))
    }

    /// Linux's name (`"ENOENT"`), or `None` for a number Linux does not use.
    #[must_use]
    pub fn name(self) -> Option<&'static str> {
        self.entry().map(|&(_, name, _)| name)
    }

    /// Linux's message (`"No such file or directory"`).
    #[must_use]
    pub fn message(self) -> Option<&'static str> {
        self.entry().map(|&(_, _, message)| message)
    }

    /// The value a failing call leaves in `rax`: `-errno`.
    #[must_use]
    pub const fn to_return(self) -> u64 {
        (-(self.0 as i64)) as u64
    }

    /// The errno a Linux call returns where the native call failed with
    /// `error`. Where one native error stands for several Linux ones (the
    /// variants' `doc(alias)` lists them), this is the most common meaning;
    /// a Linux call that must tell them apart checks before it calls
    /// native code.
    #[must_use]
    pub const fn from_sys_error(error: SysError) -> Self {
        match error {
            SysError::BadCall => Self::ENOSYS,
            SysError::BadHandle => Self::EBADF,
            SysError::WrongKind
            | SysError::BadLength
            | SysError::BadFlags
            | SysError::BadSelector
            | SysError::BadPath
            | SysError::BadValue => Self::EINVAL,
            SysError::BadAddress => Self::EFAULT,
            SysError::BadOffset => Self::EINVAL,
            SysError::NotFound => Self::ENOENT,
            SysError::Exists => Self::EEXIST,
            SysError::NotDir => Self::ENOTDIR,
            SysError::IsDir => Self::EISDIR,
            SysError::NotEmpty => Self::ENOTEMPTY,
            SysError::NoMemory => Self::ENOMEM,
            SysError::FileTooLarge => Self::EFBIG,
            SysError::BadElf => Self::ENOEXEC,
            SysError::NotPermitted => Self::EPERM,
            SysError::WouldBlock => Self::EAGAIN,
            SysError::Busy => Self::EBUSY,
            SysError::TooManyHandles => Self::EMFILE,
            SysError::NotSupported => Self::EOPNOTSUPP,
            SysError::Interrupted => Self::EINTR,
            SysError::NoSpace => Self::ENOSPC,
            SysError::NameTooLong => Self::ENAMETOOLONG,
            SysError::BrokenPipe => Self::EPIPE,
            SysError::Revoked => Self::EIO,
            SysError::MessageSize => Self::EMSGSIZE,
            SysError::OverBudget => Self::ENOMEM,
            // A code this build does not know, or one added to `sk-abi`
            // without a line here (the test below catches that).
            _ => Self::EIO,
        }
    }
}
