//! One-time use of assertions (`attacks.md`, "Replay"; SAML profiles §4.1.4.5: the SP must
//! ensure a bearer assertion is not used more than once within its validity).

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

/// A store of assertion IDs already consumed. The service backs it with its shared database so
/// that a replay at another node of a cluster is caught too; [`MemoryReplayCache`] serves a single
/// process and the tests.
pub trait ReplayCache: Send + Sync {
    /// Records `id` until `expires`. Returns `true` when the ID was not seen before (the caller
    /// may proceed), `false` when it was (a replay), or when the cache cannot record it (a cache
    /// that cannot remember must fail closed).
    fn check_and_insert(&self, id: &str, expires: OffsetDateTime) -> bool;
}

type Clock = Box<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// An in-memory [`ReplayCache`] with expiry. Entries are dropped once their expiry has passed by
/// the cache's clock; when the cache is full of live entries it refuses new ones (fails closed).
pub struct MemoryReplayCache {
    entries: Mutex<HashMap<String, OffsetDateTime>>,
    capacity: usize,
    clock: Clock,
}

impl Default for MemoryReplayCache {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryReplayCache {
    /// A cache on the system clock holding at most one million live IDs.
    pub fn new() -> Self {
        Self::with_clock(1_000_000, Box::new(OffsetDateTime::now_utc))
    }

    /// A cache with its own capacity and clock (tests pass a fixed clock).
    pub fn with_clock(capacity: usize, clock: Clock) -> Self {
        MemoryReplayCache {
            entries: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            clock,
        }
    }

    /// Number of IDs held (live or not yet purged).
    pub fn len(&self) -> usize {
        self.entries.lock().map(|m| m.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_insert(&self, id: &str, expires: OffsetDateTime) -> bool {
        let now = (self.clock)();
        let Ok(mut map) = self.entries.lock() else {
            return false;
        };
        if let Some(until) = map.get(id) {
            if *until > now {
                return false;
            }
        }
        if map.len() >= self.capacity && !map.contains_key(id) {
            map.retain(|_, until| *until > now);
            if map.len() >= self.capacity {
                return false;
            }
        }
        map.insert(id.to_string(), expires);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};
    use std::sync::Arc;

    #[test]
    fn seen_ids_are_refused_until_they_expire_and_a_full_cache_fails_closed() {
        let t = Arc::new(AtomicI64::new(1_800_000_000));
        let clock_t = t.clone();
        let cache = MemoryReplayCache::with_clock(
            2,
            Box::new(move || {
                OffsetDateTime::from_unix_timestamp(clock_t.load(Ordering::SeqCst)).unwrap()
            }),
        );
        let at = |s: i64| OffsetDateTime::from_unix_timestamp(s).unwrap();
        assert!(cache.check_and_insert("a", at(1_800_000_100)));
        assert!(!cache.check_and_insert("a", at(1_800_000_100)));
        assert!(cache.check_and_insert("b", at(1_800_000_050)));
        // Full of live entries: refused.
        assert!(!cache.check_and_insert("c", at(1_800_000_100)));
        // Once "b" has expired it is purged to make room; "a" is still remembered.
        t.store(1_800_000_060, Ordering::SeqCst);
        assert!(cache.check_and_insert("c", at(1_800_000_100)));
        assert!(!cache.check_and_insert("a", at(1_800_000_100)));
        t.store(1_800_000_200, Ordering::SeqCst);
        assert!(cache.check_and_insert("a", at(1_800_000_300)));
    }
}
