//! The legacy 8254 PIT and 8259 PIC: used only to calibrate the TSC, then
//! the PIC is masked for good (the local APIC delivers interrupts).

use x86_64::instructions::port::Port;

/// PIT input clock in Hz.
pub const PIT_HZ: u64 = 1_193_182;

/// Busy-waits for `ticks` PIT ticks using channel 2 (the speaker gate,
/// port 0x61, so no interrupt is involved). Returns false if the PIT does
/// not seem to count (no PIT on this machine).
pub(crate) fn wait_ticks(ticks: u16) -> bool {
    // SAFETY: ports 0x42/0x43/0x61 are the PIT channel 2 and the speaker
    // control on PC-compatible machines; only this function uses them and
    // it runs with interrupts off during boot.
    unsafe {
        let mut ctrl = Port::<u8>::new(0x61);
        let mut cmd = Port::<u8>::new(0x43);
        let mut ch2 = Port::<u8>::new(0x42);
        let gate = ctrl.read();
        // Gate on, speaker off.
        ctrl.write((gate & !0x02) | 0x01);
        // Channel 2, lobyte/hibyte, mode 0 (interrupt on terminal count), binary.
        cmd.write(0b1011_0000);
        ch2.write((ticks & 0xff) as u8);
        ch2.write((ticks >> 8) as u8);
        // OUT2 (bit 5 of 0x61) goes high at terminal count.
        let mut spins: u64 = 0;
        while ctrl.read() & 0x20 == 0 {
            spins += 1;
            if spins > 100_000_000 {
                ctrl.write(gate);
                return false;
            }
        }
        ctrl.write(gate);
    }
    true
}

/// Remaps the 8259 PICs to vectors 0x30..0x3f (`traps::LEGACY_PIC_BASE`,
/// clear of the exceptions and of the APIC timer at 0x20) and masks every
/// line, so a stray legacy interrupt can never look like an exception or a
/// timer tick; the IDT has a do-nothing handler on each of those vectors.
pub(crate) fn mask_legacy_pic() {
    // SAFETY: standard 8259 initialization sequence on its fixed ports,
    // run once at boot with interrupts off.
    unsafe {
        let mut cmd1 = Port::<u8>::new(0x20);
        let mut data1 = Port::<u8>::new(0x21);
        let mut cmd2 = Port::<u8>::new(0xa0);
        let mut data2 = Port::<u8>::new(0xa1);
        cmd1.write(0x11);
        cmd2.write(0x11);
        data1.write(crate::traps::LEGACY_PIC_BASE);
        data2.write(crate::traps::LEGACY_PIC_BASE + 8);
        data1.write(4);
        data2.write(2);
        data1.write(1);
        data2.write(1);
        data1.write(0xff);
        data2.write(0xff);
    }
}

/// The 8259 interrupt mask registers (master, slave): 0xff each once
/// [`mask_legacy_pic`] ran.
pub fn legacy_pic_masks() -> (u8, u8) {
    // SAFETY: reading the data ports of the 8259s returns their interrupt
    // mask registers (OCW1) and changes nothing.
    unsafe { (Port::<u8>::new(0x21).read(), Port::<u8>::new(0xa1).read()) }
}
