//! What a user (or a script) types: one line, one `Command`, parsed by the
//! one table of commands (`COMMANDS`) that every help text is made from.

use crate::control::{INPUT_USAGE, InputAction};
use crate::media;
pub use crate::media::options::DeviceKind;
use crate::output::HelpLine;
use crate::playback::mixer::MAX_VOLUME_PERCENT;
use common::{ClientId, MediaKind, PixelSize};
use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `/create [PASSCODE]`: a passcode makes the meeting private.
    Create(Option<String>),
    /// `/join ID [PASSCODE]`.
    Join(String, Option<String>),
    /// `/passcode [PASSCODE]` (host): set, change, or (none) remove it.
    Passcode(Option<String>),
    /// `/lock` (true) and `/unlock` (host).
    Lock(bool),
    /// `/lobby on|off` (host).
    Lobby(bool),
    /// `/admit NAME|ID|all` (host): let someone waiting in the lobby in.
    Admit(String),
    /// `/deny NAME|ID` (host): turn someone waiting in the lobby away.
    Deny(String),
    /// `/remove NAME|ID` (host).
    Remove(String),
    /// `/stop NAME|ID|everyone KIND` (host): `None` is everyone.
    Block(Option<String>, MediaKind),
    /// `/allow NAME|ID [KIND]` (host): back in (no kind), or share KIND again.
    Allow(String, Option<MediaKind>),
    /// `/host NAME|ID` (host): hand the role over.
    MakeHost(String),
    Leave,
    Cancel,
    Meetings,
    Members,
    /// `/video on [SOURCE]`, `/audio on [SOURCE]`; `None` is the default source.
    MediaOn(MediaKind, Option<String>),
    MediaOff(MediaKind),
    /// `/volume WHO PERCENT`: WHO is a member's name or id.
    Volume(String, u32),
    /// `/mute WHO` (true) and `/unmute WHO` (false).
    Mute(String, bool),
    /// `/control request [NAME|ID]`: ask to control a shared screen (the
    /// only one shared, if no member is named).
    ControlRequest(Option<String>),
    /// `/control grant NAME|ID`: let a member control the screen you share.
    ControlGrant(String),
    /// `/control revoke`: take control back, or give it up.
    ControlRevoke,
    /// `/input ...`: input for the screen you control.
    Input(InputAction),
    Stats,
    ServerStats,
    /// `/view full|none|auto`, or (what the full-screen view sends as its
    /// layout changes) `/view tiles ID=WxH ...`: how large we draw others' video.
    View(VideoWanted),
    Help,
    Quit,
    Chat(String),
    /// `/msg NAME|ID TEXT`: a private message to one member. Names may have
    /// spaces, so where the name ends is known only to the meeting: this is
    /// everything after `/msg`, split by `MeetingState::find_at_start`.
    Private(String),
    /// `/hand`: raise or lower your hand (`None`); `/hand lower NAME|ID`
    /// (host): lower another member's.
    Hand(Option<String>),
    /// `/react EMOJI`.
    React(String),
    /// `/devices`: the cameras, microphones and speakers this client can use.
    Devices,
    /// `/mic NAME|default`, `/camera NAME|default`: the device `/audio on
    /// mic` and `/video on camera` open (`None`: the default one).
    Device(DeviceKind, Option<String>),
    /// `/speaker NAME|default|off|PATH.wav`: where the mix plays.
    Speaker(String),
}

/// The line that parses as this command (`parse(&command.to_string())`
/// gives it back): what the full-screen view shows of a command its keys
/// made (`not sent: /quit`), and what tests compare.
impl fmt::Display for Command {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with = |f: &mut fmt::Formatter<'_>, name: &str, rest: &Option<String>| match rest {
            Some(rest) => write!(f, "/{name} {rest}"),
            None => write!(f, "/{name}"),
        };
        match self {
            Command::Create(passcode) => with(f, "create", passcode),
            Command::Join(id, passcode) => match passcode {
                Some(passcode) => write!(f, "/join {id} {passcode}"),
                None => write!(f, "/join {id}"),
            },
            Command::Passcode(passcode) => with(f, "passcode", passcode),
            Command::Lock(true) => f.write_str("/lock"),
            Command::Lock(false) => f.write_str("/unlock"),
            Command::Lobby(on) => write!(f, "/lobby {}", if *on { "on" } else { "off" }),
            Command::Admit(who) => write!(f, "/admit {who}"),
            Command::Deny(who) => write!(f, "/deny {who}"),
            Command::Remove(who) => write!(f, "/remove {who}"),
            Command::Block(who, kind) => {
                write!(f, "/stop {} {kind}", who.as_deref().unwrap_or("everyone"))
            }
            Command::Allow(who, Some(kind)) => write!(f, "/allow {who} {kind}"),
            Command::Allow(who, None) => write!(f, "/allow {who}"),
            Command::MakeHost(who) => write!(f, "/host {who}"),
            Command::Leave => f.write_str("/leave"),
            Command::Cancel => f.write_str("/cancel"),
            Command::Meetings => f.write_str("/meetings"),
            Command::Members => f.write_str("/members"),
            Command::MediaOn(kind, Some(source)) => write!(f, "/{kind} on {source}"),
            Command::MediaOn(kind, None) => write!(f, "/{kind} on"),
            Command::MediaOff(kind) => write!(f, "/{kind} off"),
            Command::Volume(who, percent) => write!(f, "/volume {who} {percent}"),
            Command::Mute(who, true) => write!(f, "/mute {who}"),
            Command::Mute(who, false) => write!(f, "/unmute {who}"),
            Command::ControlRequest(who) => match who {
                Some(who) => write!(f, "/control request {who}"),
                None => f.write_str("/control request"),
            },
            Command::ControlGrant(who) => write!(f, "/control grant {who}"),
            Command::ControlRevoke => f.write_str("/control revoke"),
            Command::Input(action) => write!(f, "/input {action}"),
            Command::Stats => f.write_str("/stats"),
            Command::ServerStats => f.write_str("/server-stats"),
            Command::View(wanted) => write!(f, "/view {wanted}"),
            Command::Help => f.write_str("/help"),
            Command::Quit => f.write_str("/quit"),
            // A chat line that starts with '/' is typed with '//'.
            Command::Chat(text) if text.starts_with('/') => write!(f, "/{text}"),
            Command::Chat(text) => f.write_str(text),
            Command::Private(line) => write!(f, "/msg {line}"),
            Command::Hand(None) => f.write_str("/hand"),
            Command::Hand(Some(who)) => write!(f, "/hand lower {who}"),
            Command::React(emoji) => write!(f, "/react {emoji}"),
            Command::Devices => f.write_str("/devices"),
            Command::Device(device, name) => {
                let command = match device {
                    DeviceKind::Microphone => "mic",
                    DeviceKind::Camera => "camera",
                };
                write!(f, "/{command} {}", name.as_deref().unwrap_or("default"))
            }
            Command::Speaker(spec) => write!(f, "/speaker {spec}"),
        }
    }
}

/// A command as a front end hands it to the main loop: the line typed (or,
/// for a command a key made, its own line) and what it parses as. Parsed
/// once, where it was entered; the main loop takes the `Command`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entered {
    /// As typed, or written by `Command`'s `Display`: what the view shows
    /// of it (`not sent: /exit`).
    pub line: String,
    /// The command, or why the line is none (said as an error, in turn).
    pub command: Result<Command, String>,
}

impl Entered {
    /// A typed line, parsed; None for a blank one.
    pub fn typed(line: &str) -> Option<Entered> {
        let command = parse(line).transpose()?;
        Some(Entered {
            line: line.to_string(),
            command,
        })
    }

    /// A command made by a key or a menu.
    pub fn made(command: Command) -> Entered {
        Entered {
            line: command.to_string(),
            command: Ok(command),
        }
    }

    /// The command, if the line was one.
    pub fn command(&self) -> Option<&Command> {
        self.command.as_ref().ok()
    }
}

/// An entry is equal to the line it was entered as.
impl PartialEq<&str> for Entered {
    fn eq(&self, line: &&str) -> bool {
        self.line == *line
    }
}

/// `default` (or nothing) is the default device; anything else names one.
fn device_choice(i: &Invocation<'_>) -> Option<String> {
    let name = i.rest.trim();
    (!name.is_empty() && !name.eq_ignore_ascii_case("default")).then(|| name.to_string())
}

/// How much of the others' video this client asks the server for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VideoWanted {
    /// Every member at the full size (`--record`, scripts).
    Full,
    /// No video at all.
    None,
    /// What the full-screen view draws (the default there).
    Auto,
    /// The view's tiles: each member's picture fitted into a box of pixels.
    Tiles(Vec<(ClientId, PixelSize)>),
}

impl VideoWanted {
    /// `full`, `none` or `auto`.
    pub fn parse(text: &str) -> Result<VideoWanted, String> {
        match text {
            "full" => Ok(VideoWanted::Full),
            "none" => Ok(VideoWanted::None),
            "auto" => Ok(VideoWanted::Auto),
            other => Err(format!("'{other}': say full, none or auto")),
        }
    }
}

/// What follows `/view` in the line that asks for it (`tiles 3=80x48`).
impl fmt::Display for VideoWanted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VideoWanted::Full => f.write_str("full"),
            VideoWanted::None => f.write_str("none"),
            VideoWanted::Auto => f.write_str("auto"),
            VideoWanted::Tiles(tiles) => {
                f.write_str("tiles")?;
                for (id, size) in tiles {
                    write!(f, " {}={}x{}", id.0, size.width, size.height)?;
                }
                Ok(())
            }
        }
    }
}

fn parse_view(i: &Invocation) -> Result<Command, String> {
    match i.args.as_slice() {
        [word] if *word != "tiles" => VideoWanted::parse(word).map(Command::View),
        ["tiles", tiles @ ..] => {
            let mut parsed = Vec::with_capacity(tiles.len());
            for tile in tiles {
                let bad = || format!("'{tile}': a tile is ID=WIDTHxHEIGHT, like 3=80x48");
                let (id, size) = tile.split_once('=').ok_or_else(bad)?;
                let (w, h) = size.split_once('x').ok_or_else(bad)?;
                let id: u32 = id.parse().map_err(|_| bad())?;
                let w: u16 = w.parse().map_err(|_| bad())?;
                let h: u16 = h.parse().map_err(|_| bad())?;
                parsed.push((ClientId(id), PixelSize::new(w, h)));
            }
            Ok(Command::View(VideoWanted::Tiles(parsed)))
        }
        _ => Err("/view takes full, none or auto".into()),
    }
}

/// What one typed command line holds, for a command's parser.
pub struct Invocation<'a> {
    /// The command's row in `COMMANDS`.
    pub spec: &'static CommandSpec,
    /// The command's name as typed (`video`, or an alias such as `exit`).
    pub name: &'a str,
    /// Everything after the name, spaces kept (a source may be a path with spaces).
    pub rest: &'a str,
    /// The words after the name.
    pub args: Vec<&'a str>,
}

impl Invocation<'_> {
    fn no_args(&self, command: Command) -> Result<Command, String> {
        if self.args.is_empty() {
            Ok(command)
        } else {
            Err(format!("/{} takes no arguments", self.name))
        }
    }

    /// "usage: ..." with every way the command is typed, from `COMMANDS`.
    pub fn usage(&self) -> String {
        self.spec.usage_text()
    }

    /// `usage` with an example after it.
    fn usage_with(&self, example: &str) -> String {
        format!("{} (for example {example})", self.usage())
    }
}

/// One command: how it is typed, what it does, and how it is parsed. `/help`,
/// the full-screen help, `client --help`, the man page and the README's
/// table of commands are all made from `COMMANDS`, so they list what the
/// parser accepts and nothing else.
pub struct CommandSpec {
    pub name: &'static str,
    /// Other names it answers to.
    pub aliases: &'static [&'static str],
    /// How it is typed, for help texts (`/video on [SOURCE]`); one line each.
    pub usage: &'static [&'static str],
    /// What it does, in a line: `/help`, `--help`, the `?` overlay.
    pub help: &'static str,
    /// The whole story, where it is longer than `help` (empty: `help` is
    /// all of it): the README and the man page.
    pub details: &'static str,
    pub parse: fn(&Invocation) -> Result<Command, String>,
}

impl CommandSpec {
    /// "usage: /video on [SOURCE] or /video off": every way it is typed,
    /// for the error a line of none of these forms gets.
    pub fn usage_text(&self) -> String {
        let forms = match self.usage {
            [] => String::new(),
            [one] => one.to_string(),
            [first @ .., last] => format!("{} or {last}", first.join(", ")),
        };
        format!("usage: {forms}")
    }

    /// What it does, as the README and the man page say it.
    pub fn described(&self) -> &'static str {
        if self.details.is_empty() {
            self.help
        } else {
            self.details
        }
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "create",
        aliases: &[],
        usage: &["/create [PASSCODE]"],
        help: "start a meeting and become its host; with a passcode it is private",
        details: "start a meeting and become its host; with a passcode it is private: not listed to others, joined only with the passcode (which you are shown, to pass on with the id)",
        parse: |i| match i.args.as_slice() {
            [] => Ok(Command::Create(None)),
            _ => Ok(Command::Create(Some(i.rest.trim().to_string()))),
        },
    },
    CommandSpec {
        name: "join",
        aliases: &[],
        usage: &["/join ID [PASSCODE]"],
        help: "join a meeting by its id (like k7m-q2x), with its passcode if it is private",
        details: "join a meeting by its id (case, dashes and spaces do not matter), with its passcode if it has one. A wrong passcode gets the same answer as an id that does not exist, and failed joins are limited (5 at once, then one every 2 s per connection; 20, then one a second per address)",
        parse: parse_join,
    },
    CommandSpec {
        name: "leave",
        aliases: &[],
        usage: &["/leave"],
        help: "leave the meeting",
        details: "leave the meeting; if you were host, the member there longest becomes host. Someone waiting in a lobby stops waiting. The full-screen view asks first",
        parse: |i| i.no_args(Command::Leave),
    },
    CommandSpec {
        name: "cancel",
        aliases: &[],
        usage: &["/cancel"],
        help: "end the meeting for everyone (host only)",
        details: "",
        parse: |i| i.no_args(Command::Cancel),
    },
    CommandSpec {
        name: "meetings",
        aliases: &[],
        usage: &["/meetings"],
        help: "list the meetings on the server",
        details: "",
        parse: |i| i.no_args(Command::Meetings),
    },
    CommandSpec {
        name: "members",
        aliases: &[],
        usage: &["/members"],
        help: "list the members of your meeting and what they share",
        details: "list your meeting's members, the host, and who shares video, audio or a screen; each other member as `name#id`",
        parse: |i| i.no_args(Command::Members),
    },
    CommandSpec {
        name: "msg",
        aliases: &["pm", "whisper"],
        usage: &["/msg NAME|ID TEXT"],
        help: "a private message: only that member (and you) sees it",
        details: "a private message: the server delivers it to that member only, and you see it marked private; a name with spaces is typed as shown (`/msg Cy Lee see you`), quoted (`/msg \"Cy Lee\" see you`) or as the members list shows it (`/msg Cy Lee#2 see you`)",
        parse: parse_private,
    },
    CommandSpec {
        name: "hand",
        aliases: &["raise"],
        usage: &["/hand", "/hand lower NAME|ID"],
        help: "raise your hand, or lower it; the host lowers anyone's",
        details: "raise your hand, or lower it again; everyone sees it on your tile and in the members list. The host lowers anyone's",
        parse: |i| match i.args.as_slice() {
            [] => Ok(Command::Hand(None)),
            ["lower", _, ..] => Ok(Command::Hand(Some(i.args[1..].join(" ")))),
            _ => Err(i.usage()),
        },
    },
    CommandSpec {
        name: "react",
        aliases: &[],
        usage: &["/react EMOJI"],
        help: "show everyone a short reaction, an emoji or two, on your tile for a few seconds",
        details: "a short reaction (one to three emoji or characters, like `/react 👍`), shown to everyone on your tile for a few seconds",
        parse: |i| match i.args.as_slice() {
            [emoji] => Ok(Command::React((*emoji).to_string())),
            _ => Err(i.usage_with("/react 👍")),
        },
    },
    CommandSpec {
        name: "video",
        aliases: &[],
        usage: &["/video on [SOURCE]", "/video off"],
        help: "share video, or stop (sources below)",
        details: "share video from `test` (the default: a moving test pattern) or `PATH`, a JPEG/PNG file or a folder of them played in name order and looped; JPEG files are sent byte for byte; or `camera[:N|NAME]`, a camera (builds with `--features devices`; `--camera N|NAME` picks the default one)",
        parse: |i| parse_media(MediaKind::Video, i),
    },
    CommandSpec {
        name: "audio",
        aliases: &[],
        usage: &["/audio on [SOURCE]", "/audio off"],
        help: "share audio, or stop (sources below)",
        details: "share audio from `tone[:HZ]` (the default: 440 Hz) or `PATH.wav`, a 48 kHz WAV file (mono or stereo, integer or float), looped, or `mic[:NAME]`, a microphone (builds with `--features devices`)",
        parse: |i| parse_media(MediaKind::Audio, i),
    },
    CommandSpec {
        name: "passcode",
        aliases: &[],
        usage: &["/passcode [PASSCODE]"],
        help: "host: make the meeting private with a passcode, change it, or (none) make it public",
        details: "host: make the meeting private, change its passcode, or (without one) make it public; you are shown the passcode, to pass on with the id",
        parse: |i| {
            let passcode = i.rest.trim();
            Ok(Command::Passcode(
                (!passcode.is_empty()).then(|| passcode.to_string()),
            ))
        },
    },
    CommandSpec {
        name: "lock",
        aliases: &[],
        usage: &["/lock"],
        help: "host: let nobody new in",
        details: "",
        parse: |i| i.no_args(Command::Lock(true)),
    },
    CommandSpec {
        name: "unlock",
        aliases: &[],
        usage: &["/unlock"],
        help: "host: let people join again",
        details: "",
        parse: |i| i.no_args(Command::Lock(false)),
    },
    CommandSpec {
        name: "lobby",
        aliases: &[],
        usage: &["/lobby on", "/lobby off"],
        help: "host: people who join wait in a lobby until you let them in (off lets everyone waiting in)",
        details: "host: people who join wait in a lobby, outside the meeting (they see and send nothing of it), until you let them in; the members list shows who waits (⧗) and the terminal bell rings. `/lobby off` lets everyone waiting in",
        parse: |i| match i.args.as_slice() {
            ["on"] => Ok(Command::Lobby(true)),
            ["off"] => Ok(Command::Lobby(false)),
            _ => Err(i.usage()),
        },
    },
    CommandSpec {
        name: "admit",
        aliases: &["let-in"],
        usage: &["/admit NAME|ID", "/admit all"],
        help: "host: let someone waiting in the lobby in (all: everyone waiting)",
        details: "host: let someone waiting in the lobby in, or (`all`) everyone waiting",
        parse: |i| match i.args.as_slice() {
            [] => Err(i.usage()),
            _ => Ok(Command::Admit(i.args.join(" "))),
        },
    },
    CommandSpec {
        name: "deny",
        aliases: &[],
        usage: &["/deny NAME|ID"],
        help: "host: turn someone waiting in the lobby away (they cannot ask again until you /allow them)",
        details: "host: turn someone waiting in the lobby away; they cannot ask again until `/allow NAME|ID`",
        parse: |i| match i.args.as_slice() {
            [] => Err(i.usage()),
            _ => Ok(Command::Deny(i.args.join(" "))),
        },
    },
    CommandSpec {
        name: "remove",
        aliases: &["kick"],
        usage: &["/remove NAME|ID"],
        help: "host: take a member out; they cannot come back until you /allow them",
        details: "host: take a member out; they are told and cannot come back until `/allow NAME|ID`",
        parse: |i| match i.args.as_slice() {
            [] => Err(i.usage()),
            _ => Ok(Command::Remove(i.args.join(" "))),
        },
    },
    CommandSpec {
        name: "stop",
        aliases: &[],
        usage: &["/stop NAME|ID|everyone video|audio|screen"],
        help: "host: stop a member's (or everyone's) video, audio or screen until you allow it",
        details: "host: stop a member's (or everyone else's) video, audio or screen for everyone; the server relays none of it and refuses to turn it back on until `/allow NAME|ID KIND`",
        parse: parse_stop,
    },
    CommandSpec {
        name: "allow",
        aliases: &[],
        usage: &["/allow NAME|ID [video|audio|screen]"],
        help: "host: let a removed member back, or let a member share what you stopped",
        details: "host: let a member you removed, or turned away from the lobby, come back; with a kind, let a member share again what you stopped",
        parse: parse_allow,
    },
    CommandSpec {
        name: "host",
        aliases: &[],
        usage: &["/host NAME|ID"],
        help: "host: hand the host role to another member",
        details: "",
        parse: |i| match i.args.as_slice() {
            [] => Err(i.usage()),
            _ => Ok(Command::MakeHost(i.args.join(" "))),
        },
    },
    CommandSpec {
        name: "screen",
        aliases: &[],
        usage: &["/screen on [SOURCE]", "/screen off"],
        help: "share your screen, or stop (sources below)",
        details: "share a screen from `test` (the default: a synthetic desktop with scrolling text and a moving window; whoever controls it sees their typing in a field at its bottom and their pointer as a red cross), `x11[:DISPLAY]` (an X display, `$DISPLAY` unless given; `x11:DISPLAY@WxH+X+Y` shares a region), or `PATH`, a PNG/JPEG file or a folder of them shown in turn; only the parts that changed are sent, text stays sharp (docs/SCREEN.md). Camera and screen can be shared at once",
        parse: |i| parse_media(MediaKind::Screen, i),
    },
    CommandSpec {
        name: "control",
        aliases: &[],
        usage: &[
            "/control request [NAME|ID]",
            "/control grant NAME|ID",
            "/control revoke",
        ],
        help: "remote control: ask for it, give it, end it",
        details: "`request`: ask the member sharing a screen (name them if several do) to let you control it; everyone sees the request. `grant`: while you share a screen, let one member control it; `revoke`: take control back at any time (a controller gives it up with it too). Control also ends when you stop sharing or either of you leaves. An X display plays the input; the test desktop draws it; a picture (`PATH`) takes none",
        parse: parse_control,
    },
    CommandSpec {
        name: "input",
        aliases: &[],
        usage: INPUT_USAGE,
        help: "input for the screen you control (X Y: its pixels)",
        details: "send input to the screen you control: X Y in the shared screen's pixels; keys are characters or names (`Return`, `BackSpace`, `Tab`, `Escape`, arrows, `F1`-`F12`, `0xff0d`); `press` and `release` hold a button down and let it go, for a drag",
        parse: |i| InputAction::parse(i.rest).map(Command::Input),
    },
    CommandSpec {
        name: "volume",
        aliases: &[],
        usage: &["/volume NAME|ID PERCENT"],
        help: "how loud a member plays for you: 0 to 400 (default 100)",
        details: "how loud a member plays for you, 0 to 400 (default 100); only you hear the difference",
        parse: parse_volume,
    },
    CommandSpec {
        name: "mute",
        aliases: &[],
        usage: &["/mute NAME|ID"],
        help: "stop hearing a member (only for you)",
        details: "stop hearing a member, for you alone; their audio keeps arriving and buffering, so unmuting is instant",
        parse: |i| parse_mute(i, true),
    },
    CommandSpec {
        name: "unmute",
        aliases: &[],
        usage: &["/unmute NAME|ID"],
        help: "hear a member again",
        details: "",
        parse: |i| parse_mute(i, false),
    },
    CommandSpec {
        name: "devices",
        aliases: &[],
        usage: &["/devices"],
        help: "list the cameras, microphones and speakers this client can use",
        details: "the cameras, microphones and speakers this client can use (what `client --list-devices` prints)",
        parse: |i| i.no_args(Command::Devices),
    },
    CommandSpec {
        name: "mic",
        aliases: &["microphone"],
        usage: &["/mic NAME|default"],
        help: "the microphone /audio on mic opens (part of a name from /devices); switches at once while you share it",
        details: "the microphone `/audio on mic` opens from now on (part of a name from `/devices`); while you share from it, it switches at once",
        parse: |i| Ok(Command::Device(DeviceKind::Microphone, device_choice(i))),
    },
    CommandSpec {
        name: "camera",
        aliases: &[],
        usage: &["/camera NAME|default"],
        help: "the camera /video on camera opens (part of a name from /devices); switches at once while you share it",
        details: "the camera `/video on camera` opens from now on (part of a name from `/devices`); while you share from it, it switches at once",
        parse: |i| Ok(Command::Device(DeviceKind::Camera, device_choice(i))),
    },
    CommandSpec {
        name: "speaker",
        aliases: &[],
        usage: &["/speaker NAME|default|off|PATH.wav"],
        help: "where you hear the others: a speaker (part of a name from /devices), a WAV file, or off",
        details: "where you hear the others, switched during the session: a speaker, a WAV file (finished when you switch away), or nothing",
        parse: |i| match i.rest.trim() {
            "" => Err(i.usage()),
            spec => Ok(Command::Speaker(spec.to_string())),
        },
    },
    CommandSpec {
        name: "stats",
        aliases: &[],
        usage: &["/stats"],
        help: "frames and bytes sent and received, audio levels and playback delay",
        details: "frames and bytes sent, and received per member, with frames lost on the way (only while you and they were in the meeting together: what a member sent before you joined, or while either of you was away, is not counted); each member's audio level and, while playing, their jitter buffer",
        parse: |i| i.no_args(Command::Stats),
    },
    CommandSpec {
        name: "view",
        aliases: &[],
        usage: &["/view full", "/view none", "/view auto"],
        help: "how much of the others' video to receive: everyone at full size, none, or (the full-screen view) the size it draws each tile at",
        details: "how much of the others' video the server sends you: `full`, everyone at full size; `none`; `auto` (the default), what the full-screen view draws, each picture at its tile's size (in the line interface: everyone at full size while recording, else none)",
        parse: parse_view,
    },
    CommandSpec {
        name: "server-stats",
        aliases: &[],
        usage: &["/server-stats"],
        help: "the server's traffic figures: frames in, out, dropped",
        details: "the server's figures: clients, meetings, sockets, and frames and bytes in, out and dropped per kind",
        parse: |i| i.no_args(Command::ServerStats),
    },
    CommandSpec {
        name: "help",
        aliases: &["?"],
        usage: &["/help"],
        help: "this list",
        details: "every command and media source; in the full-screen view `?` lists the keys too",
        parse: |_| Ok(Command::Help),
    },
    CommandSpec {
        name: "quit",
        aliases: &["exit"],
        usage: &["/quit"],
        help: "leave and exit (Ctrl-D and Ctrl-C too)",
        details: "leave and exit; Ctrl-D (end of input) and Ctrl-C do the same",
        parse: |i| i.no_args(Command::Quit),
    },
];

/// How a chat line is typed, for help texts.
pub const CHAT_HELP: (&str, &str) = (
    "TEXT",
    "any other line is a chat message to your meeting ('//' sends a leading '/')",
);

/// A chat line, as the README's table and the man page say it.
pub const CHAT_DETAILS: (&str, &str) = (
    "any other line",
    "chat to your meeting; start it with `//` to send a leading `/`",
);

/// Every command and chat, as help lines: one per way of typing it, the
/// description on the first.
pub fn command_lines() -> Vec<HelpLine> {
    let mut lines = Vec::new();
    for spec in COMMANDS {
        for (n, usage) in spec.usage.iter().enumerate() {
            // A second form (`/video off`) needs no second description.
            let help = if n == 0 { spec.help } else { "" };
            lines.push(HelpLine::new(usage, help));
        }
    }
    lines.push(HelpLine::new(CHAT_HELP.0, CHAT_HELP.1));
    lines
}

/// Every command, chat, and every media source, as help lines.
pub fn help_lines() -> Vec<HelpLine> {
    let mut lines = command_lines();
    for kind in MediaKind::ALL {
        for (name, what) in media::sources(kind) {
            lines.push(HelpLine::new(&format!("{kind} source {name}"), what));
        }
    }
    lines
}

fn parse_media(kind: MediaKind, i: &Invocation) -> Result<Command, String> {
    // A source may be a path with spaces: everything after `on` is the source.
    let after_on = i.rest.trim_start().strip_prefix("on");
    match (i.args.first(), after_on) {
        (Some(&"on"), Some(source)) => {
            let source = source.trim();
            Ok(Command::MediaOn(
                kind,
                (!source.is_empty()).then(|| source.to_string()),
            ))
        }
        (Some(&"off"), _) if i.args.len() == 1 => Ok(Command::MediaOff(kind)),
        _ => Err(i.usage()),
    }
}

/// How `/msg` is typed, with examples, for its errors (the main loop's too:
/// only the meeting knows where a name ends and the text begins).
pub fn msg_usage() -> String {
    let spec = COMMANDS.iter().find(|spec| spec.name == "msg");
    let usage = spec.map(CommandSpec::usage_text).unwrap_or_default();
    format!("{usage} (for example /msg ana see you at five, /msg Cy Lee hi)")
}

/// `/msg NAME TEXT`: at least a name and a word; where a name with spaces
/// ends is for the meeting to say (`Command::Private`). A message may have
/// any spaces.
fn parse_private(i: &Invocation) -> Result<Command, String> {
    if i.args.len() < 2 {
        return Err(msg_usage());
    }
    Ok(Command::Private(i.rest.trim().to_string()))
}

fn parse_join(i: &Invocation) -> Result<Command, String> {
    let usage = || i.usage_with("/join k7m-q2x");
    // An id may be typed with a space in the middle, as read aloud: two words
    // that make an id are one id; otherwise the second is the passcode.
    let joined_id = |a: &str, b: &str| {
        let both = format!("{a}{b}");
        common::MeetingId::parse(&both).map(|_| both)
    };
    match i.args.as_slice() {
        [id] => Ok(Command::Join((*id).to_string(), None)),
        [a, b] => Ok(match joined_id(a, b) {
            Some(id) => Command::Join(id, None),
            None => Command::Join((*a).to_string(), Some((*b).to_string())),
        }),
        [a, b, rest @ ..] => Ok(match joined_id(a, b) {
            Some(id) => Command::Join(id, Some(rest.join(" "))),
            // A passcode may have spaces: everything after the id.
            None => Command::Join(
                (*a).to_string(),
                Some(i.rest.trim_start()[a.len()..].trim().to_string()),
            ),
        }),
        [] => Err(usage()),
    }
}

fn parse_kind(word: &str) -> Result<MediaKind, String> {
    MediaKind::from_name(word).ok_or_else(|| {
        let names: Vec<&str> = MediaKind::ALL.iter().map(|kind| kind.name()).collect();
        let names = match names.as_slice() {
            [first @ .., last] => format!("{} or {last}", first.join(", ")),
            [] => String::new(),
        };
        format!("'{word}' is not {names}")
    })
}

fn parse_stop(i: &Invocation) -> Result<Command, String> {
    match i.args.split_last() {
        Some((kind, who)) if !who.is_empty() => {
            let kind = parse_kind(kind)?;
            let who = who.join(" ");
            let everyone = matches!(who.as_str(), "everyone" | "all");
            Ok(Command::Block((!everyone).then_some(who), kind))
        }
        _ => Err(i.usage()),
    }
}

fn parse_allow(i: &Invocation) -> Result<Command, String> {
    match i.args.split_last() {
        Some((last, who)) if !who.is_empty() && MediaKind::from_name(last).is_some() => {
            Ok(Command::Allow(who.join(" "), MediaKind::from_name(last)))
        }
        Some(_) => Ok(Command::Allow(i.args.join(" "), None)),
        None => Err(i.usage()),
    }
}

fn parse_control(i: &Invocation) -> Result<Command, String> {
    let who = || i.args[1..].join(" ");
    match i.args.as_slice() {
        ["request"] => Ok(Command::ControlRequest(None)),
        ["request", ..] => Ok(Command::ControlRequest(Some(who()))),
        ["grant", _, ..] => Ok(Command::ControlGrant(who())),
        ["revoke"] => Ok(Command::ControlRevoke),
        _ => Err(i.usage()),
    }
}

fn parse_volume(i: &Invocation) -> Result<Command, String> {
    match i.args.split_last() {
        Some((percent, who)) if !who.is_empty() => {
            let percent = percent.trim_end_matches('%');
            match percent.parse::<u32>() {
                Ok(percent) if percent <= MAX_VOLUME_PERCENT => {
                    Ok(Command::Volume(who.join(" "), percent))
                }
                _ => Err(format!(
                    "/volume: '{percent}' is not a percentage from 0 to {MAX_VOLUME_PERCENT}"
                )),
            }
        }
        _ => Err(i.usage_with("/volume ana 50")),
    }
}

fn parse_mute(i: &Invocation, mute: bool) -> Result<Command, String> {
    if i.args.is_empty() {
        return Err(i.usage());
    }
    Ok(Command::Mute(i.args.join(" "), mute))
}

/// Parses one input line; `Ok(None)` for a blank line.
pub fn parse(line: &str) -> Result<Option<Command>, String> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Ok(None);
    }
    if let Some(escaped) = line.strip_prefix("//") {
        return Ok(Some(Command::Chat(format!("/{escaped}"))));
    }
    let Some(rest) = line.strip_prefix('/') else {
        return Ok(Some(Command::Chat(line.to_string())));
    };
    let mut words = rest.split_whitespace();
    let name = words.next().unwrap_or_default();
    let spec = COMMANDS
        .iter()
        .find(|spec| spec.name == name || spec.aliases.contains(&name))
        .ok_or_else(|| format!("unknown command /{name}; /help lists the commands"))?;
    let invocation = Invocation {
        spec,
        name,
        rest: rest.trim_start().get(name.len()..).unwrap_or_default(),
        args: words.collect(),
    };
    (spec.parse)(&invocation).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(parse("/create"), Ok(Some(Command::Create(None))));
        assert_eq!(
            parse("/create open sesame"),
            Ok(Some(Command::Create(Some("open sesame".into()))))
        );
        assert_eq!(
            parse("/join k7m-q2x s3cret"),
            Ok(Some(Command::Join("k7m-q2x".into(), Some("s3cret".into()))))
        );
        assert_eq!(
            parse("/join k7m q2x s3cret"),
            Ok(Some(Command::Join("k7mq2x".into(), Some("s3cret".into()))))
        );
        assert_eq!(
            parse("/join k7m-q2x tea at five"),
            Ok(Some(Command::Join(
                "k7m-q2x".into(),
                Some("tea at five".into())
            )))
        );
        assert_eq!(
            parse("/stop everyone audio"),
            Ok(Some(Command::Block(None, MediaKind::Audio)))
        );
        assert_eq!(
            parse("/stop bo video"),
            Ok(Some(Command::Block(Some("bo".into()), MediaKind::Video)))
        );
        assert_eq!(
            parse("/allow bo"),
            Ok(Some(Command::Allow("bo".into(), None)))
        );
        assert_eq!(
            parse("/allow bo screen"),
            Ok(Some(Command::Allow("bo".into(), Some(MediaKind::Screen))))
        );
        assert_eq!(
            parse("/join k7m-q2x"),
            Ok(Some(Command::Join("k7m-q2x".into(), None)))
        );
        assert_eq!(
            parse("/join k7m q2x"),
            Ok(Some(Command::Join("k7mq2x".into(), None)))
        );
        assert_eq!(
            parse("/video on"),
            Ok(Some(Command::MediaOn(MediaKind::Video, None)))
        );
        assert_eq!(
            parse("/video on /tmp/my pics"),
            Ok(Some(Command::MediaOn(
                MediaKind::Video,
                Some("/tmp/my pics".into())
            )))
        );
        assert_eq!(
            parse("/audio on tone:660"),
            Ok(Some(Command::MediaOn(
                MediaKind::Audio,
                Some("tone:660".into())
            )))
        );
        assert_eq!(
            parse("/audio off"),
            Ok(Some(Command::MediaOff(MediaKind::Audio)))
        );
        assert_eq!(parse("/quit\r\n"), Ok(Some(Command::Quit)));
        assert_eq!(
            parse("/volume ana 50"),
            Ok(Some(Command::Volume("ana".into(), 50)))
        );
        assert_eq!(
            parse("/volume Ana Lima 150%"),
            Ok(Some(Command::Volume("Ana Lima".into(), 150)))
        );
        assert_eq!(
            parse("/msg bo#3 see you  at five"),
            Ok(Some(Command::Private("bo#3 see you  at five".into())))
        );
        assert_eq!(parse("/hand"), Ok(Some(Command::Hand(None))));
        assert_eq!(
            parse("/hand lower Ana Lima"),
            Ok(Some(Command::Hand(Some("Ana Lima".into()))))
        );
        assert_eq!(parse("/react 👍"), Ok(Some(Command::React("👍".into()))));
        assert_eq!(parse("/mute 7"), Ok(Some(Command::Mute("7".into(), true))));
        assert_eq!(
            parse("/unmute bo"),
            Ok(Some(Command::Mute("bo".into(), false)))
        );
    }

    #[test]
    fn every_command_is_written_as_the_line_it_parses_from() {
        let commands = [
            Command::Create(None),
            Command::Create(Some("open sesame".into())),
            Command::Join("k7m-q2x".into(), Some("tea at five".into())),
            Command::Passcode(None),
            Command::Lock(false),
            Command::Lobby(true),
            Command::Admit("all".into()),
            Command::Deny("dee#9".into()),
            Command::Remove("Cy Lee#2".into()),
            Command::Block(None, MediaKind::Audio),
            Command::Block(Some("bo#3".into()), MediaKind::Video),
            Command::Allow("bo".into(), Some(MediaKind::Screen)),
            Command::Allow("bo".into(), None),
            Command::MakeHost("ana#2".into()),
            Command::Leave,
            Command::MediaOn(MediaKind::Video, Some("/tmp/my pics".into())),
            Command::MediaOn(MediaKind::Audio, None),
            Command::MediaOff(MediaKind::Screen),
            Command::Volume("Ana Lima".into(), 150),
            Command::Mute("ana#2".into(), false),
            Command::ControlRequest(Some("2".into())),
            Command::ControlRequest(None),
            Command::ControlGrant("3".into()),
            Command::ControlRevoke,
            Command::Input(InputAction::Type("hello".into())),
            Command::Input(InputAction::Release {
                at: None,
                button: crate::control::BUTTON_LEFT,
            }),
            Command::View(VideoWanted::Tiles(vec![(
                ClientId(3),
                PixelSize::new(80, 48),
            )])),
            Command::View(VideoWanted::None),
            Command::Chat("hello /all".into()),
            Command::Chat("/etc/hosts".into()),
            Command::Private("bo#3 see you  at five".into()),
            Command::Hand(Some("Ana Lima".into())),
            Command::React("👍".into()),
            Command::Device(DeviceKind::Microphone, None),
            Command::Device(DeviceKind::Camera, Some("usb".into())),
            Command::Speaker("off".into()),
            Command::ServerStats,
            Command::Quit,
        ];
        for command in commands {
            let line = command.to_string();
            assert_eq!(parse(&line), Ok(Some(command)), "{line}");
        }
    }

    /// What a new media kind needs here, besides its driver: a row that
    /// shares it, and its name where commands take a kind.
    #[test]
    fn every_media_kind_has_its_command_and_is_named_where_kinds_are_taken() {
        for kind in MediaKind::ALL {
            assert_eq!(
                parse(&format!("/{kind} off")),
                Ok(Some(Command::MediaOff(kind))),
                "a COMMANDS row for /{kind}"
            );
            assert_eq!(
                parse(&format!("/stop everyone {kind}")),
                Ok(Some(Command::Block(None, kind)))
            );
            for name in ["stop", "allow"] {
                let spec = COMMANDS.iter().find(|spec| spec.name == name);
                let usage = spec.map(|spec| spec.usage.join(" ")).unwrap_or_default();
                assert!(usage.contains(kind.name()), "/{name}'s usage names {kind}");
            }
        }
    }

    #[test]
    fn text_is_chat_and_blank_is_nothing() {
        assert_eq!(
            parse("hello /all"),
            Ok(Some(Command::Chat("hello /all".into())))
        );
        assert_eq!(
            parse("//etc/hosts"),
            Ok(Some(Command::Chat("/etc/hosts".into())))
        );
        assert_eq!(parse("   "), Ok(None));
    }

    /// A usage line with its placeholders filled the way a user would.
    fn fill(usage: &str) -> String {
        usage
            .replace(" [NAME|ID]", "")
            .replace("NAME|ID|everyone video|audio|screen", "bo audio")
            .replace("NAME|ID [video|audio|screen]", "bo")
            .replace(" [PASSCODE]", "")
            .replace(" [down|up]", "")
            .replace(" [left|middle|right]", "")
            .replace("up|down [X Y]", "up")
            .replace(" [X Y]", "")
            .replace("X Y", "10 20")
            .replace("TEXT", "hello")
            .replace("EMOJI", "👍")
            .replace("NAME [", "Return [")
            .replace("key NAME", "key Return")
            .replace("NAME|ID PERCENT", "ana 50")
            .replace("NAME|ID", "ana")
            .replace(" [SOURCE]", "")
            .replace("ID", "k7m-q2x")
    }

    #[test]
    fn every_usage_in_the_table_parses_as_its_command() {
        for spec in COMMANDS {
            for usage in spec.usage {
                let typed = fill(usage);
                assert!(parse(&typed).is_ok_and(|c| c.is_some()), "{typed}");
            }
            for alias in spec.aliases {
                let typed = fill(spec.usage[0]);
                let aliased = typed.replacen(&format!("/{}", spec.name), &format!("/{alias}"), 1);
                assert_eq!(parse(&aliased), parse(&typed), "{aliased}");
            }
        }
        let help = help_lines();
        assert!(help.iter().any(|h| h.command == "/server-stats"));
        assert!(
            help.iter()
                .any(|h| h.command.starts_with("audio source tone"))
        );
    }

    #[test]
    fn mistakes_explain_themselves() {
        assert!(parse("/join").is_err_and(|e| e.contains("usage")));
        assert!(parse("/video sideways").is_err_and(|e| e.contains("usage")));
        assert!(parse("/leave now").is_err());
        assert!(parse("/fly").is_err_and(|e| e.contains("/help")));
        assert!(parse("/volume ana").is_err_and(|e| e.contains("usage")));
        assert!(parse("/volume ana loud").is_err_and(|e| e.contains("percentage")));
        assert!(parse("/volume 50").is_err_and(|e| e.contains("usage")));
        assert!(parse("/volume ana 401").is_err());
        assert!(parse("/mute").is_err_and(|e| e.contains("usage")));
        assert!(parse("/msg ana").is_err_and(|e| e.contains("usage")));
        assert!(parse("/msg").is_err_and(|e| e.contains("usage")));
        assert!(parse("/hand up high").is_err_and(|e| e.contains("usage")));
        assert!(parse("/react").is_err_and(|e| e.contains("usage")));
    }
}
