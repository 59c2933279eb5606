//! Exceptions and interrupts: the IDT, one assembly stub per vector, the
//! common save/restore path and the dispatcher.
//!
//! Owns [`TrapFrame`] (all general registers plus the CPU's frame), the
//! upcall hooks through which the kernel handles timer ticks, user faults,
//! debug traps and an expected double fault, and the fatal-exception dump
//! (vector, error code, RIP, CR2, every register). Kernel page faults first
//! consult the fixup table (`extable.rs`).

use crate::extable::{self, FixupKind};
use crate::gdt;
use spin::{Mutex, Once};
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

/// Kernel handlers for traps the mechanism does not handle itself.
#[derive(Clone, Copy)]
pub struct Hooks {
    /// Each timer interrupt (after EOI).
    pub timer: fn(&mut TrapFrame),
    /// An exception raised by user code (the kernel terminates the program).
    pub user_exception: fn(&mut TrapFrame, cr2: u64),
    /// `#DB` or `#BP` from any mode (single-step instruction counting).
    pub debug: fn(&mut TrapFrame) -> bool,
    /// A double fault (kernel stack overflow); never returns.
    pub double_fault: fn(&TrapFrame) -> !,
    /// After a fatal kernel exception was dumped; never returns.
    pub fatal: fn(&TrapFrame) -> !,
}

fn default_timer(_: &mut TrapFrame) {}
fn default_user(frame: &mut TrapFrame, cr2: u64) {
    dump("user exception", frame, cr2);
    (hooks().fatal)(frame)
}
fn default_debug(_: &mut TrapFrame) -> bool {
    false
}
fn default_fatal(_: &TrapFrame) -> ! {
    crate::qemu::exit(crate::qemu::ExitCode::Failure)
}
fn default_double_fault(frame: &TrapFrame) -> ! {
    (hooks().fatal)(frame)
}

static HOOKS: Mutex<Hooks> = Mutex::new(Hooks {
    timer: default_timer,
    user_exception: default_user,
    debug: default_debug,
    double_fault: default_double_fault,
    fatal: default_fatal,
});

/// Installs the kernel's trap hooks.
pub fn set_hooks(hooks: Hooks) {
    x86_64::instructions::interrupts::without_interrupts(|| *HOOKS.lock() = hooks);
}

/// The current hooks (copied out, so no lock is held while they run).
pub fn hooks() -> Hooks {
    // Writers mask interrupts, so a trap never finds the lock held by the
    // code it interrupted on this CPU.
    *HOOKS.lock()
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
stub!(vec255, 255);

/// Saves all registers, switches GS if the trap came from user mode,
/// calls [`trap_dispatch`], and returns with `iretq`.
#[unsafe(naked)]
extern "C" fn trap_common() {
    core::arch::naked_asm!(
        "test qword ptr [rsp + 24], 3",
        "jz 2f",
        "swapgs",
        "2:",
        "push rax", "push rbx", "push rcx", "push rdx", "push rsi", "push rdi", "push rbp",
        "push r8", "push r9", "push r10", "push r11", "push r12", "push r13", "push r14", "push r15",
        "mov rdi, rsp",
        "cld",
        "call {dispatch}",
        "pop r15", "pop r14", "pop r13", "pop r12", "pop r11", "pop r10", "pop r9", "pop r8",
        "pop rbp", "pop rdi", "pop rsi", "pop rdx", "pop rcx", "pop rbx", "pop rax",
        "test qword ptr [rsp + 24], 3",
        "jz 3f",
        "swapgs",
        "3:",
        "add rsp, 16",
        "iretq",
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
            idt.page_fault.set_handler_addr(a(vec14));
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
            idt[SPURIOUS_VECTOR].set_handler_addr(a(vec255));
        }
        idt
    });
    idt.load();
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
    if frame.error_code & PF_INSTRUCTION_FETCH != 0 {
        // A probe `call` into a non-executable page: the return address is
        // on top of the (kernel) stack, which is mapped since the call just
        // pushed it.
        // SAFETY: the fault happened in kernel mode at an instruction fetch
        // right after a call, so rsp points at the mapped return address.
        let ret = unsafe { core::ptr::read(frame.rsp as *const u64) };
        if let Some(fixup) = extable::find(ret, FixupKind::CallProbe) {
            frame.rax = frame.error_code;
            frame.rdx = cr2;
            frame.rip = fixup;
            frame.rsp += 8;
            return true;
        }
    }
    false
}

extern "C" fn trap_dispatch(frame: &mut TrapFrame) {
    match frame.vector {
        32 => {
            crate::apic::end_of_interrupt();
            crate::apic::count_tick();
            (hooks().timer)(frame);
        }
        255 => {}
        8 => (hooks().double_fault)(frame),
        vector => {
            if (vector == 1 || vector == 3) && (hooks().debug)(frame) {
                return;
            }
            if vector == 3 && !frame.from_user() {
                // `int3` in the kernel: count it and continue after it.
                BREAKPOINTS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
                return;
            }
            let cr2 = if vector == 14 { crate::cpu::cr2() } else { 0 };
            if frame.from_user() {
                (hooks().user_exception)(frame, cr2);
            } else if vector == 14 && try_fixup(frame, cr2) {
                // Resumes at the fixup.
            } else {
                dump("fatal kernel exception", frame, cr2);
                (hooks().fatal)(frame)
            }
        }
    }
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
