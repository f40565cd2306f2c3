//! The connection lookup table: a fixed-capacity open-addressing hash map
//! from a connection's 4-tuple to a small value (a connection slot or a
//! TIME-WAIT entry), with O(1) expected lookup, insert and remove.
//!
//! Linear probing with backward-shift deletion (no tombstones), so the
//! table never degrades; capacity is a power of two at least twice the
//! number of entries it may hold. The hash is keyed by an owner-supplied
//! secret so that remote peers cannot aim collisions at one bucket.

use crate::wire::Ipv4Addr;

/// A connection's addresses as the local stack sees them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FlowKey {
    /// Remote address.
    pub remote_addr: Ipv4Addr,
    /// Remote port.
    pub remote_port: u16,
    /// Local port (the local address is the interface's).
    pub local_port: u16,
}

impl FlowKey {
    fn hash(&self, key: u64) -> u64 {
        let a = u64::from(u32::from(self.remote_addr));
        let b = (u64::from(self.remote_port) << 16) | u64::from(self.local_port);
        // Two rounds of a keyed multiply-xorshift mix (splitmix64 finaliser).
        let mut x = (a << 32 | b) ^ key;
        x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^ (x >> 31)
    }
}

/// The table is full: the entry was not added.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TableFull;

impl core::fmt::Display for TableFull {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("the connection table is full")
    }
}

impl std::error::Error for TableFull {}

/// A fixed-capacity map from [`FlowKey`] to `V`.
#[derive(Debug)]
pub struct FlowTable<V: Copy> {
    buckets: Vec<Option<(FlowKey, V)>>,
    mask: usize,
    len: usize,
    max_len: usize,
    key: u64,
}

impl<V: Copy> FlowTable<V> {
    /// A table for at most `max_len` entries, hashing with `key`.
    pub fn new(max_len: usize, key: u64) -> Self {
        let buckets = (max_len.max(1) * 2).next_power_of_two();
        FlowTable {
            buckets: vec![None; buckets],
            mask: buckets - 1,
            len: 0,
            max_len: max_len.max(1),
            key,
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No entry held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether another entry fits.
    pub fn is_full(&self) -> bool {
        self.len >= self.max_len
    }

    fn home(&self, key: &FlowKey) -> usize {
        (key.hash(self.key) as usize) & self.mask
    }

    fn find(&self, key: &FlowKey) -> Option<usize> {
        self.find_from(self.home(key), key)
    }

    /// [`find`](Self::find) from bucket `home`, `key`'s home bucket
    /// (any index is safe: it is masked, and a wrong one only misses).
    fn find_from(&self, home: usize, key: &FlowKey) -> Option<usize> {
        let mut i = home & self.mask;
        loop {
            match &self.buckets[i] {
                None => return None,
                Some((k, _)) if k == key => return Some(i),
                Some(_) => i = (i + 1) & self.mask,
            }
        }
    }

    /// Asks the memory for the bucket where a lookup of `key` starts (a
    /// hint: nothing is read), and returns that bucket's number, so that
    /// the lookup that follows ([`get_prefetched`](Self::get_prefetched))
    /// need not hash `key` again.
    #[inline]
    pub fn prefetch(&self, key: &FlowKey) -> usize {
        let home = self.home(key);
        if let Some(bucket) = self.buckets.get(home) {
            crate::mem::prefetch::prefetch_value(bucket);
        }
        home
    }

    /// The value stored for `key`.
    pub fn get(&self, key: &FlowKey) -> Option<V> {
        self.find(key).and_then(|i| self.buckets[i].map(|(_, v)| v))
    }

    /// [`get`](Self::get) for a key whose home bucket
    /// [`prefetch`](Self::prefetch) returned. Given another number it
    /// still never panics, but may miss an entry that is there.
    #[inline]
    pub fn get_prefetched(&self, home: usize, key: &FlowKey) -> Option<V> {
        self.find_from(home, key)
            .and_then(|i| self.buckets[i].map(|(_, v)| v))
    }

    /// Stores `value` for `key`, replacing any previous value.
    pub fn insert(&mut self, key: FlowKey, value: V) -> Result<(), TableFull> {
        if let Some(i) = self.find(&key) {
            self.buckets[i] = Some((key, value));
            return Ok(());
        }
        if self.is_full() {
            return Err(TableFull);
        }
        let mut i = self.home(&key);
        while self.buckets[i].is_some() {
            i = (i + 1) & self.mask;
        }
        self.buckets[i] = Some((key, value));
        self.len += 1;
        Ok(())
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &FlowKey) -> Option<V> {
        let mut hole = self.find(key)?;
        let value = self.buckets[hole].take().map(|(_, v)| v);
        self.len -= 1;
        // Backward-shift: move later members of the probe run into the hole
        // when the hole lies between their home and their position.
        let mut i = (hole + 1) & self.mask;
        while let Some((k, _)) = self.buckets[i] {
            let home = self.home(&k);
            let dist_now = i.wrapping_sub(home) & self.mask;
            let dist_hole = hole.wrapping_sub(home) & self.mask;
            if dist_hole < dist_now {
                self.buckets[hole] = self.buckets[i].take();
                hole = i;
            }
            i = (i + 1) & self.mask;
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    fn key(n: u32) -> FlowKey {
        FlowKey {
            remote_addr: Ipv4Addr::from(0x0a00_0000 | (n >> 8)),
            remote_port: (n & 0xff) as u16 + 1,
            local_port: 80,
        }
    }

    #[test]
    fn insert_get_remove() {
        let mut t = FlowTable::new(4, 7);
        t.insert(key(1), 10).unwrap();
        t.insert(key(2), 20).unwrap();
        assert_eq!(t.get(&key(1)), Some(10));
        t.insert(key(1), 11).unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.remove(&key(1)), Some(11));
        assert_eq!(t.get(&key(1)), None);
        assert_eq!(t.get(&key(2)), Some(20));
        t.insert(key(3), 3).unwrap();
        t.insert(key(4), 4).unwrap();
        t.insert(key(5), 5).unwrap();
        assert_eq!(t.insert(key(6), 6), Err(TableFull));
    }

    proptest! {
        #[test]
        fn behaves_like_a_map(ops in proptest::collection::vec((0u8..3, 0u32..40, any::<u16>()), 0..400), hash_key in any::<u64>()) {
            let mut t = FlowTable::new(24, hash_key);
            let mut model = BTreeMap::new();
            for (op, k, v) in ops {
                match op {
                    0 => {
                        let r = t.insert(key(k), v);
                        if model.contains_key(&k) || model.len() < 24 {
                            prop_assert!(r.is_ok());
                            model.insert(k, v);
                        } else {
                            prop_assert_eq!(r, Err(TableFull));
                        }
                    }
                    1 => prop_assert_eq!(t.remove(&key(k)), model.remove(&k)),
                    _ => prop_assert_eq!(t.get(&key(k)), model.get(&k).copied()),
                }
                prop_assert_eq!(t.len(), model.len());
            }
            for k in 0..40 {
                prop_assert_eq!(t.get(&key(k)), model.get(&k).copied());
                let home = t.prefetch(&key(k));
                prop_assert_eq!(t.get_prefetched(home, &key(k)), model.get(&k).copied());
                // Another bucket number (some past the end): no panic, and
                // never a wrong value.
                let other = t.get_prefetched(home.wrapping_add(k as usize % 13), &key(k));
                prop_assert!(other.is_none() || other == model.get(&k).copied());
            }
        }
    }
}
