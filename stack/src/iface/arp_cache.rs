//! The ARP cache: IPv4 → MAC mappings with expiry, plus static entries,
//! and neighbour reachability for the dynamic ones.
//!
//! Capacity is fixed at construction and nothing allocates afterwards. The
//! table is small (next hops only: peers on the subnet and the gateway), so
//! lookups scan it; when full, a new dynamic entry evicts the dynamic entry
//! that expires first. Static entries never expire and are never evicted.
//!
//! Reachability works as Linux's neighbour state machine (NUD): an entry is
//! *reachable* for [`Nud::reachable_time`] after it was learned or
//! confirmed — by ARP traffic from the neighbour, or by an upper layer
//! seeing forward progress ([`ArpCache::confirm`]: TCP calls it when new
//! data is acknowledged or arrives in order). Used after that without a
//! confirmation it enters *delay*; still unconfirmed after
//! [`Nud::delay_first_probe`], it is *probed*: unicast ARP requests to the
//! cached MAC, [`Nud::unicast_probes`] of them one retry interval apart.
//! Unanswered, the entry is removed (*failed*) and the next datagram
//! resolves the address again by broadcast. An upper layer that suspects
//! the path (TCP on a retransmission timeout, [`ArpCache::suspect`]) starts
//! the probes at once. So a wrong MAC — learned from a corrupted ARP
//! packet, or a neighbour that moved — is found and replaced in seconds,
//! not at the entry's expiry.

use crate::time::{Duration, Instant};
use crate::wire::{Ipv4Addr, MacAddr};

/// The reachability timers of dynamic entries (Linux's defaults:
/// `base_reachable_time` 30 s, `delay_first_probe_time` 5 s,
/// `ucast_solicit` 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Nud {
    /// How long a learned or confirmed entry is trusted without a new
    /// confirmation.
    pub reachable_time: Duration,
    /// How long a used, unconfirmed entry waits for a confirmation before
    /// it is probed.
    pub delay_first_probe: Duration,
    /// Unicast probes sent before the entry is given up.
    pub unicast_probes: u32,
    /// Time between probes.
    pub probe_interval: Duration,
}

impl Default for Nud {
    fn default() -> Self {
        Nud {
            reachable_time: Duration::from_secs(30),
            delay_first_probe: Duration::from_secs(5),
            unicast_probes: 3,
            probe_interval: Duration::from_secs(1),
        }
    }
}

/// Where a dynamic entry is in the reachability state machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Reach {
    /// Confirmed within the reachable time (or not used since it lapsed).
    Reachable,
    /// Used after the reachable time lapsed; probed at `probe_at` unless
    /// confirmed first.
    Delay { probe_at: Instant },
    /// `sent` unicast probes out, the next one (or the verdict) at
    /// `next_at`.
    Probe { sent: u32, next_at: Instant },
}

/// One cache entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    ip: Ipv4Addr,
    mac: MacAddr,
    /// `None` for static entries.
    expires_at: Option<Instant>,
    /// When the neighbour was last known to be reachable at `mac`.
    confirmed_at: Instant,
    reach: Reach,
}

/// A unicast probe the owner must send, or the verdict on a neighbour.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NudAction {
    /// Send an ARP request for `ip` to `mac` (a unicast probe).
    Probe {
        /// The neighbour's address.
        ip: Ipv4Addr,
        /// Its cached MAC, the probe's destination.
        mac: MacAddr,
    },
    /// The probes went unanswered: the entry for `ip` was removed.
    Failed {
        /// The neighbour's address.
        ip: Ipv4Addr,
    },
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
    /// Entries in delay or probe: while zero, there is no timer to run.
    in_nud: usize,
    /// The entry used or confirmed last, to find it again without a scan
    /// (most datagrams go to the same next hop).
    last_used: usize,
}

impl ArpCache {
    /// An empty cache holding at most `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Self {
        let capacity = capacity.max(1);
        ArpCache {
            entries: Vec::with_capacity(capacity),
            capacity,
            in_nud: 0,
            last_used: 0,
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
                self.remove(i);
                None
            }
            _ => Some(entry.mac),
        }
    }

    /// [`ArpCache::lookup`] for a datagram about to be sent to `ip`: a
    /// dynamic entry whose reachable time lapsed enters the delay state
    /// (the MAC is still used meanwhile).
    pub fn lookup_for_send(&mut self, ip: Ipv4Addr, now: Instant, nud: &Nud) -> Option<MacAddr> {
        let i = self.position_fast(ip)?;
        let e = self.entries[i];
        match e.expires_at {
            Some(t) if now >= t => {
                self.remove(i);
                return None;
            }
            Some(_)
                if e.reach == Reach::Reachable && now >= e.confirmed_at + nud.reachable_time =>
            {
                self.set_reach(
                    i,
                    Reach::Delay {
                        probe_at: now + nud.delay_first_probe,
                    },
                );
            }
            _ => {}
        }
        self.last_used = i;
        Some(e.mac)
    }

    /// An upper layer saw forward progress with `ip`: it is reachable at
    /// its cached MAC. Cheap when the same neighbour is confirmed again.
    pub fn confirm(&mut self, ip: Ipv4Addr, now: Instant) {
        if let Some(i) = self.position_fast(ip) {
            self.last_used = i;
            self.set_reach(i, Reach::Reachable);
            self.entries[i].confirmed_at = now;
        }
    }

    /// An upper layer suspects the path to `ip` (a retransmission timeout):
    /// a dynamic entry not already probed is probed from `now` on.
    pub fn suspect(&mut self, ip: Ipv4Addr, now: Instant) {
        if let Some(i) = self.position(ip) {
            let e = self.entries[i];
            if e.expires_at.is_some() && !matches!(e.reach, Reach::Probe { .. }) {
                self.set_reach(
                    i,
                    Reach::Probe {
                        sent: 0,
                        next_at: now,
                    },
                );
            }
        }
    }

    /// When [`ArpCache::run_nud`] has work next.
    pub fn nud_at(&self) -> Option<Instant> {
        if self.in_nud == 0 {
            return None;
        }
        self.entries
            .iter()
            .filter_map(|e| match e.reach {
                Reach::Reachable => None,
                Reach::Delay { probe_at } => Some(probe_at),
                Reach::Probe { next_at, .. } => Some(next_at),
            })
            .min()
    }

    /// Runs the reachability timers due at `now`: `act` is told of every
    /// probe to send and every neighbour given up, and returns whether it
    /// took the action; when it refuses one, the pass stops there (nothing
    /// changes for that entry) and a later call goes on.
    pub fn run_nud(&mut self, now: Instant, nud: &Nud, mut act: impl FnMut(NudAction) -> bool) {
        if self.in_nud == 0 {
            return;
        }
        let mut i = 0;
        while i < self.entries.len() {
            let e = self.entries[i];
            match e.reach {
                Reach::Delay { probe_at } if probe_at <= now => {
                    if e.confirmed_at + nud.delay_first_probe >= probe_at {
                        self.set_reach(i, Reach::Reachable);
                    } else {
                        self.set_reach(
                            i,
                            Reach::Probe {
                                sent: 0,
                                next_at: now,
                            },
                        );
                        continue; // probe it in this same pass
                    }
                }
                Reach::Probe { sent, next_at } if next_at <= now => {
                    if sent >= nud.unicast_probes {
                        if !act(NudAction::Failed { ip: e.ip }) {
                            return;
                        }
                        self.remove(i);
                        continue;
                    }
                    if !act(NudAction::Probe {
                        ip: e.ip,
                        mac: e.mac,
                    }) {
                        return;
                    }
                    self.entries[i].reach = Reach::Probe {
                        sent: sent + 1,
                        next_at: now + nud.probe_interval,
                    };
                }
                _ => {}
            }
            i += 1;
        }
    }

    /// The entry of `ip`, trying the one used last first.
    fn position_fast(&self, ip: Ipv4Addr) -> Option<usize> {
        match self.entries.get(self.last_used) {
            Some(e) if e.ip == ip => Some(self.last_used),
            _ => self.position(ip),
        }
    }

    /// Moves entry `i` to `reach`, keeping the count of entries with a
    /// reachability timer.
    fn set_reach(&mut self, i: usize, reach: Reach) {
        let was = self.entries[i].reach != Reach::Reachable;
        let is = reach != Reach::Reachable;
        self.in_nud = self.in_nud + usize::from(is) - usize::from(was);
        self.entries[i].reach = reach;
    }

    fn remove(&mut self, i: usize) {
        self.set_reach(i, Reach::Reachable);
        self.entries.swap_remove(i);
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
            if self.entries[i].expires_at.is_some() {
                self.set_reach(i, Reach::Reachable);
                let entry = &mut self.entries[i];
                entry.mac = mac;
                entry.expires_at = expires_at;
                entry.confirmed_at = now;
            }
            return;
        }
        let entry = Entry {
            ip,
            mac,
            expires_at,
            confirmed_at: now,
            reach: Reach::Reachable,
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
            self.set_reach(i, Reach::Reachable);
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
            confirmed_at: Instant::ZERO,
            reach: Reach::Reachable,
        };
        if let Some(i) = self.position(ip) {
            self.set_reach(i, Reach::Reachable);
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
                self.set_reach(i, Reach::Reachable);
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

    fn probes(c: &mut ArpCache, now: Instant) -> Vec<NudAction> {
        let mut out = Vec::new();
        c.run_nud(now, &Nud::default(), |a| {
            out.push(a);
            true
        });
        out
    }

    #[test]
    fn a_confirmed_entry_is_never_probed() {
        let nud = Nud::default();
        let mut c = ArpCache::new(4);
        c.insert(ip(1), mac(1), Instant::ZERO, Duration::from_secs(600));
        for s in 0..100 {
            let now = Instant::from_secs(s);
            c.confirm(ip(1), now);
            assert_eq!(c.lookup_for_send(ip(1), now, &nud), Some(mac(1)));
            assert!(probes(&mut c, now).is_empty());
        }
        assert_eq!(c.nud_at(), None);
    }

    #[test]
    fn an_unconfirmed_entry_in_use_is_probed_then_given_up() {
        let nud = Nud::default();
        let mut c = ArpCache::new(4);
        c.insert(ip(1), mac(1), Instant::ZERO, Duration::from_secs(600));
        // Within the reachable time: nothing.
        c.lookup_for_send(ip(1), Instant::from_secs(29), &nud);
        assert_eq!(c.nud_at(), None);
        // Used after it: delay, then three unicast probes a second apart.
        c.lookup_for_send(ip(1), Instant::from_secs(30), &nud);
        assert_eq!(c.nud_at(), Some(Instant::from_secs(35)));
        assert!(probes(&mut c, Instant::from_secs(34)).is_empty());
        for s in 35..38 {
            assert_eq!(
                probes(&mut c, Instant::from_secs(s)),
                vec![NudAction::Probe {
                    ip: ip(1),
                    mac: mac(1)
                }]
            );
        }
        assert_eq!(
            probes(&mut c, Instant::from_secs(38)),
            vec![NudAction::Failed { ip: ip(1) }]
        );
        assert!(!c.contains(ip(1)));
        assert_eq!(c.nud_at(), None);
    }

    #[test]
    fn an_answer_or_a_confirmation_ends_the_probes() {
        let nud = Nud::default();
        let mut c = ArpCache::new(4);
        c.insert(ip(1), mac(1), Instant::ZERO, Duration::from_secs(600));
        c.insert(ip(2), mac(2), Instant::ZERO, Duration::from_secs(600));
        c.suspect(ip(1), Instant::from_secs(1));
        c.suspect(ip(2), Instant::from_secs(1));
        assert_eq!(probes(&mut c, Instant::from_secs(1)).len(), 2);
        // ip 1 answers the probe (ARP learn); ip 2's TCP makes progress.
        c.insert(
            ip(1),
            mac(1),
            Instant::from_secs(2),
            Duration::from_secs(600),
        );
        c.confirm(ip(2), Instant::from_secs(2));
        assert_eq!(c.nud_at(), None);
        assert!(probes(&mut c, Instant::from_secs(10)).is_empty());
        // A confirmation during the delay keeps the entry reachable.
        c.lookup_for_send(ip(1), Instant::from_secs(40), &nud);
        c.confirm(ip(1), Instant::from_secs(41));
        assert!(probes(&mut c, Instant::from_secs(45)).is_empty());
        assert_eq!(c.nud_at(), None);
    }

    #[test]
    fn static_entries_are_never_probed() {
        let nud = Nud::default();
        let mut c = ArpCache::new(2);
        c.insert_static(ip(1), mac(1)).unwrap();
        c.suspect(ip(1), Instant::ZERO);
        c.lookup_for_send(ip(1), Instant::from_secs(1000), &nud);
        assert_eq!(c.nud_at(), None);
        assert_eq!(c.lookup(ip(1), Instant::from_secs(2000)), Some(mac(1)));
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
