//! The emulator's flow hash: Toeplitz (the RSS hash), documented because the
//! real default classifier's hash is unpublished (fact sheet §7).
//!
//! Inputs, all in network byte order, concatenated:
//! - TCP/UDP over IPv4 (not a non-first fragment): source address, destination
//!   address, source port, destination port (12 bytes) — the Microsoft RSS
//!   "IPv4 with TCP" input. The protocol number selects this input (only TCP
//!   and UDP have ports here) but is not itself hashed, so the well-known RSS
//!   test vectors hold.
//! - other IPv4, and non-first fragments: source and destination address.
//! - TCP/UDP over IPv6: addresses then ports (36 bytes); other IPv6: addresses.
//! - non-IP: destination MAC then source MAC (12 bytes).
//!
//! The default key is Microsoft's published RSS verification key
//! ([`MICROSOFT_RSS_KEY`]); the key is configurable per context. The hash is
//! not symmetric: the reply direction of a flow hashes differently, which is
//! why [`FlowHasher`] is exposed for choosing ports on active open.

/// Microsoft's RSS verification key (the key of the RSS test vectors).
pub const MICROSOFT_RSS_KEY: [u8; 40] = [
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3, 0x8f, 0xb0,
    0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3, 0x80, 0x30, 0xf2, 0x0c,
    0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa,
];

/// The Toeplitz hash of `input` under `key` (key bits past the end read 0).
pub fn toeplitz(key: &[u8; 40], input: &[u8]) -> u32 {
    let key_bit = |i: usize| -> u32 {
        key.get(i / 8)
            .map_or(0, |b| u32::from((b >> (7 - i % 8)) & 1))
    };
    let mut window = u32::from_be_bytes([key[0], key[1], key[2], key[3]]);
    let mut result = 0u32;
    for (i, byte) in input.iter().enumerate() {
        for bit in 0..8 {
            if byte & (0x80 >> bit) != 0 {
                result ^= window;
            }
            window = (window << 1) | key_bit(32 + i * 8 + bit);
        }
    }
    result
}

/// The flow hash function of a context (Toeplitz with its key).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowHasher {
    /// The 40-byte Toeplitz key.
    pub key: [u8; 40],
}

impl Default for FlowHasher {
    fn default() -> Self {
        FlowHasher {
            key: MICROSOFT_RSS_KEY,
        }
    }
}

impl FlowHasher {
    /// Hash of a TCP/UDP over IPv4 packet with these header fields.
    pub fn ipv4_ports(&self, src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> u32 {
        let mut b = [0u8; 12];
        b[..4].copy_from_slice(&src);
        b[4..8].copy_from_slice(&dst);
        b[8..10].copy_from_slice(&sport.to_be_bytes());
        b[10..].copy_from_slice(&dport.to_be_bytes());
        toeplitz(&self.key, &b)
    }

    /// Hash of an IPv4 packet without ports (other protocols, fragments).
    pub fn ipv4_pair(&self, src: [u8; 4], dst: [u8; 4]) -> u32 {
        let mut b = [0u8; 8];
        b[..4].copy_from_slice(&src);
        b[4..].copy_from_slice(&dst);
        toeplitz(&self.key, &b)
    }

    /// Hash of a TCP/UDP over IPv6 packet.
    pub fn ipv6_ports(&self, src: [u8; 16], dst: [u8; 16], sport: u16, dport: u16) -> u32 {
        let mut b = [0u8; 36];
        b[..16].copy_from_slice(&src);
        b[16..32].copy_from_slice(&dst);
        b[32..34].copy_from_slice(&sport.to_be_bytes());
        b[34..].copy_from_slice(&dport.to_be_bytes());
        toeplitz(&self.key, &b)
    }

    /// Hash of an IPv6 packet without ports.
    pub fn ipv6_pair(&self, src: [u8; 16], dst: [u8; 16]) -> u32 {
        let mut b = [0u8; 32];
        b[..16].copy_from_slice(&src);
        b[16..].copy_from_slice(&dst);
        toeplitz(&self.key, &b)
    }

    /// Hash of a non-IP frame: destination MAC then source MAC.
    pub fn mac_pair(&self, dst: [u8; 6], src: [u8; 6]) -> u32 {
        let mut b = [0u8; 12];
        b[..6].copy_from_slice(&dst);
        b[6..].copy_from_slice(&src);
        toeplitz(&self.key, &b)
    }
}
