//! Capturing the root window (or a region of it) as RGB frames.
//!
//! Two ways to get the pixels, chosen once at `open`: MIT-SHM, where the server
//! copies the frame into a segment shared with us (no 8 MB reply through the
//! socket at 1080p), and plain GetImage, which works everywhere, including a
//! server on another machine. SHM needs version 1.2 (the server creates the
//! segment and passes its descriptor), which every X server of the last decade
//! has; an older or remote server simply gets GetImage. If SHM stops working
//! later, capture falls back for good rather than failing the share.

use image::RgbImage;
use x11rb::connection::{Connection, RequestConnection as _};
use x11rb::protocol::shm::{self, ConnectionExt as _};
use x11rb::protocol::xproto::{
    ConnectionExt as _, ImageFormat, ImageOrder, Screen, Setup, VisualClass, Window,
};
use x11rb::rust_connection::RustConnection;

use super::error::Doing;
use super::pixels::{PixelFormat, UnsupportedFormat};
use super::shm::SharedSegmentMapping;
use super::{Region, X11Error, X11Injector, X11Source};

/// A connection that captures one area of one X screen, frame after frame.
pub struct X11Capture {
    conn: RustConnection,
    display: String,
    root: Window,
    area: Region,
    format: PixelFormat,
    shm: Option<ShmSegment>,
}

/// A segment the server created for us, mapped for reading.
struct ShmSegment {
    id: shm::Seg,
    mapping: SharedSegmentMapping,
}

impl X11Capture {
    /// Connects to the source's display, through MIT-SHM where possible.
    pub fn open(source: &X11Source) -> Result<X11Capture, X11Error> {
        X11Capture::open_with(source, true)
    }

    /// Connects without MIT-SHM, capturing with GetImage only (to compare the
    /// two, or where shared memory is unwanted).
    pub fn open_without_shm(source: &X11Source) -> Result<X11Capture, X11Error> {
        X11Capture::open_with(source, false)
    }

    fn open_with(source: &X11Source, try_shm: bool) -> Result<X11Capture, X11Error> {
        let display = source.display_name()?;
        let (conn, screen_number) = super::connect(&display)?;
        let screen = super::screen_of(&conn, screen_number, &display)?;
        let format = screen_pixel_format(&display, conn.setup(), screen)?;
        let (screen_width, screen_height) = (
            u32::from(screen.width_in_pixels),
            u32::from(screen.height_in_pixels),
        );
        let whole_screen = Region {
            x: 0,
            y: 0,
            width: screen_width,
            height: screen_height,
        };
        let area = match source.region {
            None => whole_screen,
            Some(region) => region.clip_to(screen_width, screen_height).ok_or(
                X11Error::RegionOutsideScreen {
                    region,
                    screen_width,
                    screen_height,
                },
            )?,
        };
        let root = screen.root;
        let mut capture = X11Capture {
            conn,
            display,
            root,
            area,
            format,
            shm: None,
        };
        if try_shm {
            capture.shm = capture.attach_shm()?;
        }
        tracing::debug!(
            display = %capture.display,
            area = %capture.area,
            shm = capture.uses_shm(),
            "X11 capture open"
        );
        Ok(capture)
    }

    /// Captures the area as it is now.
    pub fn capture(&mut self) -> Result<RgbImage, X11Error> {
        if self.shm.is_some() {
            match self.capture_shm() {
                Ok(frame) => return Ok(frame),
                Err(error) if error.is_refusal() => {
                    tracing::warn!(%error, "MIT-SHM capture failed; using GetImage from now on");
                    self.detach_shm();
                }
                Err(error) => return Err(error),
            }
        }
        self.capture_get_image()
    }

    /// Whether frames come through MIT-SHM (else GetImage).
    pub fn uses_shm(&self) -> bool {
        self.shm.is_some()
    }

    /// The size of the frames `capture` returns.
    pub fn size(&self) -> (u32, u32) {
        (self.area.width, self.area.height)
    }

    /// The captured area in root-window pixels: the requested region clipped
    /// to the screen, or the whole screen. An injector needs it to put the
    /// controller's pointer where the controller sees it.
    pub fn area(&self) -> Region {
        self.area
    }

    /// The display name this captures, e.g. `:0`.
    pub fn display_name(&self) -> &str {
        &self.display
    }

    /// An injector for the same display, whose pointer coordinates are
    /// relative to this capture's area.
    pub fn injector(&self) -> Result<X11Injector, X11Error> {
        X11Injector::open(Some(&self.display), self.area)
    }

    /// Sets up a shared segment and proves it with one capture. `Ok(None)`
    /// when the server lacks MIT-SHM 1.2 or refuses it (a remote server cannot
    /// pass the segment's descriptor); `Err` only if the connection broke.
    fn attach_shm(&mut self) -> Result<Option<ShmSegment>, X11Error> {
        match self.try_attach_shm() {
            Ok(segment) => Ok(segment),
            Err(error) if error.is_refusal() => {
                tracing::debug!(%error, "MIT-SHM refused; capturing with GetImage");
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    fn try_attach_shm(&mut self) -> Result<Option<ShmSegment>, X11Error> {
        let display = self.display.as_str();
        let has_shm = self
            .conn
            .extension_information(shm::X11_EXTENSION_NAME)
            .doing(display, "asking for MIT-SHM")?
            .is_some();
        if !has_shm {
            return Ok(None);
        }
        let version = self
            .conn
            .shm_query_version()
            .doing(display, "asking for the MIT-SHM version")?
            .reply()
            .doing(display, "asking for the MIT-SHM version")?;
        if (version.major_version, version.minor_version) < (1, 2) {
            tracing::debug!(
                major = version.major_version,
                minor = version.minor_version,
                "MIT-SHM older than 1.2; capturing with GetImage"
            );
            return Ok(None);
        }
        let len = self.format.image_len(self.area.width, self.area.height);
        let Ok(segment_size) = u32::try_from(len) else {
            return Ok(None);
        };
        let id = self
            .conn
            .generate_id()
            .doing(display, "allocating an id for the MIT-SHM segment")?;
        let reply = self
            .conn
            .shm_create_segment(id, segment_size, false)
            .doing(display, "creating the MIT-SHM segment")?
            .reply()
            .doing(display, "creating the MIT-SHM segment")?;
        let mapping = match SharedSegmentMapping::map(reply.shm_fd, len) {
            Ok(mapping) => mapping,
            Err(error) => {
                tracing::debug!(%error, "cannot map the MIT-SHM segment; capturing with GetImage");
                let _ = self.conn.shm_detach(id);
                return Ok(None);
            }
        };
        self.shm = Some(ShmSegment { id, mapping });
        // A server can accept the segment and still fail to fill it: prove it.
        match self.capture_shm() {
            Ok(_) => Ok(self.shm.take()),
            Err(error) => {
                self.detach_shm();
                Err(error)
            }
        }
    }

    fn capture_shm(&self) -> Result<RgbImage, X11Error> {
        let Some(segment) = &self.shm else {
            return self.capture_get_image();
        };
        let (x, y, width, height) = self.request_rectangle();
        let reply = self
            .conn
            .shm_get_image(
                self.root,
                x,
                y,
                width,
                height,
                !0,
                ImageFormat::Z_PIXMAP.into(),
                segment.id,
                0,
            )
            .doing(&self.display, "capturing the screen through MIT-SHM")?
            .reply()
            .doing(&self.display, "capturing the screen through MIT-SHM")?;
        let expected = self.format.image_len(self.area.width, self.area.height);
        if (reply.size as usize) < expected {
            return Err(X11Error::ShortImage {
                expected,
                got: reply.size as usize,
            });
        }
        self.frame_from(segment.mapping.bytes())
    }

    fn capture_get_image(&self) -> Result<RgbImage, X11Error> {
        let (x, y, width, height) = self.request_rectangle();
        let reply = self
            .conn
            .get_image(ImageFormat::Z_PIXMAP, self.root, x, y, width, height, !0)
            .doing(&self.display, "capturing the screen")?
            .reply()
            .doing(&self.display, "capturing the screen")?;
        self.frame_from(&reply.data)
    }

    /// The area in the protocol's integer types. It always fits: the area
    /// lies on the screen, whose size is 16-bit.
    fn request_rectangle(&self) -> (i16, i16, u16, u16) {
        let Region {
            x,
            y,
            width,
            height,
        } = self.area;
        (
            i16::try_from(x).unwrap_or(i16::MAX),
            i16::try_from(y).unwrap_or(i16::MAX),
            u16::try_from(width).unwrap_or(u16::MAX),
            u16::try_from(height).unwrap_or(u16::MAX),
        )
    }

    fn frame_from(&self, data: &[u8]) -> Result<RgbImage, X11Error> {
        let (width, height) = self.size();
        self.format
            .rgb_image(data, width, height)
            .ok_or_else(|| X11Error::ShortImage {
                expected: self.format.image_len(width, height),
                got: data.len(),
            })
    }

    /// Gives the segment back; the server frees it once detached.
    fn detach_shm(&mut self) {
        if let Some(segment) = self.shm.take() {
            let _ = self.conn.shm_detach(segment.id);
            let _ = self.conn.flush();
        }
    }
}

impl Drop for X11Capture {
    fn drop(&mut self) {
        self.detach_shm();
    }
}

/// The layout of the root window's pixels, from the connection setup: the
/// root visual's masks, the pixmap format for its depth, the byte order.
fn screen_pixel_format(
    display: &str,
    setup: &Setup,
    screen: &Screen,
) -> Result<PixelFormat, X11Error> {
    let depth = screen.root_depth;
    let visual = screen
        .allowed_depths
        .iter()
        .flat_map(|allowed| allowed.visuals.iter())
        .find(|visual| visual.visual_id == screen.root_visual);
    let bits_per_pixel = setup
        .pixmap_formats
        .iter()
        .find(|format| format.depth == depth);
    let unsupported = |visual: String, bits_per_pixel: u8| X11Error::UnsupportedFormat {
        display: display.to_owned(),
        depth,
        bits_per_pixel,
        visual,
    };
    let (Some(visual), Some(pixmap_format)) = (visual, bits_per_pixel) else {
        return Err(unsupported("root visual not described".into(), 0));
    };
    if visual.class != VisualClass::TRUE_COLOR {
        return Err(unsupported(
            format!("{:?} visual", visual.class),
            pixmap_format.bits_per_pixel,
        ));
    }
    PixelFormat::new(
        pixmap_format.bits_per_pixel,
        pixmap_format.scanline_pad,
        setup.image_byte_order == ImageOrder::MSB_FIRST,
        [visual.red_mask, visual.green_mask, visual.blue_mask],
    )
    .map_err(|UnsupportedFormat| {
        unsupported(
            format!(
                "TrueColor, masks {:#x}/{:#x}/{:#x}",
                visual.red_mask, visual.green_mask, visual.blue_mask
            ),
            pixmap_format.bits_per_pixel,
        )
    })
}
