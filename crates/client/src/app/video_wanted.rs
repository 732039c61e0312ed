//! How much of the others' video we ask the server for (`/view`,
//! `--video-size-wanted`): everyone at full size, nobody, or the sizes the
//! full-screen view draws each member's tile at (`auto`; in the line modes,
//! full while recording, else none). A `view` request goes only when that
//! changed.

use crate::command::VideoWanted;
use crate::stats::ClientStats;
use common::{ClientId, MemberView, PixelSize, Request};

pub(super) struct VideoAsk {
    wanted: VideoWanted,
    /// The full-screen view's latest tiles.
    tiles: Vec<(ClientId, PixelSize)>,
    full_screen: bool,
    records: bool,
    /// The last `view` sent: none is sent twice in a row.
    sent: Option<Request>,
}

impl VideoAsk {
    pub fn new(wanted: VideoWanted, full_screen: bool, records: bool) -> VideoAsk {
        VideoAsk {
            wanted,
            tiles: Vec::new(),
            full_screen,
            records,
            sent: None,
        }
    }

    /// The session moved to another server, which knows nothing we asked.
    pub fn forget_sent(&mut self) {
        self.sent = None;
    }

    /// `/view`: a new choice, or (from the view or a script) the tiles.
    pub fn set(&mut self, wanted: VideoWanted) {
        match wanted {
            VideoWanted::Tiles(tiles) => {
                self.tiles = tiles;
                // A script's tiles are what it wants; the full-screen view's
                // count only while it chooses (`auto`).
                if !self.full_screen {
                    self.wanted = VideoWanted::Tiles(Vec::new());
                }
            }
            wanted => self.wanted = wanted,
        }
    }

    /// The `view` request to send, if what we ask for changed; `stats`
    /// learns what we asked.
    pub fn request(&mut self, stats: &ClientStats) -> Option<Request> {
        let auto_full = self.records && !self.full_screen;
        let (sizes, others) = match &self.wanted {
            VideoWanted::Full => (Vec::new(), Some(PixelSize::FULL)),
            VideoWanted::Auto if auto_full => (Vec::new(), Some(PixelSize::FULL)),
            VideoWanted::None | VideoWanted::Auto if !self.full_screen => (Vec::new(), None),
            VideoWanted::None => (Vec::new(), None),
            VideoWanted::Auto | VideoWanted::Tiles(_) => (self.tiles.clone(), None),
        };
        stats.asked(sizes.iter().copied().collect(), others);
        let request = Request::View {
            sizes: sizes
                .into_iter()
                .map(|(member, size)| MemberView {
                    member,
                    width: size.width,
                    height: size.height,
                })
                .collect(),
            others,
        };
        if self.sent.as_ref() == Some(&request) {
            return None;
        }
        self.sent = Some(request.clone());
        Some(request)
    }
}
