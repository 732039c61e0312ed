//! The devices and what is heard: which camera and microphone the `camera`
//! and `mic` sources open (`/camera`, `/mic`; `--camera`, `--mic`, with the
//! rest of `MediaOptions`), where the others' mix plays (`/speaker`,
//! `--audio-out`: the playback clock and its sink) and how loud each member
//! plays for us (`/volume`, `/mute`), and every member's level (who is
//! speaking), for `/stats` and the members list.

use super::requests::other_member;
use crate::command::DeviceKind;
use crate::level::{FLOOR_DBFS, MemberLevels, is_speech};
use crate::media::options::MediaOptions;
use crate::meeting::MeetingState;
use crate::output::{LocalEvent, MemberLevel};
use crate::playback::{self, Playback, PlaybackClock, PlaybackSink};
use crate::stats::StatsSnapshot;
use common::ClientId;
use std::collections::HashMap;
use std::time::{Instant, UNIX_EPOCH};

pub(super) struct Devices {
    /// What every media source opens with, the devices among it.
    pub options: MediaOptions,
    /// The mixer: volumes and mutes are kept even without playback.
    playback: Playback,
    /// Running while the mix is played; dropping it finishes the sink.
    clock: Option<PlaybackClock>,
    /// Every member's audio level.
    levels: MemberLevels,
    /// `--record` takes the mix: it is made even with nothing to play to.
    recording: bool,
}

impl Devices {
    /// Starts playing the mix to `sink`, if there is one (`--audio-out`, or
    /// the default speaker); says where it plays. While `recording`, the
    /// mix is made without a sink too, unsaid.
    pub fn start(
        options: MediaOptions,
        playback: Playback,
        levels: MemberLevels,
        sink: Option<Box<dyn PlaybackSink>>,
        recording: bool,
    ) -> anyhow::Result<(Devices, Option<LocalEvent>)> {
        let mut devices = Devices {
            options,
            playback,
            clock: None,
            levels,
            recording,
        };
        let said = match sink {
            Some(sink) => {
                let described = sink.describe();
                Some(devices.play(described, sink)?)
            }
            None => {
                devices.record_only()?;
                None
            }
        };
        Ok((devices, said))
    }

    /// While recording, nothing played: the clock makes the mix for the
    /// recording alone.
    fn record_only(&mut self) -> std::io::Result<()> {
        if self.recording {
            let sink = Box::new(playback::RecordingOnly);
            self.clock = Some(PlaybackClock::start(self.playback.clone(), sink)?);
        }
        Ok(())
    }

    /// Plays the mix to `sink` from now on.
    fn play(
        &mut self,
        described: String,
        sink: Box<dyn PlaybackSink>,
    ) -> std::io::Result<LocalEvent> {
        let clock = PlaybackClock::start(self.playback.clone(), sink)?;
        let started_unix_us = clock
            .started
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_micros() as u64);
        self.clock = Some(clock);
        Ok(LocalEvent::AudioOut {
            sink: described,
            started_unix_us,
        })
    }

    /// `/mic` and `/camera`: the device the `mic` and `camera` sources open
    /// from now on.
    pub fn choose(&mut self, device: DeviceKind, name: Option<String>) -> LocalEvent {
        self.options.choose(device, name.clone());
        LocalEvent::DeviceChosen {
            device: device.name().to_string(),
            name,
        }
    }

    /// The session moved to another server, where we are `me`.
    pub fn moved(&self, me: common::ClientId) {
        self.playback.set_me(me);
    }

    /// `/speaker`: finishes the current playback (a WAV file gets its
    /// header) and plays the mix to the new sink, or to nothing.
    pub fn switch_speaker(&mut self, spec: &str) -> LocalEvent {
        let spec = match spec {
            "off" => {
                self.stop_playback();
                if let Err(err) = self.record_only() {
                    tracing::warn!("meeting.mkv: the mix stops here: {err}");
                }
                return LocalEvent::AudioOff;
            }
            "default" => "speaker".to_string(),
            name if name.ends_with(".wav") || name.contains('/') || name.starts_with("speaker") => {
                name.to_string()
            }
            name => format!("speaker:{name}"),
        };
        // Opened before the old one stops: a bad name keeps what plays.
        let sink = match playback::open_sink(&spec) {
            Ok(sink) => sink,
            Err(err) => {
                return LocalEvent::Error {
                    message: format!("{err:#}; still playing as before"),
                };
            }
        };
        self.stop_playback();
        let described = sink.describe();
        match self.play(described.clone(), sink) {
            Ok(said) => said,
            Err(err) => LocalEvent::Error {
                message: format!("could not play to {described}: {err}"),
            },
        }
    }

    /// Ends playback and finishes its sink (the WAV file's header).
    pub fn stop_playback(&mut self) {
        if let Some(mut clock) = self.clock.take() {
            clock.stop();
        }
    }

    /// `/volume` and `/mute`: how loud `who` plays for us.
    pub fn set_voice(
        &mut self,
        who: &str,
        percent: Option<u32>,
        muted: Option<bool>,
        meeting: &MeetingState,
    ) -> LocalEvent {
        if meeting.find(who).is_ok_and(|m| m.id == meeting.me) {
            let message = "that is you: your own voice is never played back to you".to_string();
            return LocalEvent::Error { message };
        }
        match other_member(meeting, who) {
            Ok((member, name)) => {
                let settings = self.playback.set(member, percent, muted);
                LocalEvent::Volume {
                    member,
                    name,
                    percent: settings.percent,
                    muted: settings.muted,
                }
            }
            Err(message) => LocalEvent::Error { message },
        }
    }

    /// Adds what we hear to `/stats`: each member's level, and while the
    /// mix plays, their jitter buffer and the clock's figures.
    pub fn add_to(&self, stats: &mut StatsSnapshot) {
        let now = Instant::now();
        let playing = self.clock.is_some();
        for member in &mut stats.received {
            member.audio_level_dbfs = self.levels.level(member.member, now).map(tenth);
            if playing {
                member.playback = self.playback.member_stats(member.member);
            }
        }
        if playing {
            stats.playback = Some(self.playback.stats());
        }
    }

    /// Each other member's level, for a `members` event.
    pub fn member_levels(&self, meeting: &MeetingState) -> HashMap<ClientId, MemberLevel> {
        let now = Instant::now();
        meeting
            .others()
            .map(|m| m.id)
            .map(|member| {
                let dbfs = self.levels.level(member, now).unwrap_or(FLOOR_DBFS);
                let level = MemberLevel {
                    dbfs: tenth(dbfs),
                    speaking: is_speech(dbfs),
                };
                (member, level)
            })
            .collect()
    }
}

/// Rounds a level to a tenth of a dB, for people and JSON.
fn tenth(dbfs: f32) -> f32 {
    (dbfs * 10.0).round() / 10.0
}
