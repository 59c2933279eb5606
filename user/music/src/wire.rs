//! What the stages send each other.
//!
//! Owns [`Message`] (sequencer → voice: 16 bytes each, written in whole
//! batches, so a pipe read of a multiple of 16 bytes always ends on a
//! message boundary) and the block size [`BLOCK_FRAMES`] (voice → summer:
//! one write of that many `i32` samples per block; summer → audio: that
//! many 16-bit stereo frames).

/// Frames per block: 10 ms at 25 kHz.
pub(crate) const BLOCK_FRAMES: usize = 250;
/// Bytes of one message.
pub(crate) const MESSAGE_BYTES: usize = 16;

/// One instruction to a voice, at a frame of the score's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Message {
    /// Start this MIDI note at `frame`.
    NoteOn { frame: u64, note: u8 },
    /// Release the note at `frame`.
    NoteOff { frame: u64 },
    /// Render up to `frame` and send the block.
    Advance { frame: u64 },
    /// The score is over: send what is left and close.
    Stop,
}

impl Message {
    /// Its 16 bytes: kind, note, frame (little-endian).
    pub(crate) fn encode(self) -> [u8; MESSAGE_BYTES] {
        let (kind, note, frame) = match self {
            Self::NoteOn { frame, note } => (1u32, u32::from(note), frame),
            Self::NoteOff { frame } => (2, 0, frame),
            Self::Advance { frame } => (3, 0, frame),
            Self::Stop => (4, 0, 0),
        };
        let mut out = [0u8; MESSAGE_BYTES];
        out[..4].copy_from_slice(&kind.to_le_bytes());
        out[4..8].copy_from_slice(&note.to_le_bytes());
        out[8..].copy_from_slice(&frame.to_le_bytes());
        out
    }

    /// The message in `bytes`, if it is one.
    pub(crate) fn decode(bytes: &[u8; MESSAGE_BYTES]) -> Option<Self> {
        let word = |at: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&bytes[at..at + 4]);
            u32::from_le_bytes(w)
        };
        let mut f = [0u8; 8];
        f.copy_from_slice(&bytes[8..]);
        let frame = u64::from_le_bytes(f);
        match word(0) {
            1 => Some(Self::NoteOn {
                frame,
                note: u8::try_from(word(4)).ok()?,
            }),
            2 => Some(Self::NoteOff { frame }),
            3 => Some(Self::Advance { frame }),
            4 => Some(Self::Stop),
            _ => None,
        }
    }
}
