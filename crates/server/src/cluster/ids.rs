//! Member ids unique across a cluster. Each server claims a *block* (a
//! number from 1 to 63) in the servers' bucket, and gives its clients the
//! ids `n * 64 + block`: two servers never give the same id, so a member
//! keeps its id in a meeting held by another server, and a frame's sender
//! means one member everywhere. A server alone gives 1, 2, 3… as always.
//!
//! Until NATS answers, a server uses a block drawn at random and claims
//! that one first; if another server holds it, the claim moves to a free
//! one and only ids given after that use it.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

/// Ids go up in steps of this; a block is a remainder.
pub const STRIDE: u32 = 64;

/// This server's block of member ids.
pub struct IdBlock {
    block: AtomicU32,
    claimed: AtomicBool,
}

impl IdBlock {
    /// An unclaimed block drawn at random.
    pub fn drawn() -> IdBlock {
        let mut byte = [0u8; 1];
        let _ = getrandom::fill(&mut byte);
        IdBlock {
            block: AtomicU32::new(1 + u32::from(byte[0]) % (STRIDE - 1)),
            claimed: AtomicBool::new(false),
        }
    }

    pub fn block(&self) -> u32 {
        self.block.load(Ordering::Relaxed)
    }

    pub fn is_claimed(&self) -> bool {
        self.claimed.load(Ordering::Relaxed)
    }

    /// NATS agreed this server holds `block`.
    pub fn claimed(&self, block: u32) {
        self.block.store(block, Ordering::Relaxed);
        self.claimed.store(true, Ordering::Relaxed);
    }

    /// The blocks to try, the drawn one first.
    pub fn candidates(&self) -> impl Iterator<Item = u32> {
        let first = self.block();
        (0..STRIDE - 1).map(move |step| 1 + (first - 1 + step) % (STRIDE - 1))
    }

    /// The `counter`th id of this server.
    pub fn id(&self, counter: u32) -> u32 {
        counter.saturating_mul(STRIDE).saturating_add(self.block())
    }

    /// The key a block is claimed under in the servers' bucket (`_` is in
    /// no server's name, so it is never taken for a server).
    pub fn key(block: u32) -> String {
        format!("_block_{block}")
    }

    /// The block a servers' bucket key claims, if it is a claim.
    pub fn of_key(key: &str) -> Option<u32> {
        key.strip_prefix("_block_")?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_blocks_never_give_the_same_id() {
        let (a, b) = (IdBlock::drawn(), IdBlock::drawn());
        a.claimed(5);
        b.claimed(6);
        let ids_a: Vec<u32> = (1..1000).map(|n| a.id(n)).collect();
        assert!((1..1000).all(|n| !ids_a.contains(&b.id(n))));
    }

    #[test]
    fn every_block_is_a_candidate_once() {
        let block = IdBlock::drawn();
        let mut candidates: Vec<u32> = block.candidates().collect();
        assert_eq!(candidates[0], block.block());
        candidates.sort();
        assert_eq!(candidates, (1..STRIDE).collect::<Vec<_>>());
        assert_eq!(IdBlock::of_key(&IdBlock::key(17)), Some(17));
        assert_eq!(IdBlock::of_key("host-1a2b"), None);
    }
}
