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
}

impl TimeWaitRing {
    /// A ring for at most `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        TimeWaitRing {
            entries: VecDeque::with_capacity(capacity.max(1)),
            front_id: 0,
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
        self.entries.push_back(entry);
        id
    }

    /// The entry with `id`, if still held.
    pub fn get_mut(&mut self, id: u32) -> Option<&mut TimeWaitEntry> {
        let index = id.wrapping_sub(self.front_id) as usize;
        self.entries.get_mut(index)
    }

    /// The oldest entry's expiry.
    pub fn next_expiry(&self) -> Option<Instant> {
        self.entries.front().map(|e| e.expires)
    }

    /// Removes the oldest entry if it expired by `now` (or unconditionally
    /// with `force`, to make room).
    pub fn pop_expired(&mut self, now: Instant, force: bool) -> Option<TimeWaitEntry> {
        let front = self.entries.front()?;
        if !force && front.expires > now {
            return None;
        }
        self.front_id = self.front_id.wrapping_add(1);
        self.entries.pop_front()
    }
}
