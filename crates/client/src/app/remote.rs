//! Remote control from the owner's side: while we share something that
//! takes a granted controller's input (a screen: the X display plays it, the
//! test desktop draws it), what plays it; input is played only from the
//! member the server and we both know holds the grant, and whatever the
//! controller holds down is let go when control ends.

use crate::media::driver::InputTarget;
use crate::meeting::MeetingState;
use common::{ClientId, InputEvent, MediaKind};

/// What plays a controller's input on what we share, if anything does.
#[derive(Default)]
pub(super) struct Remote {
    /// The kind shared from a source that takes input, and what plays it.
    input: Option<(MediaKind, Injector)>,
}

struct Injector {
    target: Box<dyn InputTarget>,
    /// The target failed once: said, and not tried again.
    failed: bool,
}

impl Remote {
    /// `kind` is shared now, from a source that takes input through
    /// `target` (or takes none). A new source replaces what played input
    /// on the old one.
    pub fn shared(&mut self, kind: MediaKind, target: Option<Box<dyn InputTarget>>) {
        if target.is_some() || self.input.as_ref().is_some_and(|(k, _)| *k == kind) {
            self.input = target.map(|target| {
                let failed = false;
                (kind, Injector { target, failed })
            });
        }
    }

    /// `kind` is not shared any more.
    pub fn stopped(&mut self, kind: MediaKind) {
        if self.input.as_ref().is_some_and(|(k, _)| *k == kind) {
            self.input = None;
        }
    }

    /// Input from a controller, played if it holds the grant for our
    /// screen. What to tell the user, if playing failed.
    pub fn play(
        &mut self,
        from: ClientId,
        events: &[InputEvent],
        meeting: &MeetingState,
    ) -> Option<String> {
        if meeting.controller_of(meeting.me) != Some(from) {
            tracing::warn!(%from, "input from a member without control of our screen ignored");
            return None;
        }
        // Nothing shared takes input (pictures: nothing to type into).
        let (_, injector) = self.input.as_mut()?;
        if injector.failed {
            return None;
        }
        for event in events {
            if let Err(err) = injector.target.apply(*event) {
                injector.failed = true;
                return Some(format!("cannot play remote input on this display: {err}"));
            }
        }
        None
    }

    /// Control of our screen ended: nothing the controller pressed stays down.
    pub fn ended(&mut self) {
        if let Some((_, injector)) = self.input.as_mut()
            && let Err(err) = injector.target.release_all()
        {
            tracing::warn!("could not release the controller's keys: {err}");
        }
    }
}
