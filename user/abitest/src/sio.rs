//! SIO cases: the console, `/dev/null`, `/dev/zero`, `/dev/mem`, RAM
//! files, open errors, seeks, queries and bad pointers.

use sk_abi::{Call, Kind, QuerySelector, SioCreateArgs, SioReconfigure, SysError, USER_END};
use sk_user::{OpenFlags, Sio, SioKind, TtyMode, Whence};

use crate::support::{
    addr_of, addr_of_mut, ensure, expect_eq, expect_err, fail, mem_byte, must, sys, word, Msg,
    Outcome, KERNEL_LOW, KERNEL_TEXT, NON_CANONICAL,
};

/// The RAM file the file cases use.
const FILE: &str = "/tmp/abitest";

/// What the file cases write first.
const TEXT: &[u8] = b"hello, synthesis";

/// `TEXT.len()` as a position.
const TEXT_LEN: u64 = 16;

/// The size of the `/dev/mem` window.
const MEM_SIZE: u64 = 16 << 20;

/// A path longer than `PATH_MAX` (4096).
static LONG_PATH: [u8; 5000] = [b'a'; 5000];

const READ_WRITE: OpenFlags = OpenFlags::READ.union(OpenFlags::WRITE);

fn open(path: &str, flags: OpenFlags) -> Result<Sio, Msg> {
    must(path, Sio::open(path, flags))
}

/// [`FILE`], emptied, holding [`TEXT`], open for reading and writing,
/// positioned at its end.
fn fresh_file() -> Result<Sio, Msg> {
    let file = open(FILE, READ_WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE)?;
    expect_eq("write", file.write(TEXT), Ok(TEXT.len()))?;
    Ok(file)
}

/// `rdi`, `rsi`, `rdx` of a seek.
fn seek_registers(whence: u64, offset: i64) -> [u64; 3] {
    let [selector, _, offset] = SioReconfigure::Seek {
        whence: Whence::Set,
        offset,
    }
    .to_registers();
    [selector, whence, offset]
}

pub(crate) fn console_is_a_tty() -> Outcome {
    let info = must("query console", Sio::console().query())?;
    expect_eq("kind", info.kind(), Ok(SioKind::Tty))
}

pub(crate) fn console_write_of_nothing_returns_0() -> Outcome {
    expect_eq("write 0 bytes", Sio::console().write(&[]), Ok(0))
}

pub(crate) fn dev_null_write_returns_len() -> Outcome {
    let null = open("/dev/null", READ_WRITE)?;
    let got = null.write(&[0x55; 100]);
    let _ = null.close();
    expect_eq("write 100", got, Ok(100))
}

pub(crate) fn dev_null_read_returns_0() -> Outcome {
    let null = open("/dev/null", OpenFlags::READ)?;
    let mut buf = [0_u8; 32];
    let got = null.read(&mut buf);
    let info = null.query();
    let _ = null.close();
    expect_eq("read", got, Ok(0))?;
    expect_eq("kind", must("query", info)?.kind(), Ok(SioKind::Null))
}

pub(crate) fn dev_zero_read_fills_zeros() -> Outcome {
    let zero = open("/dev/zero", READ_WRITE)?;
    let mut buf = [0xaa_u8; 64];
    let got = zero.read(&mut buf);
    let empty = zero.read(&mut []);
    let written = zero.write(b"discarded");
    let _ = zero.close();
    expect_eq("read 64", got, Ok(64))?;
    ensure!(buf.iter().all(|&byte| byte == 0), "bytes not zero: {buf:?}");
    expect_eq("read 0 bytes", empty, Ok(0))?;
    expect_eq("write 9", written, Ok(9))
}

pub(crate) fn dev_mem_reads_the_pattern() -> Outcome {
    let mem = open("/dev/mem", OpenFlags::READ)?;
    let mut buf = [0_u8; 256];
    let got = mem.read(&mut buf);
    let info = mem.query();
    let _ = mem.close();
    expect_eq("read 256", got, Ok(256))?;
    for (offset, &byte) in (0_u64..).zip(&buf) {
        expect_eq("byte", (offset, byte), (offset, mem_byte(offset)))?;
    }
    expect_eq("kind", must("query", info)?.kind(), Ok(SioKind::Mem))
}

pub(crate) fn dev_mem_seek_then_read() -> Outcome {
    let mem = open("/dev/mem", OpenFlags::READ)?;
    let offset = 1_000_003_u64;
    let position = mem.seek(Whence::Set, 1_000_003_i64);
    let mut buf = [0_u8; 16];
    let got = mem.read(&mut buf);
    let _ = mem.close();
    expect_eq("seek", position, Ok(offset))?;
    expect_eq("read 16", got, Ok(16))?;
    for (index, &byte) in (0_u64..).zip(&buf) {
        expect_eq("byte", byte, mem_byte(offset + index))?;
    }
    Ok(())
}

pub(crate) fn dev_mem_ends_at_16_mib() -> Outcome {
    let mem = open("/dev/mem", OpenFlags::READ)?;
    let to_end = mem.seek(Whence::Set, 16 << 20);
    let at_end = mem.read(&mut [0; 8]);
    let _ = mem.seek(Whence::Set, (16 << 20) - 4);
    let mut buf = [0_u8; 8];
    let tail = mem.read(&mut buf);
    let after = mem.read(&mut buf[4..]);
    let _ = mem.close();
    expect_eq("seek to 16 MiB", to_end, Ok(MEM_SIZE))?;
    expect_eq("read at 16 MiB", at_end, Ok(0))?;
    expect_eq("read 8 at 16 MiB - 4", tail, Ok(4))?;
    for (index, &byte) in (0_u64..).zip(&buf[..4]) {
        expect_eq("byte", byte, mem_byte(MEM_SIZE - 4 + index))?;
    }
    expect_eq("read after the end", after, Ok(0))
}

pub(crate) fn dev_mem_write_is_not_permitted() -> Outcome {
    let mem = open("/dev/mem", OpenFlags::READ)?;
    let got = mem.write(b"x");
    let _ = mem.close();
    expect_err("write on a read-only SIO", got, SysError::NotPermitted)
}

pub(crate) fn file_write_seek_read_back() -> Outcome {
    let file = fresh_file()?;
    let start = file.seek(Whence::Set, 0);
    let mut buf = [0_u8; 32];
    let got = file.read(&mut buf);
    let _ = file.close();
    expect_eq("seek to 0", start, Ok(0))?;
    expect_eq("read", got, Ok(TEXT.len()))?;
    expect_eq("bytes", &buf[..TEXT.len()], TEXT)
}

pub(crate) fn file_query_size_and_position() -> Outcome {
    let file = fresh_file()?;
    let info = file.query();
    let _ = file.close();
    let info = must("query", info)?;
    expect_eq("kind", info.kind(), Ok(SioKind::File))?;
    expect_eq(
        "(size, position)",
        (info.size, info.position),
        (TEXT_LEN, TEXT_LEN),
    )?;
    ensure!(
        info.flags().contains(READ_WRITE),
        "flags {:?} lack READ | WRITE",
        info.flags()
    );
    Ok(())
}

pub(crate) fn file_seek_end_and_current() -> Outcome {
    let file = fresh_file()?;
    let end = file.seek(Whence::End, 0);
    let back = file.seek(Whence::Current, -4);
    let mut buf = [0_u8; 8];
    let got = file.read(&mut buf);
    let _ = file.close();
    expect_eq("seek End+0", end, Ok(TEXT_LEN))?;
    expect_eq("seek Current-4", back, Ok(TEXT_LEN - 4))?;
    expect_eq("read", got, Ok(4))?;
    expect_eq("bytes", &buf[..4], &TEXT[12..])
}

pub(crate) fn file_grows_with_a_hole() -> Outcome {
    let file = fresh_file()?;
    let far = file.seek(Whence::Set, 100);
    let written = file.write(b"tail");
    let size = file.query().map(|info| info.size);
    let _ = file.seek(Whence::Set, 16);
    let mut hole = [0xaa_u8; 84];
    let got = file.read(&mut hole);
    let _ = file.close();
    expect_eq("seek 100", far, Ok(100))?;
    expect_eq("write", written, Ok(4))?;
    expect_eq("size", size, Ok(104))?;
    expect_eq("read the hole", got, Ok(84))?;
    ensure!(hole.iter().all(|&byte| byte == 0), "hole not zero");
    Ok(())
}

pub(crate) fn reopen_with_truncate_empties() -> Outcome {
    let _ = fresh_file()?.close();
    let file = open(FILE, OpenFlags::WRITE | OpenFlags::TRUNCATE)?;
    let size = file.query().map(|info| info.size);
    let _ = file.close();
    expect_eq("size after TRUNCATE", size, Ok(0))?;
    let file = open(FILE, OpenFlags::READ)?;
    let got = file.read(&mut [0; 8]);
    let _ = file.close();
    expect_eq("read", got, Ok(0))
}

pub(crate) fn append_writes_at_the_end() -> Outcome {
    let _ = fresh_file()?.close();
    let file = open(FILE, OpenFlags::READ | OpenFlags::WRITE | OpenFlags::APPEND)?;
    let _ = file.seek(Whence::Set, 0);
    let written = file.write(b"++");
    let size = file.query().map(|info| info.size);
    let _ = file.seek(Whence::Set, 0);
    let mut buf = [0_u8; 32];
    let got = file.read(&mut buf);
    let _ = file.close();
    expect_eq("write", written, Ok(2))?;
    expect_eq("size", size, Ok(TEXT_LEN + 2))?;
    expect_eq("read", got, Ok(TEXT.len() + 2))?;
    expect_eq("tail", &buf[16..18], b"++")
}

pub(crate) fn negative_seek_is_bad_offset() -> Outcome {
    let file = fresh_file()?;
    let before_start = file.seek(Whence::Set, -1);
    let back_too_far = file.seek(Whence::Current, -1000);
    let overflow = file.seek(Whence::End, i64::MAX);
    let position = file.query().map(|info| info.position);
    let _ = file.close();
    expect_err("seek Set-1", before_start, SysError::BadOffset)?;
    expect_err("seek Current-1000", back_too_far, SysError::BadOffset)?;
    expect_err("seek End+i64::MAX", overflow, SysError::BadOffset)?;
    expect_eq("position unchanged", position, Ok(TEXT_LEN))
}

pub(crate) fn bad_whence_is_bad_value() -> Outcome {
    let file = fresh_file()?;
    let reconfigure = word(file.handle().index(), Call::Reconfigure);
    // SAFETY: a seek changes a file position only; no memory is touched.
    let got = unsafe { sys(reconfigure, seek_registers(3, 0)) };
    let _ = file.close();
    expect_err("whence 3", got, SysError::BadValue)
}

pub(crate) fn bad_reconfigure_selector() -> Outcome {
    let file = fresh_file()?;
    let reconfigure = word(file.handle().index(), Call::Reconfigure);
    // Past every SIO selector assigned (views: 9..=12, Remove: 13).
    const UNKNOWN: u64 = 14;
    // SAFETY: an unknown selector changes nothing.
    let got = unsafe { sys(reconfigure, [UNKNOWN, 0, 0]) };
    let _ = file.close();
    expect_err("selector 14", got, SysError::BadSelector)
}

pub(crate) fn tty_mode_on_a_file_is_wrong_kind() -> Outcome {
    let file = fresh_file()?;
    let got = file.set_tty_mode(TtyMode::RAW);
    let _ = file.close();
    expect_err("TtyMode on a file", got, SysError::WrongKind)
}

/// `query` on the console with `selector`, into a 4 KiB buffer told to be
/// `len` bytes.
fn query_console(selector: u64, len: u64) -> Result<u64, SysError> {
    let mut out = [0_u8; 4096];
    let query = word(1, Call::Query);
    // SAFETY: the kernel writes at most `len` <= 4096 bytes into `out`.
    unsafe { sys(query, [selector, addr_of_mut(&mut out), len.min(4096)]) }
}

pub(crate) fn query_info_returns_its_size() -> Outcome {
    let info = u64::from(QuerySelector::Info);
    expect_eq("query Info", query_console(info, 4096), Ok(24))
}

pub(crate) fn query_into_small_buffer_is_bad_length() -> Outcome {
    let info = u64::from(QuerySelector::Info);
    expect_err(
        "query into 8 bytes",
        query_console(info, 8),
        SysError::BadLength,
    )?;
    expect_err(
        "query into 23 bytes",
        query_console(info, 23),
        SysError::BadLength,
    )
}

pub(crate) fn bad_query_selector() -> Outcome {
    expect_err(
        "query selector 7",
        query_console(7, 4096),
        SysError::BadSelector,
    )
}

pub(crate) fn routines_query_describes_the_console() -> Outcome {
    let routines = u64::from(QuerySelector::Routines);
    let n = must("query Routines", query_console(routines, 4096))?;
    ensure!(n > 0, "query Routines: empty description");
    let smem = u64::from(QuerySelector::Routines);
    let on_self = {
        let query = word(0, Call::Query);
        let mut out = [0_u8; 64];
        // SAFETY: the kernel writes at most 64 bytes into `out`.
        unsafe { sys(query, [smem, addr_of_mut(&mut out), 64]) }
    };
    expect_err("query Routines on the SMACH", on_self, SysError::WrongKind)
}

/// The first kernel-half address: nothing at or above it may reach a
/// program in the `Routines` text unless the kernel was booted with
/// `synth.show`.
const KERNEL_HALF: u64 = 0xffff_8000_0000_0000;

/// The first number in `text` (hexadecimal after `0x`, or ending in `h`
/// as the disassembler writes it, else decimal) that is a kernel-half
/// address, if any.
fn kernel_address_in(text: &[u8]) -> Option<u64> {
    let mut at = 0;
    while at < text.len() {
        let run = text[at..]
            .iter()
            .take_while(|b| b.is_ascii_hexdigit())
            .count();
        if run == 0 {
            at += 1;
            continue;
        }
        let digits = &text[at..at + run];
        let is_hex_prefixed = at >= 2 && text[at - 2..at].eq_ignore_ascii_case(b"0x");
        let is_hex_suffixed = text.get(at + run).is_some_and(|&b| b == b'h' || b == b'H');
        let parse = |radix: u32| {
            core::str::from_utf8(digits)
                .ok()
                .and_then(|d| u64::from_str_radix(d, radix).ok())
        };
        let value = if is_hex_prefixed || is_hex_suffixed || !digits.iter().all(u8::is_ascii_digit)
        {
            parse(16)
        } else {
            parse(10)
        };
        // A hex run too long for a u64 is no address either way.
        if value.is_some_and(|v| v >= KERNEL_HALF) {
            return value;
        }
        at += run;
    }
    None
}

pub(crate) fn routines_query_shows_no_kernel_address() -> Outcome {
    // `/dev/mem` gets a synthesized read whose holes are kernel addresses.
    let mem = open("/dev/mem", OpenFlags::READ)?;
    // Lazy synthesis: the routine comes at the K-th generic read.
    let mut byte = [0_u8; 1];
    for _ in 0..8 {
        let _ = mem.read(&mut byte);
    }
    let mut text = [0_u8; 4096];
    let got = mem.routines(&mut text);
    let _ = mem.close();
    let len = must("query Routines", got)?;
    let text = &text[..len.min(4096)];
    if let Some(address) = kernel_address_in(text) {
        fail!("Routines text shows kernel address {address:#x}");
    }
    // Without `synth.show` the text is the header (one line per op) and
    // the facts each routine baked in: no disassembly, no hole values.
    for line in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let is_header = [
            b"read: ".as_slice(),
            b"write: ".as_slice(),
            b"read facts: ".as_slice(),
            b"write facts: ".as_slice(),
            b"read lazy: ".as_slice(),
            b"write lazy: ".as_slice(),
            b"read break-even: ".as_slice(),
            b"write break-even: ".as_slice(),
        ]
        .iter()
        .any(|p| line.starts_with(p));
        ensure!(
            is_header,
            "Routines text has a line beyond the header: {:?}",
            core::str::from_utf8(line).unwrap_or("<not UTF-8>")
        );
    }
    Ok(())
}

pub(crate) fn open_missing_is_not_found() -> Outcome {
    let got = Sio::open("/tmp/abitest-missing", OpenFlags::READ);
    expect_err("open", got, SysError::NotFound)
}

pub(crate) fn exclusive_on_existing_is_exists() -> Outcome {
    let _ = fresh_file()?.close();
    let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::EXCLUSIVE;
    expect_err("open EXCLUSIVE", Sio::open(FILE, flags), SysError::Exists)
}

pub(crate) fn bad_open_flags() -> Outcome {
    let cases = [
        ("unknown bit", OpenFlags::from_bits_retain(1 << 6)),
        ("no READ or WRITE", OpenFlags::CREATE),
        (
            "EXCLUSIVE without CREATE",
            READ_WRITE | OpenFlags::EXCLUSIVE,
        ),
        (
            "TRUNCATE without WRITE",
            OpenFlags::READ | OpenFlags::TRUNCATE,
        ),
        ("APPEND without WRITE", OpenFlags::READ | OpenFlags::APPEND),
    ];
    for (what, flags) in cases {
        expect_err(what, Sio::open("/dev/null", flags), SysError::BadFlags)?;
    }
    Ok(())
}

pub(crate) fn directory_for_writing_is_is_dir() -> Outcome {
    expect_err(
        "open /tmp WRITE",
        Sio::open("/tmp", OpenFlags::WRITE),
        SysError::IsDir,
    )
}

pub(crate) fn path_through_a_file_is_not_dir() -> Outcome {
    let _ = fresh_file()?.close();
    let got = Sio::open("/tmp/abitest/x", OpenFlags::READ);
    expect_err("open /tmp/abitest/x", got, SysError::NotDir)
}

pub(crate) fn malformed_paths_are_bad_path() -> Outcome {
    expect_err(
        "empty path",
        Sio::open("", OpenFlags::READ),
        SysError::BadPath,
    )?;
    expect_err(
        "relative path",
        Sio::open("tmp/abitest", OpenFlags::READ),
        SysError::BadPath,
    )
}

/// `/tmp/` and a 255-byte name (`NAME_MAX`): 260 bytes.
static NAME_MAX_PATH: [u8; 260] = {
    let mut path = [b'n'; 260];
    let prefix = *b"/tmp/";
    let mut i = 0;
    while i < prefix.len() {
        path[i] = prefix[i];
        i += 1;
    }
    path
};

/// 2,000 components `/d`: a missing path of 4,000 bytes.
static MISSING_PATH: [u8; 4000] = {
    let mut path = [b'd'; 4000];
    let mut i = 0;
    while i < path.len() {
        path[i] = b'/';
        i += 2;
    }
    path
};

/// Paths past the kernel's short-path array are read whole: a file with a
/// 255-byte name is created, written and read back by its 260-byte path,
/// and a 4,000-byte path of missing directories is `NotFound` (not
/// `BadPath` or `NameTooLong`).
pub(crate) fn paths_longer_than_256_bytes_are_read_whole() -> Outcome {
    let path = core::str::from_utf8(&NAME_MAX_PATH).unwrap_or("");
    let file = open(path, READ_WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE)?;
    expect_eq("write", file.write(TEXT), Ok(TEXT.len()))?;
    let _ = file.close();
    let file = open(path, OpenFlags::READ)?;
    let mut back = [0_u8; 64];
    let got = file.read(&mut back[..TEXT.len()]);
    let _ = file.close();
    expect_eq("read back", got, Ok(TEXT.len()))?;
    expect_eq("bytes", &back[..TEXT.len()], TEXT)?;
    let missing = core::str::from_utf8(&MISSING_PATH).unwrap_or("");
    expect_err(
        "4000-byte path",
        Sio::open(missing, OpenFlags::READ),
        SysError::NotFound,
    )
}

pub(crate) fn long_path_is_name_too_long() -> Outcome {
    let path = core::str::from_utf8(&LONG_PATH).unwrap_or("");
    expect_err(
        "5000-byte path",
        Sio::open(path, OpenFlags::READ),
        SysError::NameTooLong,
    )
}

pub(crate) fn read_on_write_only_is_not_permitted() -> Outcome {
    let _ = fresh_file()?.close();
    let file = open(FILE, OpenFlags::WRITE)?;
    let got = file.read(&mut [0; 8]);
    let _ = file.close();
    expect_err("read on a write-only SIO", got, SysError::NotPermitted)
}

/// `create(Sio)` from raw `args` bytes with `rdx = len`; closes a handle
/// a faulty kernel might return.
fn create_sio_raw(args_ptr: u64, len: u64) -> Result<u64, SysError> {
    // SAFETY: the kernel only reads the argument struct and the path.
    let got = unsafe { sys(word(0, Call::Create), [u64::from(Kind::Sio), args_ptr, len]) };
    if let Ok(handle) = got {
        let _ = sk_abi::Handle::from_return(handle).map(|handle| Sio::from_handle(handle).close());
    }
    got
}

fn null_args(path_ptr: u64) -> SioCreateArgs {
    SioCreateArgs {
        path_ptr,
        path_len: 9,
        flags: OpenFlags::READ.bits(),
        _pad: 0,
    }
}

pub(crate) fn create_args_of_wrong_size_is_bad_length() -> Outcome {
    let args = null_args(addr_of("/dev/null")).to_bytes();
    let mut padded = [0_u8; 32];
    padded[..24].copy_from_slice(&args);
    expect_err(
        "rdx = 23",
        create_sio_raw(addr_of(&padded), 23),
        SysError::BadLength,
    )?;
    expect_err(
        "rdx = 25",
        create_sio_raw(addr_of(&padded), 25),
        SysError::BadLength,
    )?;
    expect_err(
        "rdx = 0",
        create_sio_raw(addr_of(&padded), 0),
        SysError::BadLength,
    )
}

pub(crate) fn unknown_kind_is_wrong_kind() -> Outcome {
    let args = null_args(addr_of("/dev/null")).to_bytes();
    // SAFETY: the kernel only reads `args`; kind 4 makes nothing.
    let got = unsafe { sys(word(0, Call::Create), [4, addr_of(&args), 24]) };
    expect_err("kind 4", got, SysError::WrongKind)
}

pub(crate) fn nonzero_pad_is_bad_flags() -> Outcome {
    let args = SioCreateArgs {
        _pad: 1,
        ..null_args(addr_of("/dev/null"))
    }
    .to_bytes();
    expect_err(
        "_pad = 1",
        create_sio_raw(addr_of(&args), 24),
        SysError::BadFlags,
    )
}

pub(crate) fn path_in_kernel_half_is_bad_address() -> Outcome {
    let args = null_args(KERNEL_LOW).to_bytes();
    expect_err(
        "path at kernel",
        create_sio_raw(addr_of(&args), 24),
        SysError::BadAddress,
    )
}

pub(crate) fn args_in_kernel_half_is_bad_address() -> Outcome {
    expect_err(
        "args at kernel",
        create_sio_raw(KERNEL_TEXT, 24),
        SysError::BadAddress,
    )?;
    expect_err("args at null", create_sio_raw(0, 24), SysError::BadAddress)
}

/// `read` of 8 bytes from `/dev/zero` into `ptr`, which must be an
/// address where no Rust object lies (the null page, the kernel half).
fn read_zero_into(ptr: u64) -> Result<Result<u64, SysError>, Msg> {
    let zero = open("/dev/zero", OpenFlags::READ)?;
    // SAFETY: no Rust object lies at `ptr` (the caller's duty): at worst
    // a faulty kernel writes 8 bytes there.
    let got = unsafe { sys(word(zero.handle().index(), Call::Read), [ptr, 8, 0]) };
    let _ = zero.close();
    Ok(got)
}

pub(crate) fn read_into_kernel_or_null_is_bad_address() -> Outcome {
    expect_err(
        "read into kernel",
        read_zero_into(KERNEL_TEXT)?,
        SysError::BadAddress,
    )?;
    expect_err("read into null", read_zero_into(0)?, SysError::BadAddress)
}

/// `write` on a fresh [`FILE`] from `ptr`, `len` bytes (the kernel only
/// reads the source, so any address is safe to pass).
fn write_file_from(ptr: u64, len: u64) -> Result<Result<u64, SysError>, Msg> {
    let file = fresh_file()?;
    // SAFETY: a write only reads user memory.
    let got = unsafe { sys(word(file.handle().index(), Call::Write), [ptr, len, 0]) };
    let _ = file.close();
    Ok(got)
}

pub(crate) fn write_from_bad_pointers_is_bad_address() -> Outcome {
    let buf = [0_u8; 16];
    let cases = [
        ("kernel half", KERNEL_LOW, 8),
        ("non-canonical", NON_CANONICAL, 8),
        ("user end", USER_END, 8),
        ("straddling the user end", USER_END - 4, 8),
        ("length u64::MAX", addr_of(&buf), u64::MAX),
        ("length 2^47", addr_of(&buf), 1 << 47),
    ];
    for (what, ptr, len) in cases {
        expect_err(what, write_file_from(ptr, len)?, SysError::BadAddress)?;
    }
    Ok(())
}

pub(crate) fn query_into_kernel_is_bad_address() -> Outcome {
    let info = u64::from(QuerySelector::Info);
    // SAFETY: the destination is a kernel address: no Rust object lies
    // there; a correct kernel refuses it.
    let got = unsafe { sys(word(1, Call::Query), [info, KERNEL_TEXT, 24]) };
    expect_err("query into kernel", got, SysError::BadAddress)
}
