//! What a user (or a script) types: one line, one `Command`.

use crate::playback::mixer::MAX_VOLUME_PERCENT;
use common::MediaKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Create,
    Join(String),
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
    Stats,
    ServerStats,
    Help,
    Quit,
    Chat(String),
}

/// The commands and what they do, for `/help` (one table, so it cannot go stale).
pub const HELP: &[(&str, &str)] = &[
    ("/create", "start a meeting and become its host"),
    ("/join ID", "join a meeting by its id (like k7m-q2x)"),
    ("/leave", "leave the meeting"),
    ("/cancel", "end the meeting for everyone (host only)"),
    ("/meetings", "list the meetings on the server"),
    (
        "/members",
        "list the members of your meeting and what they share",
    ),
    (
        "/video on [SOURCE]",
        "share video: 'test' (default) or an image file or folder",
    ),
    ("/video off", "stop sharing video"),
    (
        "/audio on [SOURCE]",
        "share audio: 'tone[:HZ]' (default 440 Hz) or a WAV file",
    ),
    ("/audio off", "stop sharing audio"),
    (
        "/volume NAME|ID PERCENT",
        "how loud a member plays for you: 0 to 400 (default 100)",
    ),
    ("/mute NAME|ID", "stop hearing a member (only for you)"),
    ("/unmute NAME|ID", "hear a member again"),
    (
        "/stats",
        "frames and bytes sent and received, audio levels and playback delay",
    ),
    (
        "/server-stats",
        "the server's traffic figures: frames in, out, dropped",
    ),
    ("/help", "this list"),
    ("/quit", "leave and exit (Ctrl-D and Ctrl-C too)"),
    (
        "TEXT",
        "any other line is a chat message to your meeting ('//' sends a leading '/')",
    ),
];

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
    let args: Vec<&str> = words.collect();
    let no_args = |command: Command| {
        if args.is_empty() {
            Ok(Some(command))
        } else {
            Err(format!("/{name} takes no arguments"))
        }
    };
    match name {
        "create" => no_args(Command::Create),
        "join" => match args.as_slice() {
            [id] => Ok(Some(Command::Join((*id).to_string()))),
            // Accept an id typed with a space in the middle, as read aloud.
            [a, b] => Ok(Some(Command::Join(format!("{a}{b}")))),
            _ => Err("usage: /join ID (for example /join k7m-q2x)".to_string()),
        },
        "leave" => no_args(Command::Leave),
        "cancel" => no_args(Command::Cancel),
        "meetings" => no_args(Command::Meetings),
        "members" => no_args(Command::Members),
        "video" | "audio" => {
            let kind = if name == "video" {
                MediaKind::Video
            } else {
                MediaKind::Audio
            };
            // A source may be a path with spaces: everything after `on` is the source.
            let after_on = rest[name.len()..].trim_start().strip_prefix("on");
            match (args.first(), after_on) {
                (Some(&"on"), Some(source)) => {
                    let source = source.trim();
                    Ok(Some(Command::MediaOn(
                        kind,
                        (!source.is_empty()).then(|| source.to_string()),
                    )))
                }
                (Some(&"off"), _) if args.len() == 1 => Ok(Some(Command::MediaOff(kind))),
                _ => Err(format!("usage: /{name} on [SOURCE] or /{name} off")),
            }
        }
        "volume" => match args.split_last() {
            Some((percent, who)) if !who.is_empty() => {
                let percent = percent.trim_end_matches('%');
                match percent.parse::<u32>() {
                    Ok(percent) if percent <= MAX_VOLUME_PERCENT => {
                        Ok(Some(Command::Volume(who.join(" "), percent)))
                    }
                    _ => Err(format!(
                        "/volume: '{percent}' is not a percentage from 0 to {MAX_VOLUME_PERCENT}"
                    )),
                }
            }
            _ => Err("usage: /volume NAME|ID PERCENT (for example /volume ana 50)".to_string()),
        },
        "mute" | "unmute" if !args.is_empty() => {
            Ok(Some(Command::Mute(args.join(" "), name == "mute")))
        }
        "mute" | "unmute" => Err(format!("usage: /{name} NAME|ID")),
        "stats" => no_args(Command::Stats),
        "server-stats" => no_args(Command::ServerStats),
        "help" | "?" => Ok(Some(Command::Help)),
        "quit" | "exit" => no_args(Command::Quit),
        _ => Err(format!("unknown command /{name}; /help lists the commands")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(parse("/create"), Ok(Some(Command::Create)));
        assert_eq!(
            parse("/join k7m-q2x"),
            Ok(Some(Command::Join("k7m-q2x".into())))
        );
        assert_eq!(
            parse("/join k7m q2x"),
            Ok(Some(Command::Join("k7mq2x".into())))
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
        assert_eq!(parse("/mute 7"), Ok(Some(Command::Mute("7".into(), true))));
        assert_eq!(
            parse("/unmute bo"),
            Ok(Some(Command::Mute("bo".into(), false)))
        );
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

    #[test]
    fn mistakes_explain_themselves() {
        assert!(parse("/join").is_err_and(|e| e.contains("usage")));
        assert!(parse("/video sideways").is_err_and(|e| e.contains("usage")));
        assert!(parse("/create now").is_err());
        assert!(parse("/fly").is_err_and(|e| e.contains("/help")));
        assert!(parse("/volume ana").is_err_and(|e| e.contains("usage")));
        assert!(parse("/volume ana loud").is_err_and(|e| e.contains("percentage")));
        assert!(parse("/volume 50").is_err_and(|e| e.contains("usage")));
        assert!(parse("/volume ana 401").is_err());
        assert!(parse("/mute").is_err_and(|e| e.contains("usage")));
    }
}
