//! The registry's share of layer routing: what a meeting's video senders
//! are told to encode, and what `server_stats` says each receiver gets.
//!
//! The registry hands over the meeting as a list of `VideoMember`s (what
//! each member draws, what its video comes in, whether it has a video
//! socket, and whether the host stopped its video), so the rules for layers
//! live here and not among sockets and locks.

use super::{ReceiverView, SenderLayers, wanted};
use crate::outbox::Outbox;
use bytes::Bytes;
use common::{ClientId, Event, Frame, LayerSet, MediaKind, ReceiverLayer};
use std::collections::BTreeMap;

/// One member of a meeting, as layer routing sees it.
pub struct VideoMember<'a> {
    pub id: ClientId,
    /// Its video socket's queue; None while it has no video socket.
    pub socket: Option<&'a Outbox>,
    /// What it draws of the others.
    pub view: &'a ReceiverView,
    /// What its own video comes in, and what it was told to encode.
    pub layers: &'a SenderLayers,
    /// The host stopped its video: nobody receives it.
    pub blocked: bool,
    /// It says it shares video.
    pub sharing: bool,
    /// The layers of it that members on other servers want.
    pub elsewhere: LayerSet,
}

/// The `layers` event telling a sender what to encode.
pub fn layers_event(wanted: LayerSet) -> Bytes {
    Bytes::from(
        Frame::control(&Event::Layers {
            kind: MediaKind::Video,
            wanted,
        })
        .into_bytes(),
    )
}

/// Tells every member that sends video which layers its receivers want now,
/// if that changed.
pub fn announce(members: &[VideoMember<'_>]) {
    for sender in members {
        let Some(socket) = sender.socket else {
            continue;
        };
        let views = members
            .iter()
            .filter(|other| other.id != sender.id && !sender.blocked)
            .filter(|other| other.socket.is_some())
            .map(|other| other.view);
        let mut wanted = wanted(sender.id, sender.layers.full(), views);
        if !sender.blocked {
            wanted = wanted.union(sender.elsewhere);
        }
        sender.layers.announce(wanted, |wanted| {
            let _ = socket.push_control(layers_event(wanted));
        });
    }
}

/// What each receiver with a video socket gets of each sender with one, and
/// why (senders that share, or whose frames it gets).
pub fn reports(members: &[VideoMember<'_>]) -> Vec<ReceiverLayer> {
    let mut reports = Vec::new();
    for receiver in members.iter().filter(|m| m.socket.is_some()) {
        for sender in members
            .iter()
            .filter(|m| m.id != receiver.id && m.socket.is_some())
        {
            let report = receiver.view.report(receiver.id, sender.id);
            if sender.sharing || report.layer.is_some() {
                reports.push(report);
            }
        }
    }
    reports
}

/// Adds to `totals` how many receiver-sender pairs of the meeting get each
/// layer (and how many are held down).
pub fn count(members: &[VideoMember<'_>], totals: &mut BTreeMap<String, u64>) {
    for receiver in members.iter().filter(|m| m.socket.is_some()) {
        for sender in members.iter().filter(|m| m.id != receiver.id) {
            let report = receiver.view.report(receiver.id, sender.id);
            if !sender.sharing && report.layer.is_none() {
                continue;
            }
            let name = report.layer.map_or("none", |layer| layer.name());
            *totals.entry(name.to_string()).or_insert(0) += 1;
            if report.held_down > 0 {
                *totals.entry("held_down".to_string()).or_insert(0) += 1;
            }
        }
    }
}
