//! `client`: the command line of the terminal meeting client.

use clap::{CommandFactory, Parser};
use common::protocol::DEFAULT_PORT;
use meeting_client::app::{self, AppEvent, Ending, Mode, Options};
use meeting_client::discover::{self, choose};
use meeting_client::link::Security;
use meeting_client::media;
use meeting_client::media::audio::codec;
use meeting_client::media::options::{MediaOptions, VideoSettings};
use meeting_client::output;
use meeting_client::servers;
use meeting_client::tui::{self, Graphics, TuiSettings};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

fn after_help() -> String {
    const COLUMN: usize = 28;
    let commands: Vec<String> = meeting_client::command::command_lines()
        .into_iter()
        .map(|line| {
            if line.description.is_empty() {
                format!("  {}", line.command)
            } else if line.command.len() > COLUMN {
                // A long form gets its description on a line of its own.
                format!("  {}\n  {:COLUMN$} {}", line.command, "", line.description)
            } else {
                format!("  {:<COLUMN$} {}", line.command, line.description)
            }
        })
        .collect();
    let sources: Vec<String> = common::MediaKind::ALL
        .into_iter()
        .map(|kind| {
            format!(
                "Sources for /{kind} on:\n{}",
                media::describe_sources(&media::sources(kind))
            )
        })
        .collect();
    format!(
        "In a terminal the client opens a full-screen view (? lists its keys); with --plain, --json, \
         or when stdin or stdout is not a terminal, it reads commands line by line.\n\n\
         Commands once connected (/help lists them too):\n{}\n\n\
         {}\nAudio out (--audio-out):\n{}\n\n{}",
        commands.join("\n"),
        sources.join("\n"),
        media::describe_sources(meeting_client::playback::PLAYBACK_SINKS),
        NOTES,
    )
}

/// The end of `--help`, and of the man page.
const NOTES: &str = "With --json, stdin takes the same commands and stdout has one JSON object per event \
     (see README).\n\
     Logs go to stderr, coloured only when it is a terminal and NO_COLOR is unset; RUST_LOG sets \
     their level.\n\n\
     Exit codes: 0 you quit, input ended or the server shut down; 1 could not connect or the \
     connection was lost; 2 bad command line.";

/// The man page's own sections: the commands and keys from the tables the
/// program uses (so the page lists what the parser and the view accept), and
/// the media sources.
fn man_sections() -> Vec<cli_docs::ManSection> {
    use meeting_client::command::{CHAT_DETAILS, COMMANDS};
    let mut commands: Vec<(String, String)> = COMMANDS
        .iter()
        .map(|spec| (spec.usage.join(", "), spec.described().replace('`', "")))
        .collect();
    commands.push((CHAT_DETAILS.0.to_string(), CHAT_DETAILS.1.replace('`', "")));
    let keys = tui::SHORTCUTS
        .iter()
        .map(|s| (s.keys.to_string(), s.described().replace('`', "")))
        .collect();
    let mut sources: Vec<(String, String)> = Vec::new();
    for kind in common::MediaKind::ALL {
        for (name, what) in media::sources(kind) {
            sources.push((format!("/{kind} on {name}"), what.to_string()));
        }
    }
    for (name, what) in meeting_client::playback::PLAYBACK_SINKS {
        sources.push((format!("--audio-out {name}"), what.to_string()));
    }
    vec![
        cli_docs::ManSection {
            title: "Commands".into(),
            intro: "Typed once connected, in every mode (/help lists them too); the same lines \
                    drive the client with --json."
                .into(),
            entries: commands,
        },
        cli_docs::ManSection {
            title: "Keys".into(),
            intro: "In the full-screen view (? lists them too).".into(),
            entries: keys,
        },
        cli_docs::ManSection {
            title: "Media sources".into(),
            intro: "What /video, /audio and /screen share, and where --audio-out plays.".into(),
            entries: sources,
        },
    ]
}

/// A name the server will take: a bad one is a bad command line (exit 2),
/// found before connecting.
fn parse_name(text: &str) -> Result<String, String> {
    let name = text.trim();
    let chars = name.chars().count();
    if chars == 0 || chars > common::protocol::MAX_NAME_CHARS {
        return Err(format!(
            "a name is 1 to {} characters",
            common::protocol::MAX_NAME_CHARS
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("a name cannot contain control characters".to_string());
    }
    Ok(name.to_string())
}

/// Terminal meeting client: create or join meetings, chat, share video and audio.
#[derive(Parser, Debug)]
#[command(name = "client", version, after_help = after_help())]
struct Args {
    /// Server to connect to: a host name or IP address, optionally with
    /// :PORT (IPv6 as [::1]:7000). Several servers of a cluster, separated by
    /// commas (a,b:7000,c), are tried in a random order, every address of
    /// each name, until one answers. Without it, the client looks for
    /// servers on the LAN (mDNS) for about a second: it joins the one it
    /// finds, or asks which when it finds several.
    #[arg(value_name = "HOST[:PORT][,HOST[:PORT]...]")]
    host: Option<String>,

    /// List the servers that announce themselves on the LAN (mDNS), and exit:
    /// name, address, meetings and announced key (with --json, one `servers`
    /// event). Exit code 1 when none answered.
    #[arg(long, conflicts_with = "host")]
    discover: bool,

    /// List the cameras, microphones and speakers this client can use, and exit.
    #[arg(long)]
    list_devices: bool,

    /// The camera `/video on camera` opens: its index or part of its name from --list-devices.
    #[arg(long, value_name = "N|NAME")]
    camera: Option<String>,

    /// The microphone `/audio on mic` opens: part of a name or id from --list-devices.
    #[arg(long, value_name = "NAME")]
    mic: Option<String>,

    /// The codec your audio is sent in: opus (about 32 kbit/s, what builds
    /// with the `opus` feature send) or pcm (768 kbit/s, for tests and tools).
    /// Every client plays both.
    #[arg(long, value_name = "opus|pcm", default_value_t = codec::default_codec(), value_parser = codec::parse_codec)]
    audio_codec: common::AudioCodec,

    /// How long each audio frame you send is, in ms: 10 (half the wait for
    /// a frame to fill, 100 packets a second) or 20.
    #[arg(long, value_name = "10|20", default_value_t = meeting_client::media::options::AudioFrame::default(), value_parser = meeting_client::media::options::parse_audio_frame)]
    audio_frame_ms: meeting_client::media::options::AudioFrame,

    /// Server port, for the servers named without one.
    #[arg(long, default_value_t = DEFAULT_PORT)]
    port: u16,

    /// Trust only a server whose key has this fingerprint (the `fingerprint`
    /// line the server prints at start), for scripts and first connections
    /// over a network you do not trust.
    #[arg(long, value_name = "SHA256", value_parser = parse_fingerprint, conflicts_with = "no_tls")]
    fingerprint: Option<transport::Fingerprint>,

    /// The servers this client trusts, by host:port and key fingerprint; a
    /// server seen for the first time is added. Default:
    /// $XDG_CONFIG_HOME/meeting/known_hosts or ~/.config/meeting/known_hosts.
    #[arg(long, value_name = "FILE", env = "MEETING_KNOWN_HOSTS")]
    known_hosts: Option<PathBuf>,

    /// Plain TCP, no encryption: only to a server started with --no-tls.
    #[arg(long)]
    no_tls: bool,

    /// Your name as others see it (1 to 32 characters).
    #[arg(long, env = "USER", default_value = "guest", value_parser = parse_name)]
    name: String,

    /// Scripting mode: commands on stdin, one JSON event per line on stdout, nothing else.
    #[arg(long, conflicts_with = "plain")]
    json: bool,

    /// The line interface even in a terminal (dumb terminals, screen readers, logs).
    #[arg(long)]
    plain: bool,

    /// How the full-screen view draws video.
    #[arg(long, value_enum, default_value_t = Graphics::Auto)]
    graphics: Graphics,

    /// Save what you receive in a new folder in DIR named after the start
    /// time (DIR/2026-11-23T19-30-05Z/): meeting.mkv (what you heard, every
    /// member's video and screen, the chat as subtitles: one file any player
    /// opens), and video/<member>/<seq>.jpg, audio/<member>.wav, chat.log.
    /// Earlier recordings are never overwritten.
    #[arg(long, value_name = "DIR")]
    record: Option<PathBuf>,

    /// Play what you hear (everyone else mixed) to PATH.wav, in real time as a
    /// speaker would: for machines without a sound card, and for tests.
    /// `speaker[:NAME]` plays to a speaker (builds with device support play to
    /// the default speaker unless --json or --audio-out says otherwise).
    #[arg(long, value_name = "PATH.wav|speaker[:NAME]")]
    audio_out: Option<String>,

    /// The speaker to play to: part of a name or id from --list-devices.
    #[arg(long, value_name = "NAME", conflicts_with = "audio_out")]
    speaker: Option<String>,

    /// Size of the test-pattern video, WIDTHxHEIGHT.
    #[arg(long, default_value = "640x360", value_parser = parse_size)]
    video_size: (u32, u32),

    /// How much of the others' video to ask the server for: `auto` (the
    /// full-screen view asks for the size it draws each member at; the line
    /// and JSON modes for none, or for the full size with --record), `full`
    /// (every member at the size it sends) or `none`. `/view` changes it.
    #[arg(long, default_value = "auto", value_name = "auto|full|none", value_parser = meeting_client::command::VideoWanted::parse)]
    video_size_wanted: meeting_client::command::VideoWanted,

    /// Video frames per second (1 to 60).
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=60))]
    fps: u32,

    #[command(flatten)]
    docs: cli_docs::DocsArgs,
}

fn parse_size(text: &str) -> Result<(u32, u32), String> {
    let (w, h) = text
        .split_once(['x', 'X'])
        .ok_or("expected WIDTHxHEIGHT, like 640x360")?;
    let w: u32 = w.parse().map_err(|_| format!("bad width '{w}'"))?;
    let h: u32 = h.parse().map_err(|_| format!("bad height '{h}'"))?;
    if !(16..=3840).contains(&w) || !(16..=2160).contains(&h) {
        return Err("width must be 16 to 3840 and height 16 to 2160".into());
    }
    Ok((w, h))
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.docs.requested() {
        let command = Args::command().after_help(NOTES);
        return match args.docs.print(command, &man_sections()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("client: {err}");
                ExitCode::FAILURE
            }
        };
    }
    if args.list_devices {
        println!("{}", media::devices::list());
        return ExitCode::SUCCESS;
    }
    // A bad list is a bad command line (exit 2), found before connecting.
    let named = args
        .host
        .as_deref()
        .map(|host| match servers::parse_list(host, args.port) {
            Ok(servers) => servers,
            Err(message) => Args::command()
                .error(clap::error::ErrorKind::ValueValidation, message)
                .exit(),
        });
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"))
    };
    // The full-screen view needs a terminal to draw on and to read keys from;
    // a pipe on either side means a script or a log, which want lines.
    let full_screen = !args.json
        && !args.plain
        && std::io::stdin().is_terminal()
        && std::io::stdout().is_terminal();
    let mode = if args.json {
        Mode::Json
    } else if full_screen {
        // Log lines would scribble over the view: they go to its chat pane.
        let (lines, logs) = crossbeam_channel::unbounded();
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_ansi(false)
            .without_time()
            .with_writer(tui::logs::LogWriter::new(lines))
            .init();
        Mode::FullScreen(TuiSettings {
            graphics: args.graphics,
            logs,
        })
    } else {
        Mode::Plain
    };
    if !full_screen {
        // Colour codes only for a person at a terminal, not in a log file.
        let colour = std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty());
        tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_ansi(colour)
            .with_writer(std::io::stderr)
            .init();
    }

    let (events, inbox) = crossbeam_channel::unbounded::<AppEvent>();
    let interrupt = events.clone();
    let interrupted_once = AtomicBool::new(false);
    let installed = ctrlc::set_handler(move || {
        // The first Ctrl-C quits politely; a second one does not wait.
        if interrupted_once.swap(true, Ordering::SeqCst) {
            tui::restore_terminal();
            std::process::exit(130);
        }
        let _ = interrupt.send(AppEvent::Interrupted);
    });
    if let Err(err) = installed {
        tracing::warn!("Ctrl-C will end the client abruptly: {err}");
    }

    if args.discover {
        return list_the_lan(args.json);
    }
    let (servers, announced) = match named {
        Some(servers) => (servers, None),
        None => match server_from_the_lan(args.json, full_screen) {
            Ok(found) => found,
            Err(code) => return code,
        },
    };

    let security = if args.no_tls {
        Security::Plain
    } else {
        Security::Tls {
            announced,
            pinned: args.fingerprint,
            known_hosts: args
                .known_hosts
                .or_else(transport::KnownHosts::default_path),
        }
    };

    // Each run records into a folder of its own: ids restart with the
    // server, so a second run in the same folder would overwrite the first.
    let record = match args
        .record
        .as_deref()
        .map(|root| meeting_client::record::new_session_dir(root, std::time::SystemTime::now()))
    {
        Some(Ok(dir)) => {
            eprintln!("client: recording into {}", dir.display());
            Some(dir)
        }
        Some(Err(err)) => {
            eprintln!("client: --record: {err:#}");
            return ExitCode::FAILURE;
        }
        None => None,
    };
    let options = Options {
        security,
        servers,
        name: args.name,
        mode,
        record,
        audio_out_chosen: args.audio_out.is_some() || args.speaker.is_some(),
        audio_out: args
            .audio_out
            .or(args.speaker.map(|name| format!("speaker:{name}")))
            .or_else(|| (cfg!(feature = "audio") && !args.json).then(|| "speaker".to_string())),
        media: MediaOptions {
            video: VideoSettings {
                width: args.video_size.0,
                height: args.video_size.1,
                fps: args.fps,
                ..VideoSettings::default()
            },
            mic: args.mic,
            camera: args.camera,
            audio_codec: args.audio_codec,
            audio_frame: args.audio_frame_ms,
        },
        video_wanted: args.video_size_wanted,
    };
    let json = args.json;
    match app::run(options, events, inbox) {
        Ok(Ending::Normal) => ExitCode::SUCCESS,
        Ok(Ending::Lost) => ExitCode::FAILURE,
        Err(err) => say_error(json, &format!("{err:#}")),
    }
}

/// `--discover`: lists the servers on the LAN and exits.
fn list_the_lan(json: bool) -> ExitCode {
    let browse = match discover::browse(discover::BROWSE_FOR) {
        Ok(browse) => browse,
        Err(err) => return say_error(json, &format!("{err:#}")),
    };
    if json {
        print_json(&choose::servers_event(&browse, false));
    } else {
        let _ = choose::list_lines(&browse.servers, &mut std::io::stdout());
    }
    eprintln!("client: {}", browse_summary(&browse));
    if browse.servers.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// `client` without an address: the server the LAN offers (asking which
/// when it offers several), and the key it announced. `Err` is how the
/// client ends instead: none found, or the user gave up.
fn server_from_the_lan(
    json: bool,
    full_screen: bool,
) -> Result<(Vec<servers::ServerName>, Option<transport::Fingerprint>), ExitCode> {
    let browse = discover::browse(discover::BROWSE_FOR).map_err(|err| {
        say_error(
            json,
            &format!("{err:#}: give the server's address, client HOST"),
        )
    })?;
    tracing::info!("{}", browse_summary(&browse));
    let joinable: Vec<usize> = (0..browse.servers.len())
        .filter(|&i| browse.servers[i].compatible())
        .collect();
    let index = match joinable.as_slice() {
        [] if browse.servers.is_empty() => {
            return Err(say_error(
                json,
                "no meeting server answered on this LAN. Give its address: \
                 client HOST (the server logs `people join with: client ...` when it starts). \
                 Servers bound to loopback or started with --no-announce are not announced, and \
                 some networks (guest Wi-Fi, VPNs) do not carry mDNS",
            ));
        }
        [] => {
            return Err(say_error(
                json,
                &format!(
                    "the servers on this LAN speak another protocol version than this client: {}",
                    browse
                        .servers
                        .iter()
                        .map(|server| server.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        [only] => {
            if json {
                print_json(&choose::servers_event(&browse, false));
            }
            eprintln!(
                "client: found {} on the LAN; connecting",
                browse.servers[*only].describe()
            );
            *only
        }
        _ => {
            let choice = if json {
                choose::ask_json(
                    &browse,
                    &mut std::io::stdin().lock(),
                    &mut std::io::stdout(),
                )
            } else if full_screen {
                meeting_client::tui::pick_server::pick_server(&browse.servers)
            } else {
                choose::ask_lines(
                    &browse.servers,
                    &mut std::io::stdin().lock(),
                    &mut std::io::stdout(),
                )
            };
            match choice {
                Ok(choose::Choice::Server(index)) => index,
                Ok(choose::Choice::GaveUp) => return Err(ExitCode::SUCCESS),
                Err(err) => return Err(say_error(json, &format!("choosing a server: {err}"))),
            }
        }
    };
    let server = &browse.servers[index];
    let names = server
        .addresses
        .iter()
        .map(|addr| servers::ServerName {
            host: addr.ip().to_string(),
            port: addr.port(),
        })
        .collect();
    let announced = server.fingerprint.as_deref().and_then(|text| {
        text.parse()
            .inspect_err(|err| {
                tracing::warn!(
                    "{}: its announced key is no fingerprint: {err}",
                    server.name
                )
            })
            .ok()
    });
    Ok((names, announced))
}

/// How the browse went, for the log and `--discover`'s stderr.
fn browse_summary(browse: &discover::Browse) -> String {
    let count = browse.servers.len();
    let plural = if count == 1 { "" } else { "s" };
    match browse.first_answer {
        Some(first) => format!(
            "{count} server{plural} found on the LAN in {} ms (the first after {} ms)",
            browse.took.as_millis(),
            first.as_millis()
        ),
        None => format!(
            "no server found on the LAN in {} ms",
            browse.took.as_millis()
        ),
    }
}

/// An error that ends the client: on stderr, and as an `error` event with
/// --json. It may quote the server or the LAN (a refusal, a server's name):
/// cleaned like all output.
fn say_error(json: bool, message: &str) -> ExitCode {
    if json {
        print_json(&serde_json::json!({"event": "error", "message": message}));
    }
    eprintln!("client: {}", meeting_client::clean::clean_lines(message));
    ExitCode::FAILURE
}

/// One JSON event on stdout, its text made safe to show (`json_line`).
fn print_json(value: &serde_json::Value) {
    if let Ok(line) = output::json::json_line(value) {
        println!("{line}");
    }
}

fn parse_fingerprint(text: &str) -> Result<transport::Fingerprint, String> {
    text.parse()
        .map_err(|err: transport::fingerprint::BadFingerprint| err.to_string())
}
