//! A spanning meeting's media on the backbone, as one server sees it.
//!
//! `Outlet`: what its own members send, published once per frame for every
//! other server of the meeting together (audio and screens whole, video
//! only in the layers some other server said its members want).
//!
//! `Inlet`: what the other servers' members send, handed to its own
//! members as if they had sent it here: each receiver gets the layer of
//! each sender it would get from a sender on this server. It also works
//! out which layers its members want of each remote sender (`wants`), which
//! is what the others publish and what this server subscribes to.
//!
//! Neither takes the registry's lock: the registry swaps what they hold
//! when the meeting changes, as it does for routes.

use super::backbone::Publisher;
use crate::layers::{SeenLayers, full_size, wanted};
use crate::registry::RouteReceiver;
use async_nats::Subject;
use bytes::Bytes;
use common::layers::VIDEO_LAYERS;
use common::sync::lock;
use common::{
    ClientId, FrameKind, FrameReader, Layer, LayerSet, MediaKind, MeetingId, PerKind, PixelSize,
};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// One meeting's way out to the other servers.
pub struct Outlet {
    publisher: Publisher,
    subjects: PerKind<Subject>,
    video: [Subject; VIDEO_LAYERS],
    /// Per server: the layers its members want of each sender here.
    wants: Mutex<HashMap<String, HashMap<ClientId, LayerSet>>>,
}

impl Outlet {
    pub fn new(
        publisher: Publisher,
        subjects: &super::wire::Subjects,
        meeting: &MeetingId,
    ) -> Outlet {
        let subject = |kind, layer| Subject::from(subjects.media(meeting, kind, layer));
        Outlet {
            subjects: PerKind::from_fn(|kind| subject(kind, Layer::FULL)),
            video: std::array::from_fn(|layer| subject(MediaKind::Video, Layer(layer as u8))),
            publisher,
            wants: Mutex::new(HashMap::new()),
        }
    }

    /// Publishes a frame of `sender` (stamped), unless it is video in a
    /// layer no other server wants of it.
    pub fn publish(&self, kind: MediaKind, layer: Layer, sender: ClientId, frame: &Bytes) {
        let subject = if kind == MediaKind::Video {
            if !self.wants_of(sender).contains(layer) {
                return;
            }
            match self.video.get(layer.index()) {
                Some(subject) => subject,
                None => return,
            }
        } else {
            &self.subjects[kind]
        };
        self.publisher.publish(subject.clone(), frame.clone());
    }

    /// The layers of `sender` some other server wants.
    pub fn wants_of(&self, sender: ClientId) -> LayerSet {
        lock(&self.wants)
            .values()
            .filter_map(|wants| wants.get(&sender))
            .fold(LayerSet::NONE, |all, set| all.union(*set))
    }

    /// `server` says what its members want now.
    pub fn heard_wants(&self, server: &str, video: Vec<(ClientId, LayerSet)>) {
        lock(&self.wants).insert(server.to_string(), video.into_iter().collect());
    }

    /// Forgets the wants of servers no longer in the meeting.
    pub fn keep_servers(&self, servers: &HashSet<String>) {
        lock(&self.wants).retain(|server, _| servers.contains(server));
    }
}

/// Who of this server gets a spanning meeting's frames from elsewhere.
#[derive(Default)]
pub struct InletRoute {
    pub receivers: PerKind<Vec<RouteReceiver>>,
    /// The members on other servers, each with the kinds the host stopped.
    pub remote: Vec<(ClientId, PerKind<bool>)>,
}

/// What this server saw lately of one remote sender's video.
#[derive(Default)]
struct RemoteVideo {
    seen: SeenLayers,
    full: Option<PixelSize>,
}

/// One meeting's way in from the other servers.
#[derive(Default)]
pub struct Inlet {
    route: Mutex<Arc<InletRoute>>,
    video: Mutex<HashMap<ClientId, RemoteVideo>>,
}

/// Why a frame from the backbone went nowhere.
#[derive(Debug)]
pub enum Refused {
    Malformed(String),
    /// Not from a member on another server, or of a kind the host stopped.
    NotExpected(ClientId),
}

impl Inlet {
    pub fn set_route(&self, route: InletRoute) {
        let senders: HashSet<ClientId> = route.remote.iter().map(|(id, _)| *id).collect();
        lock(&self.video).retain(|sender, _| senders.contains(sender));
        *lock(&self.route) = Arc::new(route);
    }

    /// Hands a frame of `kind` from the backbone to this server's members.
    pub fn forward(&self, kind: MediaKind, payload: &[u8]) -> Result<(), Refused> {
        let frame = FrameReader::new(payload, &[FrameKind::from(kind)])
            .read_frame()
            .map_err(|err| Refused::Malformed(err.to_string()))?
            .ok_or_else(|| Refused::Malformed("an empty message".into()))?;
        let sender = frame
            .media_header()
            .map_err(|err| Refused::Malformed(err.to_string()))?
            .sender;
        let route = lock(&self.route).clone();
        let expected = route
            .remote
            .iter()
            .any(|(id, blocked)| *id == sender && !blocked[kind]);
        if !expected {
            return Err(Refused::NotExpected(sender));
        }
        let video = (kind == MediaKind::Video).then(|| crate::layers::VideoFrame::of(&frame));
        let bytes = Bytes::from(frame.into_bytes());
        let now = Instant::now();
        let Some(video) = video else {
            for receiver in route.receivers[kind].iter() {
                let kept = receiver.outbox.push_media(bytes.clone());
                if !kept && kind == MediaKind::Audio {
                    receiver.view.dropped(now);
                }
            }
            return Ok(());
        };
        let produced = {
            let mut remote = lock(&self.video);
            let seen = remote.entry(sender).or_default();
            seen.seen.saw(video.layer(), video.size(), now);
            if let Some(full) = full_size(video.layer(), video.size()) {
                seen.full = Some(full);
            }
            seen.seen.produced(now)
        };
        for receiver in route.receivers[MediaKind::Video].iter() {
            if receiver
                .view
                .accepts(sender, video.layer(), video.sequence(), &produced, now)
                && !receiver.outbox.push_media(bytes.clone())
            {
                receiver.view.dropped(now);
            }
        }
        Ok(())
    }

    /// The layers this server's members want of each remote sender of
    /// video, now; and all of them together (what to subscribe to).
    pub fn wants(&self) -> (Vec<(ClientId, LayerSet)>, LayerSet) {
        let route = lock(&self.route).clone();
        let remote = lock(&self.video);
        let mut all = LayerSet::NONE;
        let wants = route
            .remote
            .iter()
            .filter(|(_, blocked)| !blocked[MediaKind::Video])
            .map(|(sender, _)| {
                let full = remote.get(sender).and_then(|video| video.full);
                let views = route.receivers[MediaKind::Video]
                    .iter()
                    .map(|receiver| &*receiver.view);
                let set = wanted(*sender, full, views);
                all = all.union(set);
                (*sender, set)
            })
            .collect();
        (wants, all)
    }
}
