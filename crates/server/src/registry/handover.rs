//! The registry's side of handing meetings over (`rules::handover`): on a
//! stopping server, every meeting goes to one heir, and its members are
//! told only once the heir can have the handoff; on the heir, a `rejoin` of
//! a meeting not here yet waits (outside the lock) a moment for its
//! handoff to arrive through the cluster's directory. A `rejoin` of a
//! meeting whose server died takes it over, with the standing handoff that
//! server kept in the directory.

use super::MeetingRegistry;
use crate::cluster::Cluster;
use crate::rules::Handoff;
use common::sync::lock;
use common::{MeetingId, Request};
use std::time::Duration;

/// How long a `rejoin` waits for its meeting's handoff to reach this server.
const HANDOFF_WAIT: Duration = Duration::from_secs(1);

impl MeetingRegistry {
    /// Hands every meeting over to another server of the cluster, if there
    /// is one: returns how many meetings went. Called as the server stops,
    /// before everyone is told it is stopping.
    pub fn hand_over(&self, cluster: &Cluster) -> usize {
        self.with_state(|state| state.send_seated_home(cluster));
        let Some(heir) = cluster.heir() else {
            return 0;
        };
        let handovers = match self.with_state(|state| state.rules.prepare_handover()) {
            Ok(handovers) if !handovers.is_empty() => handovers,
            Ok(_) => return 0,
            Err(err) => {
                tracing::error!("cluster: meetings not handed over: {err}");
                return 0;
            }
        };
        if let Err(err) = cluster.store_handoffs(&handovers, &heir) {
            tracing::error!("cluster: meetings not handed over to {}: {err}", heir.name);
            return 0;
        }
        tracing::info!(
            "cluster: handed {} meetings over to {} ({})",
            handovers.len(),
            heir.name,
            heir.holder.address
        );
        self.with_state(|state| state.rules.announce_handover(&handovers, &heir.holder));
        handovers.len()
    }

    /// For a `rejoin` of a meeting this server does not know yet: its
    /// handoff, once the cluster's directory has it (waited for briefly).
    pub(super) fn handoff_for(&self, request: &Request) -> Option<(MeetingId, Handoff)> {
        let cluster = self.cluster.as_ref()?;
        let Request::Rejoin { meeting, .. } = request else {
            return None;
        };
        let meeting = MeetingId::parse(meeting)?;
        if lock(&self.state).rules.knows_meeting(&meeting) {
            return None;
        }
        let mut handoff = cluster.handoff_for_rejoin(&meeting, HANDOFF_WAIT)?;
        // Made again here: its chat goes on from what the cluster kept.
        handoff.chat = cluster.chat_of(&meeting);
        Some((meeting, handoff))
    }
}
