//! In-memory token buckets: per client IP and per certificate (login attempts), per client IP
//! (SSO requests). A refused request is answered `429 Too Many Requests` with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::config::Bucket;

/// Buckets keyed by a string (an IP address, a certificate hash).
pub struct RateLimiter {
    config: Bucket,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
    max_keys: usize,
}

impl RateLimiter {
    pub fn new(config: Bucket) -> Self {
        RateLimiter {
            config,
            buckets: Mutex::new(HashMap::new()),
            max_keys: 100_000,
        }
    }

    fn rate_per_sec(&self) -> f64 {
        f64::from(self.config.per_minute) / 60.0
    }

    /// Takes one token for `key`: `Ok(())`, or `Err(seconds to wait)`.
    pub fn check(&self, key: &str) -> Result<(), u64> {
        self.check_at(key, Instant::now())
    }

    pub fn check_at(&self, key: &str, now: Instant) -> Result<(), u64> {
        let burst = f64::from(self.config.burst);
        let rate = self.rate_per_sec();
        let mut map = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() >= self.max_keys && !map.contains_key(key) {
            // Forget the buckets that have refilled completely: they hold no information.
            map.retain(|_, (tokens, at)| {
                *tokens + rate * now.saturating_duration_since(*at).as_secs_f64() < burst
            });
            if map.len() >= self.max_keys {
                return Err(60);
            }
        }
        let (tokens, at) = map.entry(key.to_string()).or_insert((burst, now));
        let refill = rate * now.saturating_duration_since(*at).as_secs_f64();
        *tokens = (*tokens + refill).min(burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else if rate > 0.0 {
            Err(((1.0 - *tokens) / rate).ceil().max(1.0) as u64)
        } else {
            Err(3600)
        }
    }

    /// Drops full buckets.
    pub fn purge(&self) {
        let burst = f64::from(self.config.burst);
        let rate = self.rate_per_sec();
        let now = Instant::now();
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, (tokens, at)| {
                *tokens + rate * now.saturating_duration_since(*at).as_secs_f64() < burst
            });
    }
}

/// Seconds as a `Duration` (for `Retry-After`).
pub fn retry_after(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refill() {
        let l = RateLimiter::new(Bucket {
            burst: 2,
            per_minute: 60,
        });
        let t0 = Instant::now();
        assert!(l.check_at("a", t0).is_ok());
        assert!(l.check_at("a", t0).is_ok());
        assert_eq!(l.check_at("a", t0), Err(1));
        assert!(l.check_at("b", t0).is_ok());
        assert!(l.check_at("a", t0 + Duration::from_millis(1100)).is_ok());
    }
}
