//! What a user (or a script) types: one line, one `Command`, parsed by the
//! one table of commands (`table::COMMANDS`) that every help text is made
//! from. Adding a command is a variant here (with how it is written back,
//! `Display`), a row in the table, and what it does in the main loop (for
//! one that asks the server something, an arm in `app::requests`).

mod table;

pub use table::COMMANDS;

use crate::control::InputAction;
use crate::media;
pub use crate::media::options::DeviceKind;
use crate::output::HelpLine;
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

/// How `/msg` is typed, with examples, for its errors (the main loop's too:
/// only the meeting knows where a name ends and the text begins).
pub fn msg_usage() -> String {
    let spec = COMMANDS.iter().find(|spec| spec.name == "msg");
    let usage = spec.map(CommandSpec::usage_text).unwrap_or_default();
    format!("{usage} (for example /msg ana see you at five, /msg Cy Lee hi)")
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
mod tests;
