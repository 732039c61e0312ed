//! Which video layer each receiver gets of each sender, and which layers each
//! sender must encode.
//!
//! A receiver says what it draws (`view`); a sender says, frame by frame,
//! which layer (size) each frame is. `choose` is the one rule: the smallest
//! layer the sender produces that covers what the receiver draws, then one
//! layer smaller for each step the receiver is held down because it fell
//! behind. The sender encodes exactly the layers `choose` picks for someone
//! (`wanted`), told by a `layers` event on its video socket.
//!
//! `ReceiverView` is per receiver and shared: the registry writes what it asked
//! for (under the registry lock), every sender's media reader reads it per
//! frame (its own small lock, never the registry's) and reports the frames its
//! queue dropped. Holding down and letting up are decided there, lazily, on
//! the frames themselves. Switching on a frame boundary is free: every JPEG
//! stands alone.
//!
//! All of layer routing is here: the rule and the shared state in this file,
//! what a video reader does with each frame in `relay`, and what the registry
//! announces and reports for a meeting in `routing`.

mod relay;
mod routing;

pub use relay::{VideoFrame, VideoRelay, full_size};
pub use routing::{VideoMember, announce, count, layers_event, reports};

use common::sync::lock;
use common::{ClientId, Layer, LayerSet, PixelSize, ReceiverLayer, layers::VIDEO_LAYERS};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// A layer not seen from its sender for this long is not produced any more.
pub const LAYER_GONE_AFTER: Duration = Duration::from_millis(1000);
/// A receiver whose queue drops frames is held down one more layer, at most
/// this often (its queue still holds larger frames for a moment after a step).
pub const STEP_DOWN_EVERY: Duration = Duration::from_millis(1000);
/// A held-down receiver that dropped nothing for this long goes one layer up.
pub const LET_UP_AFTER: Duration = Duration::from_secs(4);
/// A step up that ends in a drop at once (the link still cannot carry the
/// larger layer) doubles the wait before the next try, up to this: a slow
/// link is probed now and then, not every few seconds at its audio's cost.
pub const LET_UP_AFTER_AT_MOST: Duration = Duration::from_secs(64);
/// The most layers a receiver is held down.
/// Two steps: a receiver that cannot keep up with a big picture gets a
/// quarter of it, not a thumbnail.
pub const MAX_HELD_DOWN: u8 = 2;

/// What a receiver needs of one sender.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// It never said what it draws: the full size, as before layers.
    Unreported,
    /// It does not show this sender.
    NotShown,
    /// It draws the sender's picture fitted into this box.
    Fit(PixelSize),
}

/// The outcome of `choose`: a layer (or none) and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    pub layer: Option<Layer>,
    pub reason: Reason,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    /// The receiver never sent `view`.
    Unreported,
    NotShown,
    /// Nothing is produced yet.
    NothingProduced,
    /// The smallest produced layer that covers the view.
    Fits,
    /// No produced layer covers the view: the largest there is.
    Largest,
    /// Smaller than the view needs: the receiver is held down.
    HeldDown(u8),
}

impl Reason {
    pub fn describe(self) -> String {
        match self {
            Reason::Unreported => "no view reported: full size".into(),
            Reason::NotShown => "not shown by the receiver".into(),
            Reason::NothingProduced => "the sender produces no layer yet".into(),
            Reason::Fits => "smallest layer covering the receiver's view".into(),
            Reason::Largest => "the largest layer the sender produces".into(),
            Reason::HeldDown(steps) => {
                format!("receiver fell behind (dropped frames): {steps} layer(s) down")
            }
        }
    }
}

/// The sizes of the layers a sender produces (None: not produced).
pub type Produced = [Option<PixelSize>; VIDEO_LAYERS];

/// The layer to send a receiver that needs `need` and is held down `held`
/// layers, among those `produced`.
pub fn choose(produced: &Produced, need: Need, held: u8) -> Choice {
    let sizes: Vec<(Layer, PixelSize)> = Layer::ALL
        .into_iter()
        .filter_map(|layer| produced[layer.index()].map(|size| (layer, size)))
        .collect();
    let Some(&(largest, _)) = sizes.first() else {
        let reason = match need {
            Need::NotShown => Reason::NotShown,
            _ => Reason::NothingProduced,
        };
        return Choice {
            layer: None,
            reason,
        };
    };
    let (ideal, reason) = match need {
        Need::NotShown => {
            return Choice {
                layer: None,
                reason: Reason::NotShown,
            };
        }
        Need::Unreported => (largest, Reason::Unreported),
        Need::Fit(view) => match sizes.iter().rev().find(|(_, size)| size.covers(view)) {
            Some(&(layer, _)) => (layer, Reason::Fits),
            None => (largest, Reason::Largest),
        },
    };
    if held == 0 {
        return Choice {
            layer: Some(ideal),
            reason,
        };
    }
    // Held down: `held` produced layers smaller than the ideal, as far as there are.
    let smaller: Vec<Layer> = sizes
        .iter()
        .map(|&(layer, _)| layer)
        .filter(|&layer| layer > ideal)
        .collect();
    match smaller.get(usize::from(held).min(smaller.len()).wrapping_sub(1)) {
        Some(&layer) => Choice {
            layer: Some(layer),
            reason: Reason::HeldDown(held),
        },
        None => Choice {
            layer: Some(ideal),
            reason,
        },
    }
}

/// The layers of a sender whose full size is `full` (None: not known yet,
/// so only the full size is known to exist).
pub fn nominal(full: Option<PixelSize>) -> Produced {
    match full {
        Some(full) => Layer::ALL.map(|layer| Some(layer.size_of(full))),
        None => {
            let mut only_full = [None; VIDEO_LAYERS];
            only_full[0] = Some(PixelSize::default());
            only_full
        }
    }
}

/// What one receiver asked for and how well it keeps up.
#[derive(Default)]
pub struct ReceiverView {
    state: Mutex<ViewState>,
}

#[derive(Default)]
struct ViewState {
    /// None until the receiver sends `view`.
    asked: Option<Asked>,
    held: u8,
    last_step: Option<Instant>,
    last_drop: Option<Instant>,
    /// The last choice made per sender, for `server_stats`.
    chosen: HashMap<ClientId, (Choice, Option<PixelSize>)>,
    /// The picture (`sequence`) last let through per sender: a step down
    /// between two layers of one picture must not send it twice.
    last_picture: HashMap<ClientId, u32>,
    /// The wait before the next step up (`LET_UP_AFTER`, doubled by each step
    /// up that failed); zero means the base.
    let_up_after: Duration,
    /// When it last went a step up.
    last_let_up: Option<Instant>,
}

impl ViewState {
    fn let_up_after(&self) -> Duration {
        self.let_up_after.max(LET_UP_AFTER)
    }
}

#[derive(Clone, Default)]
struct Asked {
    sizes: HashMap<ClientId, PixelSize>,
    others: Option<PixelSize>,
}

impl ReceiverView {
    /// The receiver's `view`: what it draws of each member.
    pub fn set(&self, sizes: HashMap<ClientId, PixelSize>, others: Option<PixelSize>) {
        lock(&self.state).asked = Some(Asked { sizes, others });
    }

    fn need_in(state: &ViewState, sender: ClientId) -> Need {
        match &state.asked {
            None => Need::Unreported,
            Some(asked) => match asked.sizes.get(&sender).copied().or(asked.others) {
                Some(size) if !size.is_empty() => Need::Fit(size),
                _ => Need::NotShown,
            },
        }
    }

    /// The layer this receiver should get of `sender` if `produced` were
    /// what it sends.
    pub fn choice_for(&self, sender: ClientId, produced: &Produced) -> Choice {
        let state = lock(&self.state);
        choose(produced, Self::need_in(&state, sender), state.held)
    }

    /// Whether a frame of `layer` of picture `sequence` from `sender`, which
    /// produces `produced`, goes to this receiver: the chosen layer, and only
    /// one layer of each picture. Lets a receiver that kept up for a while up.
    pub fn accepts(
        &self,
        sender: ClientId,
        layer: Layer,
        sequence: u32,
        produced: &Produced,
        now: Instant,
    ) -> bool {
        let mut state = lock(&self.state);
        let calm_since = match (state.last_drop, state.last_step) {
            (Some(drop), Some(step)) => drop.max(step),
            (drop, step) => drop.or(step).unwrap_or(now),
        };
        let calm_for = now.duration_since(calm_since);
        if state.held > 0 && calm_for >= state.let_up_after() {
            state.held -= 1;
            state.last_step = Some(now);
            state.last_let_up = Some(now);
        } else if state.held == 0 && calm_for >= state.let_up_after() {
            // Back at the top and calm as long as it had to wait: the link
            // carries it, so the next trouble starts from the base wait.
            state.let_up_after = LET_UP_AFTER;
        }
        let need = Self::need_in(&state, sender);
        let choice = choose(produced, need, state.held);
        let size = choice
            .layer
            .and_then(|l| produced[l.index()])
            .filter(|size| !size.is_empty());
        state.chosen.insert(sender, (choice, size));
        if choice.layer != Some(layer) || state.last_picture.get(&sender) == Some(&sequence) {
            return false;
        }
        state.last_picture.insert(sender, sequence);
        true
    }

    /// Its queue dropped a frame: hold it one more layer down, at most once
    /// per `STEP_DOWN_EVERY`.
    pub fn dropped(&self, now: Instant) {
        let mut state = lock(&self.state);
        state.last_drop = Some(now);
        let failed_let_up = state
            .last_let_up
            .is_some_and(|at| now.duration_since(at) < LET_UP_AFTER);
        if failed_let_up {
            state.let_up_after = (state.let_up_after() * 2).min(LET_UP_AFTER_AT_MOST);
            state.last_let_up = None;
        }
        // A failed step up goes back down at once; other steps down wait
        // for the queue to drain of the larger frames first.
        let stepped_lately = !failed_let_up
            && state
                .last_step
                .is_some_and(|at| now.duration_since(at) < STEP_DOWN_EVERY);
        if state.held < MAX_HELD_DOWN && !stepped_lately {
            state.held += 1;
            state.last_step = Some(now);
        }
    }

    /// What it gets of `sender`, and why, for `server_stats`.
    pub fn report(&self, receiver: ClientId, sender: ClientId) -> ReceiverLayer {
        let state = lock(&self.state);
        let need = Self::need_in(&state, sender);
        let asked = match need {
            Need::Fit(size) => Some(size),
            _ => None,
        };
        let (layer, size, reason) = match state.chosen.get(&sender) {
            Some((choice, size)) => (choice.layer, *size, choice.reason.describe()),
            None if need == Need::NotShown => (None, None, Reason::NotShown.describe()),
            None => (None, None, "no frame from the sender yet".to_string()),
        };
        ReceiverLayer {
            receiver,
            sender,
            layer,
            size,
            asked,
            held_down: state.held,
            reason,
        }
    }

    /// Forgets a sender that left or stopped (its last choice).
    pub fn forget(&self, sender: ClientId) {
        lock(&self.state).chosen.remove(&sender);
    }
}

/// What a sender produces, as far as the server knows, and which layers it
/// was last told to encode. Shared by its video reader and the registry.
pub struct SenderLayers {
    /// The full size, `width << 16 | height`; 0 while unknown.
    full: AtomicU32,
    /// The set last announced (None: none yet on this socket).
    announced: Mutex<Option<LayerSet>>,
}

impl Default for SenderLayers {
    fn default() -> SenderLayers {
        SenderLayers {
            full: AtomicU32::new(0),
            announced: Mutex::new(None),
        }
    }
}

impl SenderLayers {
    pub fn full(&self) -> Option<PixelSize> {
        let packed = self.full.load(Ordering::Relaxed);
        (packed != 0).then(|| PixelSize::new((packed >> 16) as u16, packed as u16))
    }

    pub fn set_full(&self, size: PixelSize) {
        let packed = u32::from(size.width) << 16 | u32::from(size.height);
        self.full.store(packed, Ordering::Relaxed);
    }

    /// A new video socket: it has been told nothing yet.
    pub fn reset(&self) {
        *lock(&self.announced) = None;
    }

    /// Records `wanted` as announced; true if it differs from the last one
    /// (so it must be sent). `send` runs under the lock, so two announcers
    /// cannot send in one order and record in the other.
    pub fn announce(&self, wanted: LayerSet, send: impl FnOnce(LayerSet)) {
        let mut announced = lock(&self.announced);
        if *announced != Some(wanted) {
            *announced = Some(wanted);
            send(wanted);
        }
    }
}

/// The layers a sender whose full size is `full` must encode for `receivers`.
pub fn wanted<'a>(
    sender: ClientId,
    full: Option<PixelSize>,
    receivers: impl IntoIterator<Item = &'a ReceiverView>,
) -> LayerSet {
    let produced = nominal(full);
    receivers
        .into_iter()
        .filter_map(|view| view.choice_for(sender, &produced).layer)
        .fold(LayerSet::NONE, LayerSet::with)
}

/// What a sender's video reader knows of the layers it saw lately.
#[derive(Default)]
pub struct SeenLayers {
    seen: [Option<(PixelSize, Instant)>; VIDEO_LAYERS],
}

impl SeenLayers {
    pub fn saw(&mut self, layer: Layer, size: PixelSize, now: Instant) {
        if let Some(slot) = self.seen.get_mut(layer.index()) {
            *slot = Some((size, now));
        }
    }

    /// The layers seen within `LAYER_GONE_AFTER` of `now`.
    pub fn produced(&self, now: Instant) -> Produced {
        self.seen.map(|seen| {
            seen.filter(|(_, at)| now.duration_since(*at) < LAYER_GONE_AFTER)
                .map(|(size, _)| size)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FULL: PixelSize = PixelSize {
        width: 640,
        height: 360,
    };

    fn all() -> Produced {
        nominal(Some(FULL))
    }

    fn fit(width: u16, height: u16) -> Need {
        Need::Fit(PixelSize::new(width, height))
    }

    #[test]
    fn the_smallest_layer_that_covers_the_view_is_chosen() {
        // 80x24 half-blocks, eight members: tiles of about 15x12 pixels.
        assert_eq!(choose(&all(), fit(15, 12), 0).layer, Some(Layer(4)));
        assert_eq!(choose(&all(), fit(26, 16), 0).layer, Some(Layer(4)));
        assert_eq!(choose(&all(), fit(40, 22), 0).layer, Some(Layer(4)));
        assert_eq!(choose(&all(), fit(41, 23), 0).layer, Some(Layer(3)));
        assert_eq!(choose(&all(), fit(160, 90), 0).layer, Some(Layer(2)));
        assert_eq!(choose(&all(), fit(161, 91), 0).layer, Some(Layer(1)));
        assert_eq!(choose(&all(), fit(320, 100), 0).layer, Some(Layer(1)));
        assert_eq!(choose(&all(), fit(1920, 1080), 0).layer, Some(Layer(0)));
        let choice = choose(&all(), fit(1920, 1080), 0);
        assert_eq!(choice.reason, Reason::Largest, "nothing covers it");
    }

    #[test]
    fn only_produced_layers_are_chosen() {
        let mut produced = all();
        produced[3] = None;
        produced[4] = None;
        assert_eq!(choose(&produced, fit(26, 16), 0).layer, Some(Layer(2)));
        produced[2] = None;
        assert_eq!(choose(&produced, fit(26, 16), 0).layer, Some(Layer(1)));
        // A single-layer sender: the full size for everyone who shows it.
        let legacy = [Some(FULL), None, None, None, None];
        assert_eq!(choose(&legacy, fit(26, 16), 0).layer, Some(Layer(0)));
        assert_eq!(choose(&legacy, Need::Unreported, 2).layer, Some(Layer(0)));
        assert_eq!(choose(&[None; VIDEO_LAYERS], fit(26, 16), 0).layer, None);
    }

    #[test]
    fn not_shown_gets_nothing_and_unreported_gets_full() {
        let choice = choose(&all(), Need::NotShown, 0);
        assert_eq!(
            choice,
            Choice {
                layer: None,
                reason: Reason::NotShown
            }
        );
        let choice = choose(&all(), Need::Unreported, 0);
        assert_eq!(choice.layer, Some(Layer(0)));
    }

    #[test]
    fn held_down_receivers_get_smaller_layers_as_far_as_there_are() {
        let need = fit(640, 360);
        assert_eq!(choose(&all(), need, 1).layer, Some(Layer(1)));
        assert_eq!(choose(&all(), need, 2).layer, Some(Layer(2)));
        let choice = choose(&all(), need, 1);
        assert_eq!(choice.reason, Reason::HeldDown(1));
        // Already at the smallest: stays there.
        assert_eq!(choose(&all(), fit(20, 10), 2).layer, Some(Layer(4)));
        assert_eq!(choose(&all(), fit(20, 10), 2).reason, Reason::Fits);
        // Only full and quarter produced: one step down is the quarter.
        let produced = [Some(FULL), None, Some(PixelSize::new(160, 90)), None, None];
        assert_eq!(choose(&produced, need, 1).layer, Some(Layer(2)));
    }

    #[test]
    fn a_receiver_that_drops_is_held_down_then_let_up_after_keeping_up() {
        let view = ReceiverView::default();
        let sender = ClientId(1);
        let start = Instant::now();
        assert!(view.accepts(sender, Layer(0), 1, &all(), start));
        view.dropped(start);
        view.dropped(start + Duration::from_millis(10)); // too soon for a second step
        // Picture 1 went out in the full layer: not again in the half.
        assert!(!view.accepts(sender, Layer(1), 1, &all(), start));
        assert!(view.accepts(sender, Layer(1), 2, &all(), start));
        assert!(!view.accepts(sender, Layer(0), 3, &all(), start));
        view.dropped(start + STEP_DOWN_EVERY);
        assert!(view.accepts(sender, Layer(2), 3, &all(), start + STEP_DOWN_EVERY));
        view.dropped(start + STEP_DOWN_EVERY * 3);
        assert_eq!(view.report(ClientId(2), sender).held_down, MAX_HELD_DOWN);
        // Calm for a while: one layer up, then another.
        let calm = start + STEP_DOWN_EVERY * 3 + LET_UP_AFTER;
        assert!(view.accepts(sender, Layer(1), 4, &all(), calm));
        assert!(view.accepts(sender, Layer(0), 5, &all(), calm + LET_UP_AFTER));
        let report = view.report(ClientId(2), sender);
        assert_eq!((report.held_down, report.layer), (0, Some(Layer(0))));
    }

    #[test]
    fn a_step_up_that_fails_at_once_waits_twice_as_long_before_the_next() {
        let view = ReceiverView::default();
        let sender = ClientId(1);
        let start = Instant::now();
        let mut picture = 0;
        let mut layer_at = |at: Instant| {
            picture += 1;
            (0..5u8).find(|&l| view.accepts(sender, Layer(l), picture, &all(), at))
        };
        layer_at(start);
        view.dropped(start);
        assert_eq!(layer_at(start), Some(1));
        // Calm: up after the base wait, and the link cannot take it.
        let up = start + LET_UP_AFTER;
        assert_eq!(layer_at(up), Some(0));
        view.dropped(up + Duration::from_millis(500));
        let down = up + Duration::from_millis(500);
        assert_eq!(layer_at(down), Some(1));
        // Twice the wait now: not up after 4 s, up after 8.
        assert_eq!(layer_at(down + LET_UP_AFTER), Some(1));
        assert_eq!(layer_at(down + LET_UP_AFTER * 2), Some(0));
        // Up there and calm for as long: the next trouble waits the base again.
        let settled = down + LET_UP_AFTER * 4;
        assert_eq!(layer_at(settled), Some(0));
        view.dropped(settled);
        assert_eq!(layer_at(settled + LET_UP_AFTER), Some(0));
    }

    #[test]
    fn senders_encode_what_some_receiver_gets() {
        let sender = ClientId(1);
        let small = ReceiverView::default();
        small.set(HashMap::from([(sender, PixelSize::new(26, 16))]), None);
        let blind = ReceiverView::default();
        blind.set(HashMap::new(), None);
        assert_eq!(
            wanted(sender, Some(FULL), [&small, &blind]),
            LayerSet::only(Layer(4))
        );
        assert_eq!(wanted(sender, Some(FULL), [&blind]), LayerSet::NONE);
        let legacy = ReceiverView::default();
        assert_eq!(
            wanted(sender, Some(FULL), [&small, &legacy]),
            LayerSet::only(Layer(4)).with(Layer(0))
        );
        // Size unknown yet: the full size for anyone who shows it.
        assert_eq!(wanted(sender, None, [&small]), LayerSet::only(Layer(0)));
        let everyone = ReceiverView::default();
        everyone.set(HashMap::new(), Some(PixelSize::FULL));
        assert_eq!(
            wanted(sender, Some(FULL), [&everyone]),
            LayerSet::only(Layer(0))
        );
    }
}
