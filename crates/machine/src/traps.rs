//! Exceptions and interrupts: the IDT, one assembly stub per vector, the
//! common save/restore path and the dispatcher.
//!
//! Owns [`TrapFrame`] (all general registers plus the CPU's frame), the
//! upcall hooks through which the kernel handles timer ticks, user faults,
//! debug traps and an expected double fault, and the fatal-exception dump
//! (vector, error code, RIP, CR2, every register). Kernel page faults first
//! consult the fixup table (`extable.rs`).
//!
//! Every entry is "paranoid" (docs/ring0-entries.md): ring-0 code runs with
//! the user's GS in entry stubs and synthesized routines, and an NMI, `#DB`
//! or `#MC` can land on any instruction, so whether to `swapgs` is decided
//! from `IA32_GS_BASE` (is it this CPU's per-CPU block?), never from the
//! saved CS, and undone the same way on exit. Every entry also clears
//! RFLAGS.AC (with `popfq`, which works on CPUs without SMAP, where `clac`
//! is #UD) and DF before any Rust code runs; `iretq` gives the interrupted
//! code its own flags back.

use crate::extable::{self, FixupKind};
use crate::gdt;
use core::sync::atomic::{AtomicU64, Ordering};
use spin::Once;

pub use crate::trap_hooks::{hooks, set_hooks, update_hooks, Hooks};
use x86_64::structures::idt::InterruptDescriptorTable;
use x86_64::VirtAddr;

/// Vector of the local APIC timer.
pub const TIMER_VECTOR: u8 = 32;
/// Vector of APIC spurious interrupts.
pub const SPURIOUS_VECTOR: u8 = 0xff;

/// Registers saved on every trap. Layout shared with the assembly below.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
#[allow(missing_docs)]
pub struct TrapFrame {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
    /// Vector number pushed by the stub.
    pub vector: u64,
    /// CPU error code, or 0 for vectors without one.
    pub error_code: u64,
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

impl TrapFrame {
    /// True if the trap interrupted user mode.
    pub fn from_user(&self) -> bool {
        self.cs & 3 == 3
    }
}

const RFLAGS_TF: u64 = 1 << 8;

/// Runs `hook` on `frame`, then restores every field of the frame except
/// RFLAGS.TF (see [`Hooks`]).
fn run_hook<R>(frame: &mut TrapFrame, hook: impl FnOnce(&mut TrapFrame) -> R) -> R {
    let saved = *frame;
    let result = hook(frame);
    let tf = frame.rflags & RFLAGS_TF;
    *frame = TrapFrame {
        rflags: (saved.rflags & !RFLAGS_TF) | tf,
        ..saved
    };
    result
}

macro_rules! stub {
    ($name:ident, $vector:literal) => {
        #[unsafe(naked)]
        extern "C" fn $name() {
            core::arch::naked_asm!("push 0", concat!("push ", $vector), "jmp {common}", common = sym trap_common);
        }
    };
    ($name:ident, $vector:literal, error_code) => {
        #[unsafe(naked)]
        extern "C" fn $name() {
            core::arch::naked_asm!(concat!("push ", $vector), "jmp {common}", common = sym trap_common);
        }
    };
}

stub!(vec0, 0);
stub!(vec1, 1);
stub!(vec2, 2);
stub!(vec3, 3);
stub!(vec4, 4);
stub!(vec5, 5);
stub!(vec6, 6);
stub!(vec7, 7);
stub!(vec8, 8, error_code);
stub!(vec10, 10, error_code);
stub!(vec11, 11, error_code);
stub!(vec12, 12, error_code);
stub!(vec13, 13, error_code);
stub!(vec14, 14, error_code);

/// The ordinary `#PF` path (`page_fault_entry` jumps here on a kernel
/// stack, with the frame as the CPU would have pushed it there).
pub(crate) fn page_fault_ordinary_address() -> u64 {
    vec14 as *const () as u64
}

/// The double-fault path (`page_fault_entry` jumps here when moving a
/// `#PF` frame below the interrupted RSP faulted: the CPU would have
/// raised `#DF` pushing it there itself).
pub(crate) fn double_fault_address() -> u64 {
    vec8 as *const () as u64
}
stub!(vec16, 16);
stub!(vec17, 17, error_code);
stub!(vec18, 18);
stub!(vec19, 19);
stub!(vec20, 20);
stub!(vec21, 21, error_code);
stub!(vec28, 28);
stub!(vec29, 29, error_code);
stub!(vec30, 30, error_code);
stub!(vec32, 32);
stub!(vec48, 48);
stub!(vec49, 49);
stub!(vec50, 50);
stub!(vec51, 51);
stub!(vec52, 52);
stub!(vec53, 53);
stub!(vec54, 54);
stub!(vec55, 55);
stub!(vec56, 56);
stub!(vec57, 57);
stub!(vec58, 58);
stub!(vec59, 59);
stub!(vec60, 60);
stub!(vec61, 61);
stub!(vec62, 62);
stub!(vec63, 63);
stub!(vec255, 255);

/// First vector of the legacy 8259 PICs (remapped there and masked at boot,
/// pit.rs): 0x30..=0x3f, clear of the exceptions and of the APIC timer.
pub const LEGACY_PIC_BASE: u8 = 0x30;

/// Saves all registers, clears AC and DF, takes the kernel GS if the
/// active GS base is not this CPU's per-CPU block (so a trap from user
/// mode, or from ring-0 code still on the user's GS, runs on the kernel's),
/// calls [`trap_dispatch`], gives the GS back the same way (the decision
/// stays in rbx, which the callee preserves), and returns with `iretq`.
#[unsafe(naked)]
extern "C" fn trap_common() {
    core::arch::naked_asm!(
        "push rax", "push rbx", "push rcx", "push rdx", "push rsi", "push rdi", "push rbp",
        "push r8", "push r9", "push r10", "push r11", "push r12", "push r13", "push r14", "push r15",
        "cld",
        // clac, also on CPUs without SMAP: the interrupted code's AC must
        // not switch SMAP off for the handler.
        "pushfq",
        "and qword ptr [rsp], {not_ac}",
        "popfq",
        "mov ecx, {gs_base_msr}",
        "rdmsr",
        "shl rdx, 32",
        "or rax, rdx",
        "lea rcx, [rip + {percpu}]",
        "xor ebx, ebx",
        "cmp rax, rcx",
        "je 2f",
        "swapgs",
        "mov ebx, 1",
        "2:",
        "mov rdi, rsp",
        "call {dispatch}",
        "test ebx, ebx",
        "jz 3f",
        "swapgs",
        "3:",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
        "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
        "add rsp, 16",
        "iretq",
        not_ac = const !RFLAGS_AC as i32,
        gs_base_msr = const 0xC000_0101_u32,
        percpu = sym crate::percpu::BSP,
        dispatch = sym trap_dispatch,
    );
}

static IDT: Once<InterruptDescriptorTable> = Once::new();

/// Builds and loads the IDT. Boot CPU, interrupts off, after `gdt::init`.
pub(crate) fn init() {
    let idt = IDT.call_once(|| {
        let mut idt = InterruptDescriptorTable::new();
        let a = |f: extern "C" fn()| VirtAddr::new(f as *const () as u64);
        // SAFETY: (all entries below) each address is a stub above, which
        // follows the interrupt frame protocol (pushes a vector, error code
        // slot, saves registers, ends in iretq). IST indexes name stacks
        // that gdt::init allocated.
        unsafe {
            idt.divide_error.set_handler_addr(a(vec0));
            idt.debug
                .set_handler_addr(a(vec1))
                .set_stack_index(gdt::IST_DEBUG);
            idt.non_maskable_interrupt
                .set_handler_addr(a(vec2))
                .set_stack_index(gdt::IST_NMI);
            idt.breakpoint
                .set_handler_addr(a(vec3))
                .set_privilege_level(x86_64::PrivilegeLevel::Ring3);
            idt.overflow.set_handler_addr(a(vec4));
            idt.bound_range_exceeded.set_handler_addr(a(vec5));
            idt.invalid_opcode.set_handler_addr(a(vec6));
            idt.device_not_available.set_handler_addr(a(vec7));
            idt.double_fault
                .set_handler_addr(a(vec8))
                .set_stack_index(gdt::IST_DOUBLE_FAULT);
            idt.invalid_tss.set_handler_addr(a(vec10));
            idt.segment_not_present.set_handler_addr(a(vec11));
            idt.stack_segment_fault.set_handler_addr(a(vec12));
            idt.general_protection_fault.set_handler_addr(a(vec13));
            idt.page_fault
                .set_handler_addr(a(crate::page_fault_entry::page_fault_ist_entry))
                .set_stack_index(gdt::IST_PAGE_FAULT);
            idt.x87_floating_point.set_handler_addr(a(vec16));
            idt.alignment_check.set_handler_addr(a(vec17));
            idt.machine_check
                .set_handler_addr(a(vec18))
                .set_stack_index(gdt::IST_MACHINE_CHECK);
            idt.simd_floating_point.set_handler_addr(a(vec19));
            idt.virtualization.set_handler_addr(a(vec20));
            idt.cp_protection_exception.set_handler_addr(a(vec21));
            idt.hv_injection_exception.set_handler_addr(a(vec28));
            idt.vmm_communication_exception.set_handler_addr(a(vec29));
            idt.security_exception.set_handler_addr(a(vec30));
            idt[TIMER_VECTOR].set_handler_addr(a(vec32));
            let pic = [
                vec48, vec49, vec50, vec51, vec52, vec53, vec54, vec55, vec56, vec57, vec58, vec59,
                vec60, vec61, vec62, vec63,
            ];
            for (vector, stub) in (LEGACY_PIC_BASE..).zip(pic) {
                idt[vector].set_handler_addr(a(stub));
            }
            idt[SPURIOUS_VECTOR].set_handler_addr(a(vec255));
        }
        idt
    });
    idt.load();
}

/// One IDT gate as the CPU sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Gate {
    /// Present bit.
    pub present: bool,
    /// Descriptor privilege level: the highest ring `int n` may use it from.
    pub dpl: u8,
    /// IST slot (1..=7), 0 for none.
    pub ist: u8,
    /// Handler address.
    pub handler: u64,
}

/// Gate `vector` of the loaded IDT (`sidt`).
pub fn gate(vector: u8) -> Gate {
    let pointer = x86_64::instructions::tables::sidt();
    let entry = pointer.base.as_u64() + u64::from(vector) * 16;
    // SAFETY: `sidt` names the loaded IDT, 256 16-byte gates (limit 4095);
    // reading one is side-effect free.
    let (low, high) = unsafe {
        (
            core::ptr::read_volatile(entry as *const u64),
            core::ptr::read_volatile((entry + 8) as *const u64),
        )
    };
    Gate {
        present: low & (1 << 47) != 0,
        dpl: ((low >> 45) & 3) as u8,
        ist: ((low >> 32) & 7) as u8,
        handler: (low & 0xffff) | ((low >> 32) & 0xffff_0000) | (high << 32),
    }
}

/// Name of an exception vector.
pub fn vector_name(vector: u64) -> &'static str {
    match vector {
        0 => "divide error (#DE)",
        1 => "debug (#DB)",
        2 => "non-maskable interrupt",
        3 => "breakpoint (#BP)",
        4 => "overflow (#OF)",
        5 => "bound range exceeded (#BR)",
        6 => "invalid opcode (#UD)",
        7 => "device not available (#NM)",
        8 => "double fault (#DF)",
        10 => "invalid TSS (#TS)",
        11 => "segment not present (#NP)",
        12 => "stack-segment fault (#SS)",
        13 => "general protection (#GP)",
        14 => "page fault (#PF)",
        16 => "x87 floating point (#MF)",
        17 => "alignment check (#AC)",
        18 => "machine check (#MC)",
        19 => "SIMD floating point (#XM)",
        20 => "virtualization (#VE)",
        21 => "control protection (#CP)",
        _ => "interrupt",
    }
}

/// Prints a trap with every register to the console.
pub fn dump(what: &str, f: &TrapFrame, cr2: u64) {
    crate::serial::force_unlock();
    crate::println!(
        "\n*** {what}: vector {} {} error {:#x}\n    rip {:#018x} cs {:#x} rflags {:#x} rsp {:#018x} ss {:#x} cr2 {:#018x}",
        f.vector, vector_name(f.vector), f.error_code, f.rip, f.cs, f.rflags, f.rsp, f.ss, cr2
    );
    crate::println!(
        "    rax {:#018x} rbx {:#018x} rcx {:#018x} rdx {:#018x}",
        f.rax,
        f.rbx,
        f.rcx,
        f.rdx
    );
    crate::println!(
        "    rsi {:#018x} rdi {:#018x} rbp {:#018x} r8  {:#018x}",
        f.rsi,
        f.rdi,
        f.rbp,
        f.r8
    );
    crate::println!(
        "    r9  {:#018x} r10 {:#018x} r11 {:#018x} r12 {:#018x}",
        f.r9,
        f.r10,
        f.r11,
        f.r12
    );
    crate::println!(
        "    r13 {:#018x} r14 {:#018x} r15 {:#018x}",
        f.r13,
        f.r14,
        f.r15
    );
}

/// Page-fault error code bit: the fault was an instruction fetch.
pub const PF_INSTRUCTION_FETCH: u64 = 1 << 4;

fn try_fixup(frame: &mut TrapFrame, cr2: u64) -> bool {
    if let Some(fixup) = extable::find(frame.rip, FixupKind::Instruction) {
        frame.rax = frame.error_code;
        frame.rdx = cr2;
        frame.rip = fixup;
        return true;
    }
    #[cfg(feature = "ktest")]
    if try_call_probe_fixup(frame, cr2) {
        return true;
    }
    false
}

/// The `probe::call` rule (test builds only): a ring-0 instruction fetch
/// fault is resumed in the probe only while a probe is active on this CPU
/// and the fault's RSP is exactly the one the probe recorded (its return
/// address slot on the current kernel stack). Anything else, a hostile RSP
/// whose top happens to hold a probe's return address included, is not a
/// probe.
#[cfg(feature = "ktest")]
fn try_call_probe_fixup(frame: &mut TrapFrame, cr2: u64) -> bool {
    if frame.error_code & PF_INSTRUCTION_FETCH == 0 {
        return false;
    }
    let Some(expected) = crate::percpu::active_probe_rsp() else {
        return false;
    };
    if frame.rsp != expected {
        return false;
    }
    // A probe's RSP is a slot of a kernel stack; read it so that even a
    // made-up frame (`test_try_fixup`) with a stale probe RSP cannot make
    // this read fault or touch anything but a kernel stack.
    if !crate::stack::in_stack_region(frame.rsp) {
        return false;
    }
    let Some(ret) = crate::probe::read_u64_recovering(frame.rsp) else {
        return false;
    };
    let Some(fixup) = extable::find(ret, FixupKind::CallProbe) else {
        return false;
    };
    frame.rax = frame.error_code;
    frame.rdx = cr2;
    frame.rip = fixup;
    frame.rsp += 8;
    true
}

const RFLAGS_AC: u64 = 1 << 18;

static USER_AC_FRAMES: AtomicU64 = AtomicU64::new(0);
static AC_IN_HANDLER: AtomicU64 = AtomicU64::new(0);
static WRONG_GS: AtomicU64 = AtomicU64::new(0);

/// What the trap dispatcher checks on every entry, as counts since boot.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EntryChecks {
    /// Traps that interrupted ring 3 while the user had RFLAGS.AC set
    /// (shows a test really reached a handler with a user AC).
    pub user_ac_frames: u64,
    /// Traps whose handler ran with RFLAGS.AC set: SMAP off in the kernel.
    /// Must stay 0.
    pub ac_in_handler: u64,
    /// Traps whose handler ran without the kernel's GS base. Must stay 0.
    pub wrong_gs: u64,
}

/// The entry checks so far.
pub fn entry_checks() -> EntryChecks {
    EntryChecks {
        user_ac_frames: USER_AC_FRAMES.load(Ordering::Relaxed),
        ac_in_handler: AC_IN_HANDLER.load(Ordering::Relaxed),
        wrong_gs: WRONG_GS.load(Ordering::Relaxed),
    }
}

/// Counts the entry state the handler is about to run in (atomics only:
/// this runs for NMIs too).
static DEBUG_TRAPS_USER: AtomicU64 = AtomicU64::new(0);
static DEBUG_TRAPS_KERNEL: AtomicU64 = AtomicU64::new(0);

/// `#DB` traps taken so far: `(from user mode, from ring 0)`.
pub fn debug_traps() -> (u64, u64) {
    (
        DEBUG_TRAPS_USER.load(Ordering::Relaxed),
        DEBUG_TRAPS_KERNEL.load(Ordering::Relaxed),
    )
}

fn check_entry_state(frame: &TrapFrame) {
    if frame.vector == 1 {
        if frame.from_user() {
            DEBUG_TRAPS_USER.fetch_add(1, Ordering::Relaxed);
        } else {
            DEBUG_TRAPS_KERNEL.fetch_add(1, Ordering::Relaxed);
        }
    }
    if frame.from_user() && frame.rflags & RFLAGS_AC != 0 {
        USER_AC_FRAMES.fetch_add(1, Ordering::Relaxed);
    }
    if x86_64::registers::rflags::read_raw() & RFLAGS_AC != 0 {
        AC_IN_HANDLER.fetch_add(1, Ordering::Relaxed);
    }
    if crate::percpu::is_ready() && !crate::percpu::gs_is_kernel() {
        WRONG_GS.fetch_add(1, Ordering::Relaxed);
    }
}

static LAST_USER_TRAP: AtomicU64 = AtomicU64::new(u64::MAX);
static LEGACY_IRQS: AtomicU64 = AtomicU64::new(0);

/// `(vector, error code)` of the last exception raised by user code (the
/// one that killed it), or `None` before any.
pub fn last_user_trap() -> Option<(u64, u64)> {
    let packed = LAST_USER_TRAP.load(Ordering::SeqCst);
    (packed != u64::MAX).then_some((packed >> 32, packed & 0xffff_ffff))
}

/// Interrupts taken on the legacy PIC's vectors of lines no driver
/// enabled (spurious: those lines are masked).
pub fn legacy_irqs() -> u64 {
    LEGACY_IRQS.load(Ordering::Relaxed)
}

extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    check_entry_state(frame);
    if frame.from_user() {
        // The CPU was in ring 3: its kernel stack is empty but for this
        // frame and no synthesized code runs here, a quiescent point for
        // the code arena (no lock can be held by the interrupted code).
        crate::code_arena::quiescent_point();
    }
    match frame.vector {
        32 => {
            crate::apic::end_of_interrupt();
            crate::apic::count_tick();
            run_hook(frame, hooks().timer);
            crate::user_regs::on_trap_return(frame);
        }
        // APIC spurious interrupt: no EOI.
        255 => {}
        // A legacy PIC line a driver enabled (`legacy_irq`): the kernel's
        // hook, then the PICs' EOI. Any other (every line masked, so a
        // spurious IRQ 7 or 15): nothing to acknowledge, nobody to blame.
        v if (u64::from(LEGACY_PIC_BASE)..u64::from(LEGACY_PIC_BASE) + 16).contains(&v) => {
            let irq = (v - u64::from(LEGACY_PIC_BASE)) as u8;
            if crate::legacy_irq::is_enabled(irq) {
                run_hook(frame, |f| (hooks().legacy_irq)(f, irq));
                crate::legacy_irq::end_of_interrupt(irq);
                crate::user_regs::on_trap_return(frame);
            } else {
                LEGACY_IRQS.fetch_add(1, Ordering::Relaxed);
                crate::legacy_irq::acknowledge_unclaimed(irq);
            }
        }
        // NMI: not caused by the interrupted code, whatever its mode;
        // counted and resumed. Atomics only (an NMI can land anywhere).
        2 => {
            NMIS.fetch_add(1, Ordering::SeqCst);
        }
        8 => (hooks().double_fault)(frame),
        // `#NM`: a lazy FP trap from user mode; from ring 0 a kernel bug
        // (the kernel is soft-float and never executes FP instructions
        // outside `fpu.rs`, which clears TS first).
        7 if frame.from_user() => run_hook(frame, hooks().fp_unavailable),
        7 => {
            dump("fatal kernel exception", frame, 0);
            crate::println!(
                "    kernel bug: an FP/SSE/AVX instruction in ring 0 with CR0.TS set (the kernel is built soft-float; only fpu.rs may touch the FP registers)"
            );
            (hooks().fatal)(frame)
        }
        // Machine check: the hardware's fault, never the program's.
        18 => {
            dump("machine check", frame, 0);
            (hooks().fatal)(frame)
        }
        vector => {
            if (vector == 1 || vector == 3) && run_hook(frame, hooks().debug) {
                return;
            }
            if vector == 3 && !frame.from_user() && kernel_breakpoint_resumes(frame.rip) {
                // `int3` in the kernel's own code: count it and continue
                // after it.
                BREAKPOINTS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                return;
            }
            let cr2 = if vector == 14 { crate::cpu::cr2() } else { 0 };
            if frame.from_user() {
                // Any exception of user code, `#DB` and `#BP` the debug hook
                // did not claim included: the program dies.
                LAST_USER_TRAP.store(
                    (vector << 32) | (frame.error_code & 0xffff_ffff),
                    Ordering::SeqCst,
                );
                run_hook(frame, |f| (hooks().user_exception)(f, cr2));
                // The kernel survived the fault (a Linux signal): the
                // user-return hook delivers it.
                crate::user_regs::on_trap_return(frame);
            } else if vector == 14 && try_fixup(frame, cr2) {
                // Resumes at the fixup.
            } else {
                dump("fatal kernel exception", frame, cr2);
                (hooks().fatal)(frame)
            }
        }
    }
}

/// Whether a ring-0 `int3` whose trap frame says `rip` (the byte after
/// the `int3`) may resume: only in the kernel's own code. The code arena is
/// filled with `int3` (unused bytes, the tails of recycled blocks), so a
/// `#BP` there means a stray jump into the padding: resuming would slide
/// through the padding into whatever routine follows. That is fatal, like
/// any other kernel exception.
/// The arena's whole reserved range is checked, without its lock (a `#BP`
/// may come while the lock is held).
fn kernel_breakpoint_resumes(rip: u64) -> bool {
    use crate::layout::{CODE_ARENA_BASE, CODE_ARENA_MAX_BYTES};
    let arena = CODE_ARENA_BASE..CODE_ARENA_BASE.saturating_add(CODE_ARENA_MAX_BYTES);
    !arena.contains(&rip.wrapping_sub(1))
}

/// [`kernel_breakpoint_resumes`] for a made-up `rip` (test builds only).
#[cfg(feature = "ktest")]
pub fn test_kernel_breakpoint_resumes(rip: u64) -> bool {
    kernel_breakpoint_resumes(rip)
}

static BREAKPOINTS: core::sync::atomic::AtomicU64 = core::sync::atomic::AtomicU64::new(0);

/// Kernel `int3` traps taken so far (each returns to the next instruction).
pub fn breakpoints() -> u64 {
    BREAKPOINTS.load(core::sync::atomic::Ordering::Relaxed)
}

/// Executes `int3` (a round trip through the IDT and `trap_common`).
pub fn breakpoint() {
    x86_64::instructions::interrupts::int3();
}

/// A trap raised in ring 0 while the user's GS is active, as entry stubs
/// and synthesized routines run (test builds only).
#[cfg(feature = "ktest")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserGsTrap {
    /// `int3` (vector 3, no IST).
    Breakpoint,
    /// A single-step `#DB` (vector 1, IST).
    SingleStep,
    /// A self-NMI (vector 2, IST).
    Nmi,
}

/// Raises `kind` in ring 0 between two `swapgs`, i.e. with the user's GS
/// base active, interrupts off; returns once the trap was handled. The
/// handler must have run with the kernel's GS: see [`entry_checks`].
/// Test builds only.
#[cfg(feature = "ktest")]
pub fn trap_with_user_gs(kind: UserGsTrap) {
    x86_64::instructions::interrupts::without_interrupts(|| {
        let nmis = NMIS.load(Ordering::SeqCst);
        // SAFETY: swapgs exchanges GS_BASE with KERNEL_GS_BASE; between the
        // two, only code that never uses GS runs (an `int3`, a single-step
        // of a `nop`, an APIC write and a spin on an atomic), with
        // interrupts off, so nothing else sees the user GS.
        unsafe { core::arch::asm!("swapgs", options(nostack, preserves_flags)) };
        match kind {
            UserGsTrap::Breakpoint => x86_64::instructions::interrupts::int3(),
            // SAFETY: sets TF for one `nop`; the kernel's debug hook clears
            // TF on a stray ring-0 single-step, so only one #DB follows.
            UserGsTrap::SingleStep => unsafe {
                core::arch::asm!("pushfq", "or qword ptr [rsp], 0x100", "popfq", "nop", "nop",)
            },
            UserGsTrap::Nmi => {
                crate::apic::send_nmi_to_self();
                let mut spins = 0u64;
                while NMIS.load(Ordering::SeqCst) == nmis && spins < 100_000_000 {
                    core::hint::spin_loop();
                    spins += 1;
                }
            }
        }
        // SAFETY: restores the kernel GS swapped out above.
        unsafe { core::arch::asm!("swapgs", options(nostack, preserves_flags)) };
    });
}

/// Runs the page-fault fixup rules on a made-up frame (test builds only):
/// true if a rule accepted it (and rewrote the frame).
#[cfg(feature = "ktest")]
pub fn test_try_fixup(frame: &mut TrapFrame, cr2: u64) -> bool {
    try_fixup(frame, cr2)
}

static NMIS: AtomicU64 = AtomicU64::new(0);

/// NMIs taken so far.
pub fn nmis() -> u64 {
    NMIS.load(Ordering::SeqCst)
}
