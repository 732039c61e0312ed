//! Audio codecs on the client: the audio sender's encoder, and one decoder per
//! sender on the receive path, between the audio socket and the sinks.
//!
//! Opus (libopus through the `opus` crate, behind the cargo feature `opus`)
//! is what users send; PCM stays for tests and tools. Every client receives
//! both: each body says its codec (`common::audio`). A decoder per sender
//! turns Opus into the same 20 ms PCM frames PCM senders give, so the jitter
//! buffer, the recorder and the level meter never see a codec.
//!
//! Frames reach us over TCP, in order: a gap in a sender's sequence is a
//! loss (the server dropped frames for us, or the sender skipped), never a
//! frame still on its way. So the decoder fills a gap of up to
//! `MAX_CONCEALED` frames the moment the next packet arrives: the last
//! missing frame from that packet's in-band FEC (Opus's LBRR copy of the
//! frame before; libopus falls back to concealment when there is none), the
//! others by the decoder's packet-loss concealment. The jitter buffer then
//! has no hole and its repeat-and-fade is not needed. A corrupt packet is a
//! loss too, concealed, never a panic. Longer gaps are left to the jitter
//! buffer, which skips them.
//!
//! A build without the feature sends PCM, and for an Opus sender says once
//! that it cannot decode it and plays silence in its place.

use common::audio::{AudioBody, parse_audio_body};
use common::protocol::AUDIO_FRAME_SAMPLES;
use common::{AudioCodec, ClientId, MediaHeader};
use serde::Serialize;
use std::collections::HashMap;

/// What a build without Opus tells the user, and how to get it.
pub const OPUS_BUILD_HINT: &str = "this client was built without Opus: build it with \
     `cargo build --features opus` (or `--features devices`), which needs \
     `apt-get install libopus-dev pkg-config`";

/// Opus's bit rate: speech at full band with room for FEC.
pub const OPUS_BITRATE: i32 = 32_000;
/// The loss the encoder plans its FEC for, in percent. Opus adds in-band
/// FEC only when this is above zero.
pub const OPUS_EXPECTED_LOSS_PERCENT: i32 = 10;
/// Longest gap the decoder fills (100 ms); a longer one is a pause or an
/// outage, which the jitter buffer skips rather than inventing speech.
pub const MAX_CONCEALED: u32 = 5;

/// The longest packet libopus decodes, 120 ms, in samples.
#[cfg(feature = "opus")]
const MAX_PACKET_SAMPLES: usize = 5760;

/// The codec this build sends unless told otherwise.
pub fn default_codec() -> AudioCodec {
    if cfg!(feature = "opus") {
        AudioCodec::Opus
    } else {
        AudioCodec::Pcm
    }
}

/// `--audio-codec NAME`: a codec this build can send.
pub fn parse_codec(name: &str) -> Result<AudioCodec, String> {
    let codec = AudioCodec::from_name(name).ok_or_else(|| {
        let names: Vec<&str> = AudioCodec::ALL.iter().map(|c| c.name()).collect();
        format!("unknown codec '{name}' (one of: {})", names.join(", "))
    })?;
    if codec == AudioCodec::Opus && !cfg!(feature = "opus") {
        return Err(OPUS_BUILD_HINT.to_string());
    }
    Ok(codec)
}

/// Turns a frame of PCM (10 or 20 ms) into one audio body.
pub struct AudioEncoder {
    inner: EncoderInner,
}

enum EncoderInner {
    Pcm,
    #[cfg(feature = "opus")]
    Opus(Box<opus::Encoder>, Vec<u8>),
}

impl AudioEncoder {
    pub fn new(codec: AudioCodec) -> anyhow::Result<AudioEncoder> {
        let inner = match codec {
            AudioCodec::Pcm => EncoderInner::Pcm,
            #[cfg(feature = "opus")]
            AudioCodec::Opus => EncoderInner::Opus(Box::new(opus_encoder()?), vec![0; 1500]),
            #[cfg(not(feature = "opus"))]
            AudioCodec::Opus => anyhow::bail!("{OPUS_BUILD_HINT}"),
        };
        Ok(AudioEncoder { inner })
    }

    pub fn codec(&self) -> AudioCodec {
        match self.inner {
            EncoderInner::Pcm => AudioCodec::Pcm,
            #[cfg(feature = "opus")]
            EncoderInner::Opus(..) => AudioCodec::Opus,
        }
    }

    /// The body for one frame.
    pub fn encode(&mut self, pcm: &[i16]) -> anyhow::Result<Vec<u8>> {
        match &mut self.inner {
            EncoderInner::Pcm => Ok(pcm.iter().flat_map(|s| s.to_le_bytes()).collect()),
            #[cfg(feature = "opus")]
            EncoderInner::Opus(encoder, buffer) => {
                use anyhow::Context;
                let len = encoder.encode(pcm, buffer).context("Opus encoding")?;
                // The body rule wants an even packet: Opus padding adds a byte.
                let len = if len % 2 == 1 {
                    let padded = len + 1;
                    let slice = buffer.get_mut(..padded).context("Opus packet too long")?;
                    opus::packet::pad(slice, len).context("Opus padding")?;
                    padded
                } else {
                    len
                };
                let packet = buffer.get(..len).context("Opus packet too long")?;
                common::audio::opus_body(packet).context("Opus packet could not be framed")
            }
        }
    }
}

/// The encoder every Opus sender uses: mono, 48 kHz, VoIP tuning, 32 kbit/s,
/// in-band FEC on.
#[cfg(feature = "opus")]
fn opus_encoder() -> anyhow::Result<opus::Encoder> {
    use anyhow::Context;
    let mut encoder = opus::Encoder::new(
        common::protocol::AUDIO_SAMPLE_RATE,
        opus::Channels::Mono,
        opus::Application::Voip,
    )
    .context("creating the Opus encoder")?;
    encoder
        .set_bitrate(opus::Bitrate::Bits(OPUS_BITRATE))
        .context("Opus bit rate")?;
    encoder.set_inband_fec(true).context("Opus FEC")?;
    encoder
        .set_packet_loss_perc(OPUS_EXPECTED_LOSS_PERCENT)
        .context("Opus expected loss")?;
    Ok(encoder)
}

/// The Opus encoder's look-ahead in samples at 48 kHz: the delay it adds on
/// top of the 20 ms frame.
#[cfg(feature = "opus")]
pub fn opus_lookahead_samples() -> anyhow::Result<usize> {
    let mut encoder = opus_encoder()?;
    Ok(usize::try_from(encoder.get_lookahead()?).unwrap_or(0))
}

/// What the decoders did for one sender, for `/stats`.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct DecodeStats {
    /// The codec of the sender's last frame.
    pub codec: Option<&'static str>,
    /// Frames the decoder made up for lost ones (FEC or concealment).
    pub concealed: u64,
    /// Of those, the ones decoded from the next packet's FEC data.
    pub from_fec: u64,
    /// Packets that could not be decoded (concealed instead).
    pub corrupt: u64,
    /// Frames played as silence: Opus, and this build cannot decode it.
    pub undecodable: u64,
}

/// One decoder per sender, on the audio reader's thread.
#[derive(Default)]
pub struct AudioDecoders {
    senders: HashMap<ClientId, SenderDecoder>,
    /// A build without Opus says so once, not once a frame.
    #[cfg(not(feature = "opus"))]
    said_no_opus: bool,
}

struct SenderDecoder {
    last_sequence: Option<u32>,
    /// How long this sender's packets are (samples): what a lost one is
    /// made up as. 20 ms until a packet says otherwise.
    frame_samples: usize,
    stats: DecodeStats,
    said_bad_body: bool,
    #[cfg(feature = "opus")]
    opus: Option<opus::Decoder>,
}

impl AudioDecoders {
    /// Decodes one body and hands `deliver` every 20 ms frame it stands for,
    /// oldest first: frames made up for a gap before it, then its own.
    /// Nothing comes of a body that names an unknown codec.
    pub fn decode(
        &mut self,
        header: &MediaHeader,
        body: &[u8],
        mut deliver: impl FnMut(&MediaHeader, &[i16]),
    ) {
        let sender = self.senders.entry(header.sender).or_default();
        let body = match parse_audio_body(body) {
            Ok(body) => body,
            Err(err) => {
                if !std::mem::replace(&mut sender.said_bad_body, true) {
                    tracing::warn!(sender = %header.sender, "audio frame ignored: {err}");
                }
                return;
            }
        };
        // A packet says how long it is (and so how long the frames lost
        // before it were: a sender's frames are all alike).
        if let AudioBody::Opus(packet) = body
            && let Some(samples) = common::audio::opus_packet_samples(packet)
        {
            sender.frame_samples = samples;
        }
        sender.stats.codec = Some(body.codec().name());
        let gap = sender.gap_before(header.sequence);
        sender.last_sequence = Some(header.sequence);
        match body {
            AudioBody::Pcm(bytes) => {
                if bytes.len() > 5 * 2 * AUDIO_FRAME_SAMPLES {
                    tracing::warn!(sender = %header.sender, "audio frame of {} bytes ignored", bytes.len());
                    return;
                }
                let pcm: Vec<i16> = bytes
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                deliver(header, &pcm);
            }
            AudioBody::Opus(packet) => {
                #[cfg(feature = "opus")]
                sender.decode_opus(header, packet, gap, &mut deliver);
                #[cfg(not(feature = "opus"))]
                {
                    let _ = (packet, gap);
                    if !std::mem::replace(&mut self.said_no_opus, true) {
                        tracing::warn!(
                            sender = %header.sender,
                            "a member sends Opus audio, played as silence: {OPUS_BUILD_HINT}"
                        );
                    }
                    sender.stats.undecodable += 1;
                    deliver(header, &vec![0; sender.frame_samples]);
                }
            }
        }
    }

    /// What was decoded from `member`, if anything came.
    pub fn stats(&self, member: ClientId) -> Option<DecodeStats> {
        self.senders.get(&member).map(|s| s.stats)
    }

    /// Every sender's figures.
    pub fn all_stats(&self) -> Vec<(ClientId, DecodeStats)> {
        self.senders.iter().map(|(id, s)| (*id, s.stats)).collect()
    }
}

impl Default for SenderDecoder {
    fn default() -> SenderDecoder {
        SenderDecoder {
            last_sequence: None,
            frame_samples: AUDIO_FRAME_SAMPLES,
            stats: DecodeStats::default(),
            said_bad_body: false,
            #[cfg(feature = "opus")]
            opus: None,
        }
    }
}

impl SenderDecoder {
    /// Frames missing between the last one and `sequence`; 0 for the first
    /// frame, the next one, or one that goes back (a sender that started
    /// counting again: nothing to fill in).
    fn gap_before(&self, sequence: u32) -> u32 {
        match self.last_sequence {
            Some(last) => {
                let ahead = sequence.wrapping_sub(last);
                if ahead == 0 || ahead > u32::MAX / 2 {
                    0
                } else {
                    ahead - 1
                }
            }
            None => 0,
        }
    }

    #[cfg(feature = "opus")]
    fn decode_opus(
        &mut self,
        header: &MediaHeader,
        packet: &[u8],
        gap: u32,
        deliver: &mut impl FnMut(&MediaHeader, &[i16]),
    ) {
        let decoder = match &mut self.opus {
            Some(decoder) => decoder,
            None => {
                match opus::Decoder::new(common::protocol::AUDIO_SAMPLE_RATE, opus::Channels::Mono)
                {
                    Ok(decoder) => self.opus.insert(decoder),
                    Err(err) => {
                        // Out of memory, in practice: this sender stays silent.
                        tracing::warn!(sender = %header.sender, "no Opus decoder: {err}");
                        return;
                    }
                }
            }
        };
        let mut pcm = [0i16; MAX_PACKET_SAMPLES];
        if (1..=MAX_CONCEALED).contains(&gap) {
            for back in (1..=gap).rev() {
                let frame_us = self.frame_samples as u64 * 1_000_000 / 48_000;
                let missing = MediaHeader {
                    sender: header.sender,
                    sequence: header.sequence.wrapping_sub(back),
                    timestamp_us: header
                        .timestamp_us
                        .saturating_sub(u64::from(back) * frame_us),
                };
                // The frame just before this packet may be in its FEC data;
                // earlier ones are concealed. Both ask for exactly one
                // packet's length (this sender's frames are all alike).
                let frame = &mut pcm[..self.frame_samples];
                let made = if back == 1 {
                    decoder.decode(packet, frame, true)
                } else {
                    decoder.decode(&[], frame, false)
                };
                match made {
                    Ok(samples) => {
                        self.stats.concealed += 1;
                        if back == 1 {
                            self.stats.from_fec += 1;
                        }
                        deliver(&missing, &frame[..samples.min(self.frame_samples)]);
                    }
                    Err(err) => {
                        tracing::debug!(sender = %header.sender, "concealing: {err}");
                    }
                }
            }
        }
        match decoder.decode(packet, &mut pcm, false) {
            Ok(samples) => deliver(header, &pcm[..samples.min(MAX_PACKET_SAMPLES)]),
            Err(err) => {
                self.stats.corrupt += 1;
                if self.stats.corrupt == 1 {
                    tracing::warn!(sender = %header.sender, "undecodable Opus packet, concealed: {err}");
                }
                let frame = &mut pcm[..self.frame_samples];
                if let Ok(samples) = decoder.decode(&[], frame, false) {
                    self.stats.concealed += 1;
                    deliver(header, &frame[..samples.min(self.frame_samples)]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
