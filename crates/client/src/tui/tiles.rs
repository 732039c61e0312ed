//! Video and screen tiles: turning JPEG frames and shared screens into
//! pictures the terminal can show, off the UI thread.
//!
//! The video receiver (and our own video sender, for the self-view) hand each
//! frame, and the screen receiver each updated screen, to a `TileFeed`
//! (`show_video`, `show_screen`), which only parks it as the newest undecoded frame of
//! its tile, replacing any older one: a slow decoder drops stale frames, it
//! never queues them. One decoder thread decodes the parked frames and scales
//! and encodes them (half-blocks, sixel, kitty or iTerm2, whatever the `Picker`
//! chose) for the size the UI last asked for, then publishes the result. The UI
//! thread only renders what is published, so it never waits for a decode, and
//! it tells the decoder the tile sizes after each layout, which re-encodes the
//! last picture when the terminal is resized.

use crate::sink::SharedFrame;
use common::ClientId;
use common::sync::lock;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};
use image::DynamicImage;
use image::imageops::FilterType;
use ratatui::layout::Size;
use ratatui_image::picker::Picker;
use ratatui_image::protocol::Protocol;
use ratatui_image::{FontSize, Resize};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Whose picture a tile shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKey {
    Member(ClientId),
    /// The self-view: our own video as we send it.
    You,
    /// A member's shared screen.
    Screen(ClientId),
}

/// A picture waiting for the decoder: a JPEG video frame, or a screen
/// already put together from its tiles.
#[derive(Clone)]
enum Parked {
    Jpeg(SharedFrame),
    Picture(Arc<image::RgbImage>),
}

/// A picture ready to render, made for a tile of `cells`.
pub struct RenderedTile {
    pub image: Protocol,
    pub cells: Size,
    /// The picture's own size in pixels, before scaling: for a shared screen,
    /// what a mouse position on the tile is scaled to.
    pub pixels: (u32, u32),
    /// When its frame arrived: an old picture is replaced by a placeholder.
    pub received: Instant,
}

/// The pictures the UI may render now.
pub type ReadyTiles = HashMap<TileKey, Arc<RenderedTile>>;

struct Shared {
    /// The newest frame per tile not decoded yet.
    parked: Mutex<HashMap<TileKey, (Parked, Instant)>>,
    /// The inner size of every tile on screen, from the last layout.
    wanted: Mutex<HashMap<TileKey, Size>>,
    ready: Mutex<ReadyTiles>,
    /// Something new was published since the UI last looked.
    changed: AtomicBool,
    stopped: AtomicBool,
    /// Wakes the decoder; capacity 1, so many wake-ups while it works are one.
    wake: Sender<()>,
}

impl Shared {
    fn new(wake: Sender<()>) -> Shared {
        Shared {
            parked: Mutex::default(),
            wanted: Mutex::default(),
            ready: Mutex::default(),
            changed: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            wake,
        }
    }
}

impl Shared {
    fn wake(&self) {
        let _ = self.wake.try_send(());
    }
}

/// The video sink side: hands frames to the decoder. Cheap to clone.
#[derive(Clone)]
pub struct TileFeed {
    shared: Arc<Shared>,
    /// The tile every frame goes to, or `None` for the frame's sender's tile.
    fixed: Option<TileKey>,
}

impl TileFeed {
    /// A feed for our own sender's frames (whose header names no sender yet).
    pub fn for_self_view(&self) -> TileFeed {
        TileFeed {
            shared: self.shared.clone(),
            fixed: Some(TileKey::You),
        }
    }
}

impl TileFeed {
    /// `sender`'s newest video frame (ours, on the self-view's feed).
    pub fn show_video(&self, sender: ClientId, frame: &SharedFrame) {
        let key = self.fixed.unwrap_or(TileKey::Member(sender));
        self.park(key, Parked::Jpeg(frame.clone()));
    }

    /// `sender`'s shared screen as now known.
    pub fn show_screen(&self, sender: ClientId, canvas: &image::RgbImage) {
        let key = TileKey::Screen(sender);
        // A tile that is not on screen costs nothing, not even the copy.
        if lock(&self.shared.wanted).contains_key(&key) {
            self.park(key, Parked::Picture(Arc::new(canvas.clone())));
        }
    }

    /// Parks a picture as its tile's newest, for the decoder.
    fn park(&self, key: TileKey, picture: Parked) {
        // A tile that is not on screen costs nothing to decode.
        if !lock(&self.shared.wanted).contains_key(&key) {
            return;
        }
        lock(&self.shared.parked).insert(key, (picture, Instant::now()));
        self.shared.wake();
    }
}

/// The UI side: says which tiles it shows and takes the pictures.
pub struct TileBoard {
    shared: Arc<Shared>,
}

impl TileBoard {
    /// Tells the decoder the tiles of the latest layout.
    pub fn show(&self, tiles: &[(TileKey, Size)]) {
        let wanted: HashMap<TileKey, Size> = tiles.iter().copied().collect();
        let mut current = lock(&self.shared.wanted);
        if *current != wanted {
            *current = wanted;
            drop(current);
            self.shared.wake();
        }
    }

    /// The pictures to render (shared, not copied).
    pub fn ready(&self) -> ReadyTiles {
        lock(&self.shared.ready).clone()
    }

    /// True once per batch of new pictures.
    pub fn take_changed(&self) -> bool {
        self.shared.changed.swap(false, Ordering::AcqRel)
    }
}

impl Drop for TileBoard {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::Release);
        self.shared.wake();
    }
}

/// Starts the decoder thread; the board stops it when dropped.
pub fn start(picker: Picker) -> std::io::Result<(TileFeed, TileBoard)> {
    let (wake, woken) = crossbeam_channel::bounded(1);
    let shared = Arc::new(Shared::new(wake));
    let decoder_side = shared.clone();
    std::thread::Builder::new()
        .name("video-decode".into())
        .spawn(move || decode_loop(&decoder_side, &woken, &picker))?;
    Ok((
        TileFeed {
            shared: shared.clone(),
            fixed: None,
        },
        TileBoard { shared },
    ))
}

fn decode_loop(shared: &Shared, woken: &Receiver<()>, picker: &Picker) {
    // The last decoded picture per tile, to re-encode on resize.
    let mut pictures: HashMap<TileKey, (DynamicImage, Instant)> = HashMap::new();
    // The size each published picture was made for.
    let mut made_for: HashMap<TileKey, Size> = HashMap::new();
    loop {
        match woken.recv_timeout(Duration::from_millis(500)) {
            Ok(()) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
        if shared.stopped.load(Ordering::Acquire) {
            return;
        }
        let parked = std::mem::take(&mut *lock(&shared.parked));
        let wanted = lock(&shared.wanted).clone();
        for (key, (parked, received)) in parked {
            if !wanted.contains_key(&key) {
                continue;
            }
            let picture = match parked {
                Parked::Jpeg(frame) => {
                    image::load_from_memory_with_format(frame.jpeg(), image::ImageFormat::Jpeg)
                }
                Parked::Picture(picture) => {
                    Ok(DynamicImage::ImageRgb8(Arc::unwrap_or_clone(picture)))
                }
            };
            match picture {
                Ok(picture) => {
                    pictures.insert(key, (picture, received));
                    made_for.remove(&key);
                }
                Err(err) => tracing::debug!("{key:?}: undecodable video frame: {err}"),
            }
        }
        pictures.retain(|key, _| wanted.contains_key(key));
        made_for.retain(|key, _| wanted.contains_key(key));
        let mut made = Vec::new();
        for (key, cells) in &wanted {
            let Some((picture, received)) = pictures.get(key) else {
                continue;
            };
            if made_for.get(key) == Some(cells) {
                continue;
            }
            made_for.insert(*key, *cells);
            match encode_tile(picker, picture, *cells) {
                Some(image) => made.push((
                    *key,
                    Arc::new(RenderedTile {
                        image,
                        cells: *cells,
                        pixels: (picture.width(), picture.height()),
                        received: *received,
                    }),
                )),
                None => tracing::debug!("{key:?}: no picture fits {cells:?}"),
            }
        }
        if !made.is_empty() {
            let mut ready = lock(&shared.ready);
            ready.retain(|key, _| wanted.contains_key(key));
            ready.extend(made);
            drop(ready);
            shared.changed.store(true, Ordering::Release);
        }
    }
}

/// The largest `columns x rows` inside `cells` that shows a `width x height`
/// picture undistorted, with cells `font` pixels in size.
pub fn fit_cells(width: u32, height: u32, cells: Size, font: FontSize) -> Size {
    if width == 0 || height == 0 || font.width == 0 || font.height == 0 {
        return Size::new(0, 0);
    }
    let (fw, fh) = (f64::from(font.width), f64::from(font.height));
    let aspect = f64::from(width) / f64::from(height);
    let columns = f64::from(cells.width);
    let rows_for_full_width = (columns * fw / aspect / fh).round();
    if rows_for_full_width <= f64::from(cells.height) {
        return Size::new(cells.width, rows_for_full_width as u16);
    }
    let rows = f64::from(cells.height);
    let columns = (rows * fh * aspect / fw).round().min(columns);
    Size::new(columns as u16, cells.height)
}

/// Scales `picture` to fit `cells` and encodes it for the picker's protocol.
/// Scaling here, once and to the exact pixel size, leaves the protocol nothing
/// to resize.
pub fn encode_tile(picker: &Picker, picture: &DynamicImage, cells: Size) -> Option<Protocol> {
    let font = picker.font_size();
    let fit = fit_cells(picture.width(), picture.height(), cells, font);
    if fit.width == 0 || fit.height == 0 {
        return None;
    }
    let scaled = picture.resize_exact(
        u32::from(fit.width) * u32::from(font.width),
        u32::from(fit.height) * u32::from(font.height),
        FilterType::Triangle,
    );
    picker.new_protocol(scaled, fit, Resize::Fit(None)).ok()
}

/// A picker for half-blocks whose "font" is one pixel wide and two high: one
/// cell shows exactly two pixels, so pictures are scaled once, straight to the
/// cells, instead of to a made-up font size and then again to the cells.
pub fn halfblocks_picker() -> Picker {
    #[allow(deprecated)] // the replacement, `Picker::halfblocks`, fixes the font at 10x20
    let mut picker = Picker::from_fontsize(FontSize::new(1, 2));
    picker.set_protocol_type(ratatui_image::picker::ProtocolType::Halfblocks);
    picker
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::screen::ScreenSink;
    use crate::media::video::VideoSink;
    use common::MediaHeader;

    #[test]
    fn pictures_fit_without_distortion() {
        let halfblocks = FontSize::new(1, 2);
        // 16:9 into a wide tile: full height, narrower.
        assert_eq!(
            fit_cells(640, 360, Size::new(100, 20), halfblocks),
            Size::new(71, 20)
        );
        // 16:9 into a tall tile: full width, fewer rows.
        assert_eq!(
            fit_cells(640, 360, Size::new(40, 30), halfblocks),
            Size::new(40, 11)
        );
        assert_eq!(
            fit_cells(0, 360, Size::new(40, 30), halfblocks),
            Size::new(0, 0)
        );
    }

    #[test]
    fn feed_parks_only_the_newest_frame_of_tiles_on_screen() {
        let (wake, _woken) = crossbeam_channel::bounded(1);
        let shared = Arc::new(Shared::new(wake));
        let mut feed = TileFeed {
            shared: shared.clone(),
            fixed: None,
        };
        let board = TileBoard {
            shared: shared.clone(),
        };
        let frame = |sequence: u32, body: &[u8]| {
            let header = MediaHeader {
                sender: ClientId(7),
                sequence,
                timestamp_us: 0,
            };
            let frame = common::Frame::media(common::MediaKind::Video, header, body);
            (header, SharedFrame::new(frame))
        };
        let (header, first) = frame(1, b"first");
        feed.frame(&header, &first).expect("parks");
        assert!(lock(&shared.parked).is_empty(), "not on screen: dropped");

        board.show(&[(TileKey::Member(ClientId(7)), Size::new(20, 10))]);
        feed.frame(&header, &first).expect("parks");
        let (header, second) = frame(2, b"second");
        feed.frame(&header, &second).expect("parks");
        let parked = lock(&shared.parked);
        assert_eq!(parked.len(), 1);
        assert!(
            matches!(&parked[&TileKey::Member(ClientId(7))].0, Parked::Jpeg(frame) if frame.jpeg() == b"second"),
            "the newer frame replaces the older one"
        );
    }

    /// Waits (with a deadline) until the board has a picture for `key` made for `cells`.
    fn wait_for(board: &TileBoard, key: TileKey, cells: Size) -> Arc<RenderedTile> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(tile) = board.ready().get(&key).filter(|t| t.cells == cells) {
                return tile.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no picture for {key:?} at {cells:?}"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn decoder_publishes_pictures_and_redoes_them_on_resize() {
        use crate::media::video::{TestPattern, VideoSettings, VideoSource};
        let (mut feed, board) = start(halfblocks_picker()).expect("decoder starts");
        let key = TileKey::Member(ClientId(7));
        board.show(&[(key, Size::new(32, 20))]);
        let jpeg = TestPattern::new(VideoSettings::default())
            .next_jpeg()
            .expect("encodes");
        let header = MediaHeader {
            sender: ClientId(7),
            sequence: 0,
            timestamp_us: 0,
        };
        let frame = SharedFrame::new(common::Frame::media(
            common::MediaKind::Video,
            header,
            &jpeg,
        ));
        feed.frame(&header, &frame).expect("parks");
        let tile = wait_for(&board, key, Size::new(32, 20));
        assert_eq!(tile.image.size(), Size::new(32, 9), "640x360 in 32 columns");
        assert_eq!(tile.pixels, (640, 360), "the frame's own size");
        assert!(board.take_changed());
        assert!(!board.take_changed(), "one change, told once");

        // A resize re-encodes the last picture without waiting for a new frame.
        board.show(&[(key, Size::new(16, 20))]);
        let tile = wait_for(&board, key, Size::new(16, 20));
        assert_eq!(tile.image.size(), Size::new(16, 5));
    }

    #[test]
    fn shared_screens_are_published_with_their_pixel_size() {
        let (mut feed, board) = start(halfblocks_picker()).expect("decoder starts");
        let key = TileKey::Screen(ClientId(4));
        let header = MediaHeader {
            sender: ClientId(4),
            sequence: 0,
            timestamp_us: 0,
        };
        let canvas = image::RgbImage::from_pixel(1280, 800, image::Rgb([30, 60, 90]));
        let applied = meeting_screen::codec::Applied {
            keyframe: true,
            refresh_complete: true,
            width: 1280,
            height: 800,
            changed: Vec::new(),
        };
        board.show(&[(key, Size::new(48, 14))]);
        feed.update(&header, &canvas, &applied).expect("parks");
        let tile = wait_for(&board, key, Size::new(48, 14));
        assert_eq!(tile.pixels, (1280, 800));
        assert_eq!(tile.image.size(), Size::new(45, 14), "16:10 in 14 rows");
    }
}
