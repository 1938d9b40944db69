//! A small time-bounded cache for tenant configuration and API keys in a warm function.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries are fresh for `ttl` (at most 60 s: docs/data-model.md). A stale entry may still be used
/// when a refresh fails, for at most `stale_for`, so a storage outage does not stop the
/// inbound path from verifying webhooks.
pub struct TtlCache<K, V> {
    ttl: Duration,
    stale_for: Duration,
    entries: Mutex<HashMap<K, (Instant, Arc<V>)>>,
}

pub enum Lookup<V> {
    Fresh(Arc<V>),
    Stale(Arc<V>),
    Missing,
}

impl<K: Eq + Hash + Clone, V> TtlCache<K, V> {
    pub fn new(ttl: Duration, stale_for: Duration) -> TtlCache<K, V> {
        TtlCache {
            ttl,
            stale_for,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &K) -> Lookup<V> {
        let Ok(entries) = self.entries.lock() else {
            return Lookup::Missing;
        };
        match entries.get(key) {
            Some((at, v)) if at.elapsed() <= self.ttl => Lookup::Fresh(v.clone()),
            Some((at, v)) if at.elapsed() <= self.ttl + self.stale_for => Lookup::Stale(v.clone()),
            _ => Lookup::Missing,
        }
    }

    pub fn put(&self, key: K, value: Arc<V>) {
        if let Ok(mut entries) = self.entries.lock() {
            // Bounded: a warm function serves a bounded set of tenants and keys; start over
            // rather than grow without limit.
            if entries.len() > 10_000 {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value));
        }
    }

    pub fn invalidate(&self, key: &K) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_then_stale_then_missing() {
        let cache = TtlCache::new(Duration::from_millis(30), Duration::from_millis(60));
        cache.put("a", Arc::new(1));
        assert!(matches!(cache.get(&"a"), Lookup::Fresh(v) if *v == 1));
        std::thread::sleep(Duration::from_millis(50));
        assert!(matches!(cache.get(&"a"), Lookup::Stale(_)));
        std::thread::sleep(Duration::from_millis(60));
        assert!(matches!(cache.get(&"a"), Lookup::Missing));
        assert!(matches!(cache.get(&"b"), Lookup::Missing));
    }
}
