//! The view drawn into ratatui's `TestBackend`: whole screens at 80x24 and
//! 160x48 (snapshots under `snapshots/`, reviewed with `cargo insta review`),
//! the presentation layout and the remote-control banners, and a tile drawn
//! from a known test-pattern frame whose colours are checked cell by cell.

use super::*;
use crate::media::video::{TestPattern, VideoSettings, VideoSource};
use crate::meeting::MeetingState;
use crate::output::LocalEvent;
use crate::tui::help::help_text;
use crate::tui::model::Figures;
use crate::tui::tile::STALE_AFTER;
use crate::tui::tiles::{RenderedTile, encode_tile, halfblocks_picker};
use common::{ClientId, Event, MediaKind, MeetingId, MemberRef, PerKind};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;

fn member(id: u32, name: &str, host: bool, video: bool, audio: bool) -> MemberInfo {
    let mut sharing = PerKind::default();
    sharing[MediaKind::Video] = video;
    sharing[MediaKind::Audio] = audio;
    MemberInfo {
        id: ClientId(id),
        name: name.into(),
        host,
        hand: false,
        sharing,
    }
}

/// You (id 1) in meeting abc-def with `others`, some chat, your audio on.
fn meeting_model(others: Vec<MemberInfo>) -> ViewModel {
    let mut model = ViewModel::new(ClientId(1));
    model.local(&LocalEvent::Connected {
        id: ClientId(1),
        name: "ed".into(),
        server: "127.0.0.1:6338".into(),
        fingerprint: Some("SHA256 0000".into()),
    });
    let mut members = vec![member(1, "ed", false, false, true)];
    members.extend(others);
    let meeting = MeetingId::parse("abc-def").expect("valid id");
    let joined = Event::Joined {
        meeting: meeting.clone(),
        members,
    };
    // As the main loop does: fold the event into the state, then show it.
    let mut state = MeetingState::new(ClientId(1));
    state.apply(&joined);
    model.set_meeting(&state);
    model.server(&joined);
    model.local(&LocalEvent::Sharing {
        kind: MediaKind::Audio,
        on: true,
        source: Some("440 Hz tone".into()),
    });
    for (from, id, text) in [
        ("ana", 2, "hello everyone"),
        ("ed", 1, "hi ana, can you see my tone?"),
        (
            "ana",
            2,
            "yes, and this line is long enough to wrap in the side column",
        ),
    ] {
        model.server(&Event::Chat {
            seq: 0,
            meeting: meeting.clone(),
            from: from.into(),
            from_id: ClientId(id),
            text: text.into(),
        });
    }
    model.figures = Figures {
        video_fps: 30.0,
        bits_per_second: 2_400_000.0,
        dropped: 3,
        // The tone: audio only.
        sent_video_fps: 0.0,
        sent_bits_per_second: 70_000.0,
        redraws: 30,
    };
    model.speaking.insert(ClientId(2));
    model
}

fn render(model: &ViewModel, tiles: &ReadyTiles, width: u16, height: u16) -> (TestBackend, Drawn) {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    let mut drawn = Drawn::default();
    terminal
        .draw(|frame| drawn = draw(frame, model, tiles, Instant::now()))
        .expect("draws");
    (terminal.backend().clone(), drawn)
}

/// Hands `event` to the model as the main loop does: folded into the
/// meeting state first, then shown.
fn apply(model: &mut ViewModel, event: &Event) {
    let mut state = model.state.clone();
    if state.apply(event) {
        model.set_meeting(&state);
    }
    model.server(event);
}

fn meeting_id() -> MeetingId {
    MeetingId::parse("abc-def").expect("valid id")
}

fn named(id: u32, name: &str) -> MemberRef {
    MemberRef {
        id: ClientId(id),
        name: name.into(),
    }
}

fn shares_screen(model: &mut ViewModel, id: u32, name: &str) {
    apply(
        model,
        &Event::Media {
            meeting: meeting_id(),
            member: named(id, name),
            kind: MediaKind::Screen,
            on: true,
        },
    );
}

fn tile_keys(drawn: &Drawn) -> Vec<TileKey> {
    drawn.tiles.iter().map(|(key, _)| *key).collect()
}

/// A made-up screen: a dark desktop with a light window in the middle.
fn desktop(width: u32, height: u32) -> image::DynamicImage {
    let window = |x: u32, y: u32| {
        (width / 4..width * 3 / 4).contains(&x) && (height / 4..height * 3 / 4).contains(&y)
    };
    image::DynamicImage::ImageRgb8(image::RgbImage::from_fn(width, height, |x, y| {
        if window(x, y) {
            image::Rgb([230, 230, 230])
        } else {
            image::Rgb([20, 40, 80])
        }
    }))
}

fn screen_text(backend: &TestBackend) -> String {
    let buffer = backend.buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol().to_string())
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn narrow_80x24_layout() {
    let model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, false, false),
    ]);
    let (backend, drawn) = render(&model, &ReadyTiles::new(), 80, 24);
    let shown = drawn.tiles;
    let text = screen_text(&backend);
    assert!(text.contains("meeting abc-def"), "{text}");
    assert!(text.contains("mic on · cam off"), "{text}");
    // What arrives, labelled; the frame rate gives way first at 80 columns.
    assert!(text.contains("in 2.4 Mbit/s · 3 dropped"), "{text}");
    assert!(
        text.contains("ana ♪"),
        "the speaker's tile is marked:\n{text}"
    );
    assert!(
        text.contains("waiting for video") && text.contains("camera off"),
        "{text}"
    );
    assert!(
        text.contains("ed (you)") && text.contains("host · video · audio"),
        "{text}"
    );
    // Only ana shares video, so only her tile asks the decoder for pictures.
    assert_eq!(shown.len(), 1);
    assert_eq!(shown[0].0, TileKey::Member(ClientId(2)));
    insta::assert_snapshot!(backend);
}

#[test]
fn wide_160x48_layout_with_self_view() {
    let mut model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, true, false),
        member(4, "cy", false, true, false),
        member(5, "di", false, false, true),
    ]);
    model.local(&LocalEvent::Sharing {
        kind: MediaKind::Video,
        on: true,
        source: Some("test pattern".into()),
    });
    let (backend, drawn) = render(&model, &ReadyTiles::new(), 160, 48);
    let text = screen_text(&backend);
    assert!(
        !text.contains("draws/s"),
        "the redraw rate is a developer's figure, not the user's"
    );
    let keys = tile_keys(&drawn);
    assert_eq!(
        keys,
        [2, 3, 4]
            .map(|id| TileKey::Member(ClientId(id)))
            .into_iter()
            .chain([TileKey::You])
            .collect::<Vec<_>>()
    );
    // Four tiles in 120x46 cells: two by two gives each picture the most room.
    assert_eq!(grid_shape(4, Size::new(120, 46)), (2, 2));
    insta::assert_snapshot!(backend);
}

#[test]
fn help_overlay_lists_every_shortcut() {
    let mut model = meeting_model(Vec::new());
    model.help_open = true;
    let (backend, _) = render(&model, &ReadyTiles::new(), 100, 40);
    let text = screen_text(&backend);
    for shortcut in crate::tui::shortcuts::SHORTCUTS {
        let key = shortcut.keys;
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
}

#[test]
fn help_overlay_scrolls_at_80x24_and_keeps_words_apart() {
    let mut model = meeting_model(Vec::new());
    model.open_help();
    let (backend, drawn) = render(&model, &ReadyTiles::new(), 80, 24);
    let first = screen_text(&backend);
    assert!(
        drawn.help_max_scroll > 0 && drawn.help_page == 22,
        "{drawn:?}"
    );
    assert!(
        first.contains("↑↓ PgUp PgDn scroll"),
        "says it scrolls:\n{first}"
    );
    // The m and v lines name the devices in builds that have them.
    if !cfg!(feature = "audio") && !cfg!(feature = "camera") {
        insta::assert_snapshot!(backend);
    }
    // Scrolled page by page to the end, every row of the text was on screen.
    let mut seen = first.clone();
    while model.help_scroll < drawn.help_max_scroll {
        model.help_scroll += drawn.help_page;
        seen.push_str(&screen_text(&render(&model, &ReadyTiles::new(), 80, 24).0));
    }
    for row in help_text(78) {
        let row = row.to_string();
        assert!(seen.contains(row.trim_end()), "{row:?} never shown");
    }
    // Each key and command stands apart from its description.
    let mut entries: Vec<(String, String)> = crate::tui::shortcuts::SHORTCUTS
        .iter()
        .map(|s| (s.keys.to_string(), s.help.to_string()))
        .collect();
    entries.extend(
        crate::command::help_lines()
            .into_iter()
            .map(|h| (h.command, h.description)),
    );
    for (key, what) in entries {
        let first_word = what.split(' ').next().unwrap_or_default();
        assert!(
            !seen.contains(&format!("{key}{first_word}")) || first_word.is_empty(),
            "{key:?} runs into {first_word:?}"
        );
        assert!(
            seen.contains(&format!("{key} ")) || seen.contains(&format!("{key}\n")),
            "{key:?} not followed by a space"
        );
    }
    for joined in ["PERCENThow", "[SOURCE]share"] {
        assert!(!seen.contains(joined), "{joined}");
    }
    // A form too long for the key column, with no text of its own, is not
    // followed by an empty row (`/control grant NAME|ID`, then nothing).
    let rows: Vec<String> = help_text(78).iter().map(|l| l.to_string()).collect();
    for pair in rows.windows(2) {
        assert!(
            !(pair[0].trim_start().starts_with('/') && pair[1].trim().is_empty()),
            "{:?} is followed by an empty row",
            pair[0]
        );
    }
    // It says how it closes as the README does: any key but those that scroll.
    assert!(first.contains("other key"), "{first}");
    assert!(!first.contains("Esc closes"), "{first}");
}

#[test]
fn a_question_waits_in_the_input_line() {
    let mut model = meeting_model(Vec::new());
    model.confirm = Some(crate::tui::model::Confirmation {
        entered: crate::command::Entered::made(crate::command::Command::Quit),
        question: "leave the meeting and quit?".into(),
    });
    let text = screen_text(&render(&model, &ReadyTiles::new(), 80, 24).0);
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.contains("leave the meeting and quit? ") && last.contains("y or Enter: yes"),
        "{last}"
    );
}

#[test]
fn chat_wraps_between_words() {
    assert_eq!(wrap("hello there world", 11), ["hello there", "world"]);
    assert_eq!(wrap("abcdefghij xy", 4), ["abcd", "efgh", "ij", "xy"]);
    assert_eq!(wrap("", 5), [""]);
    // Wide characters take two columns.
    assert_eq!(wrap("日本語", 4), ["日本", "語"]);
    // A path too long for a line breaks between its parts, never inside
    // one (it was `known_` and `hosts`).
    assert_eq!(
        wrap(
            "remembered in /home/someone/.config/meeting/known_hosts, and checked",
            28
        ),
        [
            "remembered in",
            "/home/someone/.config/",
            "meeting/known_hosts, and",
            "checked"
        ]
    );
    // A part longer than a line is still cut, as any word is.
    assert_eq!(wrap("/abcdefgh/ij", 4), ["/abc", "defg", "h/ij"]);
}

#[test]
fn grid_shapes_suit_wide_and_narrow_areas() {
    assert_eq!(grid_shape(1, Size::new(50, 22)), (1, 1));
    // Two tiles side by side in 50x22 would be 23 columns each; stacked they
    // are 48 columns wide but only 9 rows high: 9 rows hold a 32-column picture.
    assert_eq!(grid_shape(2, Size::new(50, 22)), (1, 2));
    assert_eq!(grid_shape(2, Size::new(200, 30)), (2, 1));
    assert_eq!(grid_shape(9, Size::new(120, 40)), (3, 3));
}

/// Test-pattern bars: with a width of 224 each is 32 pixels wide.
use crate::media::video::pattern::BARS;

#[test]
fn tile_from_a_known_test_frame_in_half_blocks() {
    let mut source = TestPattern::new(VideoSettings {
        width: 224,
        height: 126,
        fps: 15,
        quality: 90,
    });
    let jpeg = source.next_jpeg().expect("encodes");
    let picture = image::load_from_memory(&jpeg).expect("decodes");
    // The only tile fills the 60x20 video column of a 90x22 screen: 58x18
    // inside. A 16:9 picture is 58x16 of it (58x32 pixels, 1.81:1, is the
    // nearest whole number of cells).
    let cells = Size::new(58, 18);
    let image = encode_tile(&halfblocks_picker(), &picture, cells).expect("fits");
    assert_eq!(image.size(), Size::new(58, 16));
    let mut tiles = ReadyTiles::new();
    tiles.insert(
        TileKey::Member(ClientId(2)),
        Arc::new(RenderedTile {
            image,
            cells,
            pixels: (224, 126),
            received: Instant::now(),
        }),
    );
    let mut model = ViewModel::new(ClientId(1));
    model.state.members = vec![
        member(1, "you", false, false, false),
        member(2, "ana", true, true, false),
    ];
    model.state.meeting = MeetingId::parse("abc-def");
    let (backend, drawn) = render(&model, &tiles, 90, 22);
    assert_eq!(drawn.tiles, vec![(TileKey::Member(ClientId(2)), cells)]);
    let buffer = backend.buffer();
    // Inside the tile's border, below the status bar, centred: one spare row
    // above and one below.
    let (left, top) = (1, 3);
    let middle = top + 8;
    for (bar, expected) in BARS.iter().enumerate() {
        // The middle of the bar: 32 pixels per bar, 224 pixels in 58 cells.
        let x = left + ((32 * bar + 16) * 58 / 224) as u16;
        let cell = &buffer[(x, middle)];
        let Color::Rgb(r, g, b) = cell.bg else {
            panic!("bar {bar}: cell {x},{middle} has no 24-bit colour: {cell:?}");
        };
        let distance = [r, g, b]
            .iter()
            .zip(expected)
            .map(|(got, want)| i32::from(*got).abs_diff(i32::from(*want)))
            .max()
            .unwrap_or(0);
        assert!(
            distance <= 24,
            "bar {bar}: got {:?}, want {expected:?}",
            (r, g, b)
        );
    }
    // The white square in the top left corner is drawn with half-blocks.
    let corner = &buffer[(left, top)];
    assert_eq!(corner.fg, Color::Rgb(255, 255, 255), "{corner:?}");
    // The frame counter (frame 0: all bits black) along the bottom row.
    let bottom = &buffer[(left + 1, top + 15)];
    assert!(matches!(bottom.symbol(), "▀" | "▄" | " "), "{bottom:?}");
    insta::assert_snapshot!(backend);
}

#[test]
fn presentation_80x24_with_a_sharer() {
    let mut model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, false, false),
    ]);
    shares_screen(&mut model, 2, "ana");
    let (backend, drawn) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    assert!(
        text.contains(" screen: ana "),
        "the status bar names the sharer:\n{text}"
    );
    assert!(
        text.contains("ana's screen") && text.contains("waiting for the screen"),
        "{text}"
    );
    // The screen, then ana's camera in the strip (bo's is off).
    assert_eq!(
        tile_keys(&drawn),
        [TileKey::Screen(ClientId(2)), TileKey::Member(ClientId(2))]
    );
    assert_eq!(
        drawn.tiles[0].1,
        Size::new(48, 14),
        "the screen takes the width"
    );
    assert_eq!(drawn.screen, None, "no picture yet: nothing to click on");
    insta::assert_snapshot!(backend);

    // `p` for the grid: the choice sticks while the screen is shared.
    model.toggle_presentation();
    let (backend, drawn) = render(&model, &ReadyTiles::new(), 80, 24);
    assert_eq!(tile_keys(&drawn), [TileKey::Member(ClientId(2))]);
    let text = screen_text(&backend);
    assert!(
        text.contains(" screen: ana ") && text.contains(" p present "),
        "{text}"
    );
}

#[test]
fn presentation_160x48_with_two_sharers_and_a_picture() {
    let mut model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, true, false),
        member(4, "cy", false, false, false),
        member(5, "di", false, true, true),
    ]);
    shares_screen(&mut model, 2, "ana");
    shares_screen(&mut model, 4, "cy");
    // The first layout asks for the screen tile's size; the picture is made for it.
    let (_, drawn) = render(&model, &ReadyTiles::new(), 160, 48);
    let (key, cells) = drawn.tiles[0];
    assert_eq!(
        key,
        TileKey::Screen(ClientId(2)),
        "the first sharer's screen"
    );
    let image = encode_tile(&halfblocks_picker(), &desktop(1920, 1080), cells).expect("fits");
    let picture_cells = image.size();
    let mut tiles = ReadyTiles::new();
    tiles.insert(
        key,
        Arc::new(RenderedTile {
            image,
            cells,
            pixels: (1920, 1080),
            // A still screen sends nothing: an old picture is still shown.
            received: Instant::now() - 10 * STALE_AFTER,
        }),
    );
    let (backend, drawn) = render(&model, &tiles, 160, 48);
    let text = screen_text(&backend);
    assert!(text.contains(" screen: ana 1/2 "), "{text}");
    assert!(
        text.contains(" Tab next "),
        "several screens: Tab is shown\n{text}"
    );
    assert_eq!(
        tile_keys(&drawn),
        [
            TileKey::Screen(ClientId(2)),
            TileKey::Member(ClientId(2)),
            TileKey::Member(ClientId(3)),
            TileKey::Member(ClientId(5)),
        ],
        "the screen and the cameras that are on"
    );
    let at = drawn.screen.expect("the picture is placed");
    assert_eq!(at.owner, ClientId(2));
    assert_eq!(at.pixels, (1920, 1080));
    assert_eq!(at.picture.as_size(), picture_cells);
    assert_eq!(at.visible, at.picture, "made for this tile: nothing cut");
    // The picture's corners are the screen's corners.
    let last = (at.picture.right() - 1, at.picture.bottom() - 1);
    let top_left = crate::tui::remote::cell_to_pixel(&at, at.picture.x, at.picture.y);
    let bottom_right = crate::tui::remote::cell_to_pixel(&at, last.0, last.1);
    assert!(
        top_left.is_some_and(|(x, y)| x < 20 && y < 40),
        "{top_left:?}"
    );
    assert!(
        bottom_right.is_some_and(|(x, y)| x > 1900 && y > 1040),
        "{bottom_right:?}"
    );
    insta::assert_snapshot!(backend);

    // Tab shows cy's screen.
    model.next_screen();
    let (backend, drawn) = render(&model, &tiles, 160, 48);
    assert_eq!(drawn.tiles[0].0, TileKey::Screen(ClientId(4)));
    assert!(screen_text(&backend).contains(" screen: cy 2/2 "));
}

#[test]
fn owner_sees_who_asks_and_who_controls_their_screen() {
    let mut model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, false, false),
    ]);
    model.local(&LocalEvent::Sharing {
        kind: MediaKind::Screen,
        on: true,
        source: Some("display :0".into()),
    });
    shares_screen(&mut model, 1, "ed");
    apply(
        &mut model,
        &Event::ControlGranted {
            meeting: meeting_id(),
            owner: named(1, "ed"),
            controller: named(3, "bo"),
        },
    );
    apply(
        &mut model,
        &Event::ControlRequested {
            meeting: meeting_id(),
            owner: named(1, "ed"),
            controller: named(2, "ana"),
        },
    );
    let (backend, drawn) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    assert!(
        text.contains("ana asks to control your screen: g grants, n ignores"),
        "{text}"
    );
    assert!(
        text.contains("bo controls your screen — r revokes"),
        "{text}"
    );
    assert!(text.contains(" sharing screen "), "{text}");
    let status = text.lines().next().unwrap_or_default();
    assert!(
        !status.contains("screen:"),
        "our own screen is not shown to us:\n{text}"
    );
    assert!(
        !tile_keys(&drawn).contains(&TileKey::Screen(ClientId(1))),
        "never our own screen large"
    );
    insta::assert_snapshot!(backend);

    // `n` waves the request away; the grant's banner stays.
    model.ignore_request();
    let (backend, _) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    assert!(!text.contains("g grants"), "{text}");
    assert!(text.contains("bo controls your screen"), "{text}");
}

#[test]
fn controller_in_control_mode() {
    let mut model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, false, false),
    ]);
    shares_screen(&mut model, 2, "ana");
    apply(
        &mut model,
        &Event::ControlGranted {
            meeting: meeting_id(),
            owner: named(2, "ana"),
            controller: named(1, "ed"),
        },
    );
    let (backend, _) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    assert!(
        text.contains("you may control ana's screen — C enters control mode"),
        "{text}"
    );
    assert!(model.enter_control_mode());
    let (backend, _) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    assert!(
        text.contains("you control ana's screen — F2 or Ctrl-] to leave control mode"),
        "{text}"
    );
    assert!(text.contains("ana's screen · control mode"), "{text}");
    assert!(text.contains(" F2 leave control mode"), "{text}");
    insta::assert_snapshot!(backend);
}

#[test]
fn presentation_puts_the_strip_where_the_screen_grows_most() {
    use crate::tui::presentation::{StripSide, presentation_layout};
    // The 80x24 view's video area: a 16:9 screen uses the whole width in 16
    // rows, and the strip below gets the other 6.
    let layout = presentation_layout(Rect::new(0, 1, 50, 22), (1920, 1080));
    assert_eq!(layout.side, StripSide::Bottom);
    assert_eq!(layout.screen, Rect::new(0, 1, 50, 16));
    assert_eq!(layout.strip, Rect::new(0, 17, 50, 6));
    // 160x48: the same, with room for video in the strip.
    let layout = presentation_layout(Rect::new(0, 1, 120, 46), (1920, 1080));
    assert_eq!(layout.side, StripSide::Bottom);
    assert_eq!(layout.strip.height, 11);
    // A wide, low area: the screen is as high as the area, the strip beside it.
    let layout = presentation_layout(Rect::new(0, 0, 200, 40), (1920, 1080));
    assert_eq!(layout.side, StripSide::Side);
    assert_eq!(layout.strip.width, 200 - (38 * 32 / 9 + 2));
    // Never less than a name's room, even where the screen could use it all.
    let layout = presentation_layout(Rect::new(0, 0, 50, 16), (1920, 1080));
    assert_eq!(layout.side, StripSide::Bottom);
    assert_eq!(layout.strip.height, 3);
    // An unknown size is taken as 16:9.
    assert_eq!(
        presentation_layout(Rect::new(0, 1, 50, 22), (0, 0)),
        presentation_layout(Rect::new(0, 1, 50, 22), (16, 9))
    );
}

#[test]
fn tiny_terminals_draw_without_panicking() {
    let mut model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, true, false),
    ]);
    shares_screen(&mut model, 2, "ana");
    apply(
        &mut model,
        &Event::ControlGranted {
            meeting: meeting_id(),
            owner: named(2, "ana"),
            controller: named(1, "ed"),
        },
    );
    assert!(model.enter_control_mode());
    for (width, height) in [(1, 1), (10, 3), (20, 6), (40, 10), (300, 8), (12, 80)] {
        render(&model, &ReadyTiles::new(), width, height);
    }
}

#[test]
fn names_ids_and_messages_from_the_network_are_drawn_cleaned() {
    // Joiners hide inside a grapheme (ratatui keeps them in the cell), the
    // rest would be dropped by ratatui itself: the view must not rely on that.
    let hostile = "ev\u{200d}il\x1b]0;pwned\x07\u{9b}2J\u{202e}gnp\u{200c}";
    let meeting: MeetingId =
        serde_json::from_value(serde_json::json!(hostile)).expect("any string");
    let mut model = ViewModel::new(ClientId(1));
    model.local(&LocalEvent::Connected {
        id: ClientId(1),
        name: hostile.into(),
        server: "127.0.0.1:6338".into(),
        fingerprint: Some("SHA256 0000".into()),
    });
    apply(
        &mut model,
        &Event::Joined {
            meeting: meeting.clone(),
            members: vec![
                member(1, hostile, true, false, false),
                member(2, hostile, false, true, false),
            ],
        },
    );
    apply(
        &mut model,
        &Event::Chat {
            seq: 0,
            meeting,
            from: hostile.into(),
            from_id: ClientId(2),
            text: hostile.into(),
        },
    );
    model.server(&Event::Error {
        message: hostile.into(),
    });
    model.local(&LocalEvent::Error {
        message: hostile.into(),
    });
    model.server(&Event::Shutdown {
        message: hostile.into(),
    });
    let (backend, _) = render(&model, &ReadyTiles::new(), 120, 30);
    let steers = |c: char| {
        c.is_control()
            || matches!(u32::from(c), 0x200b..=0x200f | 0x202a..=0x202e | 0x2066..=0x2069)
    };
    let buffer = backend.buffer();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            let symbol = buffer[(x, y)].symbol();
            assert!(
                !symbol.chars().any(steers),
                "cell {x},{y} holds {symbol:?}:\n{}",
                screen_text(&backend)
            );
        }
    }
    // What the view prints on the ordinary screen after it closes.
    let last_word = model
        .last_word
        .clone()
        .expect("the server said why it stopped");
    assert!(!last_word.chars().any(steers), "{last_word:?}");
}

#[test]
fn the_status_bar_says_which_media_is_down_until_it_is_back() {
    let mut model = meeting_model(vec![member(2, "ana", true, true, true)]);
    for kind in [MediaKind::Video, MediaKind::Audio] {
        model.local(&LocalEvent::MediaDown {
            kind,
            reason: "the server closed it".into(),
        });
    }
    let (backend, _) = render(&model, &ReadyTiles::new(), 160, 48);
    let text = screen_text(&backend);
    assert!(text.contains("video · audio down, reconnecting"), "{text}");
    assert!(
        text.contains("video connection lost"),
        "said in the chat too:\n{text}"
    );
    for kind in [MediaKind::Video, MediaKind::Audio] {
        model.local(&LocalEvent::MediaUp {
            kind,
            down_ms: 1200,
        });
    }
    let (backend, _) = render(&model, &ReadyTiles::new(), 160, 48);
    let text = screen_text(&backend);
    assert!(!text.contains("down, reconnecting"), "{text}");
    assert!(text.contains("video connection back after 1.2 s"), "{text}");
}

#[test]
fn hands_reactions_and_private_messages_show_on_tiles_members_and_chat() {
    let mut model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, false, false),
    ]);
    apply(
        &mut model,
        &Event::Hand {
            meeting: meeting_id(),
            member: named(3, "bo"),
            raised: true,
            by: named(3, "bo"),
        },
    );
    apply(
        &mut model,
        &Event::Reaction {
            meeting: meeting_id(),
            member: named(2, "ana"),
            emoji: "🎉".into(),
        },
    );
    apply(
        &mut model,
        &Event::Private {
            seq: 0,
            meeting: meeting_id(),
            from: named(3, "bo"),
            to: named(1, "ed"),
            text: "psst\x1b[2J".into(),
        },
    );
    let (backend, _) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    // A wide character takes two cells: the second reads as a space here.
    assert!(text.contains("bo · ✋  hand up"), "bo's tile:\n{text}");
    assert!(text.contains("ana ♪ · 🎉"), "ana's tile:\n{text}");
    assert!(text.contains("bo#3 ✋"), "members list:\n{text}");
    assert!(text.contains("bo → you (private): psst [2J"), "{text}");
    insta::assert_snapshot!(backend);

    // The reaction fades; the hand stays until lowered.
    let later = Instant::now() + crate::tui::model::REACTION_SHOWN;
    assert!(model.reaction(ClientId(2), later).is_none());
    assert!(model.fade_reactions(later));
    apply(
        &mut model,
        &Event::Hand {
            meeting: meeting_id(),
            member: named(3, "bo"),
            raised: false,
            by: named(2, "ana"),
        },
    );
    let (backend, _) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    assert!(!text.contains("✋") && !text.contains("♪ · 🎉"), "{text}");
    assert!(text.contains("ana lowered bo's hand"), "{text}");
}

#[test]
fn news_while_scrolled_back_is_counted_not_jumped_to() {
    let mut model = meeting_model(vec![member(2, "ana", true, true, true)]);
    for n in 0..12 {
        model.log(&format!("older line {n}"));
    }
    model.scroll_chat(5);
    let from_ana = |text: &str| Event::Chat {
        seq: 0,
        meeting: meeting_id(),
        from: "ana\x07".into(),
        from_id: ClientId(2),
        text: text.into(),
    };
    apply(&mut model, &from_ana("are you there?"));
    apply(&mut model, &from_ana("hello?"));
    // Our own lines are no news.
    apply(
        &mut model,
        &Event::Chat {
            seq: 0,
            meeting: meeting_id(),
            from: "ed".into(),
            from_id: ClientId(1),
            text: "typed while scrolled".into(),
        },
    );
    assert_eq!(model.unread, 2);
    assert_eq!(model.chat_scroll, 8, "the reader's place is kept");
    assert!(model.take_bell(), "news rings once");
    assert!(!model.take_bell());
    apply(
        &mut model,
        &Event::MemberJoined {
            meeting: meeting_id(),
            member: member(3, "bo\x1b]2;pwned\x07", false, false, false),
        },
    );
    assert!(model.take_bell(), "someone joining rings too");
    let title = model.title();
    assert_eq!(title, "(2 new) meeting abc-def · client");
    let (backend, _) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    assert!(text.contains("2 new messages · End"), "{text}");
    assert!(!text.contains("are you there?"), "no jump:\n{text}");
    insta::assert_snapshot!(backend);

    // Back at the newest: read, and the title says so.
    model.chat_to_newest();
    assert_eq!(model.unread, 0);
    assert_eq!(model.title(), "meeting abc-def · client");
    let (backend, _) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    assert!(text.contains("are you there?") && !text.contains("new message"));
    // At the newest, news rings no bell: it is on screen.
    apply(&mut model, &from_ana("ok"));
    assert!(!model.take_bell());
}

#[test]
fn the_title_carries_nothing_that_steers_a_terminal() {
    let mut model = meeting_model(vec![]);
    let mut state = model.state.clone();
    // A meeting id is whatever string the server sent.
    let hostile: MeetingId =
        serde_json::from_value(serde_json::json!("x\u{7}\u{1b}]0;evil\u{9b}")).expect("any string");
    state.meeting = Some(hostile);
    model.set_meeting(&state);
    let title = model.title();
    assert!(!title.chars().any(char::is_control), "{title:?}");
    let mut out = Vec::new();
    crate::tui::terminal::set_title(&mut out, &title).expect("writes");
    assert_eq!(
        out.iter().filter(|&&b| b == 0x07).count(),
        1,
        "one BEL: the end"
    );
}

#[test]
fn a_clicked_tile_fills_the_video_area() {
    use ratatui::crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mut model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, false, false),
        member(4, "cy", false, false, false),
    ]);
    let (_, drawn) = render(&model, &ReadyTiles::new(), 80, 24);
    model.clicks = drawn.clicks;
    let (_, bo_tile) = *model
        .clicks
        .tiles
        .iter()
        .find(|(id, _)| *id == ClientId(3))
        .expect("bo has a tile");
    let click = MouseEvent {
        kind: MouseEventKind::Down(MouseButton::Left),
        column: bo_tile.x + 2,
        row: bo_tile.y + 2,
        modifiers: KeyModifiers::NONE,
    };
    assert!(crate::tui::keys::view_mouse(&mut model, &click));
    let (backend, drawn) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    assert!(text.contains("bo · click or Esc: all tiles"), "{text}");
    assert!(!text.contains("ana ♪"), "only bo's tile:\n{text}");
    assert_eq!(drawn.clicks.tiles.len(), 1);
    // The members list rows are where the click map says.
    assert_eq!(drawn.clicks.member_rows.len(), 4);
    insta::assert_snapshot!(backend);
}

/// The speaker area's tile for `id`, as the last draw placed it.
fn tile_area(drawn: &Drawn, id: u32) -> ratatui::layout::Rect {
    drawn
        .clicks
        .tiles
        .iter()
        .find(|(member, _)| *member == ClientId(id))
        .map(|(_, area)| *area)
        .expect("a tile")
}

#[test]
fn the_speaker_view_follows_who_speaks_above_a_strip_of_the_others() {
    let mut model = meeting_model(vec![
        member(2, "ana", true, true, true),
        member(3, "bo", false, true, true),
        member(4, "cy", false, false, true),
    ]);
    model.speaking.clear();
    model.toggle_speaker_view();
    model.set_speaking([ClientId(3)].into());
    let (backend, drawn) = render(&model, &ReadyTiles::new(), 160, 48);
    let (bo, ana, cy) = (
        tile_area(&drawn, 3),
        tile_area(&drawn, 2),
        tile_area(&drawn, 4),
    );
    assert!(bo.height > 2 * ana.height, "bo speaks: his tile is large");
    assert!(
        ana.y > bo.y && ana.height == cy.height,
        "the others in a strip below"
    );
    assert_eq!(
        tile_keys(&drawn),
        vec![TileKey::Member(ClientId(3)), TileKey::Member(ClientId(2))],
        "video for bo (large) and ana (small); cy shares none"
    );
    insta::assert_snapshot!(backend);

    // bo pauses: he stays large until someone else starts.
    model.set_speaking(Default::default());
    let (_, drawn) = render(&model, &ReadyTiles::new(), 160, 48);
    assert!(tile_area(&drawn, 3).height > 2 * tile_area(&drawn, 2).height);
    model.set_speaking([ClientId(4)].into());
    let (_, drawn) = render(&model, &ReadyTiles::new(), 160, 48);
    assert!(
        tile_area(&drawn, 4).height > 2 * tile_area(&drawn, 3).height,
        "cy now"
    );

    // At 80x24 too, with the members and chat still readable beside.
    let (backend, drawn) = render(&model, &ReadyTiles::new(), 80, 24);
    assert!(tile_area(&drawn, 4).height > tile_area(&drawn, 3).height);
    let text = screen_text(&backend);
    assert!(text.contains("cy ♪") && text.contains("ed (you)"), "{text}");
    assert!(text.contains("layout: speaker"), "{text}");

    model.toggle_speaker_view();
    let (_, drawn) = render(&model, &ReadyTiles::new(), 160, 48);
    assert_eq!(drawn.clicks.tiles.len(), 3, "f again: the grid");
}

#[test]
fn the_members_menu_lists_everyone_and_the_keys_that_act_on_the_pick() {
    let mut model = meeting_model(vec![
        member(2, "ana", false, true, true),
        member(3, "bo", false, false, false),
    ]);
    // You are the host: every action is offered.
    let mut state = model.state.clone();
    for m in &mut state.members {
        m.host = m.id == ClientId(1);
    }
    model.set_meeting(&state);
    crate::tui::members_menu::open(&mut model);
    let (backend, _) = render(&model, &ReadyTiles::new(), 80, 24);
    let text = screen_text(&backend);
    for expected in [
        "members",
        "▶ ana#2",
        "bo#3",
        "(you)",
        "remove",
        "make host",
        "Esc closes",
    ] {
        assert!(text.contains(expected), "no {expected:?}:\n{text}");
    }
    insta::assert_snapshot!(backend);
}

/// After `/create hunter2` the hint named the id alone, which the server
/// refuses: the host sees the passcode to pass on, a member that one is
/// needed.
#[test]
fn the_join_hint_of_a_private_meeting_carries_its_passcode() {
    let mut model = ViewModel::new(ClientId(1));
    for event in [
        Event::Created {
            meeting: meeting_id(),
            passcode: Some("hunter2".into()),
        },
        Event::Joined {
            meeting: meeting_id(),
            members: vec![member(1, "ed", true, false, false)],
        },
    ] {
        apply(&mut model, &event);
    }
    let text = screen_text(&render(&model, &ReadyTiles::new(), 100, 30).0);
    assert!(
        text.contains("Others join with: /join abc-def hunter2"),
        "{text}"
    );
    assert!(
        model.chat.iter().any(|l| matches!(l, ChatLine::Info(t)
            if t.contains("private meeting abc-def") && t.ends_with("/join abc-def hunter2"))),
        "{:?}",
        model.chat
    );
    model.copy_meeting_id();
    assert!(
        matches!(model.chat.back(), Some(ChatLine::Info(t)) if t.ends_with("others join with /join abc-def hunter2")),
        "{:?}",
        model.chat.back()
    );

    // A member copies the id: the passcode is needed, and the host has it.
    let mut member_view = ViewModel::new(ClientId(2));
    for event in [
        Event::Joined {
            meeting: meeting_id(),
            members: vec![
                member(1, "ed", true, false, false),
                member(2, "bo", false, false, false),
            ],
        },
        Event::Privacy {
            meeting: meeting_id(),
            private: true,
            passcode: None,
        },
    ] {
        apply(&mut member_view, &event);
    }
    member_view.copy_meeting_id();
    assert!(
        matches!(member_view.chat.back(), Some(ChatLine::Info(t))
            if t.ends_with("others join with /join abc-def PASSCODE (the host has it)")),
        "{:?}",
        member_view.chat.back()
    );
    // The host leaves: the new host is told the passcode, and the hint has it.
    for event in [
        Event::MemberLeft {
            meeting: meeting_id(),
            member: named(1, "ed"),
        },
        Event::HostChanged {
            meeting: meeting_id(),
            host: named(2, "bo"),
        },
        Event::Privacy {
            meeting: meeting_id(),
            private: true,
            passcode: Some("hunter2".into()),
        },
    ] {
        apply(&mut member_view, &event);
    }
    let text = screen_text(&render(&member_view, &ReadyTiles::new(), 100, 30).0);
    assert!(text.contains("/join abc-def hunter2"), "{text}");
}

/// Someone waiting in a lobby saw "no meeting" and "You are in no
/// meeting": the status bar, the middle of the view, the key bar and the
/// window title now say whose door they wait at and how to stop.
#[test]
fn waiting_in_a_lobby_says_so_everywhere_the_view_says_where_you_are() {
    let mut model = ViewModel::new(ClientId(1));
    let waiting = MeetingId::parse("8pv-y3a").expect("valid id");
    apply(
        &mut model,
        &Event::InLobby {
            meeting: waiting.clone(),
        },
    );
    for (width, height) in [(80, 24), (100, 30)] {
        let text = screen_text(&render(&model, &ReadyTiles::new(), width, height).0);
        assert!(text.contains("waiting to enter 8pv-y3a"), "{text}");
        assert!(!text.contains("no meeting"), "{text}");
        assert!(
            text.contains("You wait in the lobby of meeting 8pv-y3a"),
            "{text}"
        );
        assert!(text.contains("l stops waiting"), "{text}");
        assert!(text.contains("l stop waiting"), "the key bar: {text}");
    }
    assert_eq!(model.title(), "waiting to enter 8pv-y3a · client");
    apply(
        &mut model,
        &Event::NotAdmitted {
            meeting: waiting,
            reason: "the host did not let you in".into(),
        },
    );
    let text = screen_text(&render(&model, &ReadyTiles::new(), 80, 24).0);
    assert!(
        text.contains("no meeting") && !text.contains("waiting to enter"),
        "{text}"
    );
}

/// The sender's own bar read "cam on … 0 fps · 0 kbit/s", the figures of
/// what arrives, as if the camera had failed: they are labelled now, and
/// what is sent shows beside them where there is room.
#[test]
fn the_status_bar_tells_what_is_sent_from_what_arrives() {
    let mut model = meeting_model(Vec::new());
    model.local(&LocalEvent::Sharing {
        kind: MediaKind::Video,
        on: true,
        source: Some("test pattern".into()),
    });
    model.figures = Figures {
        sent_video_fps: 15.0,
        sent_bits_per_second: 1_200_000.0,
        ..Figures::default()
    };
    let bar = |width| {
        let text = screen_text(&render(&model, &ReadyTiles::new(), width, 30).0);
        text.lines().next().unwrap_or_default().to_string()
    };
    let wide = bar(120);
    assert!(
        wide.contains("in 0 fps · 0 kbit/s · 0 dropped · out 15 fps · 1.2 Mbit/s"),
        "{wide}"
    );
    let medium = bar(100);
    assert!(
        medium.contains("in 0 kbit/s · 0 dropped · out 15 fps · 1.2 Mbit/s"),
        "{medium}"
    );
    let narrow = bar(80);
    assert!(narrow.contains("in 0 kbit/s · 0 dropped"), "{narrow}");
    assert!(
        !narrow.contains(" 0 fps"),
        "no bare rate to misread: {narrow}"
    );
}

/// At 100 columns the titles were cut (`1 in the lobb╮`, `scrolled back
/// 10, End╮`), who waits showed only in the members menu, and at 80 the
/// key bar had no room for S: titles shorten by what matters least, the
/// members panel has rows for who waits, and in a meeting the key bar
/// spends no room on creating or joining another.
#[test]
fn titles_shorten_instead_of_being_cut_and_who_waits_shows() {
    let mut model = meeting_model(vec![member(2, "ana", true, false, false)]);
    apply(
        &mut model,
        &Event::Waiting {
            meeting: meeting_id(),
            waiting: vec![named(7, "cy")],
        },
    );
    for _ in 0..12 {
        model.log("older line");
    }
    model.scroll_chat(10);
    for (width, height) in [(100, 30), (80, 24), (200, 60)] {
        let text = screen_text(&render(&model, &ReadyTiles::new(), width, height).0);
        let titled = |start: &str| {
            text.lines()
                .flat_map(|line| line.split('╭').skip(1))
                .find(|piece| piece.starts_with(start))
                .map(|piece| piece.split('╮').next().unwrap_or_default().to_string())
        };
        let members = titled(" members (2)").unwrap_or_default();
        let chat = titled(" chat").unwrap_or_default();
        // A whole title ends in a space, then the border runs on.
        for title in [&members, &chat] {
            let words = title.trim_end_matches('─');
            assert!(words.ends_with(' '), "{width}: cut title {title:?}\n{text}");
        }
        assert!(members.contains('1') || width < 100, "{width}: {members}");
        assert!(chat.contains("10"), "{width}: {chat}");
        assert!(text.contains("⧗ cy#7"), "{width}: who waits\n{text}");
        let keys = text.lines().last().unwrap_or_default();
        assert!(keys.contains("S screen"), "{width}: {keys}");
        assert!(!keys.contains("c create"), "{width}: {keys}");
    }
}
