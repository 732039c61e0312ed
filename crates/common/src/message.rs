//! Control messages: what a client asks (`Request`) and what the server tells
//! (`Event`), as JSON objects tagged by `"request"` or `"event"`.
//!
//! The client's `--json` output uses the same `Event` objects, so a script reads
//! exactly what the server said; docs/PROTOCOL.md and the README list them all.

use crate::ids::{ClientId, MeetingId};
use crate::layers::{LayerSet, MemberView, PixelSize, ReceiverLayer};
use crate::media::{MediaKind, PerKind};
use serde::{Deserialize, Serialize};

/// One input event from a remote controller to a shared screen's owner.
///
/// Coordinates are pixels of the shared screen (what the owner's encoder sends),
/// so the controller needs no knowledge of the owner's display. Keys are X
/// keysyms: Latin-1 characters are their code point, other characters
/// `0x0100_0000 + code point`, named keys their X11 keysym (`XK_Return` 0xff0d).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum InputEvent {
    /// A key pressed (`down`) or released.
    Key { keysym: u32, down: bool },
    /// The pointer moved to (`x`, `y`) on the shared screen.
    Pointer { x: u32, y: u32 },
    /// A mouse button pressed or released: 1 left, 2 middle, 3 right, 4/5 wheel up/down.
    Button { button: u8, down: bool },
}

/// A server of the cluster: where its clients connect (`host:port`), and
/// the key it shows (`cluster_servers`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerAddress {
    pub server: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// Who a member was on a server of its cluster that died (`hello`): its
/// id, and the meeting and standing ticket that prove it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Returning {
    pub id: ClientId,
    pub meeting: MeetingId,
    pub ticket: String,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// From client to server, on the control socket (`attach`: on a media socket).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// First message on a control socket.
    Hello {
        protocol: u32,
        name: String,
        /// On a server of a cluster, after your own server died: who you
        /// were there. With a standing ticket that proves it you keep your
        /// member id (see `welcome`), and `rejoin` with the ticket resumes
        /// your place in the meeting.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        returning: Option<Returning>,
    },
    /// First message on a new control socket of a session whose connection
    /// broke, instead of `hello`: `events_seen` control events were received
    /// on the old one (`welcome` is the first), and `requests_sent` requests
    /// were sent on all of them. Answered with `resumed`, then every event
    /// after the first `events_seen`.
    Resume {
        id: ClientId,
        token: String,
        events_seen: u64,
        requests_sent: u64,
    },
    /// First (and only) control message on a media socket.
    Attach {
        kind: MediaKind,
        id: ClientId,
        token: String,
    },
    /// Start a meeting; with a passcode it is private (unlisted, and joining
    /// needs the passcode).
    Create {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passcode: Option<String>,
    },
    Join {
        meeting: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passcode: Option<String>,
    },
    /// Join `meeting`, which another server of the cluster handed over to
    /// this one, with the `ticket` it gave you (`meeting_moved`): you come
    /// back as you were, host included, past its passcode, lobby and lock.
    Rejoin {
        meeting: String,
        ticket: String,
        /// The `seq` of the last chat or private message you saw in it, if
        /// any: the messages after it that you missed follow `joined`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        chat_seen: Option<u64>,
    },
    Leave,
    Cancel,
    Meetings,
    Members,
    Chat {
        text: String,
    },
    /// A chat message for one member of the meeting only (`to`); the
    /// server delivers it to `to` and echoes it to the sender, nobody else.
    Private {
        to: ClientId,
        text: String,
    },
    /// Raise (`true`) or lower your hand; the host may lower another
    /// member's (`member`, with `raised: false`).
    Hand {
        raised: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        member: Option<ClientId>,
    },
    /// A short reaction (an emoji or two) shown to every member for a moment.
    React {
        emoji: String,
    },
    /// The sender starts or stops sharing a kind of media.
    Media {
        kind: MediaKind,
        on: bool,
    },
    /// The server's traffic counters (answered with `server_stats`).
    ServerStats,
    /// Ask `member` for a complete picture of what it shares as `kind` (a
    /// receiver that lost frames of a screen cannot rebuild it from changes).
    Keyframe {
        member: ClientId,
        kind: MediaKind,
    },
    /// Ask the member sharing a screen (`owner`) to let you control it.
    ControlRequest {
        owner: ClientId,
    },
    /// Let `controller` control the screen you share (one at a time).
    ControlGrant {
        controller: ClientId,
    },
    /// The owner takes control back, or the controller gives it up.
    ControlRevoke,
    /// Input for the screen you were granted control of.
    Input {
        events: Vec<InputEvent>,
    },
    /// Host only: set or change the passcode (`None` removes it: public again).
    Passcode {
        #[serde(default)]
        passcode: Option<String>,
    },
    /// Host only: let nobody new in (`true`), or open the meeting again.
    Lock {
        locked: bool,
    },
    /// Host only: take a member out; it cannot come back until allowed.
    Remove {
        member: ClientId,
    },
    /// Host only: stop a member's `kind` (every member's but the host's with
    /// `member` absent) for everyone, until allowed.
    Block {
        #[serde(default)]
        member: Option<ClientId>,
        kind: MediaKind,
    },
    /// Host only: let a removed member back (`kind` absent), or let a member
    /// share a stopped `kind` again.
    Allow {
        member: ClientId,
        #[serde(default)]
        kind: Option<MediaKind>,
    },
    /// Host only: hand the host role to `member`.
    MakeHost {
        member: ClientId,
    },
    /// Host only: joiners wait in a lobby until the host admits them (`true`),
    /// or come straight in (`false`: everyone waiting is admitted).
    Lobby {
        on: bool,
    },
    /// Host only: let a member waiting in the lobby in.
    Admit {
        member: ClientId,
    },
    /// Host only: turn a member waiting in the lobby away; it cannot knock
    /// on this meeting again.
    Deny {
        member: ClientId,
    },
    /// What you draw of each member's video: its picture fitted into
    /// `width` x `height` pixels (`sizes`), and for members not listed,
    /// `others` (absent: no video at all; `PixelSize::FULL`: the full size).
    /// Each `view` replaces the one before; a client that never sent one gets
    /// every member's full size. At most `MAX_MEETING_MEMBERS` sizes.
    View {
        #[serde(default)]
        sizes: Vec<MemberView>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        others: Option<PixelSize>,
    },
    /// Are you there? Answered with `pong`: the keep-alive of the protocol
    /// itself, which notices a server that stopped answering (TCP's does not:
    /// a stopped process's kernel still acknowledges).
    Ping,
}

/// A member as named in events about them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRef {
    pub id: ClientId,
    pub name: String,
}

/// A member with their role and what they share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberInfo {
    pub id: ClientId,
    pub name: String,
    /// Absent: not the host (`member_joined` from a server before it
    /// carried member objects had only `id` and `name`).
    #[serde(default)]
    pub host: bool,
    /// Their hand is raised (absent: not raised).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub hand: bool,
    /// What they share: one key per media kind (`"video": true`).
    #[serde(flatten)]
    pub sharing: PerKind<bool>,
}

/// One line of the meeting list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeetingSummary {
    pub id: MeetingId,
    /// The host's name.
    pub host: String,
    pub host_id: ClientId,
    /// How many members it has.
    pub members: usize,
    /// It has a passcode (listed only to its own members).
    #[serde(default)]
    pub private: bool,
    /// The host lets nobody new in.
    #[serde(default)]
    pub locked: bool,
    /// Another server of the cluster holds it (`host:port`); absent when
    /// the server that answered does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
}

/// What the server relayed of one frame type since it started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficStats {
    pub frames_in: u64,
    pub bytes_in: u64,
    pub frames_out: u64,
    pub bytes_out: u64,
    /// Frames dropped for receivers that did not keep up (oldest first).
    pub dropped: u64,
    /// The most frames ever waiting in one receiver's queue of this type.
    pub queue_high_water: u64,
}

/// The server's figures, for operators (`server_stats`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerStatsReport {
    pub uptime_s: u64,
    /// Sockets open now (a client uses three) and accepted since the start.
    pub connections: u64,
    pub connections_total: u64,
    pub clients: usize,
    pub meetings: usize,
    pub control: TrafficStats,
    /// One key per media kind (`"video": {...}`).
    #[serde(flatten)]
    pub media: PerKind<TrafficStats>,
    /// The video layer each receiver gets of each sender, and why: for the
    /// asker's own meeting only (ids, no names).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layers: Vec<ReceiverLayer>,
    /// How many receiver-sender pairs on the whole server get each layer
    /// (`full`, `half`, `quarter`), none (`none`), or are held down for
    /// falling behind (`held_down`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub layer_totals: std::collections::BTreeMap<String, u64>,
    /// The cluster this server belongs to (absent without `--cluster`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterReport>,
}

/// A server's view of its cluster (`server_stats`, metrics).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterReport {
    /// The cluster's name and this server's name in it.
    pub name: String,
    pub server: String,
    /// The backbone (NATS) is connected now.
    pub connected: bool,
    /// The other servers heard from lately, by name.
    pub peers: Vec<String>,
    /// Meetings this server holds (it runs their rules).
    pub meetings_held: usize,
    /// Meetings of the cluster held by other servers.
    pub meetings_elsewhere: usize,
    /// What crossed the backbone, as the NATS client counts it.
    pub messages_in: u64,
    pub messages_out: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Messages to the backbone dropped because it did not keep up.
    pub dropped_out: u64,
    /// Frames from the backbone dropped because this server did not keep up.
    #[serde(default)]
    pub dropped_in: u64,
    /// Times the NATS server said this server's subscription fell behind.
    pub slow_consumer_events: u64,
}

/// From server to client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// Answer to `hello`: who you are, and the token your media sockets attach with.
    Welcome {
        protocol: u32,
        id: ClientId,
        name: String,
        token: String,
    },
    /// Answer to `resume`: the session goes on. The server had handled the
    /// first `requests_handled` requests (send the rest again); the events
    /// after `events_seen` follow. `events_lost` counts events no longer
    /// kept: then the current state (`joined`, if in a meeting) follows
    /// instead of them. Not counted as an event itself.
    Resumed {
        id: ClientId,
        name: String,
        requests_handled: u64,
        #[serde(default)]
        events_lost: u64,
    },
    /// Answer to `attach` on a media socket.
    Attached { kind: MediaKind },
    /// On a server of a cluster, after `joined`: your way back into
    /// `meeting` should its server die. `rejoin` it with this ticket at
    /// another server of the cluster, which takes the meeting over (or
    /// says where it went). A new one comes with each join.
    Ticket {
        meeting: MeetingId,
        ticket: String,
        /// The meeting was made again after its server died without its
        /// chat (the cluster could not give it back): its chat numbers
        /// start again, and the last one you saw says nothing here.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        chat_renumbered: bool,
    },
    /// On a server of a cluster, before each `ticket`: the other servers of
    /// the cluster it knows alive, each with the key it shows (absent
    /// without TLS), vouched for by this server. Where to `rejoin` should
    /// this server die; a client trusts these keys for these addresses as
    /// it trusts a key named in `meeting_moved`.
    ClusterServers { servers: Vec<ServerAddress> },
    /// The server you are on is stopping and hands your meeting over to
    /// `server` (`host:port`) of its cluster, whose key is `fingerprint`
    /// (absent without TLS), vouched for by this server. Connect there and
    /// `rejoin` the meeting with `ticket` (yours alone, for a minute). Sent
    /// before `shutdown`, which then means "move", not "the end".
    MeetingMoved {
        meeting: MeetingId,
        server: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
        ticket: String,
    },
    /// To the members of a meeting that spans servers of a cluster, on one
    /// server: `split` true when this server lost the cluster's backbone
    /// (until it heals you hear only the members on this server, and they
    /// you), false when it is whole again.
    Split { meeting: MeetingId, split: bool },
    /// Answer to `join` (or `rejoin`) from a server of a cluster that does not hold the
    /// meeting: `server` (`host:port`) does, and its key is `fingerprint`
    /// (absent without TLS), vouched for by the server that answers. The
    /// client connects there and joins again; nothing changed here.
    MeetingElsewhere {
        meeting: MeetingId,
        server: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fingerprint: Option<String>,
    },
    /// You created a meeting (a `joined` follows: you are its host).
    /// With the passcode the creator chose, if any: the host passes it on
    /// with the id.
    Created {
        meeting: MeetingId,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passcode: Option<String>,
    },
    /// You are now in a meeting; `members` includes you.
    Joined {
        meeting: MeetingId,
        members: Vec<MemberInfo>,
    },
    /// Someone entered the meeting (joined, or let in from the lobby), with
    /// what they already share: a source turned on before joining sends from
    /// the first moment, and no `media` event follows for it.
    MemberJoined {
        meeting: MeetingId,
        member: MemberInfo,
    },
    MemberLeft {
        meeting: MeetingId,
        member: MemberRef,
    },
    /// A member's connection broke: the server holds its place while it
    /// reconnects (`member_back`), or until it gives up (`member_left`).
    MemberReconnecting {
        meeting: MeetingId,
        member: MemberRef,
    },
    /// A member that was reconnecting is back.
    MemberBack {
        meeting: MeetingId,
        member: MemberRef,
    },
    /// The host left and the member who has been there longest is host now.
    HostChanged { meeting: MeetingId, host: MemberRef },
    /// You left the meeting.
    Left { meeting: MeetingId },
    /// The host cancelled the meeting; it no longer exists.
    Ended { meeting: MeetingId },
    Chat {
        meeting: MeetingId,
        from: String,
        from_id: ClientId,
        text: String,
        /// Its number in the meeting's chat (private messages included),
        /// from 1; absent from servers that do not number it.
        #[serde(default, skip_serializing_if = "is_zero")]
        seq: u64,
    },
    /// A private message: to its addressee (`to`) and, as an echo, to its
    /// sender; nobody else hears of it.
    Private {
        meeting: MeetingId,
        from: MemberRef,
        to: MemberRef,
        text: String,
        /// Numbered with the chat (`chat`'s `seq`).
        #[serde(default, skip_serializing_if = "is_zero")]
        seq: u64,
    },
    /// To every member: `member`'s hand went up or down (`by` the member
    /// or the host).
    Hand {
        meeting: MeetingId,
        member: MemberRef,
        raised: bool,
        by: MemberRef,
    },
    /// To every member: `member` reacted.
    Reaction {
        meeting: MeetingId,
        member: MemberRef,
        emoji: String,
    },
    /// Answer to `meetings`: at most `MAX_LISTED_MEETINGS`, of `total`.
    Meetings {
        meetings: Vec<MeetingSummary>,
        total: usize,
    },
    /// Answer to `members`.
    Members {
        meeting: MeetingId,
        members: Vec<MemberInfo>,
    },
    /// A member (maybe you) started or stopped sharing.
    Media {
        meeting: MeetingId,
        member: MemberRef,
        kind: MediaKind,
        on: bool,
    },
    /// A request failed, or the connection broke the protocol (then it is closed).
    Error { message: String },
    /// The server is stopping; the connection closes next.
    Shutdown { message: String },
    /// Answer to `server_stats`.
    ServerStats(Box<ServerStatsReport>),
    /// Sent to a sharer only: `by` asks for a complete picture of `kind`.
    Keyframe { kind: MediaKind, by: MemberRef },
    /// To every member: `controller` asks to control `owner`'s screen.
    ControlRequested {
        meeting: MeetingId,
        owner: MemberRef,
        controller: MemberRef,
    },
    /// To every member: `owner` let `controller` control its screen.
    ControlGranted {
        meeting: MeetingId,
        owner: MemberRef,
        controller: MemberRef,
    },
    /// To every member: the grant ended (revoked, given up, screen stopped, someone left).
    ControlRevoked {
        meeting: MeetingId,
        owner: MemberRef,
        controller: MemberRef,
    },
    /// To a screen's owner only: input from the member it granted control.
    Input {
        from: ClientId,
        events: Vec<InputEvent>,
    },
    /// To every member: the host made the meeting private (a passcode) or public.
    /// Also to a joiner of a private meeting (after `joined`), so it knows
    /// others need the passcode. The host's copy (and a new host's) carries
    /// the passcode itself, to pass on; nobody else's does.
    Privacy {
        meeting: MeetingId,
        private: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        passcode: Option<String>,
    },
    /// To every member: the host locked or opened the meeting.
    Locked {
        meeting: MeetingId,
        locked: bool,
        by: MemberRef,
    },
    /// To the member the host removed (the others see `member_left`).
    Removed { meeting: MeetingId, by: MemberRef },
    /// To every member: the host turned the lobby on or off.
    Lobby {
        meeting: MeetingId,
        on: bool,
        by: MemberRef,
    },
    /// To the host: who waits in the lobby now, in order of arrival (sent on
    /// every change, and to a new host; empty: nobody waits).
    Waiting {
        meeting: MeetingId,
        waiting: Vec<MemberRef>,
    },
    /// To a joiner: you wait in the meeting's lobby until the host admits
    /// you (`joined`) or not (`not_admitted`); `leave` stops waiting.
    InLobby { meeting: MeetingId },
    /// To a member waiting in the lobby: it will not get in, and why.
    NotAdmitted { meeting: MeetingId, reason: String },
    /// Answer to `ping`.
    Pong,
    /// On a video socket, to its sender: encode only these layers of `kind`
    /// (the ones some receiver gets now); empty: nobody watches.
    Layers { kind: MediaKind, wanted: LayerSet },
    /// To every member: the host stopped (or allowed again) a member's `kind`.
    Blocked {
        meeting: MeetingId,
        member: MemberRef,
        kind: MediaKind,
        blocked: bool,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_and_events_have_the_documented_json_shape() {
        let join = serde_json::to_value(Request::Join {
            meeting: "abc-def".into(),
            passcode: None,
        })
        .expect("serialises");
        assert_eq!(
            join,
            serde_json::json!({"request": "join", "meeting": "abc-def"})
        );
        let media: Request =
            serde_json::from_str(r#"{"request":"media","kind":"audio","on":true}"#)
                .expect("parses");
        assert_eq!(
            media,
            Request::Media {
                kind: MediaKind::Audio,
                on: true
            }
        );

        let meeting = MeetingId::parse("abc-def").expect("valid id");
        let mut sharing = PerKind::splat(false);
        sharing[MediaKind::Video] = true;
        let event = Event::MemberJoined {
            meeting,
            member: MemberInfo {
                id: ClientId(3),
                name: "ana".into(),
                host: false,
                hand: false,
                sharing,
            },
        };
        assert_eq!(
            serde_json::to_value(event).expect("serialises"),
            serde_json::json!({"event": "member_joined", "meeting": "abc-def", "member": {"id": 3, "name": "ana", "host": false, "video": true, "audio": false, "screen": false}})
        );
        // As a server of the last release sent it: a member sharing nothing.
        let older: Event = serde_json::from_value(serde_json::json!(
            {"event": "member_joined", "meeting": "abc-def", "member": {"id": 3, "name": "ana"}}
        ))
        .expect("parses");
        assert!(
            matches!(older, Event::MemberJoined { member, .. } if !member.host && !member.sharing[MediaKind::Video])
        );
    }

    #[test]
    fn member_info_and_server_stats_keep_one_flat_key_per_kind() {
        let mut sharing = PerKind::splat(false);
        sharing[MediaKind::Audio] = true;
        let member = MemberInfo {
            id: ClientId(3),
            name: "ana".into(),
            host: true,
            hand: false,
            sharing,
        };
        let json = serde_json::to_value(&member).expect("serialises");
        assert_eq!(
            json,
            serde_json::json!({"id": 3, "name": "ana", "host": true, "video": false, "audio": true, "screen": false})
        );
        let back: MemberInfo = serde_json::from_value(json).expect("parses");
        assert_eq!(back, member);

        let report = ServerStatsReport::default();
        let json = serde_json::to_value(&report).expect("serialises");
        for key in ["control", "video", "audio"] {
            assert!(json[key].is_object(), "{key} in {json}");
        }
        let back: ServerStatsReport = serde_json::from_value(json).expect("parses");
        assert_eq!(back, report);
    }

    #[test]
    fn unknown_requests_are_rejected() {
        assert!(serde_json::from_str::<Request>(r#"{"request":"fly"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"text":"no tag"}"#).is_err());
    }
}
