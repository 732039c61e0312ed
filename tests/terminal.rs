//! The full-screen view in a real terminal: tmux runs the real `client`
//! against a real server where two scripted members share the test pattern.
//! Keys go in with `send-keys`, the screen comes out with `capture-pane`
//! (`-e` keeps the colours, so half-block video cells can be told apart from
//! text). Every wait polls the screen against the harness `DEADLINE`.
//!
//! CI installs tmux (`.ci/run`), so there a missing tmux fails the test;
//! elsewhere the test says it is skipped and passes.

use integration_tests::tmux::Tmux;
use integration_tests::{ClientProcess, DEADLINE, ServerProcess, binary};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Cells drawn as half-blocks with two different 24-bit colours, with the
/// text of the cell: parses the SGR escapes of `capture-pane -e`.
fn colour_half_blocks(screen: &str) -> Vec<(String, String)> {
    let mut cells = Vec::new();
    let (mut fg, mut bg) = (None::<String>, None::<String>);
    let mut chars = screen.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            let mut params = String::new();
            for p in chars.by_ref() {
                if p == 'm' {
                    break;
                }
                params.push(p);
            }
            let fields: Vec<&str> = params.split(';').collect();
            let mut i = 0;
            while i < fields.len() {
                match fields[i] {
                    "" | "0" => (fg, bg) = (None, None),
                    "39" => fg = None,
                    "49" => bg = None,
                    "38" | "48" if fields.get(i + 1) == Some(&"2") && i + 4 < fields.len() => {
                        let rgb = fields[i + 2..i + 5].join(";");
                        if fields[i] == "38" {
                            fg = Some(rgb);
                        } else {
                            bg = Some(rgb);
                        }
                        i += 4;
                    }
                    _ => {}
                }
                i += 1;
            }
            continue;
        }
        if c == '▀' || c == '▄' {
            if let (Some(f), Some(b)) = (&fg, &bg) {
                if f != b {
                    cells.push((f.clone(), b.clone()));
                }
            }
        }
    }
    cells
}

/// Shell command running the client in the terminal, then recording its exit
/// status and the terminal's modes after it (to see that it restored them).
/// The final `read` keeps the pane, and what the client left on it, until
/// the test is done with it.
fn client_in_shell(args: &str, dir: &Path) -> String {
    format!(
        "{client} {args} 2>{dir}/stderr; echo $? >{dir}/status.tmp; stty -a >{dir}/stty; mv {dir}/status.tmp {dir}/status; read _",
        client = binary("client").display(),
        dir = dir.display()
    )
}

fn wait_for_file(path: &Path) -> String {
    let end = Instant::now() + DEADLINE;
    loop {
        if let Ok(text) = std::fs::read_to_string(path) {
            return text;
        }
        assert!(Instant::now() < end, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn full_screen_view_shows_members_video_and_sends_chat() {
    if !Tmux::available() {
        return;
    }
    let server = ServerProcess::start();
    let mut ana = ClientProcess::start(&server, "ana");
    let meeting = ana.create();
    ana.send("/video on");
    ana.expect_event("sharing");
    let mut bo = ClientProcess::start(&server, "bo");
    bo.join(&meeting);
    bo.send("/video on");
    bo.expect_event("sharing");

    let dir = tempfile::tempdir().expect("temp dir");
    let args = format!(
        "{} --name tui {}",
        server.addr(),
        server.trust_args().join(" ")
    );
    let tmux = Tmux::start(&client_in_shell(&args, dir.path()), 120, 40);
    tmux.wait_for("the welcome line", false, |s| s.contains("connected to"));

    // `j` starts typing `/join `; the id and Enter finish it.
    tmux.keys(&["j"]);
    tmux.type_text(&meeting);
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_for("both members", false, |s| {
        s.contains(&format!("meeting {meeting}")) && s.contains("ana") && s.contains("bo")
    });
    assert!(screen.contains("members (3)"), "{screen}");

    // Both tiles fill with coloured half-blocks, and the video moves.
    let first = tmux.wait_for("video in half-blocks", true, |s| {
        colour_half_blocks(s).len() >= 40
    });
    let first_cells = colour_half_blocks(&first);
    tmux.wait_for("the video moving", true, |s| {
        let cells = colour_half_blocks(s);
        cells.len() >= 40 && cells != first_cells
    });

    // After the join the keys work again (an S here would share the
    // screen, not type an S); `i` starts a chat line.
    tmux.wait_for("the key hints after the join", false, |s| {
        s.contains("? keys")
    });
    tmux.keys(&["i"]);
    tmux.type_text("hello from tmux");
    tmux.keys(&["Enter"]);
    let chat = ana.expect("tui's chat", |e| e["event"] == "chat" && e["from"] == "tui");
    assert_eq!(chat["text"], "hello from tmux");
    tmux.wait_for("the chat line", false, |s| {
        s.contains("tui: hello from tmux")
    });

    // Esc goes back to the shortcuts; `v` turns the camera on: the others are
    // told, and the view shows it and the self-view.
    tmux.keys(&["Escape"]);
    tmux.wait_for("the key hints", false, |s| s.contains("? keys"));
    tmux.keys(&["v"]);
    ana.expect("tui's camera", |e| {
        e["event"] == "media"
            && e["member"]["name"] == "tui"
            && e["kind"] == "video"
            && e["on"] == true
    });
    tmux.wait_for("the camera on and the self-view", false, |s| {
        s.contains("cam on") && s.contains("╭ you ")
    });

    // Ctrl-C quits (in raw mode it is a key) and leaves the terminal as it was.
    tmux.keys(&["C-c"]);
    let status = wait_for_file(&dir.path().join("status"));
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
    assert_eq!(status.trim(), "0", "client exit status; stderr:\n{stderr}");
    let stty = std::fs::read_to_string(dir.path().join("stty")).expect("stty output");
    let modes: Vec<&str> = stty.split_whitespace().collect();
    for mode in ["icanon", "echo", "isig"] {
        assert!(modes.contains(&mode), "{mode} not restored:\n{stty}");
    }
    // Back on the normal screen: the view's alternate screen is gone.
    let after = tmux.screen(false);
    assert!(!after.contains("members ("), "{after}");
    bo.expect("tui leaving", |e| {
        e["event"] == "member_left" && e["member"]["name"] == "tui"
    });
}

#[test]
fn a_pipe_on_stdin_gets_the_line_interface() {
    if !Tmux::available() {
        return;
    }
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().expect("temp dir");
    // stdout is the terminal, stdin a pipe: a script, not a person.
    let args = format!(
        "{} --name piped {}",
        server.addr(),
        server.trust_args().join(" ")
    );
    let command = format!(
        "printf '/meetings\\n' | {}",
        client_in_shell(&args, dir.path())
    );
    let tmux = Tmux::start(&command, 100, 20);
    let status = wait_for_file(&dir.path().join("status"));
    let stderr = std::fs::read_to_string(dir.path().join("stderr")).unwrap_or_default();
    assert_eq!(status.trim(), "0", "stderr:\n{stderr}");
    // Plain lines on the normal screen: no full-screen view was drawn.
    let screen = tmux.screen(false);
    assert!(
        screen.contains("connected to") && screen.contains("as piped"),
        "{screen}\n{stderr}"
    );
    assert!(screen.contains("no meetings yet"), "{screen}");
    assert!(!screen.contains("members ("), "{screen}");
}

#[test]
fn a_shared_screen_shows_large_and_control_works_from_the_keyboard() {
    if !Tmux::available() {
        return;
    }
    let server = ServerProcess::start();
    let mut ana = ClientProcess::start(&server, "ana");
    let meeting = ana.create();
    ana.send("/screen on test");
    ana.expect("screen on", |e| {
        e["event"] == "sharing" && e["kind"] == "screen"
    });

    let dir = tempfile::tempdir().expect("temp dir");
    let args = format!(
        "{} --name tui {}",
        server.addr(),
        server.trust_args().join(" ")
    );
    let tmux = Tmux::start(&client_in_shell(&args, dir.path()), 120, 40);
    tmux.wait_for("the welcome line", false, |s| s.contains("connected to"));
    tmux.keys(&["j"]);
    tmux.type_text(&meeting);
    tmux.keys(&["Enter", "Escape"]);

    // The presentation layout: ana's screen large, named in the status bar,
    // its picture (the test desktop's coloured window) in half-blocks.
    tmux.wait_for("ana's screen, large", false, |s| {
        s.contains("╭ ana's screen")
    });
    tmux.wait_for("the screen's picture in half-blocks", true, |s| {
        colour_half_blocks(s).len() >= 100
    });
    tmux.wait_for("who shares in the status bar", false, |s| {
        s.contains("screen: ana")
    });

    // `a` asks for control of the screen shown; ana grants it.
    tmux.keys(&["a"]);
    let asked = ana.expect_event("control_requested");
    assert_eq!(asked["controller"]["name"], "tui");
    ana.send("/control grant tui");
    tmux.wait_for("the grant", false, |s| s.contains("control ana's screen"));

    // `C` enters control mode: typed keys go to ana's screen as keysyms.
    tmux.keys(&["C"]);
    tmux.wait_for("the control-mode banner", false, |s| {
        s.contains("you control ana's screen")
    });
    tmux.type_text("x");
    let typed = ana.expect_event("input");
    assert_eq!(typed["events"][0]["keysym"], 0x78);
    assert_eq!(typed["events"][0]["down"], true);

    // F2 leaves control mode; `p` switches to the grid and back.
    tmux.keys(&["F2"]);
    tmux.wait_for("control mode left", false, |s| {
        !s.contains("you control ana's screen")
    });
    tmux.keys(&["p"]);
    tmux.wait_for("the grid", false, |s| !s.contains("╭ ana's screen"));
    tmux.keys(&["p"]);
    tmux.wait_for("the presentation again", false, |s| {
        s.contains("ana's screen")
    });

    // The screen stops: control ends and the view returns to the grid.
    ana.send("/screen off");
    tmux.wait_for("no screen shared", false, |s| {
        !s.contains("screen: ana") && !s.contains("╭ ana's screen")
    });
    tmux.keys(&["C-c"]);
    let status = wait_for_file(&dir.path().join("status"));
    assert_eq!(status.trim(), "0");
}

#[test]
fn quitting_asks_first_and_help_scrolls_at_80x24() {
    if !Tmux::available() {
        return;
    }
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let args = format!(
        "{} --name tui {}",
        server.addr(),
        server.trust_args().join(" ")
    );
    let tmux = Tmux::start(&client_in_shell(&args, dir.path()), 80, 24);
    tmux.wait_for("the welcome line", false, |s| s.contains("connected to"));

    // q asks; n says no and the view stays.
    tmux.keys(&["q"]);
    tmux.wait_for("the question", false, |s| s.contains("quit the client?"));
    tmux.keys(&["n"]);
    tmux.wait_for("the answer", false, |s| s.contains("not sent: /quit"));
    assert!(!dir.path().join("status").exists(), "the client quit");

    // /help typed as a command: the overlay takes the keys, scrolls, and
    // one Esc closes it.
    tmux.keys(&["/"]);
    tmux.type_text("help");
    tmux.keys(&["Enter"]);
    tmux.wait_for("the overlay", false, |s| s.contains("1-22 of"));
    tmux.keys(&["PageDown"]);
    tmux.wait_for("the overlay scrolled", false, |s| s.contains("23-44 of"));
    // k scrolls the overlay up: a letter that does not reach the input line.
    tmux.type_text("k");
    tmux.wait_for("the overlay scrolled up", false, |s| s.contains("22-43 of"));
    tmux.keys(&["Escape"]);
    let screen = tmux.wait_for("the overlay closed", false, |s| {
        !s.contains("keys and commands")
    });
    assert!(
        screen.lines().any(|l| l.trim_end() == ">"),
        "keys went to the input line:\n{screen}"
    );

    // A paste is text for the input line: its lines are one, and neither
    // the pasted q nor the pasted /quit does anything.
    tmux.keys(&["Escape"]);
    // (Esc and the paste's opening sequence arriving together would read
    // as one escape sequence: a person does not paste within microseconds.)
    tmux.wait_for("the key hints", false, |s| s.contains("? keys"));
    tmux.paste("q\n/quit\nthird line");
    tmux.wait_for("the paste in the input line", false, |s| {
        s.contains("> q /quit third line")
    });
    assert!(!tmux.screen(false).contains("quit the client?"));
    assert!(!dir.path().join("status").exists(), "the client quit");
    tmux.keys(&["C-u"]);

    // Esc stops typing; q and Enter quit.
    tmux.keys(&["Escape"]);
    tmux.wait_for("the key hints", false, |s| s.contains("? keys"));
    tmux.keys(&["q"]);
    tmux.wait_for("the question", false, |s| s.contains("quit the client?"));
    tmux.keys(&["Enter"]);
    let status = wait_for_file(&dir.path().join("status"));
    assert_eq!(status.trim(), "0");
}

#[test]
fn forced_sixel_inside_tmux_says_so_and_draws_half_blocks() {
    if !Tmux::available() {
        return;
    }
    let server = ServerProcess::start();
    let mut ana = ClientProcess::start(&server, "ana");
    let meeting = ana.create();
    ana.send("/video on");
    ana.expect_event("sharing");
    let dir = tempfile::tempdir().expect("temp dir");
    let args = format!(
        "{} --name tui --graphics sixel {}",
        server.addr(),
        server.trust_args().join(" ")
    );
    let tmux = Tmux::start(&client_in_shell(&args, dir.path()), 100, 30);
    tmux.wait_for("the fallback said", false, |s| {
        s.contains("--graphics sixel: tmux") && s.contains("half-blocks")
    });
    tmux.keys(&["j"]);
    tmux.type_text(&meeting);
    tmux.keys(&["Enter"]);
    tmux.wait_for("video in half-blocks", true, |s| {
        colour_half_blocks(s).len() >= 40
    });
    tmux.keys(&["C-c"]);
    let status = wait_for_file(&dir.path().join("status"));
    assert_eq!(status.trim(), "0");
}

#[test]
fn plain_mode_leaves_no_prompt_behind_when_the_connection_drops() {
    if !Tmux::available() {
        return;
    }
    let server = ServerProcess::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let args = format!(
        "{} --name tui --plain {}",
        server.addr(),
        server.trust_args().join(" ")
    );
    let tmux = Tmux::start(&client_in_shell(&args, dir.path()), 100, 20);
    tmux.wait_for("the prompt", false, |s| {
        s.contains("connected to") && s.lines().any(|l| l.trim_end() == ">")
    });
    // The server dies without a word: the connection drops.
    let killed = Command::new("kill")
        .args(["-KILL", &server.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = wait_for_file(&dir.path().join("status"));
    assert_eq!(status.trim(), "1", "a lost connection exits with 1");
    let screen = tmux.wait_for("the disconnection", false, |s| s.contains("disconnected"));
    assert!(
        !screen.lines().any(|l| l.trim_end() == ">"),
        "a prompt was left behind:\n{screen}"
    );
}
