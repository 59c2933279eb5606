//! SMEM cases: map, use, protect, query, free, and the argument errors.

use sk_abi::{Call, QuerySelector, SmemCreateArgs, SmemCreateFlags, SysError, PAGE_SIZE};
use sk_user::{OpenFlags, Prot, Sio, Smem};

use crate::support::{
    addr_of_mut, ensure, expect_eq, expect_err, expect_err_in, fail, must, sys, word, Outcome,
};

const READ_WRITE: Prot = Prot::READ.union(Prot::WRITE);

/// Where the fixed-address case maps (far from the image and the stack).
const FIXED_ADDR: u64 = 0x0000_5000_0000_0000;

pub(crate) fn create_and_query() -> Outcome {
    let smem = must("create 8 KiB", Smem::create(8192, READ_WRITE))?;
    let info = smem.query();
    let _ = smem.free();
    let info = must("query", info)?;
    expect_eq("len", info.len, 8192)?;
    expect_eq("prot", info.prot(), READ_WRITE)?;
    ensure!(
        info.addr != 0 && info.addr.is_multiple_of(PAGE_SIZE),
        "addr {:#x} not a non-null page",
        info.addr
    );
    Ok(())
}

pub(crate) fn length_rounds_up_to_pages() -> Outcome {
    let smem = must("create 5000 bytes", Smem::create(5000, READ_WRITE))?;
    let len = smem.len();
    let _ = smem.free();
    expect_eq("len", len, 2 * PAGE_SIZE)
}

pub(crate) fn memory_is_zeroed_and_writable() -> Outcome {
    let mut smem = must("create", Smem::create(PAGE_SIZE, READ_WRITE))?;
    // SAFETY: the region was created READ | WRITE and stays mapped until
    // `free` below; nothing else in this program knows its handle.
    let bytes = unsafe { smem.as_mut_slice() };
    let is_zeroed = bytes.iter().all(|&byte| byte == 0);
    for (byte, value) in bytes.iter_mut().zip(0_u8..) {
        *byte = value;
    }
    let is_kept = bytes.iter().zip(0_u8..).all(|(&byte, value)| byte == value);
    let _ = smem.free();
    ensure!(is_zeroed, "new memory not zeroed");
    ensure!(is_kept, "written bytes not read back");
    Ok(())
}

pub(crate) fn protect_read_only() -> Outcome {
    let mut smem = must("create", Smem::create(PAGE_SIZE, READ_WRITE))?;
    {
        // SAFETY: READ | WRITE and mapped; the slice ends before `protect`.
        let bytes = unsafe { smem.as_mut_slice() };
        bytes[0] = 0x5a;
    }
    let protected = smem.protect(Prot::READ);
    let info = smem.query();
    // Reading must still work: the kernel copies from it to /dev/null.
    let null = must("open /dev/null", Sio::open("/dev/null", OpenFlags::WRITE))?;
    let write_from = word(null.handle().index(), Call::Write);
    // SAFETY: a write only reads the region, which is mapped readable.
    let copied = unsafe { sys(write_from, [smem.addr(), 16, 0]) };
    let _ = null.close();
    // And the kernel must not write into it for us.
    let zero = must("open /dev/zero", Sio::open("/dev/zero", OpenFlags::READ))?;
    let read_into = word(zero.handle().index(), Call::Read);
    // SAFETY: no Rust reference to the region is live; a faulty kernel
    // writing into it changes only this region, freed below.
    let refused = unsafe { sys(read_into, [smem.addr(), 16, 0]) };
    let _ = zero.close();
    let _ = smem.free();
    must("protect READ", protected)?;
    expect_eq("prot", must("query", info)?.prot(), Prot::READ)?;
    expect_eq("write from read-only memory", copied, Ok(16))?;
    // `BadAddress` ("faults") and `NotPermitted` ("writing through a
    // read-only SMEM") both fit sk-abi's text.
    expect_err_in(
        "read into read-only memory",
        refused,
        &[SysError::BadAddress, SysError::NotPermitted],
    )
}

pub(crate) fn free_then_query_is_bad_handle() -> Outcome {
    let smem = must("create", Smem::create(PAGE_SIZE, READ_WRITE))?;
    let handle = smem.handle().index();
    must("free", smem.free())?;
    let mut out = [0_u8; 64];
    // SAFETY: a query writes at most 64 bytes into `out`.
    let got = unsafe {
        sys(
            word(handle, Call::Query),
            [u64::from(QuerySelector::Info), addr_of_mut(&mut out), 64],
        )
    };
    expect_err("query after free", got, SysError::BadHandle)
}

pub(crate) fn write_execute_is_bad_flags() -> Outcome {
    let got = Smem::create(PAGE_SIZE, Prot::WRITE | Prot::EXEC);
    expect_err("create W|X", got, SysError::BadFlags)?;
    let mut smem = must("create", Smem::create(PAGE_SIZE, READ_WRITE))?;
    let got = smem.protect(Prot::READ | Prot::WRITE | Prot::EXEC);
    let _ = smem.free();
    expect_err("protect R|W|X", got, SysError::BadFlags)
}

pub(crate) fn zero_or_huge_length_is_bad_length() -> Outcome {
    expect_err("len 0", Smem::create(0, READ_WRITE), SysError::BadLength)?;
    expect_err(
        "len u64::MAX",
        Smem::create(u64::MAX, READ_WRITE),
        SysError::BadLength,
    )
}

pub(crate) fn bad_placement_is_bad_address() -> Outcome {
    let fixed_at_zero = SmemCreateArgs {
        addr_hint: 0,
        len: PAGE_SIZE,
        prot: READ_WRITE.bits(),
        flags: SmemCreateFlags::FIXED.bits(),
    };
    let got = Smem::create_with(&fixed_at_zero);
    expect_err("FIXED without address", got, SysError::BadAddress)?;
    let got = Smem::create_at(FIXED_ADDR + 0x123, PAGE_SIZE, READ_WRITE);
    expect_err("misaligned address", got, SysError::BadAddress)?;
    let got = Smem::create_at(0xffff_8000_0000_0000, PAGE_SIZE, READ_WRITE);
    expect_err("kernel address", got, SysError::BadAddress)
}

pub(crate) fn fixed_address_is_honoured() -> Outcome {
    let smem = must(
        "create at fixed address",
        Smem::create_at(FIXED_ADDR, 2 * PAGE_SIZE, READ_WRITE),
    )?;
    let overlap = Smem::create_at(FIXED_ADDR + PAGE_SIZE, PAGE_SIZE, READ_WRITE).map(|again| {
        // A faulty kernel mapped it twice: free the second one.
        let handle = again.handle();
        let _ = again.free();
        handle
    });
    let addr = smem.addr();
    let _ = smem.free();
    expect_eq("addr", addr, FIXED_ADDR)?;
    expect_err("FIXED over a mapping", overlap, SysError::Exists)
}

/// Where the kernel places the first SMEM of a program
/// (`sk_smem::SMEM_AREA_START`).
const SMEM_AREA_START: u64 = 0x0000_1000_0000_0000;

/// Bytes of the region mapped there: covers every address a kernel that
/// hands out addresses upward from `SMEM_AREA_START` reaches in the cases
/// before this one.
const AREA_REGION: u64 = 1 << 20;

/// The tag written at the start of page `page` of the region.
fn page_tag(page: u64) -> [u8; 8] {
    (page ^ 0x5a5a_5a5a_0000_0000).to_le_bytes()
}

pub(crate) fn kernel_placement_skips_fixed_regions() -> Outcome {
    let mut fixed = must(
        "create FIXED at SMEM_AREA_START",
        Smem::create_at(SMEM_AREA_START, AREA_REGION, READ_WRITE),
    )?;
    {
        // SAFETY: READ | WRITE and mapped; the slice ends before any
        // other call.
        let bytes = unsafe { fixed.as_mut_slice() };
        for (page, chunk) in (0_u64..).zip(bytes.chunks_mut(4096)) {
            chunk[..8].copy_from_slice(&page_tag(page));
        }
    }
    // Kernel placement must go around it, and the failed or successful
    // creates must leave its pages alone.
    let mut placed = [const { None }; 4];
    let mut outcome: Outcome = Ok(());
    for (i, slot) in placed.iter_mut().enumerate() {
        match Smem::create(3 * PAGE_SIZE, READ_WRITE) {
            Ok(region) => {
                let (start, end) = (region.addr(), region.addr() + region.len());
                *slot = Some(region);
                if start < SMEM_AREA_START + AREA_REGION && end > SMEM_AREA_START {
                    outcome = Err(crate::support::Msg::new(format_args!(
                        "placed region {i} at {start:#x} overlaps the FIXED one"
                    )));
                    break;
                }
            }
            Err(e) => {
                outcome = Err(crate::support::Msg::new(format_args!(
                    "kernel-placed create {i}: {e:?}"
                )));
                break;
            }
        }
    }
    // The kernel must still find every page mapped: copy the region into
    // a file (a page it lost fails the copy instead of killing this test).
    let copied = copy_to_file(fixed.addr(), AREA_REGION);
    let intact = copied == Ok(AREA_REGION) && {
        // SAFETY: every page was just read by the kernel: mapped; READ |
        // WRITE; no other reference lives.
        let bytes = unsafe { fixed.as_mut_slice() };
        (0_u64..)
            .zip(bytes.chunks(4096))
            .all(|(page, chunk)| chunk[..8] == page_tag(page))
    };
    for region in placed.into_iter().flatten() {
        let _ = region.free();
    }
    let _ = fixed.free();
    match (outcome, copied) {
        (Err(placing), Ok(AREA_REGION)) => fail!("{placing}; FIXED region intact: {intact}"),
        (Err(placing), copied) => fail!("{placing}; copy of the FIXED region: {copied:?}"),
        (Ok(()), copied) => expect_eq("copy of the FIXED region", copied, Ok(AREA_REGION))?,
    }
    ensure!(intact, "the FIXED region's bytes changed");
    Ok(())
}

/// Writes `len` bytes at `from` into `/tmp/abitest` (emptied after);
/// returns the bytes written.
fn copy_to_file(from: u64, len: u64) -> Result<u64, SysError> {
    let flags = OpenFlags::WRITE | OpenFlags::CREATE | OpenFlags::TRUNCATE;
    let file = Sio::open("/tmp/abitest", flags)?;
    let write = word(file.handle().index(), Call::Write);
    let mut written = 0;
    let got = loop {
        if written >= len {
            break Ok(written);
        }
        // SAFETY: a write only reads `from..from + len`, memory this
        // program mapped; a page missing there fails the call.
        match unsafe { sys(write, [from + written, len - written, 0]) } {
            Ok(0) => break Ok(written),
            Ok(n) => written += n,
            Err(e) => break Err(e),
        }
    };
    let _ = file.close();
    let _ = Sio::open("/tmp/abitest", flags).and_then(Sio::close);
    got
}
