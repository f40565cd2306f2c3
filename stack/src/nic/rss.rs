//! Receive-side scaling: the Toeplitz flow hash and the NIC indirection
//! table.
//!
//! A multi-queue NIC spreads incoming frames over its receive queues (one
//! per core) by hashing each frame's flow with the Toeplitz hash of a
//! 40-byte secret key, then indexing an *indirection table* with the low
//! bits of the hash. A share-nothing stack must know that mapping: a core
//! that opens a connection picks a local port whose *reply* frames the NIC
//! will deliver to that same core (see [`crate::tcp::isn::EphemeralPorts`]).
//!
//! * [`Toeplitz`] — the hash, keyed by 40 bytes: [`Toeplitz::hash`] is the
//!   generic bit-at-a-time definition; [`Toeplitz::hash_ipv4_tcp`] and
//!   [`Toeplitz::hash_ipv4`] use per-byte lookup tables built once at
//!   construction (12 tables of 256 words, 12 KiB), so a 4-tuple costs 12
//!   table lookups and 11 XORs.
//! * [`RssTable`] — a hash plus a 128-entry indirection table of
//!   [`QueueId`]s, like common NICs (Intel 82599, mlx5, virtio-net).
//! * [`MICROSOFT_RSS_KEY`] — the well-known default key of Microsoft's RSS
//!   specification, used by many NICs and drivers out of the box.
//!
//! The input layout is Microsoft's: source address, destination address,
//! source port, destination port, all in network byte order, for a frame as
//! it arrives at the NIC. For a TCP connection seen from this host, the
//! source is the *remote* end ([`FlowTuple`] is already in that order).
//!
//! ```
//! use rusty_stack::nic::FlowTuple;
//! use rusty_stack::nic::rss::{RssTable, Toeplitz, MICROSOFT_RSS_KEY};
//! use rusty_stack::wire::Ipv4Addr;
//!
//! // Microsoft's first verification vector.
//! let toeplitz = Toeplitz::new(&MICROSOFT_RSS_KEY);
//! let remote = Ipv4Addr::new(66, 9, 149, 187);
//! let local = Ipv4Addr::new(161, 142, 100, 80);
//! assert_eq!(toeplitz.hash_ipv4_tcp(remote, local, 2794, 1766), 0x51cc_c178);
//! assert_eq!(toeplitz.hash_ipv4(remote, local), 0x323e_8fc2);
//!
//! // Four queues, round-robin indirection table: the low 7 bits of the hash
//! // (0x78 = 120) pick entry 120, which holds queue 120 % 4 = 0.
//! let rss = RssTable::new(&MICROSOFT_RSS_KEY, 4);
//! let flow = FlowTuple { src_addr: remote, src_port: 2794, dst_addr: local, dst_port: 1766 };
//! assert_eq!(rss.hash_flow(&flow), 0x51cc_c178);
//! assert_eq!(rss.queue_for(&flow), 0);
//! ```

use core::fmt;

use crate::nic::{FlowTuple, QueueId};
use crate::wire::Ipv4Addr;

/// Length of a Toeplitz key in bytes (320 bits).
pub const KEY_LEN: usize = 40;

/// The longest input whose every bit has a full 32-bit window of key bits:
/// `(KEY_LEN * 8 - 32) / 8` = 36 bytes (an IPv6 4-tuple). Longer inputs are
/// hashed as if the key were followed by zero bits.
pub const MAX_INPUT_LEN: usize = KEY_LEN - 4;

/// Number of input bytes covered by the lookup tables: an IPv4 address
/// pair and a port pair.
pub const TABLE_INPUT_LEN: usize = 12;

/// Number of entries in the indirection table (the low 7 bits of the hash
/// index it).
pub const INDIRECTION_LEN: usize = 128;

/// The default RSS key of Microsoft's "Verifying the RSS Hash Calculation"
/// page, which many NICs (Intel, Mellanox, virtio-net) and DPDK use when
/// none is configured.
pub const MICROSOFT_RSS_KEY: [u8; KEY_LEN] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// The 32 key bits starting at bit `bit` (bit 0 is the most significant bit
/// of `key[0]`); bits past the end of the key read as zero.
fn key_window(key: &[u8; KEY_LEN], bit: usize) -> u32 {
    let byte = bit / 8;
    let mut wide = 0u64;
    for i in 0..5 {
        wide = (wide << 8) | u64::from(key.get(byte + i).copied().unwrap_or(0));
    }
    // `wide` holds 40 bits; drop the `bit % 8` leading ones and keep 32.
    (wide >> (8 - bit % 8)) as u32
}

/// The Toeplitz hash of Microsoft's RSS specification, keyed by 40 bytes.
///
/// For each input bit, most significant bit of the first byte first, the
/// hash XORs in the 32 key bits that start at that bit's position when the
/// bit is set. The hash is linear over GF(2): `h(a ^ b) = h(a) ^ h(b)`, and
/// the contribution of each input byte depends only on its position, which
/// is what the lookup tables exploit.
///
/// The value is about 12 KiB (the tables are stored inline); owners that
/// move it around may prefer to box it once at start-up.
#[derive(Clone)]
pub struct Toeplitz {
    key: [u8; KEY_LEN],
    /// `tables[i][b]`: the hash of an input whose only non-zero byte is `b`
    /// at position `i`.
    tables: [[u32; 256]; TABLE_INPUT_LEN],
}

impl Toeplitz {
    /// A hash keyed by `key`, with its lookup tables built.
    pub fn new(key: &[u8; KEY_LEN]) -> Toeplitz {
        let mut tables = [[0u32; 256]; TABLE_INPUT_LEN];
        for (pos, table) in tables.iter_mut().enumerate() {
            // windows[j]: contribution of bit j (0 = most significant) of
            // the byte at `pos`.
            let mut windows = [0u32; 8];
            for (j, w) in windows.iter_mut().enumerate() {
                *w = key_window(key, pos * 8 + j);
            }
            for b in 1..256usize {
                // Peel the lowest set bit: it is bit `7 - low` counting from
                // the most significant end.
                let low = b.trailing_zeros() as usize;
                table[b] = table[b & (b - 1)] ^ windows[7 - low];
            }
        }
        Toeplitz { key: *key, tables }
    }

    /// The key.
    pub const fn key(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// The Toeplitz hash of `input`, computed bit by bit (the reference
    /// definition; any length).
    ///
    /// Inputs longer than [`MAX_INPUT_LEN`] run past the key: the missing
    /// key bits are taken as zero, so the trailing input bits contribute
    /// progressively less and bytes from position 40 on contribute nothing.
    pub fn hash(&self, input: &[u8]) -> u32 {
        let mut result = 0u32;
        for (i, &byte) in input.iter().enumerate() {
            if i >= KEY_LEN {
                break;
            }
            for j in 0..8 {
                if byte & (0x80 >> j) != 0 {
                    result ^= key_window(&self.key, i * 8 + j);
                }
            }
        }
        result
    }

    /// The hash of the first [`TABLE_INPUT_LEN`] bytes of an input, from the
    /// lookup tables: equal to [`Toeplitz::hash`] of those bytes.
    pub fn hash_table(&self, input: &[u8; TABLE_INPUT_LEN]) -> u32 {
        let mut result = 0u32;
        for (table, &byte) in self.tables.iter().zip(input.iter()) {
            result ^= table[usize::from(byte)];
        }
        result
    }

    /// The "IPv4 with TCP" (or UDP) hash: the input is `src`, `dst`,
    /// `src_port`, `dst_port`, in network byte order, as on the wire.
    pub fn hash_ipv4_tcp(&self, src: Ipv4Addr, dst: Ipv4Addr, src_port: u16, dst_port: u16) -> u32 {
        let s = src.octets();
        let d = dst.octets();
        let sp = src_port.to_be_bytes();
        let dp = dst_port.to_be_bytes();
        self.hash_table(&[
            s[0], s[1], s[2], s[3], d[0], d[1], d[2], d[3], sp[0], sp[1], dp[0], dp[1],
        ])
    }

    /// The "IPv4 only" hash: the input is `src` then `dst`, in network byte
    /// order (for fragments and non-TCP/UDP protocols).
    pub fn hash_ipv4(&self, src: Ipv4Addr, dst: Ipv4Addr) -> u32 {
        let s = src.octets();
        let d = dst.octets();
        let t = &self.tables;
        t[0][usize::from(s[0])]
            ^ t[1][usize::from(s[1])]
            ^ t[2][usize::from(s[2])]
            ^ t[3][usize::from(s[3])]
            ^ t[4][usize::from(d[0])]
            ^ t[5][usize::from(d[1])]
            ^ t[6][usize::from(d[2])]
            ^ t[7][usize::from(d[3])]
    }
}

impl fmt::Debug for Toeplitz {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Toeplitz")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

/// Receive-side scaling as a NIC does it: a [`Toeplitz`] hash and an
/// indirection table of [`INDIRECTION_LEN`] receive queues, indexed by the
/// low 7 bits of the hash.
#[derive(Clone, Debug)]
pub struct RssTable {
    toeplitz: Toeplitz,
    table: [QueueId; INDIRECTION_LEN],
}

impl RssTable {
    /// The table a NIC sets up by default: entry `i` holds queue
    /// `i % queues`. `queues == 0` is taken as 1 (everything to queue 0).
    pub fn new(key: &[u8; KEY_LEN], queues: u16) -> RssTable {
        let queues = queues.max(1);
        let mut table = [0; INDIRECTION_LEN];
        for (i, entry) in table.iter_mut().enumerate() {
            // i < 128, so the remainder fits a u16.
            *entry = (i % usize::from(queues)) as QueueId;
        }
        RssTable::with_table(key, table)
    }

    /// An explicit indirection table (as set with `ethtool -X`).
    pub fn with_table(key: &[u8; KEY_LEN], table: [QueueId; INDIRECTION_LEN]) -> RssTable {
        RssTable {
            toeplitz: Toeplitz::new(key),
            table,
        }
    }

    /// The hash.
    pub const fn toeplitz(&self) -> &Toeplitz {
        &self.toeplitz
    }

    /// The indirection table.
    pub const fn table(&self) -> &[QueueId; INDIRECTION_LEN] {
        &self.table
    }

    /// Points entry `index % INDIRECTION_LEN` at `queue`.
    pub fn set_entry(&mut self, index: usize, queue: QueueId) {
        self.table[index % INDIRECTION_LEN] = queue;
    }

    /// The number of queues the table spreads over: one more than its
    /// highest entry.
    pub fn queues(&self) -> u16 {
        self.table
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .saturating_add(1)
    }

    /// The queue of a hash: the entry its low 7 bits index.
    pub const fn queue_for_hash(&self, hash: u32) -> QueueId {
        self.table[(hash as usize) & (INDIRECTION_LEN - 1)]
    }

    /// The "IPv4 with TCP" hash of an incoming frame of `flow`
    /// (source = remote end, destination = us).
    pub fn hash_flow(&self, flow: &FlowTuple) -> u32 {
        self.toeplitz
            .hash_ipv4_tcp(flow.src_addr, flow.dst_addr, flow.src_port, flow.dst_port)
    }

    /// The queue the NIC delivers an incoming frame of `flow` to. To steer
    /// an outgoing connection to this core, build the tuple of its *reply*
    /// frames: `src` = the remote address and port, `dst` = the local ones.
    pub fn queue_for(&self, flow: &FlowTuple) -> QueueId {
        self.queue_for_hash(self.hash_flow(flow))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Microsoft's "Verifying the RSS Hash Calculation" IPv4 rows:
    /// (source, destination, source port, destination port,
    /// IPv4-only hash, IPv4-with-TCP hash).
    type Vector = ([u8; 4], [u8; 4], u16, u16, u32, u32);

    const VECTORS: [Vector; 5] = [
        (
            [66, 9, 149, 187],
            [161, 142, 100, 80],
            2794,
            1766,
            0x323e8fc2,
            0x51ccc178,
        ),
        (
            [199, 92, 111, 2],
            [65, 69, 140, 83],
            14230,
            4739,
            0xd718262a,
            0xc626b0ea,
        ),
        (
            [24, 19, 198, 95],
            [12, 22, 207, 184],
            12898,
            38024,
            0xd2d0a5de,
            0x5c2b394a,
        ),
        (
            [38, 27, 205, 30],
            [209, 142, 163, 6],
            48228,
            2217,
            0x82989176,
            0xafc7327f,
        ),
        (
            [153, 39, 163, 191],
            [202, 188, 127, 2],
            44251,
            1303,
            0x5d1809c5,
            0x10e828a2,
        ),
    ];

    fn input12(src: [u8; 4], dst: [u8; 4], sp: u16, dp: u16) -> [u8; 12] {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&src);
        b[4..8].copy_from_slice(&dst);
        b[8..10].copy_from_slice(&sp.to_be_bytes());
        b[10..].copy_from_slice(&dp.to_be_bytes());
        b
    }

    #[test]
    fn rss_microsoft_vectors_table_path() {
        let t = Toeplitz::new(&MICROSOFT_RSS_KEY);
        for (src, dst, sp, dp, h2, h4) in VECTORS {
            let (s, d) = (Ipv4Addr::from(src), Ipv4Addr::from(dst));
            assert_eq!(t.hash_ipv4_tcp(s, d, sp, dp), h4, "{s}:{sp} -> {d}:{dp}");
            assert_eq!(t.hash_ipv4(s, d), h2, "{s} -> {d}");
        }
    }

    #[test]
    fn rss_microsoft_vectors_bitwise_path() {
        let t = Toeplitz::new(&MICROSOFT_RSS_KEY);
        for (src, dst, sp, dp, h2, h4) in VECTORS {
            let input = input12(src, dst, sp, dp);
            assert_eq!(t.hash(&input), h4);
            assert_eq!(t.hash(&input[..8]), h2);
            assert_eq!(t.hash_table(&input), h4);
        }
    }

    #[test]
    fn rss_key_window_edges() {
        let k = &MICROSOFT_RSS_KEY;
        assert_eq!(key_window(k, 0), 0x6d5a56da);
        assert_eq!(key_window(k, 8), 0x5a56da25);
        assert_eq!(key_window(k, 4), 0xd5a56da2);
        assert_eq!(key_window(k, 256), 0x6a42b73b);
        assert_eq!(key_window(k, 288), 0xbeac01fa);
        // Past the end: zero-extended.
        assert_eq!(key_window(k, 8 * 37), 0xac01fa00);
        assert_eq!(key_window(k, 8 * 40), 0);
    }

    #[test]
    fn rss_hash_is_linear_and_handles_long_inputs() {
        let t = Toeplitz::new(&MICROSOFT_RSS_KEY);
        assert_eq!(t.hash(&[]), 0);
        let a = [0x12u8; 36];
        let b = [0xa5u8; 36];
        let x: [u8; 36] = core::array::from_fn(|i| a[i] ^ b[i]);
        assert_eq!(t.hash(&x), t.hash(&a) ^ t.hash(&b));
        // Bytes beyond the key contribute nothing.
        let mut long = [0xffu8; 64];
        let h = t.hash(&long);
        long[40..].fill(0);
        assert_eq!(t.hash(&long), h);
    }

    #[test]
    fn rss_indirection_round_robin() {
        let rss = RssTable::new(&MICROSOFT_RSS_KEY, 3);
        assert_eq!(rss.queues(), 3);
        for i in 0..INDIRECTION_LEN {
            assert_eq!(rss.table()[i], (i % 3) as u16);
        }
        assert_eq!(rss.queue_for_hash(0), 0);
        assert_eq!(rss.queue_for_hash(127), (127 % 3) as u16);
        // Only the low 7 bits matter.
        assert_eq!(rss.queue_for_hash(0xffff_ff80 | 5), 5 % 3);
        let one = RssTable::new(&MICROSOFT_RSS_KEY, 0);
        assert_eq!(one.queues(), 1);
        assert!(one.table().iter().all(|&q| q == 0));
    }

    #[test]
    fn rss_queue_for_flow_matches_vectors() {
        let mut table = [0; INDIRECTION_LEN];
        for (i, e) in table.iter_mut().enumerate() {
            *e = i as QueueId;
        }
        let mut rss = RssTable::with_table(&MICROSOFT_RSS_KEY, table);
        assert_eq!(rss.queues(), 128);
        for (src, dst, sp, dp, _, h4) in VECTORS {
            let flow = FlowTuple {
                src_addr: Ipv4Addr::from(src),
                src_port: sp,
                dst_addr: Ipv4Addr::from(dst),
                dst_port: dp,
            };
            assert_eq!(rss.hash_flow(&flow), h4);
            assert_eq!(rss.queue_for(&flow), (h4 & 0x7f) as QueueId);
        }
        rss.set_entry(0x78, 9);
        let flow = FlowTuple {
            src_addr: Ipv4Addr::new(66, 9, 149, 187),
            src_port: 2794,
            dst_addr: Ipv4Addr::new(161, 142, 100, 80),
            dst_port: 1766,
        };
        assert_eq!(rss.queue_for(&flow), 9);
    }

    #[test]
    fn rss_debug_omits_tables() {
        let s = format!("{:?}", Toeplitz::new(&MICROSOFT_RSS_KEY));
        assert!(s.starts_with("Toeplitz { key: [109, 90,"), "{s}");
        assert!(s.len() < 400);
    }
}
