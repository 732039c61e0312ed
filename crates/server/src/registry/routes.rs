//! Where media goes: each client's route (the queues of the other members
//! of its meeting, per kind), republished whenever membership, attachments
//! or a host's stop change it, and the layer announcements that follow.
//! Media readers read a route through its `RouteSlot` without the registry
//! lock; the registry writes it under the lock.

use super::{State, lock};
use crate::cluster::media::Outlet;
use crate::layers::{self, ReceiverView, VideoMember};
use crate::outbox::Outbox;
use crate::speakers::SpeakerSelection;
use common::protocol::MAX_MEETING_MEMBERS;
use common::{
    ClientId, Event, LayerSet, MediaKind, MeetingId, MemberView, PerKind, PixelSize, ReceiverLayer,
};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Where one client's media goes: the outboxes of the other members of its
/// meeting, per kind.
#[derive(Default)]
pub struct Route {
    pub meeting: Option<MeetingId>,
    pub(super) receivers: PerKind<Vec<RouteReceiver>>,
    /// In a meeting that spans servers: the way to the others, per kind
    /// (none for a kind the host stopped).
    pub(super) outlet: PerKind<Option<Arc<Outlet>>>,
    /// Who is heard in the meeting.
    pub speakers: Option<Arc<SpeakerSelection>>,
}

/// One receiver of a route: its socket's queue and what it draws (which
/// video layer it gets).
#[derive(Clone)]
pub struct RouteReceiver {
    pub id: ClientId,
    pub outbox: Outbox,
    pub view: Arc<ReceiverView>,
}

impl Route {
    pub fn receivers(&self, kind: MediaKind) -> &[RouteReceiver] {
        &self.receivers[kind]
    }

    pub fn outlet(&self, kind: MediaKind) -> Option<&Outlet> {
        self.outlet[kind].as_deref()
    }
}

/// A client's current route; swapped by the registry, read by its media readers.
#[derive(Default)]
pub struct RouteSlot(Mutex<Arc<Route>>);

impl RouteSlot {
    pub fn current(&self) -> Arc<Route> {
        lock(&self.0).clone()
    }

    pub(super) fn set(&self, route: Route) {
        *lock(&self.0) = Arc::new(route);
    }
}

impl State {
    pub(super) fn reroute_of(&mut self, id: ClientId) {
        if let Some(meeting) = self.meeting_here(id) {
            self.reroute(&meeting);
        }
    }

    /// Republishes the route of every member of `meeting` on this server
    /// (`spans`: and tells the other servers, if it spans them).
    pub(super) fn reroute(&mut self, meeting: &MeetingId) {
        if self.cluster.is_some() {
            let held_elsewhere = self
                .spans
                .get(meeting)
                .is_some_and(|span| !span.held_here());
            if held_elsewhere {
                return self.reroute_span(meeting);
            }
            if self.reroute_held(meeting) {
                return;
            }
        }
        self.reroute_alone(meeting);
    }

    /// Republishes the routes of a meeting whose members are all here.
    pub(super) fn reroute_alone(&mut self, meeting: &MeetingId) {
        let members = self.rules.members(meeting);
        for &member in members {
            let route = self.route_among(
                meeting,
                member,
                members,
                |kind| self.rules.blocked(member, kind),
                None,
            );
            if let Some(session) = self.sessions.get(&member) {
                session.route.set(route);
            }
        }
        self.speakers.members(meeting, members);
        self.announce_layers(meeting);
    }

    /// The route of `member` among `members` of `meeting` (all on this
    /// server): each other member's socket of each kind, and `outlet` in a
    /// meeting that spans servers; nothing of a kind `blocked` says the host
    /// stopped, whatever the member's client does.
    pub(super) fn route_among(
        &self,
        meeting: &MeetingId,
        member: ClientId,
        members: &[ClientId],
        blocked: impl Fn(MediaKind) -> bool,
        outlet: Option<&Arc<Outlet>>,
    ) -> Route {
        let mut route = Route {
            meeting: Some(meeting.clone()),
            speakers: Some(self.speakers.of(meeting)),
            ..Route::default()
        };
        for kind in MediaKind::ALL {
            if blocked(kind) {
                continue;
            }
            route.receivers[kind] = members
                .iter()
                .filter(|&&other| other != member)
                .filter_map(|&other| self.receiver(other, kind))
                .collect();
            route.outlet[kind] = outlet.cloned();
        }
        route
    }

    /// `id`'s socket of `kind`, as a receiver of others' media.
    pub(super) fn receiver(&self, id: ClientId, kind: MediaKind) -> Option<RouteReceiver> {
        let session = self.sessions.get(&id)?;
        let socket = session.media[kind].as_ref()?;
        Some(RouteReceiver {
            id,
            outbox: socket.outbox.clone(),
            view: session.view.clone(),
        })
    }

    /// `id` says what it draws of each member (`view`); every sender of its
    /// meeting may now have to encode other layers.
    pub(super) fn set_view(
        &mut self,
        id: ClientId,
        sizes: Vec<MemberView>,
        others: Option<PixelSize>,
    ) {
        if sizes.len() > MAX_MEETING_MEMBERS {
            let message = format!(
                "view: at most {MAX_MEETING_MEMBERS} sizes (one per member); this one was not carried out"
            );
            return self.rules.tell(id, Event::Error { message });
        }
        let Some(session) = self.sessions.get(&id) else {
            return;
        };
        let sizes = sizes
            .into_iter()
            .map(|view| (view.member, PixelSize::new(view.width, view.height)))
            .collect();
        session.view.set(sizes, others);
        if let Some(meeting) = self.meeting_here(id) {
            self.announce_layers(&meeting);
            self.say_wants(&meeting, false);
        }
    }

    /// The members of `meeting` as layer routing sees them.
    fn video_members(&self, meeting: &MeetingId) -> Vec<VideoMember<'_>> {
        let span = self.spans.get(meeting);
        let members = match span {
            Some(span) if !span.held_here() => span.local.as_slice(),
            _ => self.rules.members(meeting),
        };
        members
            .iter()
            .filter_map(|&id| {
                let session = self.sessions.get(&id)?;
                let blocked = match span {
                    Some(span) => span.blocked(id, MediaKind::Video),
                    None => self.rules.blocked(id, MediaKind::Video),
                };
                Some(VideoMember {
                    id,
                    socket: session.media[MediaKind::Video].as_ref().map(|s| &s.outbox),
                    view: &session.view,
                    layers: &session.layers,
                    blocked,
                    sharing: self.rules.sharing(id, MediaKind::Video),
                    elsewhere: span.map_or(LayerSet::NONE, |span| span.outlet.wants_of(id)),
                })
            })
            .collect()
    }

    /// Tells every member of `meeting` that sends video which layers its
    /// receivers want now, if that changed.
    pub(super) fn announce_layers(&self, meeting: &MeetingId) {
        layers::announce(&self.video_members(meeting));
    }

    /// What each receiver in `id`'s meeting gets of each sender, and why.
    pub(super) fn layers_in_meeting_of(&self, id: ClientId) -> Vec<ReceiverLayer> {
        match self.meeting_here(id) {
            Some(meeting) => layers::reports(&self.video_members(&meeting)),
            None => Vec::new(),
        }
    }

    /// How many receiver-sender pairs on the server get each layer.
    pub(super) fn layer_totals(&self) -> BTreeMap<String, u64> {
        let mut totals = BTreeMap::new();
        for meeting in self.rules.meeting_ids() {
            layers::count(&self.video_members(&meeting), &mut totals);
        }
        totals
    }
}
