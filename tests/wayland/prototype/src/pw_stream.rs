//! The PipeWire side: one thread owns every PipeWire object (they are !Send),
//! connects on the portal's fd, consumes the node as a video stream in shared
//! memory and keeps only the LATEST frame, because a still screen sends just
//! one frame (xdpw/GNOME/KDE send on damage only).

use std::os::fd::OwnedFd;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pipewire as pw;
use pw::spa;
use pw::spa::param::video::{VideoFormat, VideoInfoRaw};
use pw::spa::pod::Pod;

use crate::frame::{Frame, PixelFormat, to_rgb};

/// Shared between the PipeWire thread (writer) and the screen source (reader).
#[derive(Default)]
struct Shared {
    state: Mutex<Latest>,
    changed: Condvar,
}

#[derive(Default)]
struct Latest {
    frame: Option<Arc<Frame>>,
    /// Increases with every new frame, so readers can wait for "newer than".
    seq: u64,
    /// Set when the stream ends (error, node gone = desktop stopped the share).
    ended: Option<String>,
}

/// Handle to the running PipeWire thread.
pub struct FrameStream {
    shared: Arc<Shared>,
    quit: pw::channel::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl FrameStream {
    /// Starts the PipeWire thread on `fd` (from OpenPipeWireRemote) for `node_id`.
    pub fn start(fd: OwnedFd, node_id: u32) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let (quit, quit_rx) = pw::channel::channel::<()>();
        let thread_shared = shared.clone();
        let thread = std::thread::Builder::new()
            .name("pipewire".into())
            .spawn(move || {
                if let Err(e) = run(fd, node_id, quit_rx, &thread_shared) {
                    end(&thread_shared, format!("PipeWire: {e}"));
                }
            })?;
        Ok(FrameStream {
            shared,
            quit,
            thread: Some(thread),
        })
    }

    /// Waits up to `timeout` for a frame newer than `seq` (0 = any frame).
    /// Returns the newest frame and its sequence number, or why there is none.
    pub fn wait_newer(
        &self,
        seq: u64,
        timeout: Duration,
    ) -> Result<Option<(u64, Arc<Frame>)>, String> {
        let guard = self.shared.state.lock().unwrap();
        let (guard, _) = self
            .shared
            .changed
            .wait_timeout_while(guard, timeout, |l| l.seq <= seq && l.ended.is_none())
            .unwrap();
        if let Some(why) = &guard.ended {
            return Err(why.clone());
        }
        Ok(guard
            .frame
            .clone()
            .filter(|_| guard.seq > seq)
            .map(|f| (guard.seq, f)))
    }

    /// The latest frame, whatever its age (what `capture()` returns on a still screen).
    pub fn latest(&self) -> Option<Arc<Frame>> {
        self.shared.state.lock().unwrap().frame.clone()
    }
}

impl Drop for FrameStream {
    /// Quits the PipeWire main loop from outside (pw::channel wakes it) and joins.
    fn drop(&mut self) {
        let _ = self.quit.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn end(shared: &Shared, why: String) {
    let mut l = shared.state.lock().unwrap();
    l.ended.get_or_insert(why);
    shared.changed.notify_all();
}

fn publish(shared: &Shared, frame: Frame) {
    let mut l = shared.state.lock().unwrap();
    l.frame = Some(Arc::new(frame));
    l.seq += 1;
    shared.changed.notify_all();
}

/// Body of the PipeWire thread: returns when told to quit or on a setup error.
fn run(
    fd: OwnedFd,
    node_id: u32,
    quit: pw::channel::Receiver<()>,
    shared: &Arc<Shared>,
) -> Result<(), pw::Error> {
    pw::init();
    let mainloop = pw::main_loop::MainLoopRc::new(None)?;
    let context = pw::context::ContextRc::new(&mainloop, None)?;
    // The portal's fd: a PipeWire connection restricted to our node. Takes ownership.
    let core = context.connect_fd_rc(fd, None)?;
    let _quit = quit.attach(mainloop.loop_(), {
        let mainloop = mainloop.clone();
        move |()| mainloop.quit()
    });

    let stream = pw::stream::StreamBox::new(
        &core,
        "meeting-screen",
        pw::properties::properties! {
            *pw::keys::MEDIA_TYPE => "Video",
            *pw::keys::MEDIA_CATEGORY => "Capture",
            *pw::keys::MEDIA_ROLE => "Screen",
        },
    )?;

    let on_state = shared.clone();
    let on_frame = shared.clone();
    let _listener = stream
        .add_local_listener_with_user_data(VideoInfoRaw::default())
        .state_changed(move |_, _, _old, new| match new {
            // The node going away (desktop's "stop sharing", portal session closed)
            // shows up as an error or as unconnected.
            pw::stream::StreamState::Error(e) => end(&on_state, format!("stream error: {e}")),
            pw::stream::StreamState::Unconnected => end(&on_state, "stream disconnected".into()),
            _ => {}
        })
        .param_changed(|_, info, id, param| {
            // The negotiated format: remember size and pixel format (stride comes per buffer).
            if id == spa::param::ParamType::Format.as_raw() {
                if let Some(param) = param {
                    let _ = info.parse(param);
                }
            }
        })
        .process(move |stream, info| {
            if let Some(frame) = take_frame(stream, info) {
                publish(&on_frame, frame);
            }
        })
        .register()?;

    let format = enum_format_pod();
    let mut params = [Pod::from_bytes(&format).expect("serialized pod")];
    stream.connect(
        spa::utils::Direction::Input,
        Some(node_id),
        pw::stream::StreamFlags::AUTOCONNECT | pw::stream::StreamFlags::MAP_BUFFERS,
        &mut params,
    )?;
    mainloop.run();
    Ok(())
}

/// Dequeues one buffer and converts it. None for buffers without picture data
/// (size 0: cursor/metadata-only updates on GNOME) or in a format we did not ask for.
fn take_frame(stream: &pw::stream::Stream, info: &VideoInfoRaw) -> Option<Frame> {
    let mut buffer = stream.dequeue_buffer()?;
    let format = pixel_format(info.format())?;
    let (width, height) = (info.size().width, info.size().height);
    let data = buffer.datas_mut().first_mut()?;
    // DMA-BUF would need a GPU import: we never offer a modifier, so we get memory.
    if !matches!(
        data.type_(),
        spa::buffer::DataType::MemFd | spa::buffer::DataType::MemPtr
    ) {
        return None;
    }
    let chunk = data.chunk();
    let (offset, size, stride) = (
        chunk.offset() as usize,
        chunk.size() as usize,
        chunk.stride(),
    );
    if size == 0 || stride <= 0 {
        return None;
    }
    let started = Instant::now();
    let bytes = data.data()?; // mapped by MAP_BUFFERS
    let rgb = to_rgb(
        bytes.get(offset..offset + size)?,
        width,
        height,
        stride as u32,
        format,
    )?;
    Some(Frame {
        width,
        height,
        rgb,
        source_format: format,
        source_stride: stride as u32,
        copy_time: started.elapsed(),
    })
}

fn pixel_format(f: VideoFormat) -> Option<PixelFormat> {
    match f {
        VideoFormat::BGRx => Some(PixelFormat::Bgrx),
        VideoFormat::BGRA => Some(PixelFormat::Bgra),
        VideoFormat::RGBx => Some(PixelFormat::Rgbx),
        VideoFormat::RGBA => Some(PixelFormat::Rgba),
        _ => None,
    }
}

/// EnumFormat: raw video in the four 32-bit formats, any size, any rate up to
/// 60/1. No VideoModifier property: that is what keeps producers on shared
/// memory (MemFd) instead of DMA-BUF.
fn enum_format_pod() -> Vec<u8> {
    use spa::param::format::{FormatProperties, MediaSubtype, MediaType};
    use spa::utils::{Fraction, Rectangle, SpaTypes};
    let object = spa::pod::object!(
        SpaTypes::ObjectParamFormat,
        spa::param::ParamType::EnumFormat,
        spa::pod::property!(FormatProperties::MediaType, Id, MediaType::Video),
        spa::pod::property!(FormatProperties::MediaSubtype, Id, MediaSubtype::Raw),
        spa::pod::property!(
            FormatProperties::VideoFormat,
            Choice,
            Enum,
            Id,
            VideoFormat::BGRx,
            VideoFormat::BGRx,
            VideoFormat::BGRA,
            VideoFormat::RGBx,
            VideoFormat::RGBA
        ),
        spa::pod::property!(
            FormatProperties::VideoSize,
            Choice,
            Range,
            Rectangle,
            Rectangle {
                width: 1920,
                height: 1080
            },
            Rectangle {
                width: 1,
                height: 1
            },
            Rectangle {
                width: 8192,
                height: 8192
            }
        ),
        spa::pod::property!(
            FormatProperties::VideoFramerate,
            Choice,
            Range,
            Fraction,
            Fraction { num: 30, denom: 1 },
            Fraction { num: 0, denom: 1 },
            Fraction { num: 60, denom: 1 }
        ),
    );
    spa::pod::serialize::PodSerializer::serialize(
        std::io::Cursor::new(Vec::new()),
        &spa::pod::Value::Object(object),
    )
    .expect("EnumFormat pod serializes")
    .0
    .into_inner()
}
