//! What one receiving socket saw: frames and bytes per sender, duplicates,
//! frames that arrived after a later one, corrupt frames, and the latency of
//! each frame (receive time minus the send time written into it; one process,
//! one clock).

/// Sequence bookkeeping for one sender, as seen by one receiver.
#[derive(Default, Debug, Clone)]
pub struct SequenceTracker {
    /// One bit per sequence number received.
    seen: Vec<u64>,
    highest: Option<u32>,
}

/// How a frame's sequence number fits what came before.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Arrival {
    /// New, and later than everything before it (gaps are frames dropped).
    InOrder,
    /// New, but earlier than one already received.
    Late,
    /// Received before.
    Duplicate,
}

impl SequenceTracker {
    pub fn record(&mut self, sequence: u32) -> Arrival {
        let (word, bit) = ((sequence / 64) as usize, sequence % 64);
        if self.seen.len() <= word {
            self.seen.resize(word + 1, 0);
        }
        if self.seen[word] & (1 << bit) != 0 {
            return Arrival::Duplicate;
        }
        self.seen[word] |= 1 << bit;
        match self.highest {
            Some(highest) if sequence < highest => Arrival::Late,
            _ => {
                self.highest = Some(sequence);
                Arrival::InOrder
            }
        }
    }

    /// Frames received from this sender: the highest sequence plus one.
    pub fn frames_through(&self) -> u32 {
        self.highest.map_or(0, |h| h + 1)
    }
}

/// Everything one receiving socket counted.
#[derive(Default, Debug, Clone)]
pub struct Tally {
    pub frames: u64,
    pub bytes: u64,
    pub duplicates: u64,
    pub out_of_order: u64,
    pub corrupt: u64,
    /// Latency of each frame received, in microseconds.
    pub latencies_us: Vec<u32>,
    /// The same, of the frames whose sender is on another server than the
    /// receiver (they crossed the cluster's backbone).
    pub latencies_across_us: Vec<u32>,
    /// The socket ended before the run did (the server closed it, or an error).
    pub ended_early: Option<String>,
}

impl Tally {
    pub fn merge(&mut self, other: &Tally) {
        self.frames += other.frames;
        self.bytes += other.bytes;
        self.duplicates += other.duplicates;
        self.out_of_order += other.out_of_order;
        self.corrupt += other.corrupt;
        self.latencies_us.extend_from_slice(&other.latencies_us);
        self.latencies_across_us
            .extend_from_slice(&other.latencies_across_us);
        if self.ended_early.is_none() {
            self.ended_early.clone_from(&other.ended_early);
        }
    }
}

/// Latency percentiles in microseconds, by the nearest-rank method.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Percentiles {
    pub p50: u32,
    pub p90: u32,
    pub p99: u32,
    pub max: u32,
}

impl Percentiles {
    /// Sorts `values` in place; all zero when empty.
    pub fn of(values: &mut [u32]) -> Percentiles {
        if values.is_empty() {
            return Percentiles::default();
        }
        values.sort_unstable();
        let rank = |p: f64| {
            let index = ((p / 100.0) * values.len() as f64).ceil() as usize;
            values[index.clamp(1, values.len()) - 1]
        };
        Percentiles {
            p50: rank(50.0),
            p90: rank(90.0),
            p99: rank(99.0),
            max: values[values.len() - 1],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_drops_while_repeats_and_reversals_are_flagged() {
        let mut tracker = SequenceTracker::default();
        let arrivals: Vec<Arrival> = [0, 1, 5, 3, 5, 200, 1]
            .into_iter()
            .map(|s| tracker.record(s))
            .collect();
        use Arrival::*;
        assert_eq!(
            arrivals,
            [
                InOrder, InOrder, InOrder, Late, Duplicate, InOrder, Duplicate
            ]
        );
        assert_eq!(tracker.frames_through(), 201);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut values: Vec<u32> = (1..=1000).rev().collect();
        let p = Percentiles::of(&mut values);
        assert_eq!((p.p50, p.p90, p.p99, p.max), (500, 900, 990, 1000));
        assert_eq!(
            Percentiles::of(&mut [7]),
            Percentiles {
                p50: 7,
                p90: 7,
                p99: 7,
                max: 7
            }
        );
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
    }
}
