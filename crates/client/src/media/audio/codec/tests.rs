//! The codecs' tests: PCM and Opus bodies, decoders per sender, and what they make of losses.

use super::*;
use common::audio::CODEC_OPUS;

const RATE: f64 = 48_000.0;

/// Frame `n` of a continuous quarter-scale sine.
fn tone_frame(hz: f64, n: usize) -> [i16; AUDIO_FRAME_SAMPLES] {
    let mut frame = [0i16; AUDIO_FRAME_SAMPLES];
    for (i, sample) in frame.iter_mut().enumerate() {
        let t = (n * AUDIO_FRAME_SAMPLES + i) as f64 / RATE;
        *sample = (8191.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16;
    }
    frame
}

fn header(sequence: u32) -> MediaHeader {
    MediaHeader {
        sender: ClientId(7),
        sequence,
        timestamp_us: u64::from(sequence) * 20_000,
    }
}

/// Feeds `bodies` (sequence, body) and returns what came out, in order.
fn decode_all(decoders: &mut AudioDecoders, bodies: &[(u32, Vec<u8>)]) -> Vec<(u32, Vec<i16>)> {
    let mut out = Vec::new();
    for (sequence, body) in bodies {
        decoders.decode(&header(*sequence), body, |h, pcm| {
            out.push((h.sequence, pcm.to_vec()));
        });
    }
    out
}

#[test]
fn pcm_bodies_pass_through_unchanged() {
    let mut encoder = AudioEncoder::new(AudioCodec::Pcm).expect("pcm");
    let frame = tone_frame(440.0, 0);
    let body = encoder.encode(&frame).expect("encodes");
    assert_eq!(body.len(), 2 * AUDIO_FRAME_SAMPLES);
    let mut decoders = AudioDecoders::default();
    let out = decode_all(&mut decoders, &[(0, body)]);
    assert_eq!(out, vec![(0, frame.to_vec())]);
    let stats = decoders.stats(ClientId(7)).expect("stats");
    assert_eq!(stats.codec, Some("pcm"));
}

#[test]
fn a_pcm_gap_is_left_to_the_jitter_buffer() {
    let mut encoder = AudioEncoder::new(AudioCodec::Pcm).expect("pcm");
    let bodies: Vec<(u32, Vec<u8>)> = [0u32, 1, 3]
        .iter()
        .map(|&n| {
            (
                n,
                encoder
                    .encode(&tone_frame(440.0, n as usize))
                    .expect("encodes"),
            )
        })
        .collect();
    let mut decoders = AudioDecoders::default();
    let sequences: Vec<u32> = decode_all(&mut decoders, &bodies)
        .into_iter()
        .map(|(s, _)| s)
        .collect();
    assert_eq!(sequences, [0, 1, 3]);
}

#[test]
fn unknown_codecs_are_ignored_once_said() {
    let mut decoders = AudioDecoders::default();
    let out = decode_all(&mut decoders, &[(0, vec![0x7e, 1, 2]), (1, vec![0x7e])]);
    assert!(out.is_empty());
}

#[test]
fn opus_needs_the_feature_to_be_chosen() {
    assert_eq!(parse_codec("pcm"), Ok(AudioCodec::Pcm));
    assert!(parse_codec("flac").is_err());
    if cfg!(feature = "opus") {
        assert_eq!(parse_codec("opus"), Ok(AudioCodec::Opus));
        assert_eq!(default_codec(), AudioCodec::Opus);
    } else {
        let err = parse_codec("opus").expect_err("not in this build");
        assert!(err.contains("libopus-dev"), "{err}");
        assert_eq!(default_codec(), AudioCodec::Pcm);
    }
}

#[cfg(not(feature = "opus"))]
#[test]
fn without_opus_an_opus_sender_is_silence_not_a_crash() {
    let mut decoders = AudioDecoders::default();
    let bodies: Vec<(u32, Vec<u8>)> = (0..3).map(|n| (n, vec![CODEC_OPUS, 0x78, 0x00])).collect();
    let out = decode_all(&mut decoders, &bodies);
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|(_, pcm)| pcm.len() == AUDIO_FRAME_SAMPLES));
    assert!(out.iter().all(|(_, pcm)| pcm.iter().all(|&s| s == 0)));
    let stats = decoders.stats(ClientId(7)).expect("stats");
    assert_eq!(stats.undecodable, 3);
    assert!(AudioEncoder::new(AudioCodec::Opus).is_err());
}

#[cfg(feature = "opus")]
mod opus_tests {
    use super::*;

    fn rms(pcm: &[i16]) -> f64 {
        let sum: f64 = pcm.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
        (sum / pcm.len().max(1) as f64).sqrt()
    }

    fn encode_tone(hz: f64, frames: u32) -> Vec<(u32, Vec<u8>)> {
        let mut encoder = AudioEncoder::new(AudioCodec::Opus).expect("opus");
        (0..frames)
            .map(|n| {
                let body = encoder
                    .encode(&tone_frame(hz, n as usize))
                    .expect("encodes");
                (n, body)
            })
            .collect()
    }

    /// Power at `hz` over power at `other`, by correlation with a sine and cosine.
    fn power(pcm: &[i16], hz: f64) -> f64 {
        let (mut re, mut im) = (0.0, 0.0);
        for (i, &s) in pcm.iter().enumerate() {
            let phase = 2.0 * std::f64::consts::PI * hz * i as f64 / RATE;
            re += f64::from(s) * phase.cos();
            im += f64::from(s) * phase.sin();
        }
        re * re + im * im
    }

    #[test]
    fn opus_bodies_are_small_odd_and_marked() {
        let bodies = encode_tone(440.0, 50);
        for (_, body) in &bodies {
            assert_eq!(body[0], CODEC_OPUS);
            assert_eq!(body.len() % 2, 1, "odd: coded");
            assert!(body.len() < 200, "{} bytes", body.len());
        }
        let bytes: usize = bodies.iter().map(|(_, b)| b.len()).sum();
        // One second of audio: about 32 kbit/s, against PCM's 96,000 bytes.
        assert!((2_000..6_000).contains(&bytes), "{bytes} bytes a second");
    }

    #[test]
    fn opus_round_trip_keeps_the_tone() {
        let bodies = encode_tone(440.0, 50);
        let mut decoders = AudioDecoders::default();
        let out = decode_all(&mut decoders, &bodies);
        assert_eq!(out.len(), 50);
        assert!(out.iter().all(|(_, pcm)| pcm.len() == AUDIO_FRAME_SAMPLES));
        let tail: Vec<i16> = out[10..].iter().flat_map(|(_, p)| p.clone()).collect();
        let (at440, at660) = (power(&tail, 440.0), power(&tail, 660.0));
        assert!(at440 > 1000.0 * at660, "440: {at440:e}, 660: {at660:e}");
        let level = rms(&tail);
        assert!((4_500.0..7_000.0).contains(&level), "rms {level}");
        assert_eq!(
            decoders.stats(ClientId(7)).map(|s| s.codec),
            Some(Some("opus"))
        );
    }

    #[test]
    fn a_dropped_frame_is_made_up_by_the_decoder() {
        let mut bodies = encode_tone(440.0, 50);
        bodies.remove(25); // sequence 25 never arrives
        let mut decoders = AudioDecoders::default();
        let out = decode_all(&mut decoders, &bodies);
        let sequences: Vec<u32> = out.iter().map(|(s, _)| *s).collect();
        assert_eq!(sequences, (0..50).collect::<Vec<u32>>(), "no hole left");
        let stats = decoders.stats(ClientId(7)).expect("stats");
        assert_eq!((stats.concealed, stats.from_fec, stats.corrupt), (1, 1, 0));
        // The made-up frame carries on the tone at about its level, where the
        // jitter buffer's repeat-and-fade would have faded it by half.
        let made_up = &out[25].1;
        let around = rms(&out[24].1);
        assert!(
            rms(made_up) > 0.7 * around,
            "{} against {around}",
            rms(made_up)
        );
        assert!(power(made_up, 440.0) > 100.0 * power(made_up, 660.0));
    }

    #[test]
    fn several_lost_frames_are_concealed_and_a_long_gap_is_not() {
        let bodies: Vec<(u32, Vec<u8>)> = encode_tone(440.0, 40)
            .into_iter()
            .filter(|(n, _)| !(10..13).contains(n) && !(20..30).contains(n))
            .collect();
        let mut decoders = AudioDecoders::default();
        let out = decode_all(&mut decoders, &bodies);
        let sequences: Vec<u32> = out.iter().map(|(s, _)| *s).collect();
        let expected: Vec<u32> = (0..40).filter(|n| !(20..30).contains(n)).collect();
        assert_eq!(sequences, expected);
        let stats = decoders.stats(ClientId(7)).expect("stats");
        assert_eq!((stats.concealed, stats.from_fec), (3, 1));
    }

    #[test]
    fn a_corrupt_packet_is_concealed_not_a_panic() {
        let mut bodies = encode_tone(440.0, 20);
        // Code 3 (a count byte follows) with a count of 0 frames: invalid.
        bodies[10].1 = vec![CODEC_OPUS, 0x03, 0x00];
        let mut decoders = AudioDecoders::default();
        let out = decode_all(&mut decoders, &bodies);
        assert_eq!(out.len(), 20);
        assert_eq!(out[10].0, 10);
        assert_eq!(out[10].1.len(), AUDIO_FRAME_SAMPLES);
        let stats = decoders.stats(ClientId(7)).expect("stats");
        assert_eq!((stats.corrupt, stats.concealed), (1, 1));
        // Any short body decodes or is concealed; none panics.
        for first in 0..=255u8 {
            for second in [0u8, 1, 0x7f, 0xff] {
                decoders.decode(&header(100), &[CODEC_OPUS, first, second], |_, pcm| {
                    assert!(pcm.len() <= MAX_PACKET_SAMPLES)
                });
            }
        }
    }

    #[test]
    fn ten_ms_packets_decode_to_ten_ms_and_a_lost_one_is_made_up_as_ten_ms() {
        let mut encoder = AudioEncoder::new(AudioCodec::Opus).expect("opus");
        let tone: Vec<i16> = (0..20).flat_map(|n| tone_frame(440.0, n)).collect();
        let bodies: Vec<(u32, Vec<u8>)> = tone
            .chunks(AUDIO_FRAME_SAMPLES / 2)
            .enumerate()
            .map(|(n, pcm)| (n as u32, encoder.encode(pcm).expect("encodes")))
            .filter(|(n, _)| *n != 20)
            .collect();
        let mut decoders = AudioDecoders::default();
        let out = decode_all(&mut decoders, &bodies);
        assert_eq!(out.len(), 40, "the lost one made up");
        assert!(
            out.iter()
                .all(|(_, pcm)| pcm.len() == AUDIO_FRAME_SAMPLES / 2)
        );
        assert_eq!(out[20].0, 20);
        let stats = decoders.stats(ClientId(7)).expect("stats");
        assert_eq!((stats.concealed, stats.from_fec), (1, 1));
        // Made up from the next packet's FEC, at about the tone's level.
        let (made_up, around) = (rms(&out[20].1), rms(&out[19].1));
        assert!(made_up > 0.7 * around, "{made_up} against {around}");
    }

    #[test]
    fn lookahead_is_what_opus_documents() {
        // 2.5 ms of CELT look-ahead plus 4 ms for SILK's resampler: 6.5 ms.
        assert_eq!(opus_lookahead_samples().expect("encoder"), 312);
    }

    /// The 10 ms row of docs/BENCHMARKS.md: body bytes and encoding CPU per
    /// second of the voice-like signal, in 10 ms and in 20 ms packets.
    /// `cargo test --release -p meeting-client --features opus --lib measure_opus_frame_lengths -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement: run in release with --nocapture"]
    fn measure_opus_frame_lengths() {
        let mut seed = 1u32;
        let voice: Vec<i16> = (0..10 * 48_000)
            .map(|i| {
                let t = i as f64 / RATE;
                let envelope = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 4.0 * t).sin();
                let tone = (2.0 * std::f64::consts::PI * 180.0 * t).sin()
                    + 0.5 * (2.0 * std::f64::consts::PI * 720.0 * t).sin();
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                let noise = f64::from(seed >> 16) / 65_536.0 - 0.5;
                (6000.0 * envelope * tone + 300.0 * noise) as i16
            })
            .collect();
        for samples in [AUDIO_FRAME_SAMPLES / 2, AUDIO_FRAME_SAMPLES] {
            let mut encoder = AudioEncoder::new(AudioCodec::Opus).expect("opus");
            let started = std::time::Instant::now();
            let bytes: usize = voice
                .chunks(samples)
                .map(|pcm| encoder.encode(pcm).expect("encodes").len())
                .sum();
            let encode_us = started.elapsed().as_secs_f64() * 1e6 / 10.0;
            let packets = voice.len() / samples;
            println!(
                "{} ms packets: {:.1} body bytes a packet, {} body bytes a second, {} with the 21 bytes of headers each; encoding {:.0} us per second of audio",
                samples / 48,
                bytes as f64 / packets as f64,
                bytes / 10,
                (bytes + 21 * packets) / 10,
                encode_us
            );
        }
    }

    /// The figures in docs/BENCHMARKS.md and docs/LATENCY.md:
    /// `cargo test --release -p meeting-client --features opus --lib measure_opus -- --ignored --nocapture`
    #[test]
    #[ignore = "a measurement: run in release with --nocapture"]
    fn measure_opus_bytes_cpu_and_delay() {
        // Ten seconds of a voice-like signal: two partials, amplitude-modulated
        // at a syllable rate, and a little noise.
        let mut seed = 1u32;
        let frames: Vec<[i16; AUDIO_FRAME_SAMPLES]> = (0..500)
            .map(|n| {
                let mut frame = [0i16; AUDIO_FRAME_SAMPLES];
                for (i, s) in frame.iter_mut().enumerate() {
                    let t = (n * AUDIO_FRAME_SAMPLES + i) as f64 / RATE;
                    let envelope = 0.5 + 0.5 * (2.0 * std::f64::consts::PI * 4.0 * t).sin();
                    let voice = (2.0 * std::f64::consts::PI * 180.0 * t).sin()
                        + 0.5 * (2.0 * std::f64::consts::PI * 720.0 * t).sin();
                    seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                    let noise = f64::from(seed >> 16) / 65_536.0 - 0.5;
                    *s = (6000.0 * envelope * voice + 300.0 * noise) as i16;
                }
                frame
            })
            .collect();
        let mut encoder = AudioEncoder::new(AudioCodec::Opus).expect("opus");
        let started = std::time::Instant::now();
        let bodies: Vec<(u32, Vec<u8>)> = frames
            .iter()
            .enumerate()
            .map(|(n, f)| (n as u32, encoder.encode(f).expect("encodes")))
            .collect();
        let encode_us = started.elapsed().as_secs_f64() * 1e6 / frames.len() as f64;
        let bytes: usize = bodies.iter().map(|(_, b)| b.len()).sum();
        let mut decoders = AudioDecoders::default();
        let started = std::time::Instant::now();
        let out = decode_all(&mut decoders, &bodies);
        let decode_us = started.elapsed().as_secs_f64() * 1e6 / frames.len() as f64;
        assert_eq!(out.len(), frames.len());
        // Concealing: every 10th frame lost.
        let lossy: Vec<(u32, Vec<u8>)> = bodies
            .iter()
            .filter(|(n, _)| n % 10 != 5)
            .cloned()
            .collect();
        let mut decoders = AudioDecoders::default();
        let started = std::time::Instant::now();
        let _ = decode_all(&mut decoders, &lossy);
        let lossy_us = started.elapsed().as_secs_f64() * 1e6 / frames.len() as f64;

        // Delay: silence, then a 1 kHz tone from frame 10's first sample.
        let mut encoder = AudioEncoder::new(AudioCodec::Opus).expect("opus");
        let burst: Vec<(u32, Vec<u8>)> = (0..20)
            .map(|n| {
                let frame = if n < 10 {
                    [0; AUDIO_FRAME_SAMPLES]
                } else {
                    tone_frame(1000.0, n - 10)
                };
                (n as u32, encoder.encode(&frame).expect("encodes"))
            })
            .collect();
        let mut decoders = AudioDecoders::default();
        let decoded: Vec<i16> = decode_all(&mut decoders, &burst)
            .into_iter()
            .flat_map(|(_, p)| p)
            .collect();
        let onset = decoded
            .iter()
            .position(|s| s.unsigned_abs() > 1000)
            .expect("the tone came out");
        let shift = onset as f64 - 10.0 * AUDIO_FRAME_SAMPLES as f64;
        eprintln!(
            "opus: {:.0} bytes/s of body ({:.1} bytes a frame; PCM 96000: {:.1}x less), \
             encode {encode_us:.1} µs/frame, decode {decode_us:.1} µs/frame, \
             decode with 10% loss {lossy_us:.1} µs/frame, onset {:.2} ms later \
             (look-ahead {} samples)",
            bytes as f64 / 10.0,
            bytes as f64 / frames.len() as f64,
            96_000.0 / (bytes as f64 / 10.0),
            shift / 48.0,
            opus_lookahead_samples().unwrap_or(0),
        );
        assert!(bytes < 96_000 * 10 / 15, "at least 15x below PCM");
        assert!(
            (0.0..2.0 * AUDIO_FRAME_SAMPLES as f64).contains(&shift),
            "{shift}"
        );
    }
}
