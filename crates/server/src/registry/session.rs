//! One client's side of the transport, as the registry keeps it: its
//! token, its control queue and the event log behind it, its media sockets,
//! its route, and what it draws and sends of video. The meeting side of the
//! same client lives in the rules.

use super::event_log::EventLog;
use super::routes::RouteSlot;
use crate::layers::{ReceiverView, SenderLayers};
use crate::outbox::Outbox;
use common::{ClientId, MediaKind, PerKind, SessionToken};
use std::net::{IpAddr, TcpStream};
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A socket the registry may have to close (absent in unit tests).
pub type Closer = Option<TcpStream>;

/// What a successful `attach` gives the media connection.
pub struct Attachment {
    pub id: u64,
    pub route: Arc<RouteSlot>,
    /// The layers this client's video is known to come in (video only).
    pub layers: Arc<SenderLayers>,
}

pub(super) struct MediaSocket {
    pub(super) attachment: u64,
    pub(super) outbox: Outbox,
    pub(super) closer: Closer,
}

/// Where a session's meeting life happens (`spans`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) enum Link {
    /// Here: a client of this server, in no meeting or in one held here.
    #[default]
    Local,
    /// A member of this other server, seated in a meeting held here.
    SeatOf(String),
    /// A client of this server, seated in a meeting this other server holds.
    SeatedAt(String),
}

/// One client's side of the transport: where its events and media go.
pub(super) struct Session {
    pub(super) link: Link,
    /// Its standing ticket from the holder it is seated at...
    pub(super) standing: Option<common::Event>,
    /// ...and the number of the last chat message the holder told it: what
    /// it says when it rejoins the meeting where it goes on.
    pub(super) chat_seen: u64,
    pub(super) token: SessionToken,
    /// None while the session is held (its control connection broke).
    pub(super) control: Option<Outbox>,
    pub(super) control_closer: Closer,
    /// Which control connection is the session's: each `resume` makes a new
    /// one, and what an older one reads or says is ignored.
    pub(super) control_epoch: u64,
    pub(super) events: EventLog,
    /// Requests read from the session's control connections and carried out.
    pub(super) requests_handled: u64,
    /// Where its control connection comes from (held sessions are counted
    /// per address).
    pub(super) address: Option<IpAddr>,
    pub(super) media: PerKind<Option<MediaSocket>>,
    pub(super) route: Arc<RouteSlot>,
    /// What it draws of the others' video (`view`).
    pub(super) view: Arc<ReceiverView>,
    /// The layers its own video comes in, and what it was told to encode.
    pub(super) layers: Arc<SenderLayers>,
}

impl Session {
    pub(super) fn new(
        token: SessionToken,
        control: Option<Outbox>,
        control_closer: Closer,
        address: Option<IpAddr>,
    ) -> Session {
        Session {
            link: Link::Local,
            standing: None,
            chat_seen: 0,
            token,
            control,
            control_closer,
            control_epoch: 0,
            events: EventLog::default(),
            requests_handled: 0,
            address,
            media: PerKind::default(),
            route: Arc::default(),
            view: Arc::default(),
            layers: Arc::default(),
        }
    }
}

/// Tells the operator how much media a receiver could not keep up with.
pub(super) fn log_drops(id: ClientId, kind: MediaKind, socket: &MediaSocket) {
    let stats = socket.outbox.stats();
    let (queued, dropped) = (
        stats.queued.load(Ordering::Relaxed),
        stats.dropped.load(Ordering::Relaxed),
    );
    if dropped > 0 {
        tracing::info!(client = %id, "{kind}: dropped {dropped} of {queued} frames for this slow receiver");
    }
}

pub(super) fn peer_address(closer: &Closer) -> Option<IpAddr> {
    closer
        .as_ref()
        .and_then(|socket| socket.peer_addr().ok())
        .map(|peer| peer.ip().to_canonical())
}
