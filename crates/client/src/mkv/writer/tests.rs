use super::*;
use std::io::Cursor;

/// A parsed element: its ID, where it starts, and its data or children.
#[derive(Debug)]
pub struct Parsed {
    pub id: u32,
    pub at: usize,
    pub data: Vec<u8>,
    pub children: Vec<Parsed>,
}

impl Parsed {
    pub fn all(&self, id: u32) -> Vec<&Parsed> {
        self.children.iter().filter(|c| c.id == id).collect()
    }

    pub fn one(&self, id: u32) -> &Parsed {
        let found = self.all(id);
        assert_eq!(found.len(), 1, "{id:#x} in {:#x}: {found:?}", self.id);
        found[0]
    }

    pub fn uint(&self) -> u64 {
        self.data.iter().fold(0, |n, &b| n << 8 | u64::from(b))
    }

    pub fn float(&self) -> f64 {
        f64::from_be_bytes(self.data.clone().try_into().expect("an eight-byte float"))
    }
}

const MASTERS: &[u32] = &[
    id::EBML,
    id::SEGMENT,
    id::SEEK_HEAD,
    id::SEEK,
    id::INFO,
    id::TRACKS,
    id::TRACK_ENTRY,
    id::VIDEO,
    id::AUDIO,
    id::CLUSTER,
    id::BLOCK_GROUP,
    id::CUES,
    id::CUE_POINT,
    id::CUE_TRACK_POSITIONS,
];

fn vint(bytes: &[u8], at: usize, keep_marker: bool) -> Option<(u64, usize, bool)> {
    let first = *bytes.get(at)?;
    let len = first.leading_zeros() as usize + 1;
    if len > 8 {
        return None;
    }
    let raw = bytes.get(at..at + len)?;
    let value = raw.iter().fold(0u64, |n, &b| n << 8 | u64::from(b));
    let bits = 7 * len;
    let unknown = !keep_marker && value & ((1 << bits) - 1) == (1 << bits) - 1;
    let value = if keep_marker {
        value
    } else {
        value & ((1 << bits) - 1)
    };
    Some((value, len, unknown))
}

/// Parses the elements in `bytes[from..to]`; an element cut short by the
/// end of the data ends the parse (`cut` says so), as a reader of a
/// killed client's file would stop there.
pub fn parse(bytes: &[u8], from: usize, to: usize, cut: &mut bool) -> Vec<Parsed> {
    let mut out = Vec::new();
    let mut at = from;
    while at < to {
        let Some((id, id_len, _)) = vint(bytes, at, true) else {
            *cut = true;
            break;
        };
        let Some((size, size_len, unknown)) = vint(bytes, at + id_len, false) else {
            *cut = true;
            break;
        };
        let data_at = at + id_len + size_len;
        let end = if unknown { to } else { data_at + size as usize };
        if end > to {
            *cut = true;
            break;
        }
        let id = id as u32;
        let (data, children) = if MASTERS.contains(&id) {
            (Vec::new(), parse(bytes, data_at, end, cut))
        } else {
            (bytes[data_at..end].to_vec(), Vec::new())
        };
        out.push(Parsed {
            id,
            at,
            data,
            children,
        });
        at = end;
    }
    out
}

/// The whole file: its EBML header and Segment, and whether it was cut.
pub fn parse_file(bytes: &[u8]) -> (Vec<Parsed>, bool) {
    let mut cut = false;
    let top = parse(bytes, 0, bytes.len(), &mut cut);
    (top, cut)
}

/// A block's track, relative time and flags.
pub fn block_head(data: &[u8]) -> (u64, i16, u8) {
    let (track, len, _) = vint(data, 0, false).expect("a track number");
    let relative = i16::from_be_bytes([data[len], data[len + 1]]);
    (track, relative, data[len + 2])
}

fn video(name: &str) -> Track {
    Track {
        kind: TrackKind::JpegVideo {
            width: 320,
            height: 180,
        },
        name: name.to_string(),
        default: true,
    }
}

fn block(track: u64, timestamp_ms: u64, data: &[u8]) -> Block {
    Block {
        track,
        timestamp_ms,
        data: data.to_vec(),
        duration_ms: None,
    }
}

/// Three tracks, the second and third added after the first cluster,
/// and two clusters: as a killed client would leave it (not finished).
fn write_sample() -> MkvWriter<Cursor<Vec<u8>>> {
    let mut writer = MkvWriter::new(Cursor::new(Vec::new()), "test", 1_795_462_205).expect("new");
    let audio = Track {
        kind: TrackKind::PcmAudio {
            rate: 48_000,
            channels: 1,
            bits: 16,
        },
        name: "mix".into(),
        default: true,
    };
    assert_eq!(writer.add_track(audio).expect("audio"), 1);
    writer
        .write_cluster(&[block(1, 0, b"a0"), block(1, 20, b"a1")])
        .expect("first cluster");
    // A member's first picture: its track appears after a cluster.
    assert_eq!(writer.add_track(video("member 7")).expect("video"), 2);
    writer.rename_track(2, "ana").expect("renamed");
    let subtitle = Block {
        duration_ms: Some(5000),
        ..block(2, 1000, b"unused")
    };
    let chat = Track {
        kind: TrackKind::TextSubtitles,
        name: "chat".into(),
        default: true,
    };
    assert_eq!(writer.add_track(chat).expect("chat"), 3);
    writer
        .write_cluster(&[
            block(1, 1000, b"a2"),
            block(2, 1000, b"jpeg"),
            Block {
                track: 3,
                ..subtitle
            },
            block(1, 1020, b"a3"),
        ])
        .expect("second cluster");
    writer
}

#[test]
fn elements_nest_and_tracks_are_rewritten_in_place() {
    let bytes = write_sample().finish(1040).expect("finish").into_inner();
    let (top, cut) = parse_file(&bytes);
    assert!(!cut);
    assert_eq!(top.len(), 2, "{top:?}");
    let header = &top[0];
    assert_eq!(header.one(id::DOC_TYPE).data, b"matroska");
    assert_eq!(header.one(id::DOC_TYPE_VERSION).uint(), 4);
    assert_eq!(header.one(id::DOC_TYPE_READ_VERSION).uint(), 2);
    let segment = &top[1];
    assert_eq!(segment.id, id::SEGMENT);
    // Finished: the Segment's size is known and ends the file.
    let size_at = segment.at + 4;
    assert_ne!(bytes[size_at..size_at + 8], ebml::UNKNOWN_SIZE);

    let info = segment.one(id::INFO);
    assert_eq!(info.one(id::TIMESTAMP_SCALE).uint(), 1_000_000);
    assert_eq!(info.one(id::DURATION).float(), 5000.0 + 1000.0);

    let tracks = segment.one(id::TRACKS);
    let entries = tracks.all(id::TRACK_ENTRY);
    assert_eq!(entries.len(), 3);
    assert_eq!(entries[1].one(id::NAME).data, b"ana");
    assert_eq!(entries[1].one(id::CODEC_ID).data, b"V_MJPEG");
    assert_eq!(entries[1].one(id::VIDEO).one(id::PIXEL_WIDTH).uint(), 320);
    assert_eq!(entries[2].one(id::CODEC_ID).data, b"S_TEXT/UTF8");
    // The tracks and their Void fill exactly the room kept for them, so
    // the first cluster is where it was written.
    let clusters = segment.all(id::CLUSTER);
    let after_tracks = segment
        .children
        .iter()
        .position(|c| c.id == id::TRACKS)
        .map(|i| &segment.children[i + 1])
        .expect("something after the tracks");
    assert_eq!(after_tracks.id, id::VOID);
    assert_eq!(clusters[0].at - tracks.at, TRACKS_ROOM);

    let times: Vec<u64> = clusters
        .iter()
        .map(|c| c.one(id::TIMESTAMP).uint())
        .collect();
    assert_eq!(times, [0, 1000]);
    let blocks: Vec<(u64, i16, u8)> = clusters[1]
        .all(id::SIMPLE_BLOCK)
        .iter()
        .map(|b| block_head(&b.data))
        .collect();
    assert_eq!(blocks, [(1, 0, 0x80), (2, 0, 0x80), (1, 20, 0x80)]);
    let group = clusters[1].one(id::BLOCK_GROUP);
    assert_eq!(group.one(id::BLOCK_DURATION).uint(), 5000);
    assert_eq!(block_head(&group.one(id::BLOCK).data), (3, 0, 0));

    // Seeking: the SeekHead finds the Cues, which find every cluster.
    let data_at = segment.at + 4 + 8;
    let seeks = segment.one(id::SEEK_HEAD).all(id::SEEK);
    assert_eq!(seeks.len(), 3);
    let cues = segment.one(id::CUES);
    let cues_seek = seeks
        .iter()
        .find(|s| s.one(id::SEEK_ID).data == [0x1C, 0x53, 0xBB, 0x6B])
        .expect("the cues' seek");
    assert_eq!(
        cues_seek.one(id::SEEK_POSITION).uint() as usize + data_at,
        cues.at
    );
    let positions: Vec<usize> = cues
        .all(id::CUE_POINT)
        .iter()
        .map(|p| p.all(id::CUE_TRACK_POSITIONS)[0].one(id::CUE_CLUSTER_POSITION))
        .map(|p| p.uint() as usize + data_at)
        .collect();
    assert_eq!(positions, [clusters[0].at, clusters[1].at]);
}

#[test]
fn a_file_cut_after_a_cluster_or_inside_one_still_reads_to_the_last_whole_cluster() {
    // As a killed client leaves it: not finished, so the Segment's size is
    // unknown and there are no Cues; every cluster reads.
    let writer = write_sample();
    let cluster_end = writer.bytes() as usize;
    let bytes = writer.out.into_inner();
    assert_eq!(bytes.len(), cluster_end);
    let (top, cut) = parse_file(&bytes);
    assert!(!cut);
    let segment = &top[1];
    assert_eq!(bytes[segment.at + 4..segment.at + 12], ebml::UNKNOWN_SIZE);
    assert_eq!(segment.all(id::CLUSTER).len(), 2);
    assert!(segment.all(id::CUES).is_empty());
    assert_eq!(segment.one(id::TRACKS).all(id::TRACK_ENTRY).len(), 3);
    // Up to the end of the chat line's five seconds.
    let duration = segment.one(id::INFO).one(id::DURATION).float();
    assert_eq!(duration, 6000.0);

    // Killed while writing the second cluster.
    let (top, cut) = parse_file(&bytes[..cluster_end - 5]);
    assert!(cut, "cut inside the second cluster");
    assert_eq!(top[1].all(id::CLUSTER).len(), 1);
}

#[test]
fn tracks_past_their_room_are_refused_and_the_file_stays_whole() {
    let mut writer = MkvWriter::new(Cursor::new(Vec::new()), "test", 0).expect("new");
    let long = "a long name ".repeat(20);
    let mut added = 0;
    let refused = loop {
        match writer.add_track(video(&long)) {
            Ok(_) => added += 1,
            Err(err) => break err,
        }
    };
    assert!(added > 10, "{added}");
    assert!(format!("{refused}").contains("no room"), "{refused}");
    assert_eq!(writer.tracks().len(), added);
    writer.write_cluster(&[block(1, 0, b"x")]).expect("cluster");
    let (top, cut) = parse_file(&writer.finish(0).expect("finish").into_inner());
    assert!(!cut);
    assert_eq!(top[1].one(id::TRACKS).all(id::TRACK_ENTRY).len(), added);
}

#[test]
fn blocks_must_come_in_order_within_a_cluster_of_at_most_32_seconds() {
    let mut writer = MkvWriter::new(Cursor::new(Vec::new()), "test", 0).expect("new");
    writer.add_track(video("v")).expect("track");
    assert!(
        writer
            .write_cluster(&[block(1, 10, b"x"), block(1, 5, b"y")])
            .is_err()
    );
    assert!(
        writer
            .write_cluster(&[block(1, 0, b"x"), block(1, 40_000, b"y")])
            .is_err()
    );
    assert!(writer.write_cluster(&[block(2, 0, b"x")]).is_err());
    writer.write_cluster(&[block(1, 100, b"x")]).expect("fine");
    assert!(writer.write_cluster(&[block(1, 50, b"x")]).is_err());
}
