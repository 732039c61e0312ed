//! The command line, checked once into a `Scenario` the rest of loadgen trusts.
//! What a member sends of each kind (`Scenario::sending`) is its options where
//! it has them and the kind table's `simulated` row (`common::media::MEDIA`)
//! for the rest, so a new kind needs nothing here until it gets options.

use crate::spread;
use anyhow::{Context, bail};
use clap::Parser;
use common::media::{MEDIA, SimulatedTraffic};
use common::protocol::{
    DEFAULT_PORT, FRAME_HEADER_LEN, MAX_AUDIO_PAYLOAD, MAX_MEETING_MEMBERS, MAX_VIDEO_PAYLOAD,
};
use common::{MediaHeader, MediaKind, PerKind};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Load generator for the meeting server: simulated members on real sockets.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    after_help = "Scenarios of docs/BENCHMARKS.md:\n  \
        meeting8:  --meetings 1 --members 8 --video-fps 30 --video-bytes 20000 --duration 10s\n  \
        saturate8: --meetings 1 --members 8 --video-fps 0 --video-bytes 20000 --duration 10s [--window 4]\n  \
        scale:     --meetings 25 --members 4 --video-fps 15 --video-bytes 10000 --audio --duration 10s\n  \
        slow:      meeting8 with --slow 1\n  \
        audio16-pcm:  --meetings 1 --members 16 --no-video --audio --duration 10s\n  \
        audio16-opus: audio16-pcm with --audio-bytes 80\n\n\
        Exit codes: 0 the run finished (whatever its figures), 1 it could not run, 2 bad command line."
)]
pub struct Args {
    /// A server, as HOST:PORT. Repeat it to spread meetings over servers of
    /// one cluster: member i of meeting m connects to server (m + i) mod n,
    /// in the order given, so each meeting's members take the servers in turn
    /// and its host, who creates it (so it is held there), is on server
    /// m mod n. A joiner waits (up to 10 s) for its server to hear of the
    /// meeting through the cluster.
    #[arg(
        long = "server",
        value_name = "HOST:PORT",
        default_values_t = [format!("127.0.0.1:{DEFAULT_PORT}")]
    )]
    pub servers: Vec<String>,

    /// Meetings to hold at once.
    #[arg(long, default_value_t = 1)]
    pub meetings: usize,

    /// Members in each meeting; every member sends and receives.
    #[arg(long, default_value_t = 8)]
    pub members: usize,

    /// Video frames per second from each member; 0 sends as fast as the socket
    /// (or the window) allows.
    #[arg(long, default_value_t = MediaKind::Video.spec().simulated.frames_per_second)]
    pub video_fps: f64,

    /// Bytes of each video frame's payload (its 16-byte media header included).
    #[arg(long, default_value_t = MediaKind::Video.spec().simulated.payload_bytes)]
    pub video_bytes: usize,

    /// Also send audio from each member: 20 ms frames of 48 kHz mono PCM, 50 per second.
    #[arg(long)]
    pub audio: bool,

    /// Bytes of each audio frame's payload (its 16-byte media header included):
    /// 1936 is PCM (the default), about 80 an Opus frame. Needs --audio.
    #[arg(long, default_value_t = AUDIO_PAYLOAD)]
    pub audio_bytes: usize,

    /// Send no video (an audio-only meeting; needs --audio).
    #[arg(long)]
    pub no_video: bool,

    /// How long members send, for example 10s or 1m.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub duration: Duration,

    /// Closed loop: a member sends frame s only once its frame s-K reached every
    /// other member (that keeps up). Without it senders run open loop.
    #[arg(long)]
    pub window: Option<u32>,

    /// The server's process id: adds its CPU time and peak memory (from /proc).
    /// With several --server, one per server, in the same order.
    #[arg(long = "server-pid", value_name = "PID")]
    pub server_pids: Vec<u32>,

    /// The cluster's nats-server process id: adds its CPU time and peak
    /// memory, reported apart from the servers'.
    #[arg(long, value_name = "PID")]
    pub nats_pid: Option<u32>,

    /// Members per meeting that read at a tenth of the rate they are sent.
    #[arg(long, default_value_t = 0)]
    pub slow: usize,

    /// One JSON object on stdout instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Plain TCP, for a server started with --no-tls.
    #[arg(long)]
    pub no_tls: bool,

    /// Trust only this server key (the `fingerprint` line the server prints);
    /// without it any key is accepted, as a load generator needs no trust.
    #[arg(long, value_name = "SHA256", value_parser = parse_fingerprint)]
    pub fingerprint: Option<transport::Fingerprint>,

    #[command(flatten)]
    pub docs: cli_docs::DocsArgs,
}

fn resolve(server: &str) -> anyhow::Result<SocketAddr> {
    server
        .to_socket_addrs()
        .with_context(|| format!("--server {server}: expected HOST:PORT"))?
        .next()
        .with_context(|| format!("--server {server}: the name has no address"))
}

fn parse_fingerprint(text: &str) -> Result<transport::Fingerprint, String> {
    text.parse()
        .map_err(|err: transport::fingerprint::BadFingerprint| err.to_string())
}

/// Audio frames are fixed by the protocol: 20 ms of s16 mono at 48 kHz (the
/// kind table's simulated audio).
pub const AUDIO_PAYLOAD: usize = MEDIA[MediaKind::Audio.index()].simulated.payload_bytes;

/// Bytes a frame body needs for the integrity checks (a word at each end).
pub const CHECK_BYTES: usize = 16;

/// A run, as checked.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// In the order given; `spread::server_of` says who connects where.
    pub servers: Vec<SocketAddr>,
    pub meetings: usize,
    pub members: usize,
    /// What each member sends of each kind (None: nothing of it), from the
    /// options below and the kind table.
    pub sending: PerKind<Option<SimulatedTraffic>>,
    pub video_fps: f64,
    pub video_bytes: usize,
    pub video: bool,
    pub audio: bool,
    pub audio_bytes: usize,
    pub duration: Duration,
    pub window: Option<u32>,
    /// None, or one per server, in the order of `servers`.
    pub server_pids: Vec<u32>,
    pub nats_pid: Option<u32>,
    pub slow: usize,
    pub no_tls: bool,
    pub fingerprint: Option<transport::Fingerprint>,
}

impl Scenario {
    pub fn from_args(args: Args) -> anyhow::Result<Scenario> {
        let servers = args
            .servers
            .iter()
            .map(|server| resolve(server))
            .collect::<anyhow::Result<Vec<SocketAddr>>>()?;
        if let Some(twice) = servers
            .iter()
            .enumerate()
            .find(|(i, addr)| servers[..*i].contains(addr))
        {
            bail!("--server {} is given twice", twice.1);
        }
        if !args.server_pids.is_empty() && args.server_pids.len() != servers.len() {
            bail!(
                "--server-pid: {} given for {} --server; give one per server, in the same order",
                args.server_pids.len(),
                servers.len()
            );
        }
        if args.meetings == 0 || args.meetings > 1000 {
            bail!("--meetings must be 1 to 1000");
        }
        if args.members < 2 || args.members > MAX_MEETING_MEMBERS {
            bail!("--members must be 2 to {MAX_MEETING_MEMBERS} (the server's limit per meeting)");
        }
        let min_bytes = MediaHeader::LEN + CHECK_BYTES;
        if args.video_bytes < min_bytes || args.video_bytes > MAX_VIDEO_PAYLOAD as usize {
            bail!("--video-bytes must be {min_bytes} to {MAX_VIDEO_PAYLOAD}");
        }
        if args.audio_bytes < min_bytes || args.audio_bytes > MAX_AUDIO_PAYLOAD as usize {
            bail!("--audio-bytes must be {min_bytes} to {MAX_AUDIO_PAYLOAD}");
        }
        if args.audio_bytes != AUDIO_PAYLOAD && !args.audio {
            bail!("--audio-bytes sizes the frames of --audio, which is missing");
        }
        if args.no_video && !args.audio {
            bail!("--no-video leaves nothing to send without --audio");
        }
        if !(args.video_fps.is_finite() && (0.0..=1000.0).contains(&args.video_fps)) {
            bail!("--video-fps must be 0 (unthrottled) to 1000");
        }
        if args.duration.is_zero() || args.duration > Duration::from_secs(3600) {
            bail!("--duration must be more than 0 and at most 1h");
        }
        if args.window == Some(0) {
            bail!("--window must be at least 1");
        }
        if args.slow >= args.members {
            bail!("--slow must leave at least one member per meeting that keeps up");
        }
        if args.slow > 0 && args.video_fps == 0.0 {
            bail!("--slow reads at a tenth of the sending rate, which needs --video-fps above 0");
        }
        let mut sending = PerKind::splat(None);
        if !args.no_video {
            sending[MediaKind::Video] = Some(SimulatedTraffic {
                payload_bytes: args.video_bytes,
                frames_per_second: args.video_fps,
            });
        }
        if args.audio {
            // At the rate the protocol frames audio.
            sending[MediaKind::Audio] = Some(SimulatedTraffic {
                payload_bytes: args.audio_bytes,
                ..MediaKind::Audio.spec().simulated
            });
        }
        Ok(Scenario {
            servers,
            meetings: args.meetings,
            members: args.members,
            sending,
            video_fps: args.video_fps,
            video_bytes: args.video_bytes,
            video: !args.no_video,
            audio: args.audio,
            audio_bytes: args.audio_bytes,
            duration: args.duration,
            window: args.window,
            server_pids: args.server_pids,
            nats_pid: args.nats_pid,
            slow: args.slow,
            no_tls: args.no_tls,
            fingerprint: args.fingerprint,
        })
    }

    /// The kinds each member sends and receives.
    pub fn kinds(&self) -> Vec<MediaKind> {
        self.sending
            .iter()
            .filter(|(_, sending)| sending.is_some())
            .map(|(kind, _)| kind)
            .collect()
    }

    /// Bytes of each payload a member sends of `kind` (the kind table's, for
    /// a kind it does not send).
    pub fn payload_bytes(&self, kind: MediaKind) -> usize {
        self.sending[kind]
            .unwrap_or(kind.spec().simulated)
            .payload_bytes
    }

    /// The time from one frame of `kind` to the next; None: unthrottled.
    pub fn period(&self, kind: MediaKind) -> Option<Duration> {
        self.sending[kind].unwrap_or(kind.spec().simulated).period()
    }

    /// The index (into `servers`) of the server member `slot` of `meeting` uses.
    pub fn server_of(&self, meeting: usize, slot: usize) -> usize {
        spread::server_of(meeting, slot, self.servers.len())
    }

    pub fn total_members(&self) -> usize {
        self.meetings * self.members
    }

    /// The last `slow` members of each meeting read slowly.
    pub fn is_slow(&self, member_in_meeting: usize) -> bool {
        member_in_meeting >= self.members - self.slow
    }

    /// Bytes per second one member is sent by the others, for throttling a slow reader.
    pub fn receive_rate(&self) -> f64 {
        let others = (self.members - 1) as f64;
        let each: f64 = self
            .sending
            .values()
            .flatten()
            .map(|s| s.frames_per_second * (s.payload_bytes + FRAME_HEADER_LEN) as f64)
            .sum();
        others * each
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(extra: &[&str]) -> Args {
        let mut argv = vec!["loadgen"];
        argv.extend_from_slice(extra);
        Args::parse_from(argv)
    }

    #[test]
    fn defaults_are_the_meeting8_scenario() {
        let s = Scenario::from_args(args(&[])).expect("valid");
        assert_eq!((s.meetings, s.members, s.video_bytes), (1, 8, 20_000));
        assert_eq!(
            s.period(MediaKind::Video),
            Some(Duration::from_secs_f64(1.0 / 30.0))
        );
        assert_eq!(s.duration, Duration::from_secs(10));
        assert_eq!(
            s.servers,
            [SocketAddr::from(([127, 0, 0, 1], DEFAULT_PORT))]
        );
        assert!(s.server_pids.is_empty() && s.nats_pid.is_none());
    }

    #[test]
    fn servers_and_their_pids_repeat_in_one_order() {
        let s = Scenario::from_args(args(&[
            "--server",
            "127.0.0.1:7001",
            "--server-pid",
            "11",
            "--server",
            "127.0.0.1:7002",
            "--server-pid",
            "12",
            "--server",
            "127.0.0.1:7003",
            "--server-pid",
            "13",
            "--nats-pid",
            "10",
        ]))
        .expect("valid");
        let ports: Vec<u16> = s.servers.iter().map(SocketAddr::port).collect();
        assert_eq!(ports, [7001, 7002, 7003]);
        assert_eq!(s.server_pids, [11, 12, 13]);
        assert_eq!(s.nats_pid, Some(10));
        // The host of the first meeting is on the first server.
        assert_eq!(s.server_of(0, 0), 0);
        assert_eq!(s.server_of(0, 4), 1);
    }

    #[test]
    fn one_server_and_its_pid_are_as_before() {
        let s = Scenario::from_args(args(&["--server", "127.0.0.1:7001", "--server-pid", "11"]))
            .expect("valid");
        assert_eq!(s.servers.len(), 1);
        assert_eq!(s.server_pids, [11]);
        assert!((0..8).all(|slot| s.server_of(3, slot) == 0));
    }

    #[test]
    fn impossible_runs_are_refused_with_the_reason() {
        for (argv, expected) in [
            (&["--members", "1"][..], "--members"),
            (&["--video-bytes", "10"], "--video-bytes"),
            (&["--slow", "8"], "--slow"),
            (&["--slow", "1", "--video-fps", "0"], "--video-fps above 0"),
            (&["--window", "0"], "--window"),
            (&["--duration", "2h"], "--duration"),
            (&["--audio-bytes", "80"], "--audio"),
            (&["--audio", "--audio-bytes", "20"], "--audio-bytes"),
            (&["--no-video"], "--audio"),
            (&["--server", "nowhere"], "--server nowhere"),
            (
                &["--server", "127.0.0.1:7001", "--server", "127.0.0.1:7001"],
                "given twice",
            ),
            (
                &[
                    "--server",
                    "127.0.0.1:7001",
                    "--server",
                    "127.0.0.1:7002",
                    "--server-pid",
                    "11",
                ],
                "one per server",
            ),
        ] {
            let err = Scenario::from_args(args(argv)).expect_err("refused");
            assert!(err.to_string().contains(expected), "{argv:?}: {err}");
        }
    }

    #[test]
    fn slow_members_are_the_last_of_each_meeting_and_read_a_known_rate() {
        let s = Scenario::from_args(args(&["--slow", "2", "--members", "4"])).expect("valid");
        let slow: Vec<bool> = (0..4).map(|m| s.is_slow(m)).collect();
        assert_eq!(slow, [false, false, true, true]);
        assert_eq!(s.receive_rate(), 3.0 * 30.0 * 20_005.0);
    }

    #[test]
    fn an_audio_only_meeting_sends_opus_sized_frames_and_no_video() {
        let s = Scenario::from_args(args(&["--no-video", "--audio", "--audio-bytes", "80"]))
            .expect("valid");
        assert_eq!(s.kinds(), [MediaKind::Audio]);
        assert_eq!(s.receive_rate(), 7.0 * 85.0 * 50.0);
    }
}
