//! Sessions held for a resume: which, since when, and which must go.
//!
//! A session whose control connection broke is held for `hold` so that its
//! client can come back. A held session costs memory and a place in its
//! meeting, and anyone can make one (say hello, then cut the connection),
//! so they are bounded: at most `per_address` from one address and `total`
//! in all. Past a bound, the oldest held session of the address that holds
//! the most goes first, so a person whose network really blipped, holding
//! one, is the last to lose it. No thread waits for each: one timer asks
//! `due` for the sessions whose time is up.
//!
//! Plain data, no lock and no clock of its own: the registry owns it and
//! passes the time in.

use common::ClientId;
use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// How long sessions are held, and how many.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HoldLimits {
    /// Zero: a broken session ends at once.
    pub hold: Duration,
    pub total: usize,
    pub per_address: usize,
}

impl Default for HoldLimits {
    fn default() -> HoldLimits {
        HoldLimits {
            hold: common::protocol::DEFAULT_RESUME_HOLD,
            total: DEFAULT_MAX_HELD,
            per_address: DEFAULT_MAX_HELD_PER_ADDRESS,
        }
    }
}

/// As many held sessions as the default server has people (four
/// connections each): a whole LAN's Wi-Fi can blip at once.
pub const DEFAULT_MAX_HELD: usize = 256;
/// A household or a small office behind one address.
pub const DEFAULT_MAX_HELD_PER_ADDRESS: usize = 8;

/// The held sessions.
#[derive(Debug, Default)]
pub struct Holds {
    limits: HoldLimits,
    /// Oldest first.
    by_age: BTreeSet<(Instant, ClientId)>,
    held: HashMap<ClientId, (Instant, Option<IpAddr>)>,
    per_address: HashMap<Option<IpAddr>, usize>,
}

impl Holds {
    pub fn new(limits: HoldLimits) -> Holds {
        Holds {
            limits,
            ..Holds::default()
        }
    }

    /// False when broken sessions end at once.
    pub fn enabled(&self) -> bool {
        !self.limits.hold.is_zero() && self.limits.total > 0 && self.limits.per_address > 0
    }

    pub fn is_held(&self, id: ClientId) -> bool {
        self.held.contains_key(&id)
    }

    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Holds `id` (from `address`) from `now`. Returns the held sessions
    /// that must end to make room for it, already taken out.
    pub fn hold(&mut self, id: ClientId, address: Option<IpAddr>, now: Instant) -> Vec<ClientId> {
        self.release(id);
        let mut evicted = Vec::new();
        while self.per_address.get(&address).copied().unwrap_or(0) >= self.limits.per_address {
            let Some(oldest) = self.oldest_of(address) else {
                break;
            };
            self.release(oldest);
            evicted.push(oldest);
        }
        while self.held.len() >= self.limits.total {
            let Some(oldest) = self.busiest_address().and_then(|a| self.oldest_of(a)) else {
                break;
            };
            self.release(oldest);
            evicted.push(oldest);
        }
        self.by_age.insert((now, id));
        self.held.insert(id, (now, address));
        *self.per_address.entry(address).or_default() += 1;
        evicted
    }

    /// `id` is no longer held (it resumed, or ended). False if it was not.
    pub fn release(&mut self, id: ClientId) -> bool {
        let Some((since, address)) = self.held.remove(&id) else {
            return false;
        };
        self.by_age.remove(&(since, id));
        if let Some(count) = self.per_address.get_mut(&address) {
            *count -= 1;
            if *count == 0 {
                self.per_address.remove(&address);
            }
        }
        true
    }

    /// The held sessions whose time is up at `now`, taken out.
    pub fn due(&mut self, now: Instant) -> Vec<ClientId> {
        let mut due = Vec::new();
        while let Some(&(since, id)) = self.by_age.first() {
            if since + self.limits.hold > now {
                break;
            }
            self.release(id);
            due.push(id);
        }
        due
    }

    /// When the next held session's time is up.
    pub fn next_due(&self) -> Option<Instant> {
        self.by_age
            .first()
            .map(|&(since, _)| since + self.limits.hold)
    }

    fn oldest_of(&self, address: Option<IpAddr>) -> Option<ClientId> {
        self.by_age
            .iter()
            .find(|(_, id)| self.held.get(id).is_some_and(|&(_, a)| a == address))
            .map(|&(_, id)| id)
    }

    /// The address holding the most; of two, the one whose oldest is older.
    fn busiest_address(&self) -> Option<Option<IpAddr>> {
        let most = self.per_address.values().copied().max()?;
        self.by_age
            .iter()
            .filter_map(|(_, id)| self.held.get(id).map(|&(_, address)| address))
            .find(|address| self.per_address.get(address) == Some(&most))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(total: usize, per_address: usize) -> HoldLimits {
        HoldLimits {
            hold: Duration::from_secs(45),
            total,
            per_address,
        }
    }

    fn address(last: u8) -> Option<IpAddr> {
        Some([10, 0, 0, last].into())
    }

    #[test]
    fn an_address_over_its_share_loses_its_own_oldest_first() {
        let mut holds = Holds::new(limits(100, 3));
        let start = Instant::now();
        let person = ClientId(1);
        assert!(holds.hold(person, address(7), start).is_empty());
        for n in 0..3 {
            let at = start + Duration::from_millis(n);
            assert!(
                holds
                    .hold(ClientId(10 + n as u32), address(66), at)
                    .is_empty()
            );
        }
        // The attacker's fourth pushes out its own first, never the person.
        let evicted = holds.hold(ClientId(20), address(66), start + Duration::from_secs(1));
        assert_eq!(evicted, [ClientId(10)]);
        assert!(holds.is_held(person));
        assert_eq!(holds.len(), 4);
    }

    #[test]
    fn past_the_total_the_busiest_address_makes_room() {
        let mut holds = Holds::new(limits(4, 8));
        let start = Instant::now();
        let at = |ms| start + Duration::from_millis(ms);
        holds.hold(ClientId(1), address(66), at(0));
        holds.hold(ClientId(2), address(67), at(1));
        holds.hold(ClientId(3), address(66), at(2));
        holds.hold(ClientId(4), address(67), at(3));
        let evicted = holds.hold(ClientId(5), address(7), at(4));
        assert_eq!(
            evicted,
            [ClientId(1)],
            "a tie: the address whose oldest is older"
        );
        let evicted = holds.hold(ClientId(6), address(8), at(5));
        assert_eq!(evicted, [ClientId(2)], "67 holds the most now");
        assert!(holds.is_held(ClientId(5)) && holds.is_held(ClientId(6)));
        assert_eq!(holds.len(), 4);
    }

    #[test]
    fn sessions_are_due_in_order_and_a_resumed_one_never_is() {
        let mut holds = Holds::new(limits(10, 10));
        let start = Instant::now();
        holds.hold(ClientId(1), address(1), start);
        holds.hold(ClientId(2), address(2), start + Duration::from_secs(1));
        holds.hold(ClientId(3), address(3), start + Duration::from_secs(2));
        assert!(holds.release(ClientId(2)));
        assert_eq!(holds.next_due(), Some(start + Duration::from_secs(45)));
        assert!(holds.due(start + Duration::from_secs(44)).is_empty());
        assert_eq!(
            holds.due(start + Duration::from_secs(50)),
            [ClientId(1), ClientId(3)]
        );
        assert_eq!(holds.next_due(), None);
        assert!(!holds.release(ClientId(1)));
    }
}
