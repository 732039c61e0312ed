//! Screen sources: what `/screen on SOURCE` captures.
//!
//! Like the video and audio sources, each source is one row in a table
//! (`SCREEN_SOURCES`: its name, what it is, how it opens): the synthetic test desktop and image files need no
//! display; `x11[:DISPLAY][@WxH+X+Y]` captures an X display through x11rb,
//! which is pure Rust, so every build has it.
//!
//! A source that takes a granted controller's input hands out an
//! `InputTarget` with it: the X display plays it through XTEST, the test
//! desktop draws it (a field of typed text and the pointer), so control
//! mode does something visible without a display. Image files take none.

use crate::media::driver::{InputTarget, Source, Takes, open_source};
use crate::media::options::MediaOptions;
use anyhow::Context;
use common::InputEvent;
use common::sync::lock;
use image::RgbImage;
use meeting_screen::desktop::{DesktopInput, TestDesktop};
use meeting_screen::x11::{X11Capture, X11Injector, X11Source};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The test desktop's size.
pub(super) const TEST_DESKTOP: (u32, u32) = (1280, 720);
/// How long each picture of an image folder is shown.
const IMAGE_PERIOD: Duration = Duration::from_secs(2);

/// Produces pictures of a screen, one per call.
pub trait ScreenSource: Send {
    fn describe(&self) -> String;
    fn capture(&mut self) -> anyhow::Result<RgbImage>;
}

impl InputTarget for X11Injector {
    fn apply(&mut self, event: InputEvent) -> anyhow::Result<()> {
        Ok(X11Injector::apply(self, event)?)
    }

    fn release_all(&mut self) -> anyhow::Result<()> {
        Ok(X11Injector::release_all(self)?)
    }
}

/// The controller's input as the test desktop draws it, shared between the
/// main loop (which applies events) and the capture (which draws them).
#[derive(Clone, Default)]
struct SharedDesktopInput(Arc<Mutex<DesktopInput>>);

impl SharedDesktopInput {
    fn lock(&self) -> MutexGuard<'_, DesktopInput> {
        // Plain data: what a panicking holder left is still worth drawing.
        lock(&self.0)
    }
}

impl InputTarget for SharedDesktopInput {
    fn apply(&mut self, event: InputEvent) -> anyhow::Result<()> {
        self.lock().apply(event);
        Ok(())
    }

    fn release_all(&mut self) -> anyhow::Result<()> {
        self.lock().release_all();
        Ok(())
    }
}

/// A screen source, and what plays a controller's input on it, if anything.
pub type OpenedScreen = (Box<dyn ScreenSource>, Option<Box<dyn InputTarget>>);

/// The screen sources, the default first: each opens with what plays a
/// granted controller's input on it, if it takes any (the X display, its
/// region; the test desktop, which draws it).
pub const SCREEN_SOURCES: &[Source<OpenedScreen>] = &[
    Source {
        name: "test",
        help: "a synthetic desktop: scrolling text in several sizes and a moving window (the default); a controller's typing and pointer show on it",
        takes: Takes::Word("test"),
        open: |_, _| {
            let input = SharedDesktopInput::default();
            let screen = TestScreen::new(input.clone());
            Ok((Box::new(screen), Some(Box::new(input))))
        },
    },
    Source {
        name: "x11[:DISPLAY]",
        help: "an X display ($DISPLAY unless given), or a region of it: x11:DISPLAY@WxH+X+Y",
        takes: Takes::Test(X11Source::is_x11_spec),
        open: |spec, _| {
            let source = X11Source::parse(spec)?;
            let capture = X11Capture::open(&source)?;
            let injector = match capture.injector() {
                Ok(injector) => Some(Box::new(injector) as Box<dyn InputTarget>),
                Err(err) => {
                    tracing::warn!("remote control will not work on this display: {err}");
                    None
                }
            };
            Ok((Box::new(X11Screen { capture }), injector))
        },
    },
    Source {
        name: "PATH",
        help: "a PNG or JPEG file, or a folder of them shown in name order, a new one every 2 s",
        takes: Takes::Other,
        open: |path, _| Ok((Box::new(ImageScreen::open(Path::new(path))?), None)),
    },
];

/// Opens a screen source (`None`: the test desktop).
pub fn open_screen_source(spec: Option<&str>) -> anyhow::Result<OpenedScreen> {
    open_source(SCREEN_SOURCES, spec, &MediaOptions::default())
}

/// The synthetic desktop, animated by the wall clock, with a controller's
/// input drawn over it.
struct TestScreen {
    desktop: TestDesktop,
    started: Instant,
    input: SharedDesktopInput,
}

impl TestScreen {
    fn new(input: SharedDesktopInput) -> TestScreen {
        TestScreen {
            desktop: TestDesktop::new(TEST_DESKTOP.0, TEST_DESKTOP.1),
            started: Instant::now(),
            input,
        }
    }
}

impl ScreenSource for TestScreen {
    fn describe(&self) -> String {
        format!("test desktop {}x{}", TEST_DESKTOP.0, TEST_DESKTOP.1)
    }

    fn capture(&mut self) -> anyhow::Result<RgbImage> {
        // A copy, so the lock is not held while drawing.
        let input = self.input.lock().clone();
        Ok(self
            .desktop
            .frame_with_input(self.started.elapsed(), &input)
            .clone())
    }
}

struct X11Screen {
    capture: X11Capture,
}

impl ScreenSource for X11Screen {
    fn describe(&self) -> String {
        let (width, height) = self.capture.size();
        let how = if self.capture.uses_shm() {
            "shared memory"
        } else {
            "GetImage"
        };
        format!(
            "X display {} {width}x{height} ({how})",
            self.capture.display_name()
        )
    }

    fn capture(&mut self) -> anyhow::Result<RgbImage> {
        Ok(self.capture.capture()?)
    }
}

/// Image files as a screen: a slide show, a new picture every `IMAGE_PERIOD`.
struct ImageScreen {
    path: PathBuf,
    pictures: Vec<RgbImage>,
    started: Instant,
}

impl ImageScreen {
    fn open(path: &Path) -> anyhow::Result<ImageScreen> {
        let files = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .with_context(|| format!("cannot read folder {}", path.display()))?
                .filter_map(|entry| entry.ok().map(|e| e.path()))
                .filter(|p| {
                    p.extension().and_then(|e| e.to_str()).is_some_and(|e| {
                        ["png", "jpg", "jpeg"].contains(&e.to_ascii_lowercase().as_str())
                    })
                })
                .collect();
            files.sort();
            files
        } else {
            vec![path.to_path_buf()]
        };
        if files.is_empty() {
            anyhow::bail!(
                "{}: no PNG or JPEG files to share (screen sources: test, x11[:DISPLAY], PATH)",
                path.display()
            );
        }
        let pictures = files
            .iter()
            .map(|file| {
                image::open(file)
                    .map(|picture| picture.to_rgb8())
                    .with_context(|| {
                        format!(
                            "{}: not a picture (screen sources: test, x11[:DISPLAY], a PNG or JPEG file or folder)",
                            file.display()
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(ImageScreen {
            path: path.to_path_buf(),
            pictures,
            started: Instant::now(),
        })
    }
}

impl ScreenSource for ImageScreen {
    fn describe(&self) -> String {
        format!(
            "{} ({} picture(s))",
            self.path.display(),
            self.pictures.len()
        )
    }

    fn capture(&mut self) -> anyhow::Result<RgbImage> {
        let shown = self.started.elapsed().as_millis() / IMAGE_PERIOD.as_millis();
        let index = (shown % self.pictures.len() as u128) as usize;
        Ok(self.pictures[index].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys and clicks over the test desktop did nothing and nobody was
    /// told: its input target draws them into the pictures it shares.
    #[test]
    fn the_test_desktop_shows_what_a_controller_does() {
        let (mut source, target) = open_screen_source(Some("test")).expect("test source");
        let mut target = target.expect("the test desktop takes input");
        target
            .apply(InputEvent::Pointer { x: 640, y: 100 })
            .expect("applies");
        let pointed = source.capture().expect("captures");
        // The pointer's red cross, at the spot it was moved to.
        let red = pointed.get_pixel(640, 100);
        assert!(red[0] > 200 && red[1] < 60 && red[2] < 60, "{red:?}");
    }

    #[test]
    fn a_missing_or_broken_image_says_what_works() {
        let err = open_screen_source(Some("/nonexistent/slides.png"))
            .err()
            .expect("no such file");
        assert!(format!("{err:#}").contains("screen sources"), "{err:#}");
    }
}
