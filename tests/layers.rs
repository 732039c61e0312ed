//! Video layers when a receiver falls behind, with peers that speak the
//! protocol by hand (so the test decides exactly who reads and when): a
//! receiver whose queue overflows is moved to a smaller layer, the one that
//! keeps up is not, and once the slow one reads again it goes back up.

use common::layers::split_video_body;
use common::{
    ClientId, Event, Frame, Layer, LayerHeader, MediaHeader, MediaKind, MemberView, PixelSize,
    ReceiverLayer, Request,
};
use integration_tests::{RawPeer, ServerProcess};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The sender's three layers: full, half and quarter of 640x360, with bodies
/// big enough that the full layer outruns a receiver that stops reading.
const LAYERS: [(u8, u16, u16, usize); 3] = [
    (0, 640, 360, 60_000),
    (1, 320, 180, 15_000),
    (2, 160, 90, 4_000),
];
/// Pictures a second the sender sends (each in all three layers).
const PICTURE_EVERY: Duration = Duration::from_millis(20);
/// The sender stops after this many pictures whatever happens (60 s).
const MOST_PICTURES: u32 = 3_000;
const DEADLINE: Duration = Duration::from_secs(30);

fn layered_body(layer: u8, width: u16, height: u16, bytes: usize) -> Vec<u8> {
    let header = LayerHeader {
        layer: Layer(layer),
        size: PixelSize::new(width, height),
    };
    let mut body = header.encode().to_vec();
    // A JPEG's start marker: what makes the header count (PROTOCOL.md).
    body.extend_from_slice(&[0xFF, 0xD8]);
    body.resize(bytes, layer);
    body
}

fn ask_full_size(control: &mut RawPeer, sender: ClientId) {
    control.request(&Request::View {
        sizes: vec![MemberView {
            member: sender,
            width: 640,
            height: 360,
        }],
        others: None,
    });
    // A round trip: the view is in place once `members` comes back.
    control.request(&Request::Members);
    control.expect("members", |e| matches!(e, Event::Members { .. }));
}

/// What the server says `receiver` gets of `sender`.
fn layer_of(control: &mut RawPeer, receiver: ClientId, sender: ClientId) -> Option<ReceiverLayer> {
    control.request(&Request::ServerStats);
    let Event::ServerStats(report) =
        control.expect("server_stats", |e| matches!(e, Event::ServerStats(_)))
    else {
        unreachable!()
    };
    report
        .layers
        .into_iter()
        .find(|l| l.receiver == receiver && l.sender == sender)
}

/// Polls the server's stats until `pred` holds for `receiver`'s layer of
/// `sender`; panics with the last answer at the deadline.
fn wait_layer(
    control: &mut RawPeer,
    receiver: ClientId,
    sender: ClientId,
    what: &str,
    pred: impl Fn(&ReceiverLayer) -> bool,
) -> ReceiverLayer {
    let end = Instant::now() + DEADLINE;
    loop {
        let last = layer_of(control, receiver, sender);
        if let Some(layer) = last.as_ref().filter(|l| pred(l)) {
            return layer.clone();
        }
        assert!(Instant::now() < end, "never {what}; last: {last:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Reads a video socket until `stop`, keeping each frame's sequence and
/// layer in order.
fn read_layers(mut video: RawPeer, stop: Arc<AtomicBool>) -> JoinHandle<Vec<(u32, u8)>> {
    std::thread::spawn(move || {
        let _ = video
            .stream
            .tcp()
            .set_read_timeout(Some(Duration::from_millis(500)));
        let mut layers = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match video.next_media() {
                Ok(frame) => {
                    let (header, _) = split_video_body(&frame.body);
                    layers.push((frame.sequence, header.map_or(0, |h| h.layer.0)));
                }
                // A read timeout: nothing came for a moment; look at `stop`.
                Err(_) if !stop.load(Ordering::Relaxed) => continue,
                Err(_) => break,
            }
        }
        layers
    })
}

#[test]
fn a_receiver_that_falls_behind_gets_a_smaller_layer_and_then_the_full_one_again() {
    // A short queue: a receiver that stops reading overflows it within
    // seconds once its socket's buffers are full.
    let server = ServerProcess::start_with(&["--video-queue", "16"]);
    // Two watchers whose control sockets ask for the sender at 640x360 (the
    // full layer) and whose video sockets are attached.
    let (_, [mut sender_ctl, fast_member, slow_member]) =
        server.raw_meeting(["sender", "fast", "slow"]);
    let (sender, fast, slow) = (sender_ctl.id, fast_member.id, slow_member.id);
    let fast_video = fast_member.attach(MediaKind::Video);
    let slow_video = slow_member.attach(MediaKind::Video);
    let (mut fast_ctl, mut slow_ctl) = (fast_member.peer, slow_member.peer);
    ask_full_size(&mut fast_ctl, sender);
    ask_full_size(&mut slow_ctl, sender);
    let mut sender_video = sender_ctl.attach(MediaKind::Video);
    sender_ctl.peer.request(&Request::Members);
    sender_ctl.expect("members", |e| matches!(e, Event::Members { .. }));

    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let sending = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            for sequence in 0..MOST_PICTURES {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let header = MediaHeader {
                    sender: ClientId(0),
                    sequence,
                    timestamp_us: 0,
                };
                for (layer, width, height, bytes) in LAYERS {
                    let body = layered_body(layer, width, height, bytes);
                    sender_video
                        .send_bytes(Frame::media(MediaKind::Video, header, &body).as_bytes());
                }
                std::thread::sleep(PICTURE_EVERY);
            }
        })
    };
    let fast_reading = read_layers(fast_video, stop.clone());

    // Both start on the full layer (the slow one has not stopped reading
    // yet: its socket's buffers take the first seconds).
    wait_layer(
        &mut fast_ctl,
        fast,
        sender,
        "the full layer for fast",
        |l| l.layer == Some(Layer(0)) && l.held_down == 0,
    );

    // The slow one reads nothing: held down, while the fast one is not.
    let held = wait_layer(&mut fast_ctl, slow, sender, "the slow one held down", |l| {
        l.held_down >= 1
    });
    assert!(
        held.layer.is_some_and(|layer| layer.0 >= 1),
        "held down means a smaller layer: {held:?}"
    );
    assert!(held.reason.contains("fell behind"), "{held:?}");
    eprintln!("held down {:?} after the start", started.elapsed());
    let fast_then = layer_of(&mut fast_ctl, fast, sender);
    assert!(
        fast_then
            .as_ref()
            .is_some_and(|l| l.layer == Some(Layer(0)) && l.held_down == 0),
        "the one that keeps up keeps the full layer: {fast_then:?}"
    );

    // It reads again: back up to the full layer within a few let-up periods.
    let slow_reading = read_layers(slow_video, stop.clone());
    let started_reading = Instant::now();
    wait_layer(&mut fast_ctl, slow, sender, "the slow one back up", |l| {
        l.layer == Some(Layer(0)) && l.held_down == 0
    });
    let back_up_after = started_reading.elapsed();
    // Let a few full-size frames reach it before stopping.
    std::thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    sending.join().expect("the sender ran to its end");
    let fast_layers = fast_reading.join().expect("fast reader");
    let slow_layers = slow_reading.join().expect("slow reader");

    assert!(
        fast_layers.len() > 100,
        "fast got {} frames",
        fast_layers.len()
    );
    assert!(
        fast_layers.iter().all(|&(_, layer)| layer == 0),
        "the fast receiver only ever got the full layer"
    );
    assert!(
        slow_layers.iter().any(|&(_, layer)| layer > 0),
        "the slow receiver got smaller frames while held down"
    );
    assert_eq!(
        slow_layers.last().map(|&(_, layer)| layer),
        Some(0),
        "and the full layer again at the end"
    );
    // Layers switch between pictures: each picture reaches a receiver once,
    // in one layer, in order (the slow one misses those its queue dropped).
    for (who, frames) in [("fast", &fast_layers), ("slow", &slow_layers)] {
        let wrong: Vec<_> = frames
            .windows(2)
            .filter(|pair| pair[0].0 >= pair[1].0)
            .take(5)
            .collect();
        assert!(
            wrong.is_empty(),
            "{who} got a picture twice or out of order (sequence, layer): {wrong:?}"
        );
    }
    eprintln!(
        "slow receiver back on the full layer {back_up_after:?} after reading again; in {:?} fast got {} frames, slow {}",
        started.elapsed(),
        fast_layers.len(),
        slow_layers.len()
    );
}
