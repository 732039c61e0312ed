//! The table of commands, `COMMANDS`: each row says how a command is
//! typed, what it does (in a line for `/help`, `--help` and the `?` overlay,
//! and whole for the README and the man page), and how its line parses.
//! A parse error that is about the form takes its words from the row
//! (`Invocation::usage`).

use super::{Command, CommandSpec, DeviceKind, Invocation, VideoWanted, msg_usage};
use crate::control::{INPUT_USAGE, InputAction};
use crate::playback::mixer::MAX_VOLUME_PERCENT;
use common::{ClientId, MediaKind, PixelSize};

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

/// `default` (or nothing) is the default device; anything else names one.
fn device_choice(i: &Invocation<'_>) -> Option<String> {
    let name = i.rest.trim();
    (!name.is_empty() && !name.eq_ignore_ascii_case("default")).then(|| name.to_string())
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
