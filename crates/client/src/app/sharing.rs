//! What we share: a media channel and a driver per kind (`media::DRIVERS`),
//! and the source each kind is shared from now, as the user named it (for
//! switching devices while sharing). Starting opens the source through the
//! kind's driver and hands its producer to the kind's channel; stopping,
//! the host's stop and a source that fails end the sender and tell the
//! driver. Everything here holds for every kind alike.

use crate::channel::{ChannelContext, MediaChannel};
use crate::link::{MediaSocket, Session};
use crate::media;
use crate::media::driver::{Driver, InputTarget, Opened, Outputs};
use crate::media::options::MediaOptions;
use common::{Event, MediaKind, PerKind};
use std::sync::atomic::Ordering;

pub(super) struct Sharing {
    /// Our media channels, one per kind.
    channels: PerKind<MediaChannel>,
    /// Each kind's driver: what opens our sources, and follows the meeting.
    drivers: PerKind<Box<dyn Driver>>,
    ctx: ChannelContext,
    /// The source each kind is shared from now (`mic`, `camera`, a path...).
    shared_from: PerKind<Option<String>>,
    /// Kinds whose socket went down without the user being told (the
    /// server was stopping): their coming back is no news either.
    down_unsaid: PerKind<bool>,
}

/// A kind shared now.
pub(super) struct Started {
    /// What it is shared from, for people.
    pub description: String,
    /// What plays a controller's input on it, if it takes any.
    pub input: Option<Box<dyn InputTarget>>,
}

impl Sharing {
    /// Every kind's driver, made with `outputs`, and its channel on its
    /// attached socket, reading into the driver's receiver.
    pub fn open(
        sockets: PerKind<MediaSocket>,
        outputs: &Outputs,
        ctx: ChannelContext,
        session: &Session,
    ) -> anyhow::Result<Sharing> {
        let mut drivers = PerKind::from_fn(|kind| (media::driver(kind).start)(outputs));
        let mut sockets = sockets.map(|_, socket| Some(socket));
        let channels = PerKind::try_from_fn(|kind| {
            let Some(socket) = sockets[kind].take() else {
                unreachable!("one socket per kind");
            };
            let receiver = drivers[kind].receiver();
            MediaChannel::open(kind, socket, receiver, &ctx, session.clone())
        })?;
        Ok(Sharing {
            channels,
            drivers,
            ctx,
            shared_from: PerKind::default(),
            down_unsaid: PerKind::default(),
        })
    }

    /// Shares `kind` from `source` (`None`: the default), replacing what it
    /// was shared from; why not, if it cannot.
    pub fn start(
        &mut self,
        kind: MediaKind,
        source: Option<&str>,
        options: &MediaOptions,
    ) -> Result<Started, String> {
        let Opened {
            description,
            producer,
            input,
        } = self.drivers[kind]
            .open(source, options)
            .map_err(|err| format!("{err:#}"))?;
        self.channels[kind]
            .start(producer, &self.ctx)
            .map_err(|err| format!("could not start sending {kind}: {err}"))?;
        self.shared_from[kind] = source.map(str::to_string);
        Ok(Started { description, input })
    }

    /// `/KIND off`.
    pub fn stop(&mut self, kind: MediaKind) {
        self.channels[kind].stop();
        self.shared_from[kind] = None;
        self.drivers[kind].stopped();
    }

    /// The host stopped what we share: the server relays none of it any
    /// more, so stop producing it too. True if it was being sent.
    pub fn blocked(&mut self, kind: MediaKind) -> bool {
        if !self.channels[kind].sending() {
            return false;
        }
        self.channels[kind].stop();
        self.drivers[kind].stopped();
        true
    }

    /// `kind`'s source stopped on its own.
    pub fn failed(&mut self, kind: MediaKind) {
        self.channels[kind].sender_failed();
        self.drivers[kind].stopped();
    }

    /// Whether `kind` is shared from `source` now.
    pub fn shared_from(&self, kind: MediaKind, source: &str) -> bool {
        self.shared_from[kind].as_deref() == Some(source)
    }

    /// Stops `kind`'s sender only, to start it again from a new device.
    pub fn stop_sender(&mut self, kind: MediaKind) {
        self.channels[kind].stop();
    }

    /// The meeting changed: senders send only inside one; every driver
    /// follows the event.
    pub fn event(&mut self, event: &Event, in_meeting: bool) {
        self.ctx.in_meeting.store(in_meeting, Ordering::Relaxed);
        for (_, driver) in self.drivers.iter_mut() {
            driver.event(event, in_meeting);
        }
    }

    /// The session moved to another server: every channel goes on with
    /// its socket attached there.
    pub fn move_to(&self, sockets: PerKind<MediaSocket>, session: &Session) {
        for (kind, socket) in sockets.into_iter() {
            self.channels[kind].move_to(socket, session.clone());
        }
    }

    /// The server we are on hands our meeting over (`on`), or the move
    /// failed: a channel whose socket ends meanwhile waits for the move
    /// instead of attaching again to a server that is stopping.
    pub fn expect_move(&self, on: bool) {
        for (_, channel) in self.channels.iter() {
            channel.expect_move(on);
        }
    }

    /// `kind`'s socket went down and the user was not told.
    pub fn down_unsaid(&mut self, kind: MediaKind) {
        self.down_unsaid[kind] = true;
    }

    /// `kind` flows again: whether that is news (its going down was said).
    pub fn up_is_news(&mut self, kind: MediaKind) -> bool {
        !std::mem::take(&mut self.down_unsaid[kind])
    }

    /// The kinds we share now (a server we move to is told them).
    pub fn shared(&self) -> Vec<MediaKind> {
        self.channels
            .iter()
            .filter(|(_, channel)| channel.sending())
            .map(|(kind, _)| kind)
            .collect()
    }

    /// After a resumed session: every channel attaches a fresh socket now.
    pub fn renew(&self) {
        for (_, channel) in self.channels.iter() {
            channel.renew();
        }
    }

    /// Quitting, first: every sender stops.
    pub fn stop_all(&mut self) {
        for (_, channel) in self.channels.iter_mut() {
            channel.stop();
        }
    }

    /// Quitting, then: shuts our side of every socket; each channel says
    /// `MediaClosed` once the server closed its side.
    pub fn half_close(&mut self) {
        for (_, channel) in self.channels.iter_mut() {
            channel.half_close();
        }
    }

    /// The session is lost: every socket shut both ways, every sender stopped.
    pub fn abort(&mut self) {
        for (_, channel) in self.channels.iter_mut() {
            channel.abort();
        }
    }
}
