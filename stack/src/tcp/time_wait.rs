//! Compact TIME-WAIT entries.
//!
//! A connection in TIME-WAIT needs only its addresses, its sequence
//! numbers and an expiry, not a whole TCB. All entries wait the same
//! 2 × MSL, so they expire in the order they were made: a ring buffer ordered
//! by expiry gives O(1) insertion and expiry without any timer (the thesis's
//! "queue for constant-delay timers"). Ids are absolute positions in the
//! ring's history, so the connection table can point at an entry.

use std::collections::VecDeque;

use super::table::FlowKey;
use crate::time::Instant;
use crate::wire::TcpSeqNumber;

/// One connection in TIME-WAIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWaitEntry {
    /// Its addresses.
    pub key: FlowKey,
    /// Our next sequence number (after our FIN).
    pub snd_nxt: TcpSeqNumber,
    /// The next sequence number we expect (after the peer's FIN).
    pub rcv_nxt: TcpSeqNumber,
    /// Window field to put in ACKs.
    pub window: u16,
    /// Last timestamp received, when timestamps are in use.
    pub ts_recent: Option<u32>,
    /// When it leaves TIME-WAIT.
    pub expires: Instant,
    /// Still in the connection table (false once reused or reset).
    pub live: bool,
    /// When it last answered an unacceptable segment (for the rate limit
    /// of [`super::ack_limit`]).
    pub last_oow_ack: Option<Instant>,
}

/// The TIME-WAIT entries of one core, oldest first.
#[derive(Debug)]
pub struct TimeWaitRing {
    entries: VecDeque<TimeWaitEntry>,
    /// Id of `entries[0]`.
    front_id: u32,
    /// `entries[0].expires`, kept beside the ring's bookkeeping: every
    /// poll asks for it, and the oldest entry's line is long out of the
    /// caches by then (a miss on every poll at one connection).
    front_expires: Option<Instant>,
}

impl TimeWaitRing {
    /// A ring for at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        TimeWaitRing {
            entries: VecDeque::with_capacity(capacity.max(1)),
            front_id: 0,
            front_expires: None,
        }
    }

    /// Entries held (including dead ones not yet expired).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entry held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether the ring is full (the next push needs the oldest to go).
    pub fn is_full(&self) -> bool {
        self.entries.len() >= self.entries.capacity()
    }

    /// Adds an entry; the caller made room first. Returns its id.
    pub fn push(&mut self, entry: TimeWaitEntry) -> u32 {
        debug_assert!(!self.is_full());
        let id = self.front_id.wrapping_add(self.entries.len() as u32);
        if self.entries.is_empty() {
            self.front_expires = Some(entry.expires);
        }
        self.entries.push_back(entry);
        id
    }

    /// The entry with `id`, if still held. (Its expiry is fixed when it is
    /// pushed: the ring's order depends on it.)
    pub fn get_mut(&mut self, id: u32) -> Option<&mut TimeWaitEntry> {
        let index = id.wrapping_sub(self.front_id) as usize;
        self.entries.get_mut(index)
    }

    /// The oldest entry's expiry.
    pub fn next_expiry(&self) -> Option<Instant> {
        debug_assert_eq!(self.front_expires, self.entries.front().map(|e| e.expires));
        self.front_expires
    }

    /// Removes the oldest entry if it expired by `now` (or unconditionally
    /// with `force`, to make room).
    pub fn pop_expired(&mut self, now: Instant, force: bool) -> Option<TimeWaitEntry> {
        let expires = self.next_expiry()?;
        if !force && expires > now {
            return None;
        }
        self.front_id = self.front_id.wrapping_add(1);
        let entry = self.entries.pop_front();
        self.front_expires = self.entries.front().map(|e| e.expires);
        entry
    }
}

#[cfg(test)]
mod tests {
    use super::{TimeWaitEntry, TimeWaitRing};
    use crate::tcp::table::FlowKey;
    use crate::time::Instant;
    use crate::wire::{Ipv4Addr, TcpSeqNumber};

    fn entry(port: u16, expires_ms: u64) -> TimeWaitEntry {
        TimeWaitEntry {
            key: FlowKey {
                remote_addr: Ipv4Addr::new(10, 0, 0, 2),
                remote_port: port,
                local_port: 80,
            },
            snd_nxt: TcpSeqNumber(1),
            rcv_nxt: TcpSeqNumber(2),
            window: 100,
            ts_recent: None,
            expires: Instant::from_millis(expires_ms),
            live: true,
            last_oow_ack: None,
        }
    }

    #[test]
    fn entries_expire_oldest_first_and_the_next_expiry_follows_the_front() {
        let mut ring = TimeWaitRing::new(3);
        assert_eq!(ring.next_expiry(), None);
        assert_eq!(ring.pop_expired(Instant::from_millis(1_000), false), None);
        let ids: Vec<u32> = [(1, 10), (2, 20), (3, 30)]
            .into_iter()
            .map(|(port, ms)| ring.push(entry(port, ms)))
            .collect();
        assert_eq!(ids, [0, 1, 2]);
        assert!(ring.is_full());
        assert_eq!(ring.next_expiry(), Some(Instant::from_millis(10)));
        // Not yet due: nothing leaves.
        assert_eq!(ring.pop_expired(Instant::from_millis(9), false), None);
        let first = ring.pop_expired(Instant::from_millis(10), false).unwrap();
        assert_eq!(first.key.remote_port, 1);
        assert_eq!(ring.next_expiry(), Some(Instant::from_millis(20)));
        // Ids stay absolute: the second entry is still id 1.
        assert_eq!(ring.get_mut(1).unwrap().key.remote_port, 2);
        assert!(ring.get_mut(0).is_none());
        // Forced: the oldest goes even though it is not due.
        let forced = ring.pop_expired(Instant::from_millis(0), true).unwrap();
        assert_eq!(forced.key.remote_port, 2);
        assert_eq!(ring.next_expiry(), Some(Instant::from_millis(30)));
        assert_eq!(
            ring.pop_expired(Instant::from_millis(30), false)
                .unwrap()
                .key
                .remote_port,
            3
        );
        assert!(ring.is_empty());
        assert_eq!(ring.next_expiry(), None);
        // A push into the emptied ring is the new front.
        assert_eq!(ring.push(entry(4, 40)), 3);
        assert_eq!(ring.next_expiry(), Some(Instant::from_millis(40)));
    }
}
