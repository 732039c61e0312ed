//! A synthetic desktop, for tests and demos on machines without a display.
//!
//! It owns what a shared screen typically shows, drawn from nothing but the
//! time: text in three sizes (the built-in 5x8 bitmap font, scaled 1x, 2x and
//! 3x), a photographic-looking window, a blinking cursor, typing, scrolling and
//! a video area. Every picture is a pure function of the elapsed time, so a test
//! can draw frame 30 twice and get the same pixels, and a codec test can hold
//! the screen still by asking for the same frame again.
//!
//! The font is a table in this file rather than a font-rendering crate: the
//! desktop only needs legible, deterministic glyphs, and a bitmap font has
//! hard edges and few colours, which is what real terminal and UI text looks
//! like to a screen codec.
//!
//! [`render_text`] is public because a legibility test renders a known text on
//! the sharer's side and compares it on the viewer's side.
//!
//! A remote controller's input ([`DesktopInput`]) is drawn over the picture:
//! the pointer where it was moved and a field showing what was typed, so
//! control mode visibly does something on a desktop no display backs. The
//! picture stays a pure function of the time and that input.
//!
//! `font` holds the text, `draw` the rectangles, `input` what a controller
//! did; this file the scenes and the picture.

mod draw;
mod font;
mod input;

use draw::{Area, fill, row_span};
use font::draw_text;
pub use font::{CELL_WIDTH, GLYPH_HEIGHT, GLYPH_WIDTH, LINE_HEIGHT, render_text, text_size};
use image::{Rgb, RgbImage};
pub use input::DesktopInput;
use std::time::Duration;

/// What the test desktop shows. Each scene is one of the cases the codec has
/// to be good at; `Demo` mixes the two that move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scene {
    /// A document in three text sizes scrolling up at 40 px/s, and a
    /// photographic window sliding left and right across it.
    Demo,
    /// A still document with a text cursor blinking every 500 ms.
    BlinkingCursor,
    /// Someone typing 30 characters a second (3 per frame at 10 fps) below a
    /// still document.
    Typing,
    /// A long document scrolling up at 100 px/s (10 px per frame at 10 fps).
    Scrolling,
    /// A still document with a 320x240 video area whose every pixel changes
    /// every frame (a moving gradient with noise, the worst case for JPEG).
    Video,
}

const FIELD: Rgb<u8> = Rgb([255, 249, 196]);
const FIELD_BORDER: Rgb<u8> = Rgb([180, 140, 0]);
const POINTER: Rgb<u8> = Rgb([220, 30, 30]);
const POINTER_EDGE: Rgb<u8> = Rgb([255, 255, 255]);

/// A synthetic desktop: call [`TestDesktop::frame`] for each picture.
pub struct TestDesktop {
    scene: Scene,
    picture: RgbImage,
}

const BACKGROUND: Rgb<u8> = Rgb([46, 52, 64]);
const PANEL: Rgb<u8> = Rgb([30, 33, 40]);
const PANEL_TEXT: Rgb<u8> = Rgb([216, 222, 233]);
const WINDOW_BORDER: Rgb<u8> = Rgb([76, 86, 106]);
const TITLE_BAR: Rgb<u8> = Rgb([59, 66, 82]);
const PAPER: Rgb<u8> = Rgb([250, 250, 246]);
const INK: Rgb<u8> = Rgb([36, 36, 44]);
const HEADING_INK: Rgb<u8> = Rgb([24, 72, 160]);
const SUBHEADING_INK: Rgb<u8> = Rgb([150, 40, 40]);
const CURSOR: Rgb<u8> = Rgb([20, 20, 20]);

const PANEL_HEIGHT: i64 = 24;
const TITLE_HEIGHT: i64 = 20;
const MARGIN: i64 = 8;

/// Words for the generated document: enough variety that no two lines match,
/// which a screen codec's scroll detection relies on (as with real text).
const TITLES: [&str; 7] = [
    "Tiles and damage",
    "Keyframes",
    "Refinement",
    "The relay",
    "Budgets",
    "Scrolling",
    "Recovery",
];
const SUBTITLES: [&str; 5] = [
    "What changed since the last frame",
    "Lossless when it stays still",
    "Losing frames on purpose",
    "One colour, few colours, many colours",
    "Bounds before allocations",
];
const SENTENCES: [&str; 11] = [
    "The quick brown fox jumps over the lazy dog; 0123456789 times.",
    "fn encode(&mut self, image: &RgbImage) -> Option<Vec<u8>> { ... }",
    "A tile of one colour costs three bytes and a few more for its place.",
    "Text is sharp: a palette of two colours and a bit per pixel, deflated.",
    "Photographs go as JPEG first, then losslessly once they hold still.",
    "Pack my box with five dozen liquor jugs! (says the typesetter)",
    "Sphinx of black quartz, judge my vow: [x] done, [ ] todo, {a|b}.",
    "$ cargo test -p meeting-screen -- --nocapture  # 42 passed; 0 failed",
    "Receivers that fall behind lose frames and ask for a keyframe.",
    "Every length is checked before anything is allocated for it.",
    "How vexingly quick daft zebras jump; ~/src/main.rs:120:7 warning",
];

/// One line of the generated document.
struct DocumentLine {
    scale: u32,
    colour: Rgb<u8>,
    text: String,
}

/// Lines per section of the generated document: a heading (3x), a subheading
/// (2x) and body text (1x).
const SECTION_BODY_LINES: usize = 9;

fn section_lines(section: u64) -> Vec<DocumentLine> {
    let pick = |list: &[&str], salt: u64| -> String {
        let index = (section.wrapping_mul(3).wrapping_add(salt) % list.len() as u64) as usize;
        list.get(index)
            .map_or_else(String::new, |s| (*s).to_string())
    };
    let mut lines = vec![
        DocumentLine {
            scale: 3,
            colour: HEADING_INK,
            text: format!("{}. {}", section + 1, pick(&TITLES, 0)),
        },
        DocumentLine {
            scale: 2,
            colour: SUBHEADING_INK,
            text: pick(&SUBTITLES, 3),
        },
    ];
    for line in 0..SECTION_BODY_LINES as u64 {
        lines.push(DocumentLine {
            scale: 1,
            colour: INK,
            text: format!(
                "{:4}  {}",
                section * 100 + line + 1,
                pick(&SENTENCES, line * 3)
            ),
        });
    }
    lines
}

/// The height of one section in pixels (every section has the same layout).
fn section_height() -> i64 {
    section_lines(0)
        .iter()
        .map(|line| i64::from(LINE_HEIGHT * line.scale))
        .sum()
}

/// Draws the document scrolled by `scroll` pixels into `area`.
fn draw_document(image: &mut RgbImage, area: Area, scroll: u64) {
    let section_height = section_height();
    let scroll = scroll as i64;
    let mut section = (scroll / section_height) as u64;
    let mut top = area.y - scroll % section_height;
    while top < area.bottom() {
        for line in section_lines(section) {
            draw_text(
                image,
                area,
                area.x,
                top,
                line.scale,
                &line.text,
                line.colour,
            );
            top += i64::from(LINE_HEIGHT * line.scale);
        }
        section += 1;
    }
}

/// SplitMix64: a tiny, well-mixed hash of a number, for deterministic noise.
fn mix(mut value: u64) -> u64 {
    value = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    value ^ (value >> 31)
}

/// A smooth colour field with grain: what a photograph or a video frame looks
/// like to a codec. `phase` moves the field; `grain` is the noise amplitude
/// and `seed` varies it (same seed, same noise).
fn draw_photo(image: &mut RgbImage, area: Area, phase: i64, grain: u8, seed: u64) {
    let visible = area.intersect(Area::of_image(image));
    if visible.is_empty() {
        return;
    }
    let (width, height) = (area.width.max(1), area.height.max(1));
    for y in visible.y..visible.bottom() {
        let span = row_span(image, y, visible.x, visible.right());
        let local_y = y - area.y;
        let buffer: &mut [u8] = image;
        for (offset, pixel) in buffer[span].chunks_exact_mut(3).enumerate() {
            let local_x = visible.x - area.x + offset as i64;
            // Two diagonal ramps and a triangle wave: smooth, but not flat.
            let u = (local_x * 255 / width + phase).rem_euclid(510);
            let u = if u > 255 { 510 - u } else { u };
            let v = local_y * 255 / height;
            let w = ((local_x + local_y + phase * 2).rem_euclid(128) - 64).abs() * 2;
            let noise = if grain == 0 {
                0
            } else {
                let hash = mix(seed ^ ((local_y as u64) << 32) ^ local_x as u64);
                (hash % (u64::from(grain) * 2 + 1)) as i64 - i64::from(grain)
            };
            let channel = |value: i64| (value + noise).clamp(0, 255) as u8;
            pixel[0] = channel(u);
            pixel[1] = channel((v + w) / 2 + 40);
            pixel[2] = channel(255 - (u + v) / 2);
        }
    }
}

/// A window frame with a title bar; returns the client area inside it.
fn draw_window(image: &mut RgbImage, frame: Area, title: &str, client_colour: Rgb<u8>) -> Area {
    fill(image, frame, WINDOW_BORDER);
    let title_bar = Area::new(frame.x + 1, frame.y + 1, frame.width - 2, TITLE_HEIGHT - 1);
    fill(image, title_bar, TITLE_BAR);
    draw_text(
        image,
        title_bar,
        title_bar.x + 6,
        title_bar.y + 5,
        1,
        title,
        PANEL_TEXT,
    );
    let client = Area::new(
        frame.x + 1,
        frame.y + TITLE_HEIGHT,
        frame.width - 2,
        frame.height - TITLE_HEIGHT - 1,
    );
    fill(image, client, client_colour);
    client
}

impl TestDesktop {
    /// The frame interval [`TestDesktop::frame`] assumes: 10 frames a second.
    pub const FRAME_INTERVAL: Duration = Duration::from_millis(100);

    /// The size of the video area in [`Scene::Video`].
    pub const VIDEO_SIZE: (u32, u32) = (320, 240);

    /// A desktop showing [`Scene::Demo`]. Sizes of zero are taken as one.
    pub fn new(width: u32, height: u32) -> TestDesktop {
        TestDesktop::with_scene(width, height, Scene::Demo)
    }

    pub fn with_scene(width: u32, height: u32, scene: Scene) -> TestDesktop {
        TestDesktop {
            scene,
            picture: RgbImage::new(width.max(1), height.max(1)),
        }
    }

    pub fn scene(&self) -> Scene {
        self.scene
    }

    /// The picture at frame `index`, frames being [`TestDesktop::FRAME_INTERVAL`] apart.
    pub fn frame(&mut self, index: u64) -> &RgbImage {
        let elapsed_ms = index.saturating_mul(Self::FRAME_INTERVAL.as_millis() as u64);
        self.draw(elapsed_ms);
        &self.picture
    }

    /// The picture `elapsed` after the start.
    pub fn frame_at(&mut self, elapsed: Duration) -> &RgbImage {
        self.draw(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        &self.picture
    }

    /// The picture `elapsed` after the start with a controller's `input`
    /// drawn over it: a field with what was typed, at the bottom, and the
    /// pointer (filled while a button is down). No input, no overlay.
    pub fn frame_with_input(&mut self, elapsed: Duration, input: &DesktopInput) -> &RgbImage {
        self.draw(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
        if !input.is_empty() {
            Self::draw_input(&mut self.picture, input);
        }
        &self.picture
    }

    fn draw_input(image: &mut RgbImage, input: &DesktopInput) {
        let screen = Area::of_image(image);
        let scale = 2;
        let height = i64::from(LINE_HEIGHT * scale) + 8;
        let field = Area::new(
            MARGIN,
            screen.height - height - MARGIN,
            screen.width - 2 * MARGIN,
            height,
        );
        fill(image, field, FIELD_BORDER);
        let inside = field.inset(2);
        fill(image, inside, FIELD);
        let clicks = match input.clicks {
            0 => String::new(),
            1 => " (1 click)".to_string(),
            n => format!(" ({n} clicks)"),
        };
        let text = format!("remote input{clicks}: {}_", input.typed);
        // The end of a long line shows: that is where typing happens.
        let columns = (inside.width / i64::from(CELL_WIDTH * scale)).max(1) as usize;
        let skip = text.chars().count().saturating_sub(columns);
        let shown: String = text.chars().skip(skip).collect();
        draw_text(
            image,
            inside,
            inside.x + 2,
            inside.y + 3,
            scale,
            &shown,
            INK,
        );

        if let Some((x, y)) = input.pointer {
            let (x, y) = (i64::from(x), i64::from(y));
            // A cross with a white edge shows on every background.
            for (colour, arm, half) in [(POINTER_EDGE, 12, 2), (POINTER, 10, 1)] {
                let across = Area::new(x - arm, y - half, 2 * arm + 1, 2 * half + 1);
                let down = Area::new(x - half, y - arm, 2 * half + 1, 2 * arm + 1);
                fill(image, across, colour);
                fill(image, down, colour);
            }
            if input.buttons_down > 0 {
                fill(image, Area::new(x - 4, y - 4, 9, 9), POINTER);
            }
        }
    }

    fn draw(&mut self, elapsed_ms: u64) {
        let image = &mut self.picture;
        let screen = Area::of_image(image);
        fill(image, screen, BACKGROUND);

        // The top panel, with a clock that ticks once a second.
        let panel = Area::new(0, 0, screen.width, PANEL_HEIGHT);
        fill(image, panel, PANEL);
        draw_text(image, panel, 10, 4, 2, "Activities", PANEL_TEXT);
        let seconds = elapsed_ms / 1000;
        let clock = format!("12:{:02}:{:02}", (seconds / 60) % 60, seconds % 60);
        let (clock_width, _) = text_size(&clock, 2);
        draw_text(
            image,
            panel,
            screen.width - i64::from(clock_width) - 10,
            4,
            2,
            &clock,
            PANEL_TEXT,
        );

        // The editor window: most of the screen.
        let editor_frame = Area::new(
            40.min(screen.width / 10),
            PANEL_HEIGHT + 16,
            screen.width - 2 * 40.min(screen.width / 10),
            screen.height - PANEL_HEIGHT - 32,
        );
        let title = match self.scene {
            Scene::Demo | Scene::Scrolling => "notes.md - scrolling",
            Scene::BlinkingCursor => "notes.md",
            Scene::Typing => "notes.md - typing",
            Scene::Video => "notes.md - with a video playing",
        };
        let client = draw_window(image, editor_frame, title, PAPER);
        let text_area = client.inset(MARGIN);

        match self.scene {
            Scene::Demo => {
                draw_document(image, text_area, elapsed_ms * 40 / 1000);
                Self::draw_sliding_photo(image, screen, elapsed_ms);
            }
            Scene::Scrolling => draw_document(image, text_area, elapsed_ms * 100 / 1000),
            Scene::BlinkingCursor => {
                draw_document(image, text_area, 0);
                // The cursor sits at the end of the third body line, visible
                // half the time.
                if (elapsed_ms / 500) % 2 == 0 {
                    let lines = section_lines(0);
                    let line_top: i64 = lines
                        .iter()
                        .take(4)
                        .map(|line| i64::from(LINE_HEIGHT * line.scale))
                        .sum();
                    let columns = lines.get(4).map_or(0, |line| line.text.chars().count());
                    let cursor = Area::new(
                        text_area.x + columns as i64 * i64::from(CELL_WIDTH),
                        text_area.y + line_top,
                        2,
                        i64::from(GLYPH_HEIGHT),
                    );
                    fill(image, cursor.intersect(text_area), CURSOR);
                }
            }
            Scene::Typing => {
                // The document above takes at most half the window.
                let document = Area::new(
                    text_area.x,
                    text_area.y,
                    text_area.width,
                    (2 * section_height()).min(text_area.height / 2),
                );
                draw_document(image, document.intersect(text_area), 0);
                let typing_area = Area::new(
                    text_area.x,
                    document.bottom(),
                    text_area.width,
                    text_area.bottom() - document.bottom(),
                );
                Self::draw_typing(image, typing_area, elapsed_ms);
            }
            Scene::Video => {
                draw_document(image, text_area, 0);
                let (video_width, video_height) = Self::VIDEO_SIZE;
                let video = Area::new(
                    text_area.right() - i64::from(video_width) - 40,
                    text_area.y + 60,
                    i64::from(video_width),
                    i64::from(video_height),
                );
                // A new picture every 100 ms, as from a 10 fps video.
                let video_frame = elapsed_ms / 100;
                draw_photo(
                    image,
                    video.intersect(text_area),
                    video_frame as i64 * 6,
                    24,
                    mix(video_frame),
                );
            }
        }
    }

    /// A photo viewer window sliding left and right across the screen at 80 px/s.
    fn draw_sliding_photo(image: &mut RgbImage, screen: Area, elapsed_ms: u64) {
        let width = 360.min(screen.width / 2).max(1);
        let height = 240.min(screen.height / 2).max(1);
        let travel = (screen.width - width).max(1);
        let position = (elapsed_ms * 80 / 1000) as i64 % (2 * travel);
        let x = if position > travel {
            2 * travel - position
        } else {
            position
        };
        let y = screen.height - height - 40.min(screen.height / 8);
        let frame = Area::new(x, y, width, height);
        let client = draw_window(image, frame, "photo.jpg", PAPER);
        // The photo itself is still: it is the window that moves.
        draw_photo(image, client, 0, 10, 7);
    }

    /// Text appearing 30 characters a second, wrapping at the area's width and
    /// starting over when the area is full; a cursor follows it.
    fn draw_typing(image: &mut RgbImage, area: Area, elapsed_ms: u64) {
        if area.is_empty() {
            return;
        }
        let columns = (area.width / i64::from(CELL_WIDTH)).max(1) as u64;
        let rows = (area.height / i64::from(LINE_HEIGHT)).max(1) as u64;
        let page = columns * rows;
        let typed = (elapsed_ms * 30 / 1000) % page;
        let source: Vec<char> = SENTENCES.join(" ").chars().collect();
        let mut x = 0u64;
        let mut y = 0u64;
        for index in 0..typed {
            let ch = source
                .get((index % source.len() as u64) as usize)
                .copied()
                .unwrap_or(' ');
            let left = area.x + (x * u64::from(CELL_WIDTH)) as i64;
            let top = area.y + (y * u64::from(LINE_HEIGHT)) as i64;
            let mut buffer = [0u8; 4];
            draw_text(image, area, left, top, 1, ch.encode_utf8(&mut buffer), INK);
            x += 1;
            if x == columns {
                x = 0;
                y += 1;
            }
        }
        let cursor = Area::new(
            area.x + (x * u64::from(CELL_WIDTH)) as i64,
            area.y + (y * u64::from(LINE_HEIGHT)) as i64,
            2,
            i64::from(GLYPH_HEIGHT),
        );
        fill(image, cursor.intersect(area), CURSOR);
    }
}

#[cfg(test)]
mod tests {
    use super::input::{XK_BACKSPACE, XK_RETURN};
    use super::*;
    use common::InputEvent;

    #[test]
    fn frames_are_a_function_of_time() {
        for scene in [
            Scene::Demo,
            Scene::BlinkingCursor,
            Scene::Typing,
            Scene::Scrolling,
            Scene::Video,
        ] {
            let mut desktop = TestDesktop::with_scene(320, 240, scene);
            let first = desktop.frame(7).clone();
            desktop.frame(8);
            assert!(desktop.frame(7) == &first, "{scene:?} is not deterministic");
            assert!(
                TestDesktop::with_scene(320, 240, scene).frame_at(Duration::from_millis(700))
                    == &first,
                "{scene:?}: frame 7 is 700 ms"
            );
        }
    }

    /// Control mode over the test desktop did nothing anyone could see:
    /// typed keys now show in a field, and the pointer where it was moved.
    #[test]
    fn a_controller_s_typing_and_pointer_show_on_the_desktop() {
        let key = |keysym, down| InputEvent::Key { keysym, down };
        let mut input = DesktopInput::default();
        for keysym in [u32::from('h'), u32::from('i'), 0xe9, 0x0100_20ac] {
            input.apply(key(keysym, true));
            input.apply(key(keysym, false));
        }
        assert_eq!(input.typed(), "hié€");
        input.apply(key(XK_BACKSPACE, true));
        input.apply(key(0xffe1, true)); // Shift types nothing
        assert_eq!(input.typed(), "hié");

        let at = Duration::from_millis(700);
        let mut desktop = TestDesktop::new(640, 360);
        let plain = desktop.frame_at(at).clone();
        assert!(
            desktop.frame_with_input(at, &DesktopInput::default()) == &plain,
            "no input, no overlay"
        );
        let typed = desktop.frame_with_input(at, &input).clone();
        assert!(typed != plain, "the field shows");
        input.apply(InputEvent::Pointer { x: 100, y: 120 });
        input.apply(InputEvent::Button {
            button: 1,
            down: true,
        });
        let pointed = desktop.frame_with_input(at, &input).clone();
        assert_eq!(pointed.get_pixel(100, 120), &POINTER);
        assert_eq!(pointed.get_pixel(300, 120), plain.get_pixel(300, 120));
        // Typing more changes the field, and only the field's rows.
        input.apply(key(u32::from('!'), true));
        let more = desktop.frame_with_input(at, &input).clone();
        let changed_rows: Vec<u32> = (0..360)
            .filter(|&y| (0..640).any(|x| more.get_pixel(x, y) != pointed.get_pixel(x, y)))
            .collect();
        assert!(changed_rows.iter().all(|&y| y > 300), "{changed_rows:?}");
        input.apply(key(XK_RETURN, true));
        assert_eq!(input.typed(), "");
    }

    #[test]
    fn moving_scenes_move_and_still_ones_do_not() {
        let changes = |scene, from, to| {
            let mut desktop = TestDesktop::with_scene(640, 360, scene);
            desktop.frame(from).clone() != *desktop.frame(to)
        };
        assert!(changes(Scene::Demo, 10, 11));
        assert!(changes(Scene::Scrolling, 10, 11));
        assert!(changes(Scene::Typing, 10, 11));
        assert!(changes(Scene::Video, 10, 11));
        // The cursor blinks every 500 ms; within a half-second nothing moves.
        assert!(!changes(Scene::BlinkingCursor, 1, 2));
        assert!(changes(Scene::BlinkingCursor, 4, 5));
    }

    #[test]
    fn any_size_renders() {
        for (width, height) in [(1, 1), (7, 3), (64, 48), (333, 97), (0, 0)] {
            for scene in [
                Scene::Demo,
                Scene::Typing,
                Scene::Video,
                Scene::BlinkingCursor,
            ] {
                let mut desktop = TestDesktop::with_scene(width, height, scene);
                let picture = desktop.frame(123);
                assert_eq!(picture.dimensions(), (width.max(1), height.max(1)));
            }
        }
    }

    #[test]
    fn text_renders_glyph_by_glyph() {
        let white = Rgb([255, 255, 255]);
        let black = Rgb([0, 0, 0]);
        let mut image = RgbImage::from_pixel(40, 30, white);
        let size = render_text(&mut image, 1, 2, 2, "T", black);
        assert_eq!(size, (12, 20));
        // 'T' is a full top row and a middle column, each dot 2x2 at scale 2.
        for x in 0..10 {
            assert_eq!(image.get_pixel(1 + x, 2), &black, "top bar at {x}");
        }
        assert_eq!(image.get_pixel(1 + 4, 2 + 12), &black, "stem");
        assert_eq!(image.get_pixel(1, 2 + 4), &white, "beside the stem");
        // The text's cell is the only thing touched.
        let touched = image.enumerate_pixels().filter(|(_, _, p)| **p == black);
        assert!(
            touched
                .clone()
                .all(|(x, y, _)| (1..13).contains(&x) && (2..22).contains(&y))
        );
        assert_eq!(
            touched.count(),
            4 * (5 + 6),
            "five dots across, six down the stem"
        );
    }

    #[test]
    fn text_is_clipped_not_wrapped() {
        let mut image = RgbImage::new(10, 10);
        let size = render_text(
            &mut image,
            -20,
            -5,
            3,
            "clipped\nsecond line é",
            Rgb([9, 9, 9]),
        );
        assert_eq!(size, (13 * 18, 2 * 30));
        assert_eq!(text_size("", 1), (0, LINE_HEIGHT));
        // The unknown character draws as '?'.
        let mut question = RgbImage::new(6, 10);
        let mut unknown = RgbImage::new(6, 10);
        render_text(&mut question, 0, 0, 1, "?", Rgb([1, 1, 1]));
        render_text(&mut unknown, 0, 0, 1, "é", Rgb([1, 1, 1]));
        assert!(question == unknown);
    }
}
