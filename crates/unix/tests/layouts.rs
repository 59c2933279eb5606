//! The Linux structs' encodings checked against the host C library's
//! definitions of the same structs (the host is x86-64 Linux).

use sk_unix::dirent::d_type;
use sk_unix::file_stat::{make_dev, split_dev, STATX_BYTES, STAT_BYTES};
use sk_unix::system_info::{SYSINFO_BYTES, UTSNAME_BYTES};
use sk_unix::{DirentWriter, Errno, FileStat, SystemInfo, TimeSpec, Uname};
use std::mem::{offset_of, size_of};

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

fn sample() -> FileStat {
    FileStat {
        dev: make_dev(8, 1),
        ino: 42,
        nlink: 3,
        mode: 0o100_644,
        uid: 1000,
        gid: 100,
        rdev: make_dev(1, 3),
        size: 12345,
        blksize: 4096,
        blocks: 32,
        atime: (1_700_000_000, 1),
        mtime: (1_700_000_001, 2),
        ctime: (1_700_000_002, 3),
    }
}

#[test]
fn stat_matches_libc() {
    assert_eq!(size_of::<libc::stat>(), STAT_BYTES);
    let s = sample();
    let b = s.to_stat();
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_dev)), s.dev);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_ino)), 42);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_nlink)), 3);
    assert_eq!(u32_at(&b, offset_of!(libc::stat, st_mode)), 0o100_644);
    assert_eq!(u32_at(&b, offset_of!(libc::stat, st_uid)), 1000);
    assert_eq!(u32_at(&b, offset_of!(libc::stat, st_gid)), 100);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_rdev)), s.rdev);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_size)), 12345);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_blksize)), 4096);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_blocks)), 32);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_atime)), 1_700_000_000);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_atime_nsec)), 1);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_mtime)), 1_700_000_001);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_mtime_nsec)), 2);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_ctime)), 1_700_000_002);
    assert_eq!(u64_at(&b, offset_of!(libc::stat, st_ctime_nsec)), 3);
}

#[test]
fn statx_matches_libc() {
    assert_eq!(size_of::<libc::statx>(), STATX_BYTES);
    let s = sample();
    let b = s.to_statx();
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_mask)), 0x7ff);
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_blksize)), 4096);
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_nlink)), 3);
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_uid)), 1000);
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_gid)), 100);
    let mode_at = offset_of!(libc::statx, stx_mode);
    assert_eq!(u16::from_le_bytes([b[mode_at], b[mode_at + 1]]), 0o100_644);
    assert_eq!(u64_at(&b, offset_of!(libc::statx, stx_ino)), 42);
    assert_eq!(u64_at(&b, offset_of!(libc::statx, stx_size)), 12345);
    assert_eq!(u64_at(&b, offset_of!(libc::statx, stx_blocks)), 32);
    assert_eq!(
        u64_at(&b, offset_of!(libc::statx, stx_atime)),
        1_700_000_000
    );
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_atime) + 8), 1);
    assert_eq!(
        u64_at(&b, offset_of!(libc::statx, stx_mtime)),
        1_700_000_001
    );
    assert_eq!(
        u64_at(&b, offset_of!(libc::statx, stx_ctime)),
        1_700_000_002
    );
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_rdev_major)), 1);
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_rdev_minor)), 3);
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_dev_major)), 8);
    assert_eq!(u32_at(&b, offset_of!(libc::statx, stx_dev_minor)), 1);
}

#[test]
fn dev_numbers_match_libc() {
    for (major, minor) in [
        (0, 0),
        (8, 1),
        (4095, 255),
        (4096, 256),
        (0xfff_fff, 0xf_ffff),
    ] {
        let dev = make_dev(major, minor);
        assert_eq!(dev, libc::makedev(major, minor));
        assert_eq!(split_dev(dev), (libc::major(dev), libc::minor(dev)));
    }
}

#[test]
fn dirents_match_libc_and_linux_rules() {
    assert_eq!(offset_of!(libc::dirent64, d_ino), 0);
    assert_eq!(offset_of!(libc::dirent64, d_off), 8);
    assert_eq!(offset_of!(libc::dirent64, d_reclen), 16);
    assert_eq!(offset_of!(libc::dirent64, d_type), 18);
    assert_eq!(offset_of!(libc::dirent64, d_name), 19);
    let mut buffer = [0xaau8; 64];
    let mut writer = DirentWriter::new(&mut buffer);
    assert_eq!(writer.push(5, 1, d_type::DT_DIR, b"."), Ok(true));
    assert_eq!(writer.push(9, 2, d_type::DT_REG, b"file.txt"), Ok(true));
    assert_eq!(
        writer.push(10, 3, d_type::DT_REG, b"does-not-fit-here"),
        Ok(false)
    );
    assert_eq!(writer.used(), 24 + 32);
    assert_eq!(u64_at(&buffer, 0), 5);
    assert_eq!(u16::from_le_bytes([buffer[16], buffer[17]]), 24);
    assert_eq!(&buffer[19..21], b".\0");
    assert_eq!(u64_at(&buffer, 24 + 8), 2);
    assert_eq!(buffer[24 + 18], d_type::DT_REG);
    assert_eq!(&buffer[24 + 19..24 + 28], b"file.txt\0");
    let mut tiny = [0u8; 16];
    assert_eq!(
        DirentWriter::new(&mut tiny).push(1, 1, d_type::DT_REG, b"a"),
        Err(Errno::EINVAL)
    );
}

#[test]
fn small_structs_match_libc() {
    assert_eq!(size_of::<libc::utsname>(), UTSNAME_BYTES);
    assert_eq!(size_of::<libc::sysinfo>(), SYSINFO_BYTES);
    assert_eq!(size_of::<libc::timespec>(), 16);
    assert_eq!(size_of::<libc::winsize>(), 8);
    let uname = Uname {
        sysname: "Linux",
        nodename: "synthesis",
        release: "6.1.0-synthesis",
        version: "#1",
        machine: "x86_64",
        domainname: "(none)",
    }
    .to_bytes();
    assert_eq!(
        &uname[offset_of!(libc::utsname, machine)..][..7],
        b"x86_64\0"
    );
    assert_eq!(
        &uname[offset_of!(libc::utsname, release)..][..16],
        b"6.1.0-synthesis\0"
    );
    let info = SystemInfo {
        uptime: 7,
        total_ram: 1 << 30,
        free_ram: 1 << 29,
        procs: 3,
    }
    .to_bytes();
    assert_eq!(u64_at(&info, offset_of!(libc::sysinfo, uptime)), 7);
    assert_eq!(u64_at(&info, offset_of!(libc::sysinfo, totalram)), 1 << 30);
    assert_eq!(u64_at(&info, offset_of!(libc::sysinfo, freeram)), 1 << 29);
    let procs_at = offset_of!(libc::sysinfo, procs);
    assert_eq!(u16::from_le_bytes([info[procs_at], info[procs_at + 1]]), 3);
    assert_eq!(u32_at(&info, offset_of!(libc::sysinfo, mem_unit)), 1);
}

#[test]
fn timespecs_are_checked_as_linux_does() {
    let spec = TimeSpec {
        seconds: 3,
        fraction: 5,
    };
    assert_eq!(TimeSpec::from_timespec(spec.to_bytes()), Ok(spec));
    assert_eq!(spec.as_nanos(), 3_000_000_005);
    assert_eq!(TimeSpec::from_nanos(3_000_000_005), spec);
    for bad in [(-1, 0), (0, -1), (0, 1_000_000_000)] {
        let bytes = TimeSpec {
            seconds: bad.0,
            fraction: bad.1,
        }
        .to_bytes();
        assert_eq!(TimeSpec::from_timespec(bytes), Err(Errno::EINVAL));
    }
}

#[test]
fn termios_bits_and_layout_match_libc() {
    use sk_unix::termios::{cc, lflag, TERMIOS_BYTES};
    use sk_unix::Termios;
    assert_eq!(
        (lflag::ISIG, lflag::ICANON, lflag::ECHO, lflag::IEXTEN),
        (libc::ISIG, libc::ICANON, libc::ECHO, libc::IEXTEN)
    );
    assert_eq!(
        (
            cc::VINTR,
            cc::VERASE,
            cc::VKILL,
            cc::VEOF,
            cc::VTIME,
            cc::VMIN
        ),
        (
            libc::VINTR,
            libc::VERASE,
            libc::VKILL,
            libc::VEOF,
            libc::VTIME,
            libc::VMIN
        )
    );
    // The kernel's struct (TCGETS) is glibc's without the two speeds and
    // with 19 control characters: the first 17 + 19 bytes agree.
    assert_eq!(offset_of!(libc::termios, c_lflag), 12);
    assert_eq!(offset_of!(libc::termios, c_line), 16);
    assert_eq!(offset_of!(libc::termios, c_cc), 17);
    let console = Termios::CONSOLE;
    assert!(console.is_canonical() && console.is_echo() && console.is_signals());
    assert_eq!(console.cc[cc::VINTR], 3);
    let mut raw = console;
    raw.lflag &= !(lflag::ICANON | lflag::ECHO);
    let bytes: [u8; TERMIOS_BYTES] = raw.to_bytes();
    let back = Termios::from_bytes(&bytes);
    assert_eq!(back, raw);
    assert!(!back.is_canonical() && !back.is_echo());
}
