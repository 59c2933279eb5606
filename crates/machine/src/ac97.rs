//! The Intel 82801AA AC'97 audio controller (QEMU's `-device AC97`):
//! PCM out through 32 DMA buffers, at a variable rate.
//!
//! Owns [`Ac97`]: finds the controller on PCI ([`crate::pci`]), resets
//! the codec, enables variable-rate audio (VRA) and sets the PCM front DAC
//! to the asked rate (the codec may round it: [`Ac97::rate`] says what it
//! took), and plays 16-bit stereo frames from a ring of [`BUFFERS`] buffers
//! of [`BUFFER_FRAMES`] frames each, described by a buffer descriptor list
//! (BDL). [`Ac97::queue`] fills the next free buffer and moves the last
//! valid index (LVI) to it; [`Ac97::poll`] reads the controller's status:
//! a halt with the last valid buffer consumed (`DCH` with `CELV`) while the
//! driver meant to go on is an underrun, counted. The buffers are kernel
//! data pages ([`crate::data_memory::DataBuffer`]); the controller reads
//! them by physical address (below 4 GiB: the guest has 1 GiB).

use crate::data_memory::DataBuffer;
use crate::layout::PAGE_SIZE;
use crate::pci::{self, PciFunction};
use x86_64::instructions::port::Port;

/// Intel's vendor id.
const VENDOR_INTEL: u16 = 0x8086;
/// The 82801AA AC'97 audio controller.
const DEVICE_AC97: u16 = 0x2415;

/// Buffers in the ring (the BDL's size).
pub const BUFFERS: usize = 32;
/// Stereo frames per buffer (one page of 16-bit stereo: 4 bytes a frame).
pub const BUFFER_FRAMES: usize = PAGE_SIZE as usize / 4;

// Mixer (NAM) registers.
const NAM_RESET: u16 = 0x00;
const NAM_MASTER_VOLUME: u16 = 0x02;
const NAM_PCM_OUT_VOLUME: u16 = 0x18;
const NAM_EXT_AUDIO_ID: u16 = 0x28;
const NAM_EXT_AUDIO_CONTROL: u16 = 0x2a;
const NAM_PCM_FRONT_DAC_RATE: u16 = 0x2c;
/// Extended audio: variable rate audio.
const EXT_VRA: u16 = 1 << 0;

// Bus master (NABM) registers: the PCM out box and global control.
const PO_BDBAR: u16 = 0x10;
const PO_CIV: u16 = 0x14;
const PO_LVI: u16 = 0x15;
const PO_SR: u16 = 0x16;
const PO_CR: u16 = 0x1b;
const GLOBAL_CONTROL: u16 = 0x2c;
/// Global control: cold reset de-asserted (the codec runs).
const GLOBAL_COLD_RESET_OFF: u32 = 1 << 1;
/// Control: run (bus master).
const CR_RUN: u8 = 1 << 0;
/// Control: reset the box's registers.
const CR_RESET: u8 = 1 << 1;
/// Control: interrupt when a buffer whose descriptor asks for it completes.
const CR_IOCE: u8 = 1 << 4;
/// Descriptor flag: interrupt on completion of this buffer.
const BD_IOC: u16 = 1 << 15;
/// Status: DMA controller halted.
const SR_HALTED: u16 = 1 << 0;
/// Status: current equals last valid (the last valid buffer is playing or done).
const SR_CURRENT_IS_LAST: u16 = 1 << 1;
/// Status bits that are write-one-to-clear: last valid buffer completed,
/// buffer completed, FIFO error.
const SR_CLEAR: u16 = 0b1_1100;

/// Why the controller cannot be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ac97Error {
    /// No AC'97 controller on PCI.
    NotFound,
    /// Its BARs are not I/O space.
    NoIoBars,
    /// No memory for the descriptor list or the buffers (or none below
    /// 4 GiB, which is all the controller can address).
    NoMemory,
}

/// The 32-bit physical address of kernel data at `virt`, if it has one.
fn dma_address(virt: u64) -> Option<u32> {
    u32::try_from(crate::paging::translate(virt)?).ok()
}

/// The controller, playing PCM out.
pub struct Ac97 {
    function: PciFunction,
    nam: u16,
    nabm: u16,
    descriptors: DataBuffer,
    buffers: DataBuffer,
    rate: u32,
    /// The last buffer handed to the controller (its LVI), if any.
    last_queued: Option<u8>,
    running: bool,
    /// The caller said no more frames come ([`Ac97::finish`]): the halt
    /// after the last buffer is the end, not an underrun.
    finishing: bool,
    underruns: u64,
    /// Each completed buffer raises the controller's interrupt
    /// ([`Ac97::interrupt_on_completion`]).
    interrupts: bool,
    /// Halted at the end of what was queued: reset before the next queue.
    needs_reset: bool,
}

impl Ac97 {
    /// Finds, resets and sets up the controller for `rate_hz` (frames per
    /// second); nothing plays until the first [`Ac97::queue`].
    ///
    /// # Errors
    /// [`Ac97Error`].
    pub fn init(rate_hz: u32) -> Result<Self, Ac97Error> {
        let function = pci::find(VENDOR_INTEL, DEVICE_AC97).ok_or(Ac97Error::NotFound)?;
        let (Some(nam), Some(nabm)) = (function.io_bar(0), function.io_bar(1)) else {
            return Err(Ac97Error::NoIoBars);
        };
        function.enable(pci::COMMAND_IO_SPACE | pci::COMMAND_BUS_MASTER);
        let descriptors = DataBuffer::allocate(PAGE_SIZE as usize, 0).ok_or(Ac97Error::NoMemory)?;
        let buffers =
            DataBuffer::allocate(BUFFERS * PAGE_SIZE as usize, 0).ok_or(Ac97Error::NoMemory)?;
        let mut this = Self {
            function,
            nam,
            nabm,
            descriptors,
            buffers,
            rate: 0,
            last_queued: None,
            running: false,
            finishing: false,
            underruns: 0,
            interrupts: false,
            needs_reset: false,
        };
        this.write_nabm32(GLOBAL_CONTROL, GLOBAL_COLD_RESET_OFF);
        this.write_nam(NAM_RESET, 1);
        // 0 dB, unmuted.
        this.write_nam(NAM_MASTER_VOLUME, 0);
        this.write_nam(NAM_PCM_OUT_VOLUME, 0x0808);
        if this.read_nam(NAM_EXT_AUDIO_ID) & EXT_VRA != 0 {
            let control = this.read_nam(NAM_EXT_AUDIO_CONTROL);
            this.write_nam(NAM_EXT_AUDIO_CONTROL, control | EXT_VRA);
            this.write_nam(NAM_PCM_FRONT_DAC_RATE, rate_hz.min(0xffff) as u16);
        }
        this.rate = u32::from(this.read_nam(NAM_PCM_FRONT_DAC_RATE));
        this.write_nabm8(PO_CR, CR_RESET);
        this.write_nabm8(PO_CR, 0);
        let list =
            crate::paging::translate(this.descriptors.address()).ok_or(Ac97Error::NoMemory)?;
        this.write_nabm32(PO_BDBAR, list as u32);
        Ok(this)
    }

    /// The rate the codec took, in frames per second.
    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// Underruns seen so far: the controller ran out of queued buffers.
    pub fn underruns(&self) -> u64 {
        self.underruns
    }

    /// Where it sits on PCI.
    pub fn function(&self) -> PciFunction {
        self.function
    }

    /// Buffers queued and not yet played (the one playing included).
    pub fn queued(&self) -> usize {
        let Some(last) = self.last_queued else {
            return 0;
        };
        let status = self.read_nabm16(PO_SR);
        if status & SR_HALTED != 0 {
            return 0;
        }
        let current = self.read_nabm8(PO_CIV);
        usize::from(last.wrapping_sub(current) % BUFFERS as u8) + 1
    }

    /// Buffers that [`Ac97::queue`] may fill now.
    pub fn free(&self) -> usize {
        // One stays unused: a full ring and an empty one must differ.
        (BUFFERS - 1).saturating_sub(self.queued())
    }

    /// Copies up to [`BUFFER_FRAMES`] stereo frames (`[left, right]`
    /// pairs) into the next buffer and hands it to the controller; false
    /// (nothing done) if no buffer is free or `frames` is empty.
    pub fn queue(&mut self, frames: &[[i16; 2]]) -> bool {
        let mut bytes = [0u8; PAGE_SIZE as usize];
        let frames = &frames[..frames.len().min(BUFFER_FRAMES)];
        for (frame, out) in frames.iter().zip(bytes.chunks_exact_mut(4)) {
            out[..2].copy_from_slice(&frame[0].to_le_bytes());
            out[2..].copy_from_slice(&frame[1].to_le_bytes());
        }
        self.queue_bytes(&bytes[..frames.len() * 4])
    }

    /// As [`Ac97::queue`], the frames given as their bytes (16-bit
    /// little-endian left, right; a partial frame at the end is dropped).
    pub fn queue_bytes(&mut self, bytes: &[u8]) -> bool {
        // Halted with everything played and more coming: an underrun (the
        // new LVI below would restart the box and clear the status before
        // `poll` saw it); the ring starts again at buffer 0.
        self.count_underrun();
        let len = bytes.len().min(PAGE_SIZE as usize) / 4 * 4;
        if len == 0 || self.free() == 0 {
            return false;
        }
        if self.needs_reset {
            self.reset_box();
            self.needs_reset = false;
        }
        let index = self
            .last_queued
            .map_or(0, |last| (last + 1) % BUFFERS as u8);
        let offset = usize::from(index) * PAGE_SIZE as usize;
        self.buffers.bytes_mut()[offset..offset + len].copy_from_slice(&bytes[..len]);
        let Some(phys) = dma_address(self.buffers.address() + offset as u64) else {
            return false;
        };
        // Descriptor: buffer address, length in 16-bit samples, flags 0.
        let samples = (len / 2) as u16;
        let entry = &mut self.descriptors.bytes_mut()[usize::from(index) * 8..][..8];
        entry[..4].copy_from_slice(&phys.to_le_bytes());
        entry[4..6].copy_from_slice(&samples.to_le_bytes());
        let flags = if self.interrupts { BD_IOC } else { 0 };
        entry[6..].copy_from_slice(&flags.to_le_bytes());
        core::sync::atomic::fence(core::sync::atomic::Ordering::SeqCst);
        self.last_queued = Some(index);
        self.write_nabm8(PO_LVI, index);
        if !self.running {
            let interrupt = if self.interrupts { CR_IOCE } else { 0 };
            self.write_nabm8(PO_CR, CR_RUN | interrupt);
            self.running = true;
        }
        self.finishing = false;
        true
    }

    /// From now on each buffer raises the controller's interrupt when it
    /// completes (its line: `legacy_irq::route_pci_intx` of
    /// [`Ac97::function`]); the driver's user acknowledges it with
    /// [`Ac97::poll`].
    pub fn interrupt_on_completion(&mut self) {
        self.interrupts = true;
        if self.running {
            self.write_nabm8(PO_CR, CR_RUN | CR_IOCE);
        }
    }

    /// No more frames for now: what is queued plays out, and the halt
    /// after it is not an underrun.
    pub fn finish(&mut self) {
        self.finishing = true;
    }

    /// Counts an underrun if the box halted with every queued buffer
    /// played while more was meant to come, and restarts it from an empty
    /// ring.
    fn count_underrun(&mut self) {
        let status = self.read_nabm16(PO_SR);
        if !self.running || status & SR_HALTED == 0 || status & SR_CURRENT_IS_LAST == 0 {
            return;
        }
        if !self.finishing {
            self.underruns += 1;
        }
        self.last_queued = None;
        self.running = false;
        // The box is reset when frames come again (`queue_bytes`), not
        // now: a reset stops QEMU's voice, which drops the last frames it
        // still holds (the end of a stream, ~30 ms, was lost so).
        self.needs_reset = true;
    }

    /// Stops the PCM out box (run off, then a bounded wait for its halt),
    /// resets its registers and points it at the descriptor list again.
    fn reset_box(&mut self) {
        self.write_nabm8(PO_CR, 0);
        for _ in 0..100_000 {
            if self.read_nabm16(PO_SR) & SR_HALTED != 0 {
                break;
            }
            core::hint::spin_loop();
        }
        self.write_nabm8(PO_CR, CR_RESET);
        self.write_nabm8(PO_CR, 0);
        if let Some(list) = dma_address(self.descriptors.address()) {
            self.write_nabm32(PO_BDBAR, list);
        }
    }

    /// Reads and clears the controller's status; counts an underrun when
    /// it halted having played every queued buffer while more was meant
    /// to come. Call at least once per buffer's playing time.
    pub fn poll(&mut self) {
        let status = self.read_nabm16(PO_SR);
        self.count_underrun();
        self.write_nabm16(PO_SR, status & SR_CLEAR);
    }

    /// Stops playing (what is queued is dropped).
    pub fn stop(&mut self) {
        self.finishing = true;
        self.last_queued = None;
        self.running = false;
        self.reset_box();
    }

    fn read_nam(&self, register: u16) -> u16 {
        // SAFETY: `nam` is this controller's mixer BAR (I/O space, from
        // its config space); mixer registers have no effect on memory.
        unsafe { Port::<u16>::new(self.nam + register).read() }
    }

    fn write_nam(&self, register: u16, value: u16) {
        // SAFETY: as in `read_nam`.
        unsafe { Port::<u16>::new(self.nam + register).write(value) }
    }

    fn read_nabm8(&self, register: u16) -> u8 {
        // SAFETY: `nabm` is this controller's bus-master BAR; reading its
        // registers has no side effect on memory.
        unsafe { Port::<u8>::new(self.nabm + register).read() }
    }

    fn read_nabm16(&self, register: u16) -> u16 {
        // SAFETY: as in `read_nabm8`.
        unsafe { Port::<u16>::new(self.nabm + register).read() }
    }

    fn write_nabm8(&self, register: u16, value: u8) {
        // SAFETY: `nabm` is this controller's bus-master BAR. The DMA it
        // starts reads only the descriptor list and buffers this driver
        // owns (kernel data pages, alive as long as `self`; `Drop` stops
        // the DMA first) at the physical addresses written into them.
        unsafe { Port::<u8>::new(self.nabm + register).write(value) }
    }

    fn write_nabm16(&self, register: u16, value: u16) {
        // SAFETY: as in `write_nabm8` (the status register's clear bits).
        unsafe { Port::<u16>::new(self.nabm + register).write(value) }
    }

    fn write_nabm32(&self, register: u16, value: u32) {
        // SAFETY: as in `write_nabm8` (global control, the list's address:
        // this driver's own page).
        unsafe { Port::<u32>::new(self.nabm + register).write(value) }
    }
}

impl Drop for Ac97 {
    fn drop(&mut self) {
        // No DMA from pages about to be freed.
        self.reset_box();
        self.write_nabm32(PO_BDBAR, 0);
    }
}
