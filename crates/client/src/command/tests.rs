//! Every command parses, writes back as its line, and explains its mistakes.

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
    // Where a command takes a kind, every kind is named.
    let kinds: Vec<&str> = MediaKind::ALL.iter().map(|kind| kind.name()).collect();
    let kinds = kinds.join("|");
    usage
        .replace(" [NAME|ID]", "")
        .replace(&format!("NAME|ID|everyone {kinds}"), "bo audio")
        .replace(&format!("NAME|ID [{kinds}]"), "bo")
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
