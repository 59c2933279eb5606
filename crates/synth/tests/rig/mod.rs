//! The sandbox rig the template execution tests share: one routine (and
//! maybe a helper) instantiated into a sealed `sk-hostexec` page, with the
//! data region's layout (cells, window, user buffer) and the sentinels the
//! helpers return.

// Each test binary uses part of the rig.
#![allow(dead_code, clippy::cast_possible_truncation)]

use sk_hostexec::{Fixup, Registers, Sandbox};
use sk_synth::{instantiate, verify_instance, HoleSet, Instance, Smap};

pub(crate) const BAD_ADDRESS: i32 = -14;
pub(crate) const FALLBACK_SENTINEL: i32 = 0x7777;
/// What the "slow path" helper returns: a call went to the generic path.
pub(crate) const SLOW_PATH_SENTINEL: i32 = 0x5555;
/// The routines' `max_len` in these tests.
pub(crate) const MAX_LEN: u64 = 0x1000;
pub(crate) const USER_END: u64 = 0x0000_8000_0000_0000;

// Data region layout.
pub(crate) const POSITION_CELL: usize = 0;
pub(crate) const SIZE_CELL: usize = 8;
pub(crate) const WINDOW: usize = 0x100;
pub(crate) const WINDOW_LEN: usize = 0x1000;
pub(crate) const USER_BUFFER: usize = 0x2000;
pub(crate) const DATA_LEN: usize = 0x4000;

// Code region layout.
pub(crate) const ROUTINE_OFFSET: u64 = 0;
pub(crate) const HELPER_OFFSET: u64 = 0x800;

/// A sandbox with one routine (and maybe a helper) installed and sealed.
pub(crate) struct Rig {
    pub(crate) sandbox: Sandbox,
    pub(crate) routine: Instance,
    pub(crate) fixups: Vec<Fixup>,
}

impl Rig {
    /// Instantiates `make(data address, code address)` at the code start.
    pub(crate) fn new<H: HoleSet>(make: impl FnOnce(u64, u64) -> H) -> Self {
        Self::with_helper(make, |_, _| Vec::new())
    }

    /// Like `new`, plus helper code at `HELPER_OFFSET` (bytes from `helper`).
    pub(crate) fn with_helper<H: HoleSet>(
        make: impl FnOnce(u64, u64) -> H,
        helper: impl FnOnce(u64, u64) -> Vec<u8>,
    ) -> Self {
        let mut sandbox = Sandbox::new(0x1000, DATA_LEN).unwrap();
        let (data, code) = (sandbox.data_address(), sandbox.code_address());
        let holes = make(data, code);
        let helper_bytes = helper(data, code + HELPER_OFFSET);
        let bytes = sandbox.code_mut().unwrap();
        let routine = instantiate(
            &holes,
            code + ROUTINE_OFFSET,
            Smap::Disabled,
            &mut bytes[..HELPER_OFFSET as usize],
        )
        .unwrap();
        verify_instance(&routine, &bytes[..routine.size()]).unwrap();
        sysret_to_ret(&mut bytes[..routine.size()]);
        bytes[HELPER_OFFSET as usize..][..helper_bytes.len()].copy_from_slice(&helper_bytes);
        let fixups = routine
            .fault_fixups()
            .map(|f| Fixup {
                access: f.access,
                fixup: f.fixup,
            })
            .collect();
        sandbox.seal().unwrap();
        Self {
            sandbox,
            routine,
            fixups,
        }
    }

    pub(crate) fn call(&mut self, registers: Registers) -> i64 {
        let outcome = self
            .sandbox
            .call(self.routine.address(), &registers, &self.fixups)
            .unwrap();
        assert!(
            outcome.is_callee_saved_intact,
            "{} clobbered a callee-saved register",
            self.routine.name()
        );
        outcome.result()
    }

    /// `read`/`write` convention: `rdi` = buffer, `rsi` = length.
    pub(crate) fn call_buffer(&mut self, buffer: u64, len: u64) -> i64 {
        self.call(Registers {
            rdi: buffer,
            rsi: len,
            ..Registers::default()
        })
    }

    pub(crate) fn user_buffer(&self) -> u64 {
        self.sandbox.data_address() + USER_BUFFER as u64
    }

    pub(crate) fn bytes(&self, offset: usize, len: usize) -> Vec<u8> {
        self.sandbox.data()[offset..offset + len].to_vec()
    }

    pub(crate) fn fill(&mut self, offset: usize, bytes: &[u8]) {
        self.sandbox.data_mut()[offset..offset + bytes.len()].copy_from_slice(bytes);
    }
}

pub(crate) fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + 3) as u8).collect()
}

/// A helper returning `result`: `mov rax, imm32; ret` (the kernel's
/// error stub is stackless and ends in `sysretq`; helpers here are called).
pub(crate) fn error_stub_bytes(result: i32, _address: u64) -> Vec<u8> {
    let mut out = vec![0x48, 0xc7, 0xc0];
    out.extend_from_slice(&result.to_le_bytes());
    out.push(0xc3);
    out
}

/// The sandbox runs code in ring 3 with `call`: a stackless routine's
/// `sysretq` (`templates/leaf.rs`) becomes `ret; nop; nop` (a stackless
/// routine never touches the stack, so the `call`'s return address is
/// still on top). Every other byte is the instance's.
pub(crate) fn sysret_to_ret(bytes: &mut [u8]) {
    use iced_x86::{Code, Decoder, DecoderOptions};
    let sites: Vec<usize> = Decoder::with_ip(64, bytes, 0, DecoderOptions::NONE)
        .iter()
        .filter(|i| i.code() == Code::Sysretq)
        .map(|i| i.ip() as usize)
        .collect();
    for site in sites {
        bytes[site..site + 3].copy_from_slice(&[0xc3, 0x90, 0x90]);
    }
}

// ---- /dev/null -------------------------------------------------------------
