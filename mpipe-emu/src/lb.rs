//! The load balancer (fact sheet §1 "NotifRings, groups and buckets",
//! "Bucket modes", "Credits"): NotifGroups (ring masks) and buckets, each
//! choosing a NotifRing by its mode.
//!
//! "Least full" compares occupancy fractions (outstanding / capacity); ties
//! go to the first ring in the group's ascending order starting after the
//! bucket's current ring, which makes round robin rotate under equal load.

use crate::error::{Error, Result};

/// Number of buckets (4096 "lo" + 64 "hi").
pub const NUM_BUCKETS: usize = 4160;
/// Number of NotifGroups.
pub const NUM_NOTIF_GROUPS: usize = 32;
/// Number of NotifRings.
pub const NUM_NOTIF_RINGS: usize = 256;

/// A bucket's load-balancing mode (`gxio_mpipe_bucket_mode_t`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum BucketMode {
    /// 0: keeps its ring (drops if full); moves to the least-full ring only
    /// when its reference count is 0. Each delivery adds a reference; a
    /// bucket credit removes one.
    DynamicFlowAffinity = 0,
    /// 1: always the same ring (drops if full).
    StaticFlowAffinity = 1,
    /// 2: each packet to the least-full ring of the group.
    RoundRobin = 2,
    /// 3: the same ring until it is full, then the least-full ring; drops
    /// when all are full.
    StickyFlowLocality = 3,
}

impl BucketMode {
    /// Decodes a mode value. `PREFER_FLOW_LOCALITY` (7) moves flows on a
    /// random timer, which a deterministic emulator cannot model, and is
    /// documented as broken on chips with fewer than 64 tiles (the Gx36): it
    /// is refused with `BAD_CONFIG`, as are unknown values.
    pub fn from_value(v: u32) -> Result<BucketMode> {
        match v {
            0 => Ok(BucketMode::DynamicFlowAffinity),
            1 => Ok(BucketMode::StaticFlowAffinity),
            2 => Ok(BucketMode::RoundRobin),
            3 => Ok(BucketMode::StickyFlowLocality),
            _ => Err(Error::BadConfig),
        }
    }
}

/// State of one bucket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bucket {
    /// Current NotifRing.
    pub ring: u8,
    /// Reference count (dynamic flow affinity), 16 bits.
    pub refcount: u16,
    /// NotifGroup, 5 bits.
    pub group: u8,
    /// Mode.
    pub mode: BucketMode,
}

impl Bucket {
    /// The hardware state word: ring 0–7, refcount 8–23, group 24–28,
    /// mode 29–31.
    pub fn state_word(&self) -> u32 {
        u32::from(self.ring)
            | (u32::from(self.refcount) << 8)
            | (u32::from(self.group & 31) << 24)
            | ((self.mode as u32) << 29)
    }
}

/// Occupancy of a ring as the load balancer sees it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Occupancy {
    /// Descriptors delivered and not yet credited.
    pub used: usize,
    /// Usable entries.
    pub cap: usize,
}

impl Occupancy {
    fn full(self) -> bool {
        self.used >= self.cap
    }
}

/// Groups and buckets.
pub(crate) struct LoadBalancer {
    groups: [[u64; 4]; NUM_NOTIF_GROUPS],
    buckets: Vec<Option<Bucket>>,
}

impl LoadBalancer {
    pub(crate) fn new() -> LoadBalancer {
        LoadBalancer {
            groups: [[0; 4]; NUM_NOTIF_GROUPS],
            buckets: vec![None; NUM_BUCKETS],
        }
    }

    /// The bucket's state, if initialized.
    pub(crate) fn bucket(&self, b: usize) -> Option<&Bucket> {
        self.buckets.get(b).and_then(|b| b.as_ref())
    }

    /// The rings of a group, ascending.
    pub(crate) fn group_rings(&self, g: usize) -> impl Iterator<Item = u8> + '_ {
        let mask = self.groups.get(g).copied().unwrap_or([0; 4]);
        (0..NUM_NOTIF_RINGS)
            .filter(move |&r| mask[r / 64] & (1 << (r % 64)) != 0)
            .map(|r| r as u8)
    }

    /// `init_notif_group_and_buckets`, arguments already validated: group =
    /// rings `[ring0, ring0 + nrings)`, bucket `bucket0 + i` → ring
    /// `ring0 + i mod nrings`.
    pub(crate) fn init_group_and_buckets(
        &mut self,
        group: usize,
        ring0: usize,
        nrings: usize,
        bucket0: usize,
        nbuckets: usize,
        mode: BucketMode,
    ) {
        let mut mask = [0u64; 4];
        for r in ring0..ring0 + nrings {
            mask[r / 64] |= 1 << (r % 64);
        }
        self.groups[group] = mask;
        for i in 0..nbuckets {
            self.buckets[bucket0 + i] = Some(Bucket {
                ring: (ring0 + i % nrings) as u8,
                refcount: 0,
                group: group as u8,
                mode,
            });
        }
    }

    /// The least-full non-full ring of `group`, scanning from after `after`.
    fn least_full(&self, group: usize, after: u8, occ: &impl Fn(u8) -> Occupancy) -> Option<u8> {
        let order = self
            .group_rings(group)
            .filter(|&r| r > after)
            .chain(self.group_rings(group).filter(|&r| r <= after));
        let mut best: Option<(u8, Occupancy)> = None;
        for r in order {
            let o = occ(r);
            if o.full() {
                continue;
            }
            let better = match best {
                None => true,
                Some((_, b)) => o.used * b.cap < b.used * o.cap,
            };
            if better {
                best = Some((r, o));
            }
        }
        best.map(|(r, _)| r)
    }

    /// Chooses the ring for a packet in bucket `b`; `None` = drop (ring
    /// full, or the bucket is not initialized).
    pub(crate) fn pick(&mut self, b: usize, occ: impl Fn(u8) -> Occupancy) -> Option<u8> {
        let bucket = (*self.buckets.get(b)?)?;
        let group = usize::from(bucket.group);
        let chosen = match bucket.mode {
            BucketMode::StaticFlowAffinity => (!occ(bucket.ring).full()).then_some(bucket.ring),
            BucketMode::DynamicFlowAffinity => {
                let ring = if bucket.refcount == 0 {
                    let cur = occ(bucket.ring);
                    match self.least_full(group, bucket.ring, &occ) {
                        Some(r) if cur.full() || occ(r).used * cur.cap < cur.used * occ(r).cap => r,
                        _ => bucket.ring,
                    }
                } else {
                    bucket.ring
                };
                (!occ(ring).full()).then_some(ring)
            }
            BucketMode::RoundRobin => self.least_full(group, bucket.ring, &occ),
            BucketMode::StickyFlowLocality => {
                if occ(bucket.ring).full() {
                    self.least_full(group, bucket.ring, &occ)
                } else {
                    Some(bucket.ring)
                }
            }
        };
        if let (Some(r), Some(slot)) = (chosen, self.buckets[b].as_mut()) {
            slot.ring = r;
            if slot.mode == BucketMode::DynamicFlowAffinity {
                slot.refcount = slot.refcount.saturating_add(1);
            }
        }
        chosen
    }

    /// A bucket credit: lowers the reference count by `n`. Crediting more
    /// than the count, or an uninitialized bucket, is `BAD_BUCKET`.
    pub(crate) fn credit(&mut self, b: usize, n: u16) -> Result<()> {
        let slot = self
            .buckets
            .get_mut(b)
            .and_then(|b| b.as_mut())
            .ok_or(Error::BadBucket)?;
        if slot.mode != BucketMode::DynamicFlowAffinity {
            return Ok(());
        }
        slot.refcount = slot.refcount.checked_sub(n).ok_or(Error::BadBucket)?;
        Ok(())
    }
}
