//! The ARP cache: IPv4 → MAC mappings with expiry, plus static entries.
//!
//! Capacity is fixed at construction and nothing allocates afterwards. The
//! table is small (next hops only: peers on the subnet and the gateway), so
//! lookups scan it; when full, a new dynamic entry evicts the dynamic entry
//! that expires first. Static entries never expire and are never evicted.

use crate::time::{Duration, Instant};
use crate::wire::{Ipv4Addr, MacAddr};

/// One cache entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    ip: Ipv4Addr,
    mac: MacAddr,
    /// `None` for static entries.
    expires_at: Option<Instant>,
}

/// Why an entry could not be added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArpCacheFull;

impl core::fmt::Display for ArpCacheFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the ARP cache is full")
    }
}

impl std::error::Error for ArpCacheFull {}

/// A bounded ARP cache.
#[derive(Debug)]
pub struct ArpCache {
    entries: Vec<Entry>,
    capacity: usize,
}

impl ArpCache {
    /// An empty cache holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        ArpCache {
            entries: Vec::with_capacity(capacity),
            capacity,
        }
    }

    /// Number of entries, expired ones included until they are looked up.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The cache holds no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn position(&self, ip: Ipv4Addr) -> Option<usize> {
        self.entries.iter().position(|e| e.ip == ip)
    }

    /// The MAC of `ip` if known and not expired at `now`. An expired entry
    /// is removed.
    pub fn lookup(&mut self, ip: Ipv4Addr, now: Instant) -> Option<MacAddr> {
        let i = self.position(ip)?;
        let entry = self.entries[i];
        match entry.expires_at {
            Some(t) if now >= t => {
                self.entries.swap_remove(i);
                None
            }
            _ => Some(entry.mac),
        }
    }

    /// Whether `ip` has an entry (expired or not): RFC 826's "merge" test.
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        self.position(ip).is_some()
    }

    /// Adds or refreshes a dynamic entry valid for `ttl` from `now`. A static
    /// entry for the same address is left as it is. When the cache is full the
    /// dynamic entry expiring first is evicted; with only static entries the
    /// new one is not added.
    pub fn insert(&mut self, ip: Ipv4Addr, mac: MacAddr, now: Instant, ttl: Duration) {
        let expires_at = Some(now + ttl);
        if let Some(i) = self.position(ip) {
            let entry = &mut self.entries[i];
            if entry.expires_at.is_some() {
                entry.mac = mac;
                entry.expires_at = expires_at;
            }
            return;
        }
        let entry = Entry {
            ip,
            mac,
            expires_at,
        };
        if self.entries.len() < self.capacity {
            self.entries.push(entry);
            return;
        }
        let victim = self
            .entries
            .iter()
            .enumerate()
            .filter_map(|(i, e)| e.expires_at.map(|t| (t, i)))
            .min();
        if let Some((_, i)) = victim {
            self.entries[i] = entry;
        }
    }

    /// Adds a static entry (never expires, never evicted), replacing any
    /// entry for the same address.
    pub fn insert_static(&mut self, ip: Ipv4Addr, mac: MacAddr) -> Result<(), ArpCacheFull> {
        let entry = Entry {
            ip,
            mac,
            expires_at: None,
        };
        if let Some(i) = self.position(ip) {
            self.entries[i] = entry;
            return Ok(());
        }
        if self.entries.len() < self.capacity {
            self.entries.push(entry);
            return Ok(());
        }
        // Evict a dynamic entry if there is one.
        match self.entries.iter().position(|e| e.expires_at.is_some()) {
            Some(i) => {
                self.entries[i] = entry;
                Ok(())
            }
            None => Err(ArpCacheFull),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(n: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 0, 0, n)
    }
    fn mac(n: u8) -> MacAddr {
        MacAddr([2, 0, 0, 0, 0, n])
    }

    #[test]
    fn entries_expire() {
        let mut c = ArpCache::new(4);
        c.insert(ip(1), mac(1), Instant::ZERO, Duration::from_secs(60));
        assert_eq!(c.lookup(ip(1), Instant::from_secs(59)), Some(mac(1)));
        assert_eq!(c.lookup(ip(1), Instant::from_secs(60)), None);
        assert!(c.is_empty());
    }

    #[test]
    fn refresh_updates_mac_and_expiry() {
        let mut c = ArpCache::new(4);
        c.insert(ip(1), mac(1), Instant::ZERO, Duration::from_secs(10));
        c.insert(
            ip(1),
            mac(9),
            Instant::from_secs(5),
            Duration::from_secs(10),
        );
        assert_eq!(c.lookup(ip(1), Instant::from_secs(14)), Some(mac(9)));
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn full_cache_evicts_soonest_dynamic_entry_never_static() {
        let mut c = ArpCache::new(3);
        c.insert_static(ip(1), mac(1)).unwrap();
        c.insert(ip(2), mac(2), Instant::ZERO, Duration::from_secs(10));
        c.insert(ip(3), mac(3), Instant::ZERO, Duration::from_secs(20));
        c.insert(ip(4), mac(4), Instant::ZERO, Duration::from_secs(30));
        assert!(!c.contains(ip(2)));
        assert!(c.contains(ip(1)) && c.contains(ip(3)) && c.contains(ip(4)));
        // Static entries never expire and are not overwritten by dynamic ones.
        c.insert(ip(1), mac(7), Instant::ZERO, Duration::from_secs(1));
        assert_eq!(c.lookup(ip(1), Instant::from_secs(1_000_000)), Some(mac(1)));
    }

    #[test]
    fn static_entries_fill_the_cache() {
        let mut c = ArpCache::new(1);
        c.insert_static(ip(1), mac(1)).unwrap();
        assert_eq!(c.insert_static(ip(2), mac(2)), Err(ArpCacheFull));
        c.insert(ip(3), mac(3), Instant::ZERO, Duration::from_secs(1));
        assert!(!c.contains(ip(3)));
    }
}
