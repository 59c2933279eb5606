//! What the in-kernel audio test plays and the host's audio check listens
//! for: one definition for both sides.

/// Frames per second the driver asks for (the seed's 25 kHz).
pub const RATE: u32 = 25_000;

/// The tones, in order: (frequency in Hz, duration in ms).
pub const TONES: [(u32, u32); 2] = [(440, 600), (660, 600)];
