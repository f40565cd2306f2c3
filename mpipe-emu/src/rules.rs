//! Classifier rules (`gxio_mpipe_rules_*`, fact sheet §1): a byte list built
//! by the application and committed to the context, and the matching and
//! buffer-stack selection the classifier does with it.
//!
//! The list format is this emulator's own (Tilera's is not documented):
//! each rule is a 32-byte little-endian header followed by 8-byte filters.
//!
//! | bytes | header field |
//! |---|---|
//! | 0–1 | rule size in bytes (32 + 8 × filters) |
//! | 2 | headroom |
//! | 3 | tailroom |
//! | 4–5 | capacity |
//! | 6–7 | number of filters |
//! | 8–11 | first bucket |
//! | 12–15 | bucket mask (bucket count − 1) |
//! | 16–19 | channel bit mask (0 = all open links) |
//! | 20–27 | stack per size class (255 = drop) |
//! | 28 | flags: bit 0 = `stacks == NULL` (automatic choice) |
//! | 29–31 | zero |
//!
//! A filter is `[kind, 0, data[6]]`: kind 1 = destination MAC (6 bytes),
//! kind 2 = VLAN id (little-endian u16, then zeroes).

use crate::context::Context;
use crate::lb::NUM_BUCKETS;

use crate::error::{Error, Result};

/// Bytes available for the rule list (`rules_commit` sends ≤ 4092 bytes).
pub const RULES_LIST_BYTES: usize = 4092;
/// Default headroom of a rule.
pub const DEFAULT_HEADROOM: u8 = 2;
/// Default tailroom of a rule.
pub const DEFAULT_TAILROOM: u8 = 0;
/// Default capacity of a rule.
pub const DEFAULT_CAPACITY: u16 = 16384;
/// The stack value meaning "drop packets of this size class".
pub const STACK_DROP: u8 = 255;

const HEADER: usize = 32;
const FILTER: usize = 8;
const KIND_DMAC: u8 = 1;
const KIND_VLAN: u8 = 2;

/// `gxio_mpipe_rules_t` without its context pointer: a rule list being
/// built. Plain bytes, so any content is memory-safe; a list whose bytes do
/// not parse is refused at commit with `GXIO_MPIPE_ERR_RULES_CORRUPT`.
#[derive(Clone)]
#[repr(C)]
pub struct Rules {
    head: u32,
    tail: u32,
    list: [u8; RULES_LIST_BYTES],
}

impl Default for Rules {
    fn default() -> Self {
        Rules::new()
    }
}

impl std::fmt::Debug for Rules {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rules")
            .field("head", &self.head)
            .field("tail", &self.tail)
            .finish()
    }
}

/// One parsed rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// First bucket.
    pub bucket_first: u32,
    /// Bucket mask: bucket = first + (hash & mask).
    pub bucket_mask: u32,
    /// Bytes left free before the packet in the first buffer.
    pub headroom: u8,
    /// Bytes left free after the packet.
    pub tailroom: u8,
    /// Largest packet + rooms accepted.
    pub capacity: u16,
    /// Stack per size class, or `None` for the automatic choice.
    pub stacks: Option<[u8; 8]>,
    /// Channel mask; 0 = every channel of the context's open links.
    pub channel_bits: u32,
    /// Destination MAC filters (none = any).
    pub dmacs: Vec<[u8; 6]>,
    /// VLAN filters (none = any).
    pub vlans: Vec<u16>,
}

impl Rule {
    /// Whether a frame on `channel`, with this VLAN (0xFFFF = none) and
    /// destination MAC, matches; `open_channels` are the context's links.
    pub fn matches(&self, channel: u8, open_channels: u32, vlan: u16, dmac: [u8; 6]) -> bool {
        let channels = if self.channel_bits == 0 {
            open_channels
        } else {
            self.channel_bits
        };
        channels & (1u32 << (channel & 31)) != 0
            && (self.vlans.is_empty() || self.vlans.contains(&vlan))
            && (self.dmacs.is_empty() || self.dmacs.contains(&dmac))
    }
}

impl Rules {
    /// `gxio_mpipe_rules_init`: an empty list (which matches nothing).
    pub fn new() -> Rules {
        Rules {
            head: 0,
            tail: 0,
            list: [0; RULES_LIST_BYTES],
        }
    }

    /// The list bytes used so far.
    pub fn as_bytes(&self) -> &[u8] {
        &self.list[..(self.tail as usize).min(RULES_LIST_BYTES)]
    }

    /// Raw access to the list, for tests of corrupt lists.
    pub fn list_mut(&mut self) -> &mut [u8; RULES_LIST_BYTES] {
        &mut self.list
    }

    /// `gxio_mpipe_rules_begin`: starts a rule for buckets
    /// `[bucket_first, bucket_first + nbuckets)` (a power of two, else
    /// `RULES_INVALID`), with a stack per size class or `None` for the
    /// automatic choice.
    pub fn begin(
        &mut self,
        bucket_first: u32,
        nbuckets: u32,
        stacks: Option<&[u8; 8]>,
    ) -> Result<()> {
        if !nbuckets.is_power_of_two() {
            return Err(Error::RulesInvalid);
        }
        let at = self.tail as usize;
        if at + HEADER > RULES_LIST_BYTES {
            return Err(Error::RulesFull);
        }
        let h = &mut self.list[at..at + HEADER];
        h.fill(0);
        h[0..2].copy_from_slice(&(HEADER as u16).to_le_bytes());
        h[2] = DEFAULT_HEADROOM;
        h[3] = DEFAULT_TAILROOM;
        h[4..6].copy_from_slice(&DEFAULT_CAPACITY.to_le_bytes());
        h[8..12].copy_from_slice(&bucket_first.to_le_bytes());
        h[12..16].copy_from_slice(&(nbuckets - 1).to_le_bytes());
        match stacks {
            Some(s) => h[20..28].copy_from_slice(s),
            None => {
                h[20..28].fill(STACK_DROP);
                h[28] = 1;
            }
        }
        self.head = at as u32;
        self.tail = (at + HEADER) as u32;
        Ok(())
    }

    /// The current rule's header, or `RULES_EMPTY` before `begin`.
    fn current(&mut self) -> Result<&mut [u8]> {
        let head = self.head as usize;
        if self.tail == 0 || head + HEADER > RULES_LIST_BYTES {
            return Err(Error::RulesEmpty);
        }
        Ok(&mut self.list[head..head + HEADER])
    }

    /// `gxio_mpipe_rules_set_headroom` (at most 127: the offset must fit the
    /// low 7 address bits).
    pub fn set_headroom(&mut self, headroom: u8) -> Result<()> {
        let h = self.current()?;
        if headroom > 127 {
            return Err(Error::RulesInvalid);
        }
        h[2] = headroom;
        Ok(())
    }

    /// `gxio_mpipe_rules_set_tailroom`.
    pub fn set_tailroom(&mut self, tailroom: u8) -> Result<()> {
        self.current()?[3] = tailroom;
        Ok(())
    }

    /// `gxio_mpipe_rules_set_capacity` (at most 16384).
    pub fn set_capacity(&mut self, capacity: u16) -> Result<()> {
        let h = self.current()?;
        if capacity > DEFAULT_CAPACITY {
            return Err(Error::RulesInvalid);
        }
        h[4..6].copy_from_slice(&capacity.to_le_bytes());
        Ok(())
    }

    /// `gxio_mpipe_rules_add_channel` (channels < 32).
    pub fn add_channel(&mut self, channel: u32) -> Result<()> {
        let h = self.current()?;
        if channel >= 32 {
            return Err(Error::RulesInvalid);
        }
        let bits = u32::from_le_bytes([h[16], h[17], h[18], h[19]]) | (1 << channel);
        h[16..20].copy_from_slice(&bits.to_le_bytes());
        Ok(())
    }

    fn add_filter(&mut self, kind: u8, data: [u8; 6]) -> Result<()> {
        self.current()?;
        let at = self.tail as usize;
        if at + FILTER > RULES_LIST_BYTES {
            return Err(Error::RulesFull);
        }
        self.list[at] = kind;
        self.list[at + 1] = 0;
        self.list[at + 2..at + 8].copy_from_slice(&data);
        self.tail += FILTER as u32;
        let h = self.current()?;
        let size = u16::from_le_bytes([h[0], h[1]]) + FILTER as u16;
        let n = u16::from_le_bytes([h[6], h[7]]) + 1;
        h[0..2].copy_from_slice(&size.to_le_bytes());
        h[6..8].copy_from_slice(&n.to_le_bytes());
        Ok(())
    }

    /// `gxio_mpipe_rules_add_dmac`: match this destination MAC (any of the
    /// rule's MACs).
    pub fn add_dmac(&mut self, mac: [u8; 6]) -> Result<()> {
        self.add_filter(KIND_DMAC, mac)
    }

    /// `gxio_mpipe_rules_add_vlan`: match this VLAN id (< 4096).
    pub fn add_vlan(&mut self, vlan: u16) -> Result<()> {
        self.current()?;
        if vlan > 0x0FFF {
            return Err(Error::RulesInvalid);
        }
        let v = vlan.to_le_bytes();
        self.add_filter(KIND_VLAN, [v[0], v[1], 0, 0, 0, 0])
    }

    /// Parses the list; `RULES_CORRUPT` when the bytes are not a valid list.
    pub fn parse(&self) -> Result<Vec<Rule>> {
        let tail = self.tail as usize;
        if tail > RULES_LIST_BYTES || self.head as usize > tail {
            return Err(Error::RulesCorrupt);
        }
        let mut out = Vec::new();
        let mut at = 0usize;
        while at < tail {
            let h = self.list.get(at..at + HEADER).ok_or(Error::RulesCorrupt)?;
            let size = usize::from(u16::from_le_bytes([h[0], h[1]]));
            let n = usize::from(u16::from_le_bytes([h[6], h[7]]));
            let mask = u32::from_le_bytes([h[12], h[13], h[14], h[15]]);
            if size != HEADER + n * FILTER
                || at + size > tail
                || h[2] > 127
                || h[28] > 1
                || h[29..32] != [0, 0, 0]
                || !mask.wrapping_add(1).is_power_of_two()
            {
                return Err(Error::RulesCorrupt);
            }
            let mut stacks = [0u8; 8];
            stacks.copy_from_slice(&h[20..28]);
            let mut rule = Rule {
                bucket_first: u32::from_le_bytes([h[8], h[9], h[10], h[11]]),
                bucket_mask: mask,
                headroom: h[2],
                tailroom: h[3],
                capacity: u16::from_le_bytes([h[4], h[5]]),
                stacks: (h[28] == 0).then_some(stacks),
                channel_bits: u32::from_le_bytes([h[16], h[17], h[18], h[19]]),
                dmacs: Vec::new(),
                vlans: Vec::new(),
            };
            for f in self.list[at + HEADER..at + size].chunks_exact(FILTER) {
                let mut data = [0u8; 6];
                data.copy_from_slice(&f[2..]);
                match (f[0], f[1]) {
                    (KIND_DMAC, 0) => rule.dmacs.push(data),
                    (KIND_VLAN, 0) if data[2..] == [0; 4] => {
                        rule.vlans.push(u16::from_le_bytes([data[0], data[1]]))
                    }
                    _ => return Err(Error::RulesCorrupt),
                }
            }
            out.push(rule);
            at += size;
        }
        Ok(out)
    }
}

/// Committing rules to the context.
impl Context {
    /// `gxio_mpipe_rules_commit`: parses the list (`RULES_CORRUPT`) and
    /// checks every rule's buckets are allocated (`BAD_BUCKET`) and its
    /// stacks initialized (`BAD_BUFFER_STACK`), then replaces the
    /// classifier's rules. An empty list matches nothing.
    pub fn commit_rules(&mut self, rules: &Rules) -> Result<()> {
        let parsed = rules.parse()?;
        for r in &parsed {
            let n = r.bucket_mask.checked_add(1).ok_or(Error::BadBucket)?;
            if r.bucket_first
                .checked_add(n)
                .is_none_or(|e| e as usize > NUM_BUCKETS)
                || (r.bucket_first..r.bucket_first + n).any(|b| !self.bucket_allocated(b))
            {
                return Err(Error::BadBucket);
            }
            if let Some(st) = r.stacks {
                if st.iter().any(|&s| {
                    s != STACK_DROP && self.stacks.get(usize::from(s)).is_none_or(|s| s.is_none())
                }) {
                    return Err(Error::BadBufferStack);
                }
            }
        }
        self.rules = parsed;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_and_parse() {
        let mut r = Rules::new();
        assert_eq!(r.set_headroom(4), Err(Error::RulesEmpty));
        assert_eq!(r.add_channel(1), Err(Error::RulesEmpty));
        assert_eq!(r.parse(), Ok(vec![]));
        assert_eq!(r.begin(0, 3, None), Err(Error::RulesInvalid));
        r.begin(256, 16, None).unwrap();
        r.set_headroom(10).unwrap();
        assert_eq!(r.set_headroom(128), Err(Error::RulesInvalid));
        r.set_tailroom(4).unwrap();
        r.set_capacity(1600).unwrap();
        assert_eq!(r.set_capacity(16385), Err(Error::RulesInvalid));
        r.add_channel(3).unwrap();
        assert_eq!(r.add_channel(32), Err(Error::RulesInvalid));
        r.add_vlan(7).unwrap();
        assert_eq!(r.add_vlan(4096), Err(Error::RulesInvalid));
        r.add_dmac([2, 0, 0, 0, 0, 1]).unwrap();
        r.begin(0, 1, Some(&[1; 8])).unwrap();
        let rules = r.parse().unwrap();
        assert_eq!(rules.len(), 2);
        let a = &rules[0];
        assert_eq!(
            (
                a.bucket_first,
                a.bucket_mask,
                a.headroom,
                a.tailroom,
                a.capacity
            ),
            (256, 15, 10, 4, 1600)
        );
        assert_eq!((a.stacks, a.channel_bits), (None, 1 << 3));
        assert_eq!(
            (a.vlans.clone(), a.dmacs.clone()),
            (vec![7], vec![[2, 0, 0, 0, 0, 1]])
        );
        assert_eq!(rules[1].stacks, Some([1; 8]));
        assert_eq!(rules[1].headroom, DEFAULT_HEADROOM);
        assert!(a.matches(3, 0, 7, [2, 0, 0, 0, 0, 1]));
        assert!(!a.matches(2, 0xFF, 7, [2, 0, 0, 0, 0, 1]));
        assert!(!a.matches(3, 0, 8, [2, 0, 0, 0, 0, 1]));
        assert!(rules[1].matches(5, 1 << 5, 0xFFFF, [0; 6]));
        assert!(!rules[1].matches(6, 1 << 5, 0xFFFF, [0; 6]));
    }

    #[test]
    fn full_and_corrupt() {
        let mut r = Rules::new();
        r.begin(0, 1, None).unwrap();
        let mut n = 0;
        while r.add_vlan(1).is_ok() {
            n += 1;
        }
        assert_eq!(n, (RULES_LIST_BYTES - HEADER) / FILTER);
        assert_eq!(r.add_dmac([0; 6]), Err(Error::RulesFull));
        assert_eq!(r.begin(0, 1, None), Err(Error::RulesFull));
        let mut c = Rules::new();
        c.begin(0, 4, None).unwrap();
        c.list_mut()[12] = 2; // mask 2: not a power of two minus one
        assert_eq!(c.parse(), Err(Error::RulesCorrupt));
        let mut d = Rules::new();
        d.begin(0, 4, None).unwrap();
        d.add_vlan(3).unwrap();
        d.list_mut()[HEADER] = 9; // unknown filter kind
        assert_eq!(d.parse(), Err(Error::RulesCorrupt));
    }
}
