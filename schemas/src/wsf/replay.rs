//! The replay cache of `wsa:MessageID`s (idwsf-2.0.md §4.4 step 3) — also used for the IDs of
//! `OneTimeUse` tokens (step 8).
//!
//! [`InMemoryMessageIdCache`] keeps, per message, a 16-byte hash and a 4-byte expiry: the first
//! 128 bits of SHA-256 over a per-process random salt, the sender and the MessageID
//! (length-prefixed, so `("ab","c")` and `("a","bc")` differ). The salt makes the hash a keyed
//! PRF: nobody outside the process can craft two IDs that collide (a forged "duplicate") or that
//! pile up in one bucket of the table (hash flooding), and the table can use the hash bits
//! directly instead of hashing again. At 2^-128 per pair, accidental collisions do not happen.
//!
//! Expiry: an entry lives until the `expires` its caller gives (the instant after which the
//! message could no longer pass the Timestamp check); expired entries are swept at most every
//! [`PURGE_INTERVAL_SECONDS`] and whenever the cache is full.
//!
//! Bound: at most `max_entries`. When the cache is full of live entries (a flood: the check runs
//! before the sender is authenticated, as §4.4 orders it), the sixteenth of the entries closest
//! to expiry is evicted and [`InMemoryMessageIdCache::evictions`] counts it, so that the operator
//! can alert. This is the lesser evil: refusing new messages when full would let any client stop
//! the service, whereas an evicted ID can only be replayed by someone who captured the message
//! inside TLS, and only until its Timestamp goes stale (the skew, minutes).
//!
//! Memory: the table is a `hashbrown` map of `([u8; 16], u32)` — 20 bytes per slot plus one
//! control byte, at a load factor between 7/16 and 7/8 — that is 24 to 48 bytes per ID
//! ([`InMemoryMessageIdCache::memory_bytes`] estimates it from the table's capacity).
//!
//! A cluster of WSP instances needs one shared cache (a database table keyed by the same hash);
//! implement [`MessageIdCache`] for it.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

use openssl::sha::Sha256;
use time::OffsetDateTime;

/// Remembers message IDs for replay detection.
pub trait MessageIdCache: Send + Sync {
    /// Records that `sender` sent `message_id`, to be remembered until `expires`. Returns `true`
    /// if it was not already recorded (a fresh message), `false` if it was (a replay).
    fn check_and_insert(&self, sender: &str, message_id: &str, expires: OffsetDateTime) -> bool;
}

/// How often (at most) expired entries are swept.
pub const PURGE_INTERVAL_SECONDS: i64 = 30;
/// Default bound: a million live IDs (about 24–48 MB).
pub const DEFAULT_MAX_ENTRIES: usize = 1_000_000;

type Key = [u8; 16];

/// The key is already a keyed uniform hash: its first 8 bytes are the table hash.
#[derive(Default)]
struct PrehashedHasher(u64);

impl Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(first) = bytes.first_chunk::<8>() {
            self.0 = u64::from_ne_bytes(*first);
        }
    }

    /// The slice length prefix `[u8; 16]` hashes first: constant, ignored.
    fn write_usize(&mut self, _: usize) {}
}

type Table = HashMap<Key, u32, BuildHasherDefault<PrehashedHasher>>;

struct Inner {
    table: Table,
    next_purge: i64,
    evictions: u64,
}

/// A bounded in-memory [`MessageIdCache`] (see the module documentation).
pub struct InMemoryMessageIdCache {
    inner: Mutex<Inner>,
    salt: [u8; 32],
    max_entries: usize,
    clock: Box<dyn Fn() -> OffsetDateTime + Send + Sync>,
}

impl Default for InMemoryMessageIdCache {
    fn default() -> Self {
        Self::new(DEFAULT_MAX_ENTRIES)
    }
}

impl std::fmt::Debug for InMemoryMessageIdCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InMemoryMessageIdCache")
            .field("len", &self.len())
            .field("max_entries", &self.max_entries)
            .finish()
    }
}

impl InMemoryMessageIdCache {
    /// A cache of at most `max_entries` IDs, expiring them by the system clock.
    pub fn new(max_entries: usize) -> Self {
        Self::with_clock(max_entries, OffsetDateTime::now_utc)
    }

    /// A cache whose notion of "now" is `clock` (tests run at fixed instants).
    pub fn with_clock(
        max_entries: usize,
        clock: impl Fn() -> OffsetDateTime + Send + Sync + 'static,
    ) -> Self {
        let mut salt = [0u8; 32];
        super::common::random(&mut salt);
        InMemoryMessageIdCache {
            inner: Mutex::new(Inner {
                table: Table::default(),
                next_purge: i64::MIN,
                evictions: 0,
            }),
            salt,
            max_entries: max_entries.max(16),
            clock: Box::new(clock),
        }
    }

    fn key(&self, sender: &str, message_id: &str) -> Key {
        let mut h = Sha256::new();
        h.update(&self.salt);
        h.update(&(sender.len() as u64).to_be_bytes());
        h.update(sender.as_bytes());
        h.update(message_id.as_bytes());
        let digest = h.finish();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        key
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves a consistent table (every update is one call).
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Live and not yet swept entries.
    pub fn len(&self) -> usize {
        self.lock().table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many live entries were evicted because the cache was full.
    pub fn evictions(&self) -> u64 {
        self.lock().evictions
    }

    /// Heap bytes held by the table, estimated from its capacity: hashbrown allocates
    /// `capacity × 8/7` slots (a power of two) of one key, one expiry and one control byte, plus
    /// one group of trailing control bytes.
    pub fn memory_bytes(&self) -> usize {
        let capacity = self.lock().table.capacity();
        if capacity == 0 {
            return 0;
        }
        let buckets = if capacity < 8 {
            (capacity + 1).next_power_of_two()
        } else {
            (capacity / 7 * 8).next_power_of_two()
        };
        buckets * (std::mem::size_of::<(Key, u32)>() + 1) + 16
    }

    /// Drops expired entries now (also done automatically).
    pub fn purge(&self) {
        let now = (self.clock)().unix_timestamp();
        let mut inner = self.lock();
        purge(&mut inner, now);
    }
}

fn purge(inner: &mut Inner, now: i64) {
    inner.table.retain(|_, exp| i64::from(*exp) > now);
    inner.next_purge = now.saturating_add(PURGE_INTERVAL_SECONDS);
}

/// Evicts the sixteenth of the entries closest to expiry (at least one).
fn evict(inner: &mut Inner) {
    let mut expiries: Vec<u32> = inner.table.values().copied().collect();
    let n = expiries.len() / 16;
    let (_, threshold, _) = expiries.select_nth_unstable(n);
    let threshold = *threshold;
    // Everything expiring before the threshold goes, and as many at the threshold as needed to
    // evict n + 1 (many IDs can share one expiry second).
    let below = expiries.iter().filter(|e| **e < threshold).count();
    let mut at_threshold = (n + 1).saturating_sub(below);
    let before = inner.table.len();
    inner.table.retain(|_, exp| {
        if *exp < threshold {
            false
        } else if *exp == threshold && at_threshold > 0 {
            at_threshold -= 1;
            false
        } else {
            true
        }
    });
    inner.evictions += (before - inner.table.len()) as u64;
}

fn expiry_seconds(t: OffsetDateTime) -> u32 {
    t.unix_timestamp().clamp(0, i64::from(u32::MAX)) as u32
}

impl MessageIdCache for InMemoryMessageIdCache {
    fn check_and_insert(&self, sender: &str, message_id: &str, expires: OffsetDateTime) -> bool {
        let key = self.key(sender, message_id);
        let now = (self.clock)().unix_timestamp();
        let expires = expiry_seconds(expires);
        let mut inner = self.lock();
        if now >= inner.next_purge {
            purge(&mut inner, now);
        }
        if let Some(exp) = inner.table.get_mut(&key) {
            if i64::from(*exp) > now {
                return false;
            }
            // Expired but not yet swept: the ID is free again.
            *exp = expires;
            return true;
        }
        if inner.table.len() >= self.max_entries {
            purge(&mut inner, now);
            if inner.table.len() >= self.max_entries {
                evict(&mut inner);
            }
        }
        inner.table.insert(key, expires);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;
    use time::Duration;

    #[test]
    fn sender_and_id_are_separated() {
        let c = InMemoryMessageIdCache::new(100);
        assert_ne!(c.key("ab", "c"), c.key("a", "bc"));
    }

    #[test]
    fn expiry_and_bound() {
        let now = datetime!(2010-04-01 09:00:00 UTC);
        let c = InMemoryMessageIdCache::with_clock(16, move || now);
        assert!(c.check_and_insert("s", "m", now + Duration::seconds(10)));
        assert!(!c.check_and_insert("s", "m", now + Duration::seconds(10)));
        assert!(c.check_and_insert("s2", "m", now + Duration::seconds(10)));
        // An entry that expired is free again.
        assert!(c.check_and_insert("s", "old", now - Duration::seconds(1)));
        assert!(c.check_and_insert("s", "old", now + Duration::seconds(1)));
        for i in 0..40 {
            assert!(c.check_and_insert("s", &format!("f{i}"), now + Duration::seconds(60 + i)));
        }
        assert!(c.len() <= 16);
        assert!(c.evictions() > 0);
        // The newest survive eviction.
        assert!(!c.check_and_insert("s", "f39", now + Duration::seconds(99)));
    }
}
