//! Who speaks, as the sender measured it: one small field in the header of
//! each audio frame a client sends, that the server reads without decoding
//! (the way RFC 6464 puts an audio level in an RTP header extension).
//!
//! It lives in the header's `sender` field. Clients always sent 0 there and
//! the server always overwrites it with the sender's id, so the field is the
//! sender's to use on the way in and costs no byte and no change for
//! receivers. Its four bytes are `0x4C` ('L'), flags (bit 0: voice), the
//! level as RFC 6464 writes it (0 to 127, the frame's RMS in -dBFS) and 0.
//! Anything else there (the 0 of older senders, the load generator and raw
//! peers) carries no level: such a sender counts as always speaking.

/// The first byte of a sender field that carries a level.
const TAG: u8 = 0x4C;
const VOICE: u8 = 0x01;

/// The quietest level the field can say: 127 dB below full scale.
pub const QUIETEST: u8 = 127;

/// One frame's voice activity and level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VoiceLevel {
    /// The sender's voice detector heard speech in (or just before) this frame.
    pub voice: bool,
    /// RMS level in dB below full scale, 0 (loudest) to 127 (silence).
    pub below_full_scale: u8,
}

impl VoiceLevel {
    /// The level of a frame whose RMS is `dbfs` (0 or less; -96 is digital
    /// silence), rounded to whole dB.
    pub fn from_dbfs(voice: bool, dbfs: f32) -> VoiceLevel {
        let below = (-dbfs).round().clamp(0.0, f32::from(QUIETEST));
        VoiceLevel {
            voice,
            below_full_scale: below as u8,
        }
    }

    /// The level in dBFS (0 or less).
    pub fn dbfs(self) -> f32 {
        -f32::from(self.below_full_scale)
    }

    /// The header's `sender` field carrying this level.
    pub fn to_sender_field(self) -> u32 {
        let flags = if self.voice { VOICE } else { 0 };
        u32::from_be_bytes([TAG, flags, self.below_full_scale.min(QUIETEST), 0])
    }

    /// The level a sender field carries, if it carries one.
    pub fn from_sender_field(field: u32) -> Option<VoiceLevel> {
        let [tag, flags, level, reserved] = field.to_be_bytes();
        let valid = tag == TAG && flags & !VOICE == 0 && level <= QUIETEST && reserved == 0;
        valid.then_some(VoiceLevel {
            voice: flags & VOICE != 0,
            below_full_scale: level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_round_trips_through_the_sender_field() {
        for voice in [false, true] {
            for below_full_scale in 0..=QUIETEST {
                let level = VoiceLevel {
                    voice,
                    below_full_scale,
                };
                let field = level.to_sender_field();
                assert_eq!(VoiceLevel::from_sender_field(field), Some(level));
            }
        }
    }

    #[test]
    fn older_senders_and_garbage_carry_no_level() {
        assert_eq!(VoiceLevel::from_sender_field(0), None);
        assert_eq!(VoiceLevel::from_sender_field(42), None);
        assert_eq!(VoiceLevel::from_sender_field(0x4C01_8000), None);
        assert_eq!(VoiceLevel::from_sender_field(0x4C03_1400), None);
        assert_eq!(VoiceLevel::from_sender_field(0x4C01_1401), None);
    }

    #[test]
    fn dbfs_are_rounded_and_bounded() {
        assert_eq!(VoiceLevel::from_dbfs(true, -20.4).below_full_scale, 20);
        assert_eq!(VoiceLevel::from_dbfs(true, 3.0).below_full_scale, 0);
        assert_eq!(VoiceLevel::from_dbfs(false, -200.0).below_full_scale, 127);
        assert_eq!(VoiceLevel::from_dbfs(true, -96.0).dbfs(), -96.0);
    }
}
