//! The command line, checked once into a `Scenario` the rest of loadgen trusts.
//! What a member sends of each kind (`Scenario::sending`) is its options where
//! it has them and the kind table's `simulated` row (`common::media::MEDIA`)
//! for the rest, so a new kind needs nothing here until it gets options.
//!
//! Meetings may differ in size (`--sizes`), in whether one of their members
//! shares a screen (`--screen-every`), and in who talks when (`--talkers`);
//! `Scenario::members_of`, `kinds_of` and `sends` answer per meeting and
//! member, so the rest of loadgen never assumes meetings are alike.

use crate::mix;
use crate::pacing::DEFAULT_CONNECT_RATE;
use crate::payload::{self, PayloadSizes};
use crate::spread;
use crate::talk::{self, TurnTaking};
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
        audio16-opus: audio16-pcm with --audio-bytes 80\n  \
        talk16:    --meetings 1 --members 16 --no-video --audio --audio-bytes 80 --talkers 2 --turn 3s --duration 10s\n  \
        lan500:    --sizes 51x4,24x6,8x8,4x10,3x16 --video-fps 15 --video-bytes 2000 --audio --audio-bytes 80 \
        --talkers 2 --turn 4s --screen-every 10 --duration 10s\n             \
        (500 members in 90 meetings: 51 of 4, 24 of 6, 8 of 8, 4 of 10, 3 of 16; the video \
        is the size of the small layer a terminal tile asks for; a screen in 9 meetings; about 1,560 \
        connections from one address: the server needs --max-connections 3200 --max-per-address 3200)\n\n\
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

    /// Meetings of several sizes instead of --meetings and --members, as
    /// COUNTxMEMBERS groups: 51x4,24x6,8x8,4x10,3x16 is 51 meetings of 4, 24
    /// of 6, 8 of 8, 4 of 10 and 3 of 16 (lan500: 500 members in 90
    /// meetings). Each size is spread evenly over the order the meetings are
    /// made in, so big and small ones come throughout.
    #[arg(long, value_name = "LIST", conflicts_with_all = ["meetings", "members"])]
    pub sizes: Option<String>,

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

    /// Turn-taking audio: K members of each meeting talk at a time, and every
    /// --turn the next K (round robin) take over, as clients with a voice
    /// detector and DTX send: a talker 50 voiced frames a second (its voice
    /// and level in the media header's sender field), one frame without
    /// voice when its turn ends; the new talkers start 60 ms later; the
    /// silent members a keep-alive frame a second. Delivery counts the frames
    /// sent, so with more talkers than the server's speaker slots (3 unless
    /// told otherwise) the voiced frames it rightly holds back count as not
    /// delivered. Needs --audio; without it every member sends all the time,
    /// with no level (the server forwards such frames to everyone).
    #[arg(long, value_name = "K")]
    pub talkers: Option<usize>,

    /// How long each turn of --talkers lasts, for example 3s (the default).
    /// Meetings pass their turns at moments spread over one turn.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub turn: Option<Duration>,

    /// One member (the host) of every N-th meeting (the first, the N+1-th,
    /// ...) shares a screen: 8 frames a second of 3,000 bytes of changes, and
    /// a 60,000-byte full refresh every 10 seconds (the first at once). Every
    /// member of such a meeting attaches a screen socket.
    #[arg(long, value_name = "N")]
    pub screen_every: Option<usize>,

    /// New connections a second while members connect (after a first 200 at
    /// once), to stay under the server's --max-connection-rate (500 unless
    /// told otherwise); 0 connects as fast as the handshakes go.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONNECT_RATE)]
    pub connect_rate: u32,

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
    /// The members of each meeting, in the order the meetings are made.
    pub sizes: Vec<usize>,
    /// What a member that sends a kind sends of it (None: nothing of it),
    /// from the options below and the kind table. Screen: the sharer's.
    pub sending: PerKind<Option<SimulatedTraffic>>,
    pub video_fps: f64,
    pub video_bytes: usize,
    pub video: bool,
    pub audio: bool,
    pub audio_bytes: usize,
    /// `--talkers` and `--turn`.
    pub talk: Option<TurnTaking>,
    /// `--screen-every`.
    pub screen_every: Option<usize>,
    pub connect_rate: u32,
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
        let sizes = meeting_sizes(&args)?;
        let smallest = sizes.iter().copied().min().unwrap_or(0);
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
        if args.slow >= smallest {
            bail!("--slow must leave at least one member per meeting that keeps up");
        }
        if args.slow > 0 && args.video_fps == 0.0 {
            bail!("--slow reads at a tenth of the sending rate, which needs --video-fps above 0");
        }
        let talk = turn_taking(&args, smallest)?;
        if args.screen_every == Some(0) {
            bail!("--screen-every must be at least 1 (every meeting)");
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
        if args.screen_every.is_some() {
            sending[MediaKind::Screen] = Some(payload::screen_traffic());
        }
        Ok(Scenario {
            servers,
            sizes,
            sending,
            video_fps: args.video_fps,
            video_bytes: args.video_bytes,
            video: !args.no_video,
            audio: args.audio,
            audio_bytes: args.audio_bytes,
            talk,
            screen_every: args.screen_every,
            connect_rate: args.connect_rate,
            duration: args.duration,
            window: args.window,
            server_pids: args.server_pids,
            nats_pid: args.nats_pid,
            slow: args.slow,
            no_tls: args.no_tls,
            fingerprint: args.fingerprint,
        })
    }

    pub fn meetings(&self) -> usize {
        self.sizes.len()
    }

    pub fn members_of(&self, meeting: usize) -> usize {
        self.sizes[meeting]
    }

    /// The size of every meeting when they are all alike (`--members`).
    pub fn uniform_size(&self) -> Option<usize> {
        let first = *self.sizes.first()?;
        self.sizes.iter().all(|&s| s == first).then_some(first)
    }

    /// Whether a member of `meeting` shares a screen (`--screen-every`).
    pub fn shares_screen(&self, meeting: usize) -> bool {
        self.screen_every.is_some_and(|every| meeting % every == 0)
    }

    /// The kinds any member sends.
    pub fn kinds(&self) -> Vec<MediaKind> {
        self.sending
            .iter()
            .filter(|(_, sending)| sending.is_some())
            .map(|(kind, _)| kind)
            .collect()
    }

    /// The kinds each member of `meeting` receives, with a socket each (and
    /// sends, but for the screen: `sends`).
    pub fn kinds_of(&self, meeting: usize) -> Vec<MediaKind> {
        self.kinds()
            .into_iter()
            .filter(|&kind| kind != MediaKind::Screen || self.shares_screen(meeting))
            .collect()
    }

    /// Whether member `slot` of `meeting` sends `kind`: everyone sends all
    /// its kinds, but a screen only its sharer, the host.
    pub fn sends(&self, meeting: usize, slot: usize, kind: MediaKind) -> bool {
        self.kinds_of(meeting).contains(&kind) && (kind != MediaKind::Screen || slot == 0)
    }

    /// The payload of each frame a member sends of `kind` (the kind table's,
    /// for a kind it does not send).
    pub fn payload_sizes(&self, kind: MediaKind) -> PayloadSizes {
        if kind == MediaKind::Screen && self.screen_every.is_some() {
            return PayloadSizes::screen();
        }
        let sending = self.sending[kind].unwrap_or(kind.spec().simulated);
        PayloadSizes::fixed(sending.payload_bytes)
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
        self.sizes.iter().sum()
    }

    /// The last `slow` members of each meeting read slowly.
    pub fn is_slow(&self, meeting: usize, slot: usize) -> bool {
        slot >= self.members_of(meeting) - self.slow
    }

    /// Bytes per second a member of `meeting` is sent by the others, at most,
    /// for throttling a slow reader (every member talking, a screen's
    /// keyframes spread over the frames).
    pub fn receive_rate(&self, meeting: usize) -> f64 {
        let others = (self.members_of(meeting) - 1) as f64;
        let rate = |kind: MediaKind| {
            self.sending[kind].map_or(0.0, |s| {
                let bytes = self.payload_sizes(kind).mean() + FRAME_HEADER_LEN as f64;
                s.frames_per_second * bytes
            })
        };
        let each: f64 = self
            .kinds_of(meeting)
            .into_iter()
            .filter(|&kind| kind != MediaKind::Screen)
            .map(rate)
            .sum();
        let screen = if self.shares_screen(meeting) {
            rate(MediaKind::Screen)
        } else {
            0.0
        };
        others * each + screen
    }
}

/// The members of each meeting: `--sizes`, or `--meetings` of `--members`.
fn meeting_sizes(args: &Args) -> anyhow::Result<Vec<usize>> {
    let sizes = match &args.sizes {
        Some(list) => {
            let groups = mix::parse(list).map_err(|err| {
                anyhow::anyhow!("--sizes {list}: {err}; expected COUNTxMEMBERS,... (4x10,8x2)")
            })?;
            if groups
                .iter()
                .any(|g| g.members < 2 || g.members > MAX_MEETING_MEMBERS)
            {
                bail!("--sizes: meetings must have 2 to {MAX_MEETING_MEMBERS} members");
            }
            mix::interleave(&groups)
        }
        None => {
            if args.members < 2 || args.members > MAX_MEETING_MEMBERS {
                bail!(
                    "--members must be 2 to {MAX_MEETING_MEMBERS} (the server's limit per meeting)"
                );
            }
            vec![args.members; args.meetings]
        }
    };
    if sizes.is_empty() || sizes.len() > 1000 {
        bail!("--meetings must be 1 to 1000");
    }
    Ok(sizes)
}

/// `--talkers` and `--turn`, checked against the smallest meeting.
fn turn_taking(args: &Args, smallest: usize) -> anyhow::Result<Option<TurnTaking>> {
    let Some(talkers) = args.talkers else {
        if args.turn.is_some() {
            bail!("--turn says how long each turn of --talkers lasts, which is missing");
        }
        return Ok(None);
    };
    if !args.audio {
        bail!("--talkers takes turns at talking, which needs --audio");
    }
    if talkers == 0 || talkers > smallest {
        bail!("--talkers must be 1 to {smallest} (the smallest meeting's members)");
    }
    let turn = args.turn.unwrap_or(DEFAULT_TURN);
    if turn < talk::SHORTEST_TURN || turn > Duration::from_secs(3600) {
        bail!(
            "--turn must be {:?} to 1h (the new talkers wait {:?} after each turn)",
            talk::SHORTEST_TURN,
            talk::TURN_GAP
        );
    }
    Ok(Some(TurnTaking { talkers, turn }))
}

/// `--turn` unless told otherwise.
pub const DEFAULT_TURN: Duration = Duration::from_secs(3);

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
        assert_eq!((s.sizes.clone(), s.video_bytes), (vec![8], 20_000));
        assert_eq!(s.kinds_of(0), [MediaKind::Video]);
        assert!(s.talk.is_none() && s.screen_every.is_none());
        assert_eq!(s.connect_rate, DEFAULT_CONNECT_RATE);
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
        let slow: Vec<bool> = (0..4).map(|m| s.is_slow(0, m)).collect();
        assert_eq!(slow, [false, false, true, true]);
        assert_eq!(s.receive_rate(0), 3.0 * 30.0 * 20_005.0);
    }

    #[test]
    fn an_audio_only_meeting_sends_opus_sized_frames_and_no_video() {
        let s = Scenario::from_args(args(&["--no-video", "--audio", "--audio-bytes", "80"]))
            .expect("valid");
        assert_eq!(s.kinds(), [MediaKind::Audio]);
        assert_eq!(s.receive_rate(0), 7.0 * 85.0 * 50.0);
    }

    #[test]
    fn talk16_takes_turns_in_one_meeting_of_sixteen() {
        let s = Scenario::from_args(args(&[
            "--meetings",
            "1",
            "--members",
            "16",
            "--no-video",
            "--audio",
            "--audio-bytes",
            "80",
            "--talkers",
            "2",
            "--turn",
            "3s",
        ]))
        .expect("valid");
        assert_eq!(
            s.talk,
            Some(TurnTaking {
                talkers: 2,
                turn: Duration::from_secs(3)
            })
        );
        assert_eq!(
            (s.sizes.clone(), s.kinds()),
            (vec![16], vec![MediaKind::Audio])
        );
        // The turn is three seconds unless told otherwise.
        let s = Scenario::from_args(args(&["--audio", "--talkers", "1"])).expect("valid");
        assert_eq!(s.talk.map(|t| t.turn), Some(DEFAULT_TURN));
    }

    /// lan500, as the after-help and bench/run give it.
    fn lan500() -> Scenario {
        Scenario::from_args(args(&[
            "--sizes",
            "51x4,24x6,8x8,4x10,3x16",
            "--video-fps",
            "15",
            "--video-bytes",
            "2000",
            "--audio",
            "--audio-bytes",
            "80",
            "--talkers",
            "2",
            "--turn",
            "4s",
            "--screen-every",
            "10",
        ]))
        .expect("valid")
    }

    #[test]
    fn lan500_holds_500_members_and_one_screen_in_ten_meetings() {
        let s = lan500();
        assert_eq!((s.meetings(), s.total_members()), (90, 500));
        assert_eq!(s.uniform_size(), None);
        let screens: Vec<usize> = (0..90).filter(|&m| s.shares_screen(m)).collect();
        assert_eq!(screens, [0, 10, 20, 30, 40, 50, 60, 70, 80]);
        use MediaKind::{Audio, Screen, Video};
        assert_eq!(s.kinds_of(0), [Video, Audio, Screen]);
        assert_eq!(s.kinds_of(1), [Video, Audio]);
        // Only the host of a sharing meeting sends its screen; all receive it.
        assert!(s.sends(0, 0, Screen) && !s.sends(0, 1, Screen) && s.sends(0, 1, Audio));
        assert!(!s.sends(1, 0, Screen));
        // Sockets: control, video and audio for everyone, and a screen
        // socket for each member of a sharing meeting.
        let sockets: usize = (0..90)
            .map(|m| s.members_of(m) * (1 + s.kinds_of(m).len()))
            .sum();
        assert_eq!(sockets, 500 * 3 + 56);
        assert_eq!(s.payload_sizes(Screen), PayloadSizes::screen());
        assert_eq!(s.period(Screen), Some(Duration::from_millis(125)));
    }

    #[test]
    fn uneven_meetings_have_their_own_rates_and_slow_members() {
        let s = Scenario::from_args(args(&[
            "--sizes",
            "1x3,1x5",
            "--video-fps",
            "10",
            "--video-bytes",
            "995",
            "--slow",
            "1",
        ]))
        .expect("valid");
        assert_eq!(s.sizes, [3, 5]);
        assert!(s.is_slow(0, 2) && !s.is_slow(1, 2) && s.is_slow(1, 4));
        assert_eq!(s.receive_rate(0), 2.0 * 10_000.0);
        assert_eq!(s.receive_rate(1), 4.0 * 10_000.0);
    }

    #[test]
    fn new_options_refuse_what_cannot_run() {
        for (argv, expected) in [
            (&["--talkers", "2"][..], "needs --audio"),
            (&["--audio", "--turn", "2s"], "--turn"),
            (&["--audio", "--talkers", "0"], "--talkers must be 1 to 8"),
            (&["--audio", "--talkers", "9"], "--talkers must be 1 to 8"),
            (
                &["--audio", "--talkers", "1", "--turn", "50ms"],
                "--turn must be",
            ),
            (&["--sizes", "2x4,1x1"], "2 to 100 members"),
            (&["--sizes", "4x"], "--sizes 4x"),
            (&["--sizes", "1001x2"], "--meetings must be 1 to 1000"),
            (&["--sizes", "1x4,1x2", "--slow", "2"], "--slow"),
            (&["--screen-every", "0"], "--screen-every"),
            (
                &["--sizes", "1x4,1x2", "--audio", "--talkers", "3"],
                "1 to 2 (the smallest",
            ),
        ] {
            let err = Scenario::from_args(args(argv)).expect_err("refused");
            assert!(err.to_string().contains(expected), "{argv:?}: {err}");
        }
        // --sizes says how many members, so --members and --meetings cannot.
        let both = Args::try_parse_from(["loadgen", "--sizes", "2x4", "--members", "4"]);
        assert!(both.is_err());
    }
}
