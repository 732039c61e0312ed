//! Who may open a connection, and who makes way when there is no room.
//!
//! Every accepted connection takes a `Place` before it gets a thread, and
//! gives it back when the last of its threads (reader and writer) ends, so
//! the places in use bound the threads the server runs. The limits:
//! - at most `max_connections` in all and `max_per_address` from one address;
//!   once the server is three quarters full, an address that already holds a
//!   fair share (`FAIR_SHARE`, room for four people) gets no more;
//! - connections still in their handshake (TLS, then `hello`, `resume` or
//!   `attach`) hold at most `max_handshaking` places. A stranger can open
//!   connections and say nothing for the whole handshake deadline, from as
//!   many addresses as a LAN gives him, so when the handshakes' share is
//!   used up, or the server is full, a handshake makes way for the newcomer:
//!   the oldest of the address that has the most of them. An address with
//!   one handshake under way (a person connecting) is the last to be asked,
//!   and finishes long before its turn comes.
//!
//! Making way closes the connection's socket (a duplicate of it kept here
//! for that), which ends its handshake at once; its place is free from that
//! moment, while its thread winds down.
//!
//! Every new connection costs the server processor time (a thread, and with
//! TLS a key exchange and a signature: about 0.3 ms in all) before it can
//! say anything, so new connections come at most `max_connection_rate` a
//! second (twice that at once). When strangers use that up, an address
//! still has a small allowance of its own (`ADDRESS_ARRIVAL_BURST`, then one
//! a second), which a person connecting has and a flooder has spent.

use crate::rules::budget::TokenBucket;
use common::MediaKind;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Shutdown, TcpStream};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

/// Connections an address may still open on a crowded server: four people's
/// worth (each uses a control socket and one per media kind).
pub const FAIR_SHARE: usize = 4 * (1 + MediaKind::COUNT);

/// New connections an address may open when the server's rate is used up:
/// a client's sockets, twice (a reconnect), then one a second.
pub const ADDRESS_ARRIVAL_BURST: f64 = 8.0;
pub const ADDRESS_ARRIVALS_PER_SECOND: f64 = 1.0;
/// Addresses whose allowance is remembered; past it, full ones are forgotten
/// (and with none full, a new address waits for the server's rate).
const ADDRESS_ARRIVALS_KEPT: usize = 4096;

/// The gate's limits (`ServerConfig` fills them from the command line).
#[derive(Clone, Copy, Debug)]
pub struct AdmissionLimits {
    pub max_connections: usize,
    pub max_per_address: usize,
    pub max_handshaking: usize,
    /// New connections a second (twice that at once); 0: no limit.
    pub max_connection_rate: u32,
}

/// The admission gate, shared by the accept loop and every connection.
pub struct Gate {
    state: Mutex<GateState>,
    limits: AdmissionLimits,
}

/// One admitted connection's place: handed back when the last clone drops.
pub struct Place {
    gate: Arc<Gate>,
    ticket: u64,
    address: IpAddr,
}

struct Handshaking {
    ticket: u64,
    /// A duplicate of the connection's socket, to close it if it must make way.
    closer: Option<TcpStream>,
}

struct GateState {
    open: usize,
    by_address: HashMap<IpAddr, usize>,
    /// Connections in their handshake, by address, oldest first.
    handshaking: HashMap<IpAddr, VecDeque<Handshaking>>,
    handshaking_count: usize,
    /// Places already given back (made way) whose threads have not ended:
    /// their end must not give the place back twice.
    made_way: HashSet<u64>,
    next_ticket: u64,
    /// How many handshakes have made way, ever (for logs and tests).
    made_way_total: u64,
    /// New connections: the server's rate, and each address's allowance
    /// beyond it. None: no limit.
    arrivals: Option<TokenBucket>,
    address_arrivals: HashMap<IpAddr, TokenBucket>,
}

/// What the gate counts now (for metrics, logs and tests).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GateCounts {
    pub open: usize,
    pub handshaking: usize,
    pub made_way_total: u64,
}

/// The same address for IPv4 and IPv4-mapped IPv6 peers (a dual-stack
/// listener sees the latter).
fn canonical(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

impl Gate {
    pub fn new(limits: AdmissionLimits) -> Arc<Gate> {
        let rate = f64::from(limits.max_connection_rate);
        let state = GateState {
            open: 0,
            by_address: HashMap::new(),
            handshaking: HashMap::new(),
            handshaking_count: 0,
            made_way: HashSet::new(),
            next_ticket: 0,
            made_way_total: 0,
            arrivals: (limits.max_connection_rate > 0).then(|| TokenBucket::new(2.0 * rate, rate)),
            address_arrivals: HashMap::new(),
        };
        Arc::new(Gate {
            state: Mutex::new(state),
            limits: AdmissionLimits {
                max_connections: limits.max_connections.max(1),
                max_per_address: limits.max_per_address.max(1),
                max_handshaking: limits.max_handshaking.max(1),
                max_connection_rate: limits.max_connection_rate,
            },
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        common::sync::lock(&self.state)
    }

    /// A place for a new connection from `address` in its handshake, or why
    /// not. `closer` (a duplicate of its socket) lets it be asked to make
    /// way later; without one it never is.
    pub fn admit(
        self: &Arc<Gate>,
        address: IpAddr,
        closer: Option<TcpStream>,
    ) -> Result<Place, String> {
        let address = canonical(address);
        let (verdict, to_close) = {
            let mut state = self.lock();
            let mut to_close = Vec::new();
            let verdict = state.admit(&self.limits, address, closer, &mut to_close);
            (verdict, to_close)
        };
        close_all(to_close);
        verdict.map(|ticket| Place {
            gate: self.clone(),
            ticket,
            address,
        })
    }

    /// The server is short of something (file descriptors, threads): the
    /// handshake that would make way for a newcomer does so now. False if
    /// there was none.
    pub fn make_way(&self) -> bool {
        let closed = self.lock().make_way();
        let made = closed.is_some();
        close_all(closed.into_iter().flatten().collect());
        made
    }

    pub fn counts(&self) -> GateCounts {
        let state = self.lock();
        GateCounts {
            open: state.open,
            handshaking: state.handshaking_count,
            made_way_total: state.made_way_total,
        }
    }
}

fn close_all(sockets: Vec<TcpStream>) {
    for socket in sockets {
        let _ = socket.shutdown(Shutdown::Both);
    }
}

impl GateState {
    fn admit(
        &mut self,
        limits: &AdmissionLimits,
        address: IpAddr,
        closer: Option<TcpStream>,
        to_close: &mut Vec<TcpStream>,
    ) -> Result<u64, String> {
        if !self.arrival_allowed(address, Instant::now()) {
            return Err(
                "the server is taking too many new connections; try again in a few seconds"
                    .to_string(),
            );
        }
        let held = self.by_address.get(&address).copied().unwrap_or(0);
        if held >= limits.max_per_address {
            return Err(format!(
                "too many connections from your address ({held}, at most {})",
                limits.max_per_address
            ));
        }
        let crowded = self.open >= limits.max_connections / 4 * 3;
        if crowded && held >= FAIR_SHARE {
            return Err(format!(
                "the server is nearly full and your address holds {held} connections; try again later"
            ));
        }
        if self.handshaking_count >= limits.max_handshaking {
            to_close.extend(self.make_way().flatten());
        }
        if self.open >= limits.max_connections {
            match self.make_way() {
                Some(closer) => to_close.extend(closer),
                None => {
                    return Err(format!(
                        "the server is full ({} connections); try again later",
                        limits.max_connections
                    ));
                }
            }
        }
        self.next_ticket += 1;
        let ticket = self.next_ticket;
        self.open += 1;
        *self.by_address.entry(address).or_default() += 1;
        self.handshaking
            .entry(address)
            .or_default()
            .push_back(Handshaking { ticket, closer });
        self.handshaking_count += 1;
        Ok(ticket)
    }

    /// Whether a new connection from `address` may come now: within the
    /// server's rate, or else within the address's own allowance.
    fn arrival_allowed(&mut self, address: IpAddr, now: Instant) -> bool {
        let Some(arrivals) = &mut self.arrivals else {
            return true;
        };
        if arrivals.take(now) {
            return true;
        }
        if !self.address_arrivals.contains_key(&address)
            && self.address_arrivals.len() >= ADDRESS_ARRIVALS_KEPT
        {
            self.address_arrivals
                .retain(|_, bucket| !bucket.is_full(now));
            if self.address_arrivals.len() >= ADDRESS_ARRIVALS_KEPT {
                return false;
            }
        }
        self.address_arrivals
            .entry(address)
            .or_insert_with(|| TokenBucket::new(ADDRESS_ARRIVAL_BURST, ADDRESS_ARRIVALS_PER_SECOND))
            .take(now)
    }

    /// Takes the handshake that makes way (the oldest of the address with
    /// the most; of two such addresses, the one whose oldest is older) out
    /// of the counts; returns its socket to close. None if no handshake can
    /// make way.
    fn make_way(&mut self) -> Option<Option<TcpStream>> {
        let address = self
            .handshaking
            .iter()
            .filter(|(_, queue)| queue.iter().any(|h| h.closer.is_some()))
            .max_by_key(|(_, queue)| {
                let oldest = queue.front().map_or(u64::MAX, |h| h.ticket);
                (queue.len(), std::cmp::Reverse(oldest))
            })
            .map(|(address, _)| *address)?;
        let queue = self.handshaking.get_mut(&address)?;
        let position = queue.iter().position(|h| h.closer.is_some())?;
        let victim = queue.remove(position)?;
        if queue.is_empty() {
            self.handshaking.remove(&address);
        }
        self.handshaking_count -= 1;
        self.release_counts(address);
        self.made_way.insert(victim.ticket);
        self.made_way_total += 1;
        Some(victim.closer)
    }

    /// `ticket`'s handshake is done: it stays, and never makes way.
    fn handshake_done(&mut self, address: IpAddr, ticket: u64) {
        let Some(queue) = self.handshaking.get_mut(&address) else {
            return;
        };
        if let Some(position) = queue.iter().position(|h| h.ticket == ticket) {
            queue.remove(position);
            self.handshaking_count -= 1;
        }
        if queue.is_empty() {
            self.handshaking.remove(&address);
        }
    }

    fn release(&mut self, address: IpAddr, ticket: u64) {
        if self.made_way.remove(&ticket) {
            return;
        }
        self.handshake_done(address, ticket);
        self.release_counts(address);
    }

    fn release_counts(&mut self, address: IpAddr) {
        self.open = self.open.saturating_sub(1);
        if let Some(held) = self.by_address.get_mut(&address) {
            *held = held.saturating_sub(1);
            if *held == 0 {
                self.by_address.remove(&address);
            }
        }
    }
}

impl Place {
    /// The connection finished its handshake: it no longer counts among the
    /// handshakes, and never makes way.
    pub fn handshake_done(&self) {
        self.gate.lock().handshake_done(self.address, self.ticket);
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        self.gate.lock().release(self.address, self.ticket);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn gate(max_connections: usize, max_per_address: usize, max_handshaking: usize) -> Arc<Gate> {
        Gate::new(AdmissionLimits {
            max_connections,
            max_per_address,
            max_handshaking,
            max_connection_rate: 0,
        })
    }

    /// A real socket pair's server side, so making way can close it.
    struct Sockets {
        listener: TcpListener,
        clients: Vec<TcpStream>,
    }

    impl Sockets {
        fn new() -> Sockets {
            Sockets {
                listener: TcpListener::bind("127.0.0.1:0").expect("binds"),
                clients: Vec::new(),
            }
        }

        /// The accepted side of a new connection, and (kept here) its peer.
        fn accepted(&mut self) -> TcpStream {
            let addr = self.listener.local_addr().expect("address");
            self.clients
                .push(TcpStream::connect(addr).expect("connects"));
            self.listener.accept().expect("accepts").0
        }
    }

    fn is_closed(stream: &TcpStream) -> bool {
        use std::io::Read;
        stream
            .set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .expect("timeout");
        matches!((&*stream).read(&mut [0u8; 1]), Ok(0))
    }

    #[test]
    fn one_address_gets_its_limit_and_the_others_the_rest() {
        let gate = gate(64, 32, 64);
        let attacker: IpAddr = [10, 0, 0, 66].into();
        let mut places = Vec::new();
        for _ in 0..64 {
            if let Ok(place) = gate.admit(attacker, None) {
                place.handshake_done();
                places.push(place);
            }
        }
        assert_eq!(places.len(), 32);
        let person: IpAddr = [10, 0, 0, 7].into();
        for _ in 0..FAIR_SHARE {
            places.push(gate.admit(person, None).expect("admitted"));
        }
        places.remove(0);
        assert!(
            gate.admit(attacker, None).is_ok(),
            "a freed place can be taken again"
        );
    }

    #[test]
    fn a_crowded_server_keeps_its_last_places_for_addresses_with_few() {
        let gate = gate(100, 100, 100);
        let busy: IpAddr = [10, 0, 0, 1].into();
        let mut places: Vec<Place> = (0..100)
            .filter_map(|_| gate.admit(busy, None).ok())
            .collect();
        assert_eq!(
            places.len(),
            75,
            "no more than three quarters for one address"
        );
        let newcomer: IpAddr = [10, 0, 0, 2].into();
        let before = places.len();
        places.extend((0..100).filter_map(|_| gate.admit(newcomer, None).ok()));
        assert_eq!(places.len() - before, FAIR_SHARE);
        let third: IpAddr = [10, 0, 0, 3].into();
        assert!(gate.admit(third, None).is_ok());
    }

    #[test]
    fn a_newcomer_gets_in_while_many_addresses_hold_every_handshake() {
        let mut sockets = Sockets::new();
        let gate = gate(32, 32, 8);
        // Four addresses with two silent handshakes each: the handshakes' share is used up.
        let mut silent = Vec::new();
        for n in 0..8u8 {
            let address: IpAddr = [10, 0, 1, n % 4].into();
            let stream = sockets.accepted();
            let closer = stream.try_clone().ok();
            silent.push((gate.admit(address, closer).expect("admitted"), stream));
        }
        assert_eq!(gate.counts().handshaking, 8);
        let newcomer: IpAddr = [10, 0, 2, 1].into();
        let place = gate
            .admit(newcomer, sockets.accepted().try_clone().ok())
            .expect("the newcomer is let in");
        assert_eq!(gate.counts().handshaking, 8, "one made way");
        assert!(
            is_closed(&silent[0].1),
            "the oldest of the first address made way"
        );
        assert!(!is_closed(&silent[1].1));
        // More silent ones come: the newcomer, with one handshake, is the
        // last to be asked.
        for n in 0..6u8 {
            let address: IpAddr = [10, 0, 1, n % 4].into();
            let stream = sockets.accepted();
            let closer = stream.try_clone().ok();
            silent.push((gate.admit(address, closer).expect("admitted"), stream));
        }
        let counts = gate.counts();
        assert_eq!(counts.made_way_total, 7);
        assert_eq!(counts.open, 8);
        place.handshake_done();
        assert_eq!(gate.counts().handshaking, 7);
        // A place that made way is given back once, however its thread ends.
        drop(silent.remove(0));
        assert_eq!(gate.counts().open, 8);
    }

    #[test]
    fn a_full_server_makes_room_from_handshakes_and_refuses_only_when_all_are_done() {
        let mut sockets = Sockets::new();
        let gate = gate(4, 4, 4);
        let first: IpAddr = [10, 0, 0, 1].into();
        let mut places = Vec::new();
        for _ in 0..4 {
            let place = gate
                .admit(first, sockets.accepted().try_clone().ok())
                .expect("admitted");
            places.push(place);
        }
        let second: IpAddr = [10, 0, 0, 2].into();
        let newcomer = gate
            .admit(second, sockets.accepted().try_clone().ok())
            .expect("a handshake makes way");
        newcomer.handshake_done();
        for place in &places[1..] {
            place.handshake_done();
        }
        let refused = gate.admit([10, 0, 0, 3].into(), None);
        assert!(
            refused.is_err_and(|message| message.contains("full")),
            "nobody in a handshake is left to make way"
        );
        assert!(!gate.make_way(), "finished handshakes never make way");
    }

    #[test]
    fn past_the_rate_a_flooding_address_waits_and_a_newcomer_still_comes_in() {
        let gate = Gate::new(AdmissionLimits {
            max_connections: 10_000,
            max_per_address: 10_000,
            max_handshaking: 10_000,
            max_connection_rate: 50,
        });
        let flooder: IpAddr = [10, 0, 0, 66].into();
        let mut places = Vec::new();
        // The server's burst (twice its rate), then the flooder's own allowance.
        while let Ok(place) = gate.admit(flooder, None) {
            places.push(place);
            assert!(places.len() <= 200, "the rate never ran out");
        }
        let allowance = ADDRESS_ARRIVAL_BURST as usize;
        assert!(
            (100 + allowance..100 + allowance + 5).contains(&places.len()),
            "{} admitted",
            places.len()
        );
        let refused = gate.admit(flooder, None);
        assert!(refused.is_err_and(|message| message.contains("too many new connections")));
        // Someone else connects (four sockets) while the flooder goes on.
        let person: IpAddr = [10, 0, 0, 7].into();
        for _ in 0..4 {
            let _ = gate.admit(flooder, None);
            places.push(gate.admit(person, None).expect("the person gets in"));
        }
    }
}
