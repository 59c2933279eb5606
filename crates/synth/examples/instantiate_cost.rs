//! Host cost of instantiation, for `valgrind --tool=callgrind`:
//! instantiates every routine template `ROUNDS` times and prints how many
//! instructions that emitted, so instructions per emitted instruction =
//! callgrind's total for `instantiate_all` / the printed count.
//!
//! Run: `cargo build --release --example instantiate_cost -p sk-synth` then
//! `valgrind --tool=callgrind --toggle-collect=instantiate_cost::instantiate_all target/release/examples/instantiate_cost`.

use sk_synth::templates::{
    DevMemReadHoles, DevNullWriteHoles, DevZeroReadHoles, RamFileReadHoles, RamFileWriteHoles,
};
use sk_synth::{instantiate, HoleSet, Imm32, Imm64, Rel32Target, Smap};

const ROUNDS: u64 = 10_000;

#[inline(never)]
fn instantiate_all(out: &mut [u8; 512]) -> u64 {
    let mut emitted = 0u64;
    for i in 0..ROUNDS {
        let base = 0xffff_b000_0000_0000 + (i % 64) * 4096;
        let bad = Imm32(-4);
        let r = instantiate(
            &DevMemReadHoles {
                base: Imm64(base),
                window_size: Imm32(1 << 24),
                position_cell: Imm64(base + 8),
                bad_address: bad,
                max_len: Imm32(1 << 16),
                slow_path: Imm64(base + 4096),
            },
            base,
            Smap::Enabled,
            out,
        );
        emitted += r.map_or(0, |_| DevMemReadHoles::TEMPLATE.instruction_count as u64);
        let r = instantiate(
            &RamFileReadHoles {
                data: Imm64(base),
                position_cell: Imm64(base + 8),
                size_cell: Imm64(base + 16),
                bad_address: bad,
                max_len: Imm32(1 << 16),
                slow_path: Imm64(base + 4096),
            },
            base,
            Smap::Enabled,
            out,
        );
        emitted += r.map_or(0, |_| RamFileReadHoles::TEMPLATE.instruction_count as u64);
        let r = instantiate(
            &RamFileWriteHoles {
                data: Imm64(base),
                capacity: Imm64(4096),
                position_cell: Imm64(base + 8),
                size_cell: Imm64(base + 16),
                generic_fallback: Rel32Target(base + 4096),
                bad_address: bad,
                max_len: Imm32(1 << 16),
            },
            base,
            Smap::Enabled,
            out,
        );
        emitted += r.map_or(0, |_| RamFileWriteHoles::TEMPLATE.instruction_count as u64);
        let r = instantiate(
            &DevZeroReadHoles {
                bad_address: bad,
                max_len: Imm32(1 << 16),
                slow_path: Imm64(base + 4096),
            },
            base,
            Smap::Enabled,
            out,
        );
        emitted += r.map_or(0, |_| DevZeroReadHoles::TEMPLATE.instruction_count as u64);
        let r = instantiate(
            &DevNullWriteHoles { bad_address: bad },
            base,
            Smap::Enabled,
            out,
        );
        emitted += r.map_or(0, |_| DevNullWriteHoles::TEMPLATE.instruction_count as u64);
    }
    emitted
}

fn main() {
    let mut out = [0u8; 512];
    let emitted = instantiate_all(&mut out);
    println!("instantiate_cost: {ROUNDS} rounds, {emitted} instructions emitted");
}
