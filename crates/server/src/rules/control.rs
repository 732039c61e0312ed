//! Remote control of a shared screen: who asked, who holds the grant, and
//! input that flows only from the holder to the owner while the grant stands.
//! Keyframe requests live here too: like control, they are members asking a
//! sharer for something, relayed to the sharer alone and at most once a second.

use super::MeetingRules;
use common::protocol::{KEYFRAME_REQUEST_INTERVAL, MAX_INPUT_EVENTS};
use common::{ClientId, Event, InputEvent, MediaKind};
use std::time::Instant;

impl MeetingRules {
    /// The controller of `owner`'s screen, if a grant stands.
    pub fn controller_of(&self, owner: ClientId) -> Option<ClientId> {
        self.grants.get(&owner).copied()
    }

    pub(super) fn ask_keyframe(
        &mut self,
        id: ClientId,
        member: ClientId,
        kind: MediaKind,
    ) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        if member == id || self.meeting_of(member) != Some(&meeting) {
            return Err(format!(
                "{} is not another member of your meeting",
                self.label(member, &meeting)
            ));
        }
        let now = Instant::now();
        let Some(participant) = self.participants.get_mut(&id) else {
            return Ok(());
        };
        // Asking again within the interval changes nothing: the picture asked
        // for is already on its way. Dropped silently, as a repeat.
        if participant
            .last_keyframe_request
            .is_some_and(|last| now.duration_since(last) < KEYFRAME_REQUEST_INTERVAL)
        {
            return Ok(());
        }
        participant.last_keyframe_request = Some(now);
        if self
            .participants
            .get(&member)
            .is_some_and(|p| p.sharing[kind])
        {
            let by = self.member_ref(id);
            self.tell(member, Event::Keyframe { kind, by });
        }
        Ok(())
    }

    pub(super) fn ask_control(&mut self, id: ClientId, owner: ClientId) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        if owner == id {
            return Err("that is your own screen".to_string());
        }
        let shares_screen = self.meeting_of(owner) == Some(&meeting)
            && self
                .participants
                .get(&owner)
                .is_some_and(|p| p.sharing[MediaKind::Screen]);
        if !shares_screen {
            return Err(format!(
                "{} shares no screen in your meeting; /members shows who does",
                self.label(owner, &meeting)
            ));
        }
        if self.grants.get(&owner) == Some(&id) {
            return Err("you already control that screen".to_string());
        }
        let now = Instant::now();
        if let Some(participant) = self.participants.get_mut(&id) {
            if participant
                .last_control_request
                .is_some_and(|last| now.duration_since(last) < KEYFRAME_REQUEST_INTERVAL)
            {
                return Err("you asked a moment ago; wait for the answer".to_string());
            }
            participant.last_control_request = Some(now);
        }
        let (owner, controller) = (self.member_ref(owner), self.member_ref(id));
        self.tell_all(
            self.members(&meeting).to_vec(),
            Event::ControlRequested {
                meeting,
                owner,
                controller,
            },
        );
        Ok(())
    }

    pub(super) fn grant_control(
        &mut self,
        id: ClientId,
        controller: ClientId,
    ) -> Result<(), String> {
        let meeting = self.current_meeting(id)?;
        if !self
            .participants
            .get(&id)
            .is_some_and(|p| p.sharing[MediaKind::Screen])
        {
            return Err("share your screen first (/screen on); then you can grant control".into());
        }
        if controller == id {
            return Err("you already control your own screen".to_string());
        }
        if self.meeting_of(controller) != Some(&meeting) {
            return Err(format!(
                "{} is not in your meeting",
                self.label(controller, &meeting)
            ));
        }
        if self.grants.get(&id) == Some(&controller) {
            return Ok(());
        }
        // One controller at a time: a new grant ends the old one, said out loud.
        self.end_grant(id);
        self.grants.insert(id, controller);
        let (owner, controller) = (self.member_ref(id), self.member_ref(controller));
        self.tell_all(
            self.members(&meeting).to_vec(),
            Event::ControlGranted {
                meeting,
                owner,
                controller,
            },
        );
        Ok(())
    }

    /// The owner takes control back, or the controller gives it up.
    pub(super) fn revoke_control(&mut self, id: ClientId) -> Result<(), String> {
        if self.end_grant(id) {
            return Ok(());
        }
        let owned_by = self
            .grants
            .iter()
            .find(|&(_, &controller)| controller == id)
            .map(|(&owner, _)| owner);
        match owned_by {
            Some(owner) => {
                self.end_grant(owner);
                Ok(())
            }
            None => Err("nobody controls your screen and you control none".to_string()),
        }
    }

    /// Ends the grant of `owner`'s screen, telling everyone in the owner's
    /// meeting; false if there was none.
    pub(super) fn end_grant(&mut self, owner: ClientId) -> bool {
        let Some(controller) = self.grants.remove(&owner) else {
            return false;
        };
        if let Some(meeting) = self.meeting_of(owner).cloned() {
            let (owner, controller) = (self.member_ref(owner), self.member_ref(controller));
            self.tell_all(
                self.members(&meeting).to_vec(),
                Event::ControlRevoked {
                    meeting,
                    owner,
                    controller,
                },
            );
        }
        true
    }

    /// Ends every grant `id` takes part in (it leaves, or stops sharing).
    pub(super) fn end_grants_of(&mut self, id: ClientId) {
        let owners: Vec<ClientId> = self
            .grants
            .iter()
            .filter(|&(&owner, &controller)| owner == id || controller == id)
            .map(|(&owner, _)| owner)
            .collect();
        for owner in owners {
            self.end_grant(owner);
        }
    }

    /// Input goes only from the member holding a grant, only to its owner.
    pub(super) fn relay_input(
        &mut self,
        id: ClientId,
        events: Vec<InputEvent>,
    ) -> Result<(), String> {
        let Some(owner) = self
            .grants
            .iter()
            .find(|&(_, &controller)| controller == id)
            .map(|(&owner, _)| owner)
        else {
            return Err(
                "you control no screen: input was not sent (/control request ID asks for it)"
                    .to_string(),
            );
        };
        if events.is_empty() || events.len() > MAX_INPUT_EVENTS {
            return Err(format!(
                "an input request carries 1 to {MAX_INPUT_EVENTS} events"
            ));
        }
        self.tell(owner, Event::Input { from: id, events });
        Ok(())
    }
}
