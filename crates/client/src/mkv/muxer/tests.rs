use super::*;
use crate::mkv::ebml::id;
use crate::mkv::writer::tests::{Parsed, block_head, parse_file};
use std::io::Cursor;
use std::path::Path;
use std::process::Command;

fn muxer() -> Muxer<Cursor<Vec<u8>>> {
    let writer = MkvWriter::new(Cursor::new(Vec::new()), "test", 1_795_462_205).expect("writer");
    Muxer::new(writer).expect("muxer")
}

/// A real JPEG of `width` x `height`, a gradient shaded by `shade`.
fn jpeg(width: u32, height: u32, shade: u8) -> Vec<u8> {
    let rgb: Vec<u8> = (0..width * height)
        .flat_map(|i| [(i % width) as u8, shade, (i / width) as u8])
        .collect();
    crate::media::video::frames::encode_jpeg(&rgb, width, height, 80).expect("encodes")
}

/// 5 ms of a 440 Hz tone starting at sample `from`.
fn tone(from: usize) -> Vec<i16> {
    (from..from + 240)
        .map(|n| {
            let phase = n as f64 * 440.0 * std::f64::consts::TAU / 48_000.0;
            (phase.sin() * 8000.0) as i16
        })
        .collect()
}

/// A second and a half of a meeting: the mix every 5 ms, a member's video
/// at 10 fps (named once the meeting says who it is), one chat line, a
/// shared screen picture.
fn meeting(muxer: &mut Muxer<Cursor<Vec<u8>>>) {
    for tick in 0..300u64 {
        let at = tick * 5;
        muxer
            .take(at, Recorded::Mix(tone(tick as usize * 240)))
            .expect("mix");
        if tick % 20 == 3 {
            let jpeg = jpeg(64, 48, tick as u8);
            let member = ClientId(7);
            muxer
                .take(at, Recorded::Video { member, jpeg })
                .expect("video");
        }
        if tick == 30 {
            let (member, name) = (ClientId(7), "ana".to_string());
            muxer
                .take(at, Recorded::MemberName { member, name })
                .expect("name");
        }
        if tick == 100 {
            let line = "ana: hello, world".to_string();
            muxer.take(at, Recorded::Chat(line)).expect("chat");
        }
        if tick == 150 {
            let jpeg = jpeg(96, 64, 9);
            let member = ClientId(8);
            muxer
                .take(at, Recorded::Screen { member, jpeg })
                .expect("screen");
        }
        muxer.write_due(at).expect("write");
    }
}

fn tracks(segment: &Parsed) -> Vec<(String, String, u64)> {
    segment
        .one(id::TRACKS)
        .all(id::TRACK_ENTRY)
        .iter()
        .map(|t| {
            (
                String::from_utf8_lossy(&t.one(id::CODEC_ID).data).into_owned(),
                String::from_utf8_lossy(&t.one(id::NAME).data).into_owned(),
                t.one(id::FLAG_DEFAULT).uint(),
            )
        })
        .collect()
}

#[test]
fn tracks_appear_as_their_media_does_and_are_named_after_members() {
    let mut muxer = muxer();
    meeting(&mut muxer);
    let bytes = muxer.finish().expect("finish").into_inner();
    let (top, cut) = parse_file(&bytes);
    assert!(!cut);
    let own = |s: &str| s.to_string();
    assert_eq!(
        tracks(&top[1]),
        [
            (own("A_PCM/INT/LIT"), own("what this member heard"), 1),
            (own("V_MJPEG"), own("ana"), 1),
            (own("S_TEXT/UTF8"), own("chat"), 1),
            // Players show the first video track; the screen is there to switch to.
            (own("V_MJPEG"), own("screen of member 8"), 0),
        ]
    );
}

#[test]
fn clusters_hold_a_second_each_in_time_order_and_wait_for_late_blocks() {
    let mut muxer = muxer();
    let picture = jpeg(16, 16, 0);
    let member = ClientId(3);
    let video = |jpeg: &Vec<u8>| Recorded::Video {
        member,
        jpeg: jpeg.clone(),
    };
    muxer.take(500, video(&picture)).expect("video");
    muxer
        .take(100, video(&picture))
        .expect("an earlier one, later");
    muxer
        .write_due(1000 + 100 + LATE_MS - 1)
        .expect("nothing due");
    assert_eq!(
        muxer.writer.clusters(),
        0,
        "written before its late blocks could come"
    );
    muxer.write_due(1000 + 100 + LATE_MS).expect("due");
    assert_eq!(muxer.writer.clusters(), 1);
    // Too late for its cluster: moved to the first moment not written.
    muxer.take(900, video(&picture)).expect("late");
    muxer.take(1500, video(&picture)).expect("video");
    let bytes = muxer.finish().expect("finish").into_inner();
    let (top, _) = parse_file(&bytes);
    let clusters: Vec<(u64, Vec<i16>)> = top[1]
        .all(id::CLUSTER)
        .iter()
        .map(|c| {
            let relative = c
                .all(id::SIMPLE_BLOCK)
                .iter()
                .map(|b| block_head(&b.data).1)
                .collect();
            (c.one(id::TIMESTAMP).uint(), relative)
        })
        .collect();
    assert_eq!(clusters, [(100, vec![0, 400]), (1100, vec![0, 400])]);
}

#[test]
fn the_mix_is_cut_into_20_ms_blocks_that_follow_sample_by_sample() {
    let mut mix = MixBlocks::default();
    let mut blocks = Vec::new();
    // A clock that wakes a little late now and then: the samples keep time.
    for (n, at) in [0, 5, 11, 15, 20, 26, 30, 35].into_iter().enumerate() {
        blocks.extend(mix.take(at, &tone(n * 240)));
    }
    let times: Vec<(u64, usize)> = blocks.iter().map(|(at, s)| (*at, s.len())).collect();
    assert_eq!(times, [(0, 960), (20, 960)]);
    // Playback stopped for a second and started again: the rest goes out,
    // and the mix goes on from its new time.
    let blocks = mix.take(1200, &tone(0));
    assert!(blocks.is_empty());
    let more: Vec<(u64, usize)> = [1205, 1210, 1215]
        .into_iter()
        .flat_map(|at| mix.take(at, &tone(0)))
        .map(|(at, s)| (at, s.len()))
        .collect();
    assert_eq!(more, [(1200, 960)]);
}

/// Whether ffprobe and ffmpeg can be run: when they cannot, the checks
/// that need them are skipped (said on stderr), unless
/// `MEETING_FFMPEG_TESTS=required` (CI), which makes that a failure.
pub fn ffmpeg_available() -> bool {
    let runs = |tool: &str| {
        Command::new(tool)
            .arg("-version")
            .output()
            .is_ok_and(|out| out.status.success())
    };
    if runs("ffprobe") && runs("ffmpeg") {
        return true;
    }
    if std::env::var("MEETING_FFMPEG_TESTS").as_deref() == Ok("required") {
        panic!(
            "MEETING_FFMPEG_TESTS=required but ffprobe/ffmpeg are not installed (apt-get install ffmpeg)"
        );
    }
    eprintln!(
        "skipped: ffprobe/ffmpeg are not installed (apt-get install ffmpeg); \
         set MEETING_FFMPEG_TESTS=required to fail instead"
    );
    false
}

/// `ffprobe`'s streams and format of `path`, and what it said on stderr.
fn probe(path: &Path) -> (serde_json::Value, String) {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_streams",
            "-show_format",
            "-of",
            "json",
        ])
        .arg(path)
        .output()
        .expect("ffprobe runs");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "ffprobe failed: {stderr}");
    let json = serde_json::from_slice(&out.stdout).expect("ffprobe's JSON");
    (json, stderr)
}

/// What `ffmpeg` says decoding every stream of `path`.
fn decode_errors(path: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-map", "0:v", "-f", "null", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn codecs(probe: &serde_json::Value) -> Vec<String> {
    probe["streams"]
        .as_array()
        .expect("streams")
        .iter()
        .map(|s| s["codec_name"].as_str().unwrap_or("?").to_string())
        .collect()
}

#[test]
fn ffprobe_reads_the_file_finished_and_cut_short_as_a_killed_client_leaves_it() {
    if !ffmpeg_available() {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let mut muxer = muxer();
    meeting(&mut muxer);
    let bytes = muxer.finish().expect("finish").into_inner();
    let (top, _) = parse_file(&bytes);
    let last = top[1]
        .all(id::CLUSTER)
        .last()
        .map(|c| c.at)
        .expect("clusters");
    let cut_at = last + 500;
    let whole = dir.path().join("meeting.mkv");
    std::fs::write(&whole, &bytes).expect("write");

    let (probed, said) = probe(&whole);
    assert_eq!(said, "", "ffprobe complained");
    assert_eq!(codecs(&probed), ["pcm_s16le", "mjpeg", "subrip", "mjpeg"]);
    let streams = &probed["streams"];
    assert_eq!(streams[0]["sample_rate"], "48000");
    assert_eq!(streams[0]["channels"], 1);
    assert_eq!(streams[1]["width"], 64);
    assert_eq!(streams[1]["tags"]["title"], "ana");
    assert_eq!(streams[3]["height"], 64);
    let duration: f64 = probed["format"]["duration"]
        .as_str()
        .and_then(|d| d.parse().ok())
        .expect("a duration");
    // The mix's 1.5 s, or the chat line's end (shown 5 s from 0.5 s).
    assert!((1.4..=5.6).contains(&duration), "{duration}");
    assert_eq!(decode_errors(&whole), "", "ffmpeg could not decode it all");
    let subtitles = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&whole)
        .args(["-map", "0:s", "-f", "srt", "-"])
        .output()
        .expect("ffmpeg runs");
    let subtitles = String::from_utf8_lossy(&subtitles.stdout);
    assert!(
        subtitles.contains("00:00:00,500 --> 00:00:05,500\nana: hello, world"),
        "{subtitles}"
    );

    // Killed in the middle of writing the last cluster.
    let cut = dir.path().join("cut.mkv");
    std::fs::write(&cut, &bytes[..cut_at]).expect("write");
    let (probed, _) = probe(&cut);
    assert_eq!(codecs(&probed), ["pcm_s16le", "mjpeg", "subrip", "mjpeg"]);
    let out = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(&cut)
        .args(["-map", "0:a", "-f", "s16le", "-"])
        .output()
        .expect("ffmpeg runs");
    assert!(out.status.success());
    // Every whole cluster's mix is there: the first second at least.
    assert!(out.stdout.len() >= 48_000 * 2, "{} bytes", out.stdout.len());
}
