//! GDT, TSS, IDT, per-CPU data and the boot information.

use sk_ktest::{ensure, ensure_eq, ktest};
use sk_machine::boot_info::MemoryKind;

ktest!(
    fn per_cpu_data_is_reachable_through_gs() {
        ensure_eq!(sk_machine::percpu::cpu_id(), 0);
        Ok(())
    }
);

ktest!(
    fn task_register_holds_the_tss_selector() {
        ensure_eq!(sk_machine::gdt::task_register(), 0x30);
        Ok(())
    }
);

ktest!(
    fn breakpoint_exception_returns_through_the_idt() {
        let before = sk_machine::traps::breakpoints();
        sk_machine::traps::breakpoint();
        ensure_eq!(sk_machine::traps::breakpoints(), before + 1);
        Ok(())
    }
);

ktest!(
    fn boot_info_has_a_memory_map_and_command_line() {
        let (boot, _) = *crate::BOOT.get().ok_or("no boot info")?;
        ensure!(
            boot.memory_map()
                .iter()
                .any(|r| r.kind == MemoryKind::Usable),
            "no usable RAM"
        );
        ensure!(
            boot.cmdline().contains("ktest"),
            "command line {:?}",
            boot.cmdline()
        );
        Ok(())
    }
);

ktest!(
    fn exception_table_has_the_probe_entries() {
        ensure!(sk_machine::extable::static_entries() >= 3);
        Ok(())
    }
);
