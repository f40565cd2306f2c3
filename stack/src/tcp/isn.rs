//! Keyed secrets of TCP: initial sequence numbers (RFC 6528), SYN cookies
//! (RFC 4987) and ephemeral port selection (RFC 6056).
//!
//! The stack never reads an RNG or a clock: the owner seeds a [`Secret`]
//! (the simulator derives it from its seed, a real deployment from the
//! OS's random source at start-up) and passes the driver's [`Instant`] to
//! every call. All three tools use SipHash-2-4 keyed by that secret; each
//! hashes a distinct domain tag first, so one secret may safely serve all
//! of them (or use [`Secret::derive`] for independent sub-keys).
//!
//! * [`IsnGenerator`] — `ISN = M + F(local, remote, secret)` with `M` a
//!   4-µs clock: unpredictable to off-path attackers, yet increasing for
//!   successive incarnations of one 4-tuple.
//! * [`SynCookies`] — stateless SYN-ACKs for when the SYN queue is full:
//!   the server's ISN carries a MAC, a coarse clock, the MSS and the
//!   window-scale and SACK options; see [`SynCookies`] for the bit layout.
//! * [`EphemeralPorts`] — a keyed, per-destination starting point in the
//!   ephemeral range and a plain iterator over every port of the range.
//!
//! ```
//! use rusty_stack::tcp::isn::{EphemeralPorts, IsnGenerator, Secret, SynCookies};
//! use rusty_stack::time::Instant;
//! use rusty_stack::wire::{Ipv4Addr, TcpSeqNumber};
//!
//! let secret = Secret::new(*b"owner-seeded key");
//! let local = (Ipv4Addr::new(10, 0, 0, 1), 80);
//! let remote = (Ipv4Addr::new(10, 0, 0, 2), 50_000);
//!
//! // RFC 6528: one more every 4 µs, for the same tuple.
//! let isns = IsnGenerator::new(secret);
//! let a = isns.isn(local, remote, Instant::from_micros(100));
//! let b = isns.isn(local, remote, Instant::from_micros(104));
//! assert_eq!(b, a.wrapping_add(1));
//!
//! // SYN cookies: the SYN carried seq = 1000 and MSS 1460.
//! let cookies = SynCookies::new(secret);
//! let client_isn = TcpSeqNumber(1000);
//! let (cookie, sent) = cookies.generate(local, remote, client_isn, 1460, Instant::from_secs(5));
//! assert_eq!(sent.mss, 1460);
//! // The final ACK has seq = client_isn + 1 and ack = cookie + 1.
//! let (seq, ack) = (client_isn + 1, cookie + 1);
//! let info = cookies.validate(local, remote, seq - 1, ack - 1, Instant::from_secs(30));
//! assert_eq!(info, Some(sent));
//!
//! // RFC 6056: try candidates until one is free (and, with RSS, until the
//! // reply flow hashes to this core's queue); then advance.
//! let mut ports = EphemeralPorts::new(secret);
//! let in_use = |p: u16| p % 2 == 0; // stand-in for the stack's checks
//! let port = ports.select(local.0, remote, |p| !in_use(p)).unwrap();
//! assert!((49152..=65535).contains(&port) && port % 2 == 1);
//! ```

use core::fmt;
use core::hash::Hasher;
use core::iter::FusedIterator;
use core::ops::RangeInclusive;

use siphasher::sip::SipHasher24;

use crate::time::{Duration, Instant};
use crate::wire::{Ipv4Addr, TcpSeqNumber};

/// Domain tags: the first byte of every hashed message.
mod domain {
    pub const ISN: u8 = 1;
    pub const COOKIE: u8 = 2;
    pub const PORT_OFFSET: u8 = 3;
    pub const PORT_TABLE: u8 = 4;
    pub const DERIVE: u8 = 5;
}

// ---------------------------------------------------------------------------
// Secret

/// A 128-bit SipHash key, seeded by the stack's owner.
///
/// The stack never generates randomness: the simulator derives the secret
/// from its seed (so runs replay exactly), a deployment draws it from the
/// operating system's random source at start-up. Its `Debug` output does
/// not show the key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Secret([u8; 16]);

impl Secret {
    /// A secret with the given key bytes.
    pub const fn new(bytes: [u8; 16]) -> Secret {
        Secret(bytes)
    }

    /// The key bytes.
    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// An independent sub-key for the purpose named by `label`
    /// (SipHash-2-4 of the label, in two domain-separated halves).
    pub fn derive(&self, label: &[u8]) -> Secret {
        let half = |i: u8| {
            let mut h = SipHasher24::new_with_key(&self.0);
            h.write(&[domain::DERIVE, i]);
            h.write(label);
            h.finish().to_le_bytes()
        };
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&half(0));
        out[8..].copy_from_slice(&half(1));
        Secret(out)
    }

    /// SipHash-2-4 of `msg` keyed by this secret.
    fn sip(&self, msg: &[u8]) -> u64 {
        SipHasher24::new_with_key(&self.0).hash(msg)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// `tag`, local address and port, remote address and port, in network byte
/// order.
fn tuple_message(tag: u8, local: (Ipv4Addr, u16), remote: (Ipv4Addr, u16)) -> [u8; 13] {
    let mut m = [0u8; 13];
    m[0] = tag;
    m[1..5].copy_from_slice(&local.0.octets());
    m[5..7].copy_from_slice(&local.1.to_be_bytes());
    m[7..11].copy_from_slice(&remote.0.octets());
    m[11..13].copy_from_slice(&remote.1.to_be_bytes());
    m
}

// ---------------------------------------------------------------------------
// Initial sequence numbers

/// RFC 6528 initial sequence numbers:
/// `ISN = M + F(localip, localport, remoteip, remoteport, secretkey)`.
///
/// `M` is a 32-bit timer that ticks every 4 µs of the driver's [`Instant`]
/// (wrapping every 4.77 hours, as RFC 9293 §3.4.1 describes); `F` is
/// SipHash-2-4 of the 4-tuple keyed by the [`Secret`], truncated to 32 bits.
/// An off-path attacker cannot predict `F`; a new connection of the same
/// 4-tuple gets a larger ISN than the last one, which keeps old duplicates
/// out.
#[derive(Clone, Debug)]
pub struct IsnGenerator {
    secret: Secret,
}

impl IsnGenerator {
    /// The period of the timer `M`.
    pub const TICK: Duration = Duration::from_micros(4);

    /// A generator keyed by `secret`.
    pub const fn new(secret: Secret) -> IsnGenerator {
        IsnGenerator { secret }
    }

    /// The timer `M` at `now`: the number of 4-µs periods since the
    /// driver's epoch, modulo 2³².
    pub const fn clock(now: Instant) -> u32 {
        (now.as_nanos() / Self::TICK.as_nanos()) as u32
    }

    /// The per-connection offset `F(local, remote, secret)`.
    pub fn offset(&self, local: (Ipv4Addr, u16), remote: (Ipv4Addr, u16)) -> u32 {
        self.secret.sip(&tuple_message(domain::ISN, local, remote)) as u32
    }

    /// The ISN for a connection from `local` to `remote` opened at `now`.
    pub fn isn(
        &self,
        local: (Ipv4Addr, u16),
        remote: (Ipv4Addr, u16),
        now: Instant,
    ) -> TcpSeqNumber {
        TcpSeqNumber(Self::clock(now).wrapping_add(self.offset(local, remote)))
    }
}

// ---------------------------------------------------------------------------
// SYN cookies

/// What a SYN cookie remembers of the SYN: the options a connection
/// established from it will use.
///
/// Timestamps are not encoded: once negotiated (both SYN and SYN-ACK
/// carried TSopt), every segment carries a TSopt (RFC 7323 §3.2), so the
/// stack learns it from the handshake's final ACK itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct CookieInfo {
    /// The peer's MSS, rounded down to an entry of
    /// [`SynCookies::MSS_TABLE`].
    pub mss: u16,
    /// The peer's window-scale shift (0..=14), or `None` if its SYN had no
    /// window-scale option (then neither side scales, RFC 7323 §2.2).
    pub window_scale: Option<u8>,
    /// Whether the SYN carried SACK-permitted (RFC 2018).
    pub sack_permitted: bool,
}

impl CookieInfo {
    /// A SYN that carried only an MSS option.
    pub const fn mss_only(mss: u16) -> CookieInfo {
        CookieInfo {
            mss,
            window_scale: None,
            sack_permitted: false,
        }
    }

    /// What a cookie can encode of `self`: the MSS rounded down to the
    /// table (to its smallest entry if below it), the shift clamped to 14.
    pub fn encodable(self) -> CookieInfo {
        let idx = SynCookies::mss_index(self.mss);
        CookieInfo {
            mss: SynCookies::MSS_TABLE[idx],
            window_scale: self.window_scale.map(|s| s.min(14)),
            sack_permitted: self.sack_permitted,
        }
    }
}

/// RFC 4987 SYN cookies: when the SYN queue is full, the listener answers
/// a SYN without keeping state, encoding what it needs in its own ISN,
/// and rebuilds the connection from the handshake's final ACK.
///
/// ## The cookie (the server's ISN)
///
/// ```text
///  31                                  10  9  8  7   5  4     1  0
/// +--------------------------------------+-----+-----+--------+----+
/// |            MAC (22 bits)             | cnt | mss | wscale |sack|
/// +--------------------------------------+-----+-----+--------+----+
/// ```
///
/// * `sack` (bit 0): the SYN carried SACK-permitted.
/// * `wscale` (bits 1–4): the peer's window-scale shift, 0–14; 15 means
///   the SYN had no window-scale option.
/// * `mss` (bits 5–7): an index into [`SynCookies::MSS_TABLE`], the largest
///   entry not above the peer's MSS.
/// * `cnt` (bits 8–9): the low 2 bits of the time counter, which counts
///   [`SynCookies::TICK`]s (64 s) of the driver's clock.
/// * MAC (bits 10–31): the low 22 bits of SipHash-2-4, keyed by the
///   [`Secret`], over a domain tag, the 4-tuple, the client's ISN, the
///   full 64-bit counter and the low 10 bits above.
///
/// A cookie validates for [`SynCookies::MAX_AGE_TICKS`] + 1 counter
/// values — the current tick and the two before it — so it lives at least
/// 128 s and at most 192 s. Anything else (a flipped bit, a different
/// tuple or client ISN, a stale counter) fails the MAC, except by a
/// 2⁻²² chance per forged ACK.
///
/// ## Using cookies
///
/// * The SYN-ACK must offer exactly what [`SynCookies::generate`] reports
///   as encoded: a window-scale option only if `window_scale` is `Some`
///   (with a shift of the stack's own that it can recompute, i.e. a fixed,
///   configured one), SACK-permitted only if `sack_permitted`, an MSS of
///   the stack's own; timestamps if the SYN had them.
/// * For the handshake's final ACK (a bare ACK matching no connection on a
///   listening port), call [`SynCookies::validate`] with
///   `client_isn = seg.seq - 1` and `cookie = seg.ack - 1`.
/// * Data sent by the peer with the final ACK is fine to accept; the
///   peer's window field of that ACK is its first window update.
#[derive(Clone, Debug)]
pub struct SynCookies {
    secret: Secret,
}

const COOKIE_SACK_BIT: u32 = 1;
const COOKIE_WS_SHIFT: u32 = 1;
const COOKIE_WS_MASK: u32 = 0xf;
const COOKIE_WS_NONE: u32 = 15;
const COOKIE_MSS_SHIFT: u32 = 5;
const COOKIE_MSS_MASK: u32 = 0x7;
const COOKIE_CNT_SHIFT: u32 = 8;
const COOKIE_CNT_MASK: u64 = 0x3;
const COOKIE_DATA_BITS: u32 = 10;
const COOKIE_DATA_MASK: u32 = (1 << COOKIE_DATA_BITS) - 1;

impl SynCookies {
    /// The period of the cookie time counter.
    pub const TICK: Duration = Duration::from_secs(64);

    /// How many ticks old a cookie may be: 0 (this tick), 1 or 2. The
    /// 2-bit counter field tells these apart from age 3; older cookies
    /// alias to a younger age and fail the MAC, which covers the full
    /// counter.
    pub const MAX_AGE_TICKS: u64 = 2;

    /// The MSS values a cookie can encode (3 bits), after FreeBSD's table:
    /// 216 for the smallest paths, 536 (the IPv4 default, RFC 9293
    /// §3.7.1), 1200–1440 for tunnels, PPPoE and IPv6-derived limits, 1460
    /// for Ethernet, 8960 for jumbo frames.
    pub const MSS_TABLE: [u16; 8] = [216, 536, 1200, 1360, 1400, 1440, 1460, 8960];

    /// Cookies keyed by `secret`.
    pub const fn new(secret: Secret) -> SynCookies {
        SynCookies { secret }
    }

    /// The index of the largest [`Self::MSS_TABLE`] entry not above `mss`
    /// (0 if `mss` is below them all).
    pub fn mss_index(mss: u16) -> usize {
        Self::MSS_TABLE.iter().rposition(|&m| m <= mss).unwrap_or(0)
    }

    /// The counter value at `now`.
    pub const fn counter(now: Instant) -> u64 {
        now.as_nanos() / Self::TICK.as_nanos()
    }

    fn mac(
        &self,
        local: (Ipv4Addr, u16),
        remote: (Ipv4Addr, u16),
        client_isn: TcpSeqNumber,
        counter: u64,
        data: u32,
    ) -> u32 {
        let mut m = [0u8; 13 + 4 + 8 + 2];
        m[..13].copy_from_slice(&tuple_message(domain::COOKIE, local, remote));
        m[13..17].copy_from_slice(&client_isn.0.to_be_bytes());
        m[17..25].copy_from_slice(&counter.to_be_bytes());
        m[25..27].copy_from_slice(&((data & COOKIE_DATA_MASK) as u16).to_be_bytes());
        (self.secret.sip(&m) as u32) & (u32::MAX >> COOKIE_DATA_BITS)
    }

    /// The cookie for a SYN from `remote` to `local` with sequence number
    /// `client_isn` and MSS option `mss` (pass 536 if it had none): the
    /// ISN of the SYN-ACK, and what it encodes (no window scaling, no SACK).
    pub fn generate(
        &self,
        local: (Ipv4Addr, u16),
        remote: (Ipv4Addr, u16),
        client_isn: TcpSeqNumber,
        mss: u16,
        now: Instant,
    ) -> (TcpSeqNumber, CookieInfo) {
        self.generate_with_options(local, remote, client_isn, CookieInfo::mss_only(mss), now)
    }

    /// The cookie for a SYN that carried the `options`: the ISN of the
    /// SYN-ACK, and what it encodes ([`CookieInfo::encodable`]), which is
    /// what the SYN-ACK must offer.
    pub fn generate_with_options(
        &self,
        local: (Ipv4Addr, u16),
        remote: (Ipv4Addr, u16),
        client_isn: TcpSeqNumber,
        options: CookieInfo,
        now: Instant,
    ) -> (TcpSeqNumber, CookieInfo) {
        let counter = Self::counter(now);
        let ws = match options.window_scale {
            Some(s) => u32::from(s.min(14)),
            None => COOKIE_WS_NONE,
        };
        let data = ((counter & COOKIE_CNT_MASK) as u32) << COOKIE_CNT_SHIFT
            | (Self::mss_index(options.mss) as u32) << COOKIE_MSS_SHIFT
            | ws << COOKIE_WS_SHIFT
            | u32::from(options.sack_permitted);
        let mac = self.mac(local, remote, client_isn, counter, data);
        (
            TcpSeqNumber(mac << COOKIE_DATA_BITS | data),
            options.encodable(),
        )
    }

    /// Checks the final ACK of a cookie handshake: `client_isn` is the
    /// ACK's `seq - 1`, `cookie` its `ack - 1`. Returns what the cookie
    /// encoded if it was made by these keys for this 4-tuple and client ISN
    /// at most [`Self::MAX_AGE_TICKS`] ticks before `now`.
    pub fn validate(
        &self,
        local: (Ipv4Addr, u16),
        remote: (Ipv4Addr, u16),
        client_isn: TcpSeqNumber,
        cookie: TcpSeqNumber,
        now: Instant,
    ) -> Option<CookieInfo> {
        let data = cookie.0 & COOKIE_DATA_MASK;
        let current = Self::counter(now);
        let sent = u64::from(data >> COOKIE_CNT_SHIFT) & COOKIE_CNT_MASK;
        let age = current.wrapping_sub(sent) & COOKIE_CNT_MASK;
        if age > Self::MAX_AGE_TICKS {
            return None;
        }
        let counter = current.checked_sub(age)?;
        if cookie.0 >> COOKIE_DATA_BITS != self.mac(local, remote, client_isn, counter, data) {
            return None;
        }
        let ws = (data >> COOKIE_WS_SHIFT) & COOKIE_WS_MASK;
        Some(CookieInfo {
            mss: Self::MSS_TABLE[((data >> COOKIE_MSS_SHIFT) & COOKIE_MSS_MASK) as usize],
            window_scale: (ws != COOKIE_WS_NONE).then_some(ws as u8),
            sack_permitted: data & COOKIE_SACK_BIT != 0,
        })
    }
}

// ---------------------------------------------------------------------------
// Ephemeral ports

/// Number of per-destination counters of [`EphemeralPorts`].
pub const PORT_TABLE_LEN: usize = 64;

/// RFC 6056 ephemeral port selection: keyed, per-destination offsets into
/// the ephemeral range.
///
/// For a connection from `local` to `remote`, candidates are tried in
/// order from index `(F(local, remote) + counter) mod n` of the `n`-port
/// range, wrapping around, until every port has been offered once. `F` is
/// SipHash-2-4 keyed by the [`Secret`] (RFC 6056 §3.3.3, Algorithm 3,
/// "simple hash-based"); `counter` is not a single global `next_ephemeral`
/// but one of [`PORT_TABLE_LEN`] counters picked by a second keyed hash of
/// the destination (§3.3.4, Algorithm 4, "double-hash"), so connecting to
/// one destination reveals nothing about the ports used for others.
///
/// The stack, which knows which ports are taken, does the filtering:
///
/// 1. iterate [`EphemeralPorts::candidates`], skipping ports in use or in
///    TIME-WAIT towards `remote`, and — on a multi-queue NIC — ports whose
///    reply flow ([`crate::nic::rss::RssTable::queue_for`] of the tuple with
///    `src` = `remote`, `dst` = the local address and candidate port) does
///    not reach this core's queue;
/// 2. then [`EphemeralPorts::advance`] by [`Candidates::tried`], as RFC
///    6056 increments `next_ephemeral` once per port tried.
///
/// [`EphemeralPorts::select`] does both for a predicate.
#[derive(Clone)]
pub struct EphemeralPorts {
    secret: Secret,
    first: u16,
    /// Number of ports in the range, 1..=65536.
    len: u32,
    counters: [u32; PORT_TABLE_LEN],
}

impl EphemeralPorts {
    /// The default range, IANA's dynamic ports (RFC 6335): 49152..=65535.
    pub const DEFAULT_RANGE: RangeInclusive<u16> = 49152..=65535;

    /// Ports from [`Self::DEFAULT_RANGE`], keyed by `secret`, counters at 0.
    pub fn new(secret: Secret) -> EphemeralPorts {
        EphemeralPorts {
            secret,
            first: *Self::DEFAULT_RANGE.start(),
            len: u32::from(*Self::DEFAULT_RANGE.end() - *Self::DEFAULT_RANGE.start()) + 1,
            counters: [0; PORT_TABLE_LEN],
        }
    }

    /// Ports from `range` (e.g. Linux's default `32768..=60999`), or `None`
    /// if it is empty.
    pub fn with_range(secret: Secret, range: RangeInclusive<u16>) -> Option<EphemeralPorts> {
        let (first, last) = (*range.start(), *range.end());
        if first > last {
            return None;
        }
        Some(EphemeralPorts {
            secret,
            first,
            len: u32::from(last - first) + 1,
            counters: [0; PORT_TABLE_LEN],
        })
    }

    /// The range.
    pub fn range(&self) -> RangeInclusive<u16> {
        // len >= 1 and first + len - 1 <= 65535 by construction.
        self.first..=(u32::from(self.first) + self.len - 1) as u16
    }

    /// The number of ports in the range (1 to 65536).
    pub const fn port_count(&self) -> u32 {
        self.len
    }

    fn dest_message(tag: u8, local: Ipv4Addr, remote: (Ipv4Addr, u16)) -> [u8; 11] {
        let mut m = [0u8; 11];
        m[0] = tag;
        m[1..5].copy_from_slice(&local.octets());
        m[5..9].copy_from_slice(&remote.0.octets());
        m[9..11].copy_from_slice(&remote.1.to_be_bytes());
        m
    }

    fn counter_index(&self, local: Ipv4Addr, remote: (Ipv4Addr, u16)) -> usize {
        let h = self
            .secret
            .sip(&Self::dest_message(domain::PORT_TABLE, local, remote));
        (h % PORT_TABLE_LEN as u64) as usize
    }

    /// The index into the range where the next search towards `remote`
    /// starts: `(F(local, remote) + counter) mod n`.
    pub fn next_offset(&self, local: Ipv4Addr, remote: (Ipv4Addr, u16)) -> u32 {
        let f = self
            .secret
            .sip(&Self::dest_message(domain::PORT_OFFSET, local, remote)) as u32;
        let counter = self.counters[self.counter_index(local, remote)];
        ((u64::from(f) + u64::from(counter)) % u64::from(self.len)) as u32
    }

    /// Every port of the range exactly once, starting at
    /// [`Self::next_offset`] and wrapping around. The iterator is plain
    /// state (no allocation, no borrow of `self`).
    pub fn candidates(&self, local: Ipv4Addr, remote: (Ipv4Addr, u16)) -> Candidates {
        Candidates {
            first: self.first,
            len: self.len,
            start: self.next_offset(local, remote),
            tried: 0,
        }
    }

    /// Moves the counter of `remote`'s destination on by `tried` ports
    /// (the [`Candidates::tried`] of the search that found a port).
    pub fn advance(&mut self, local: Ipv4Addr, remote: (Ipv4Addr, u16), tried: u32) {
        let i = self.counter_index(local, remote);
        self.counters[i] = self.counters[i].wrapping_add(tried);
    }

    /// The first candidate for which `suitable` holds, advancing the
    /// destination's counter by the number of ports tried; `None` (and the
    /// counter unchanged) if no port of the range is suitable.
    pub fn select(
        &mut self,
        local: Ipv4Addr,
        remote: (Ipv4Addr, u16),
        mut suitable: impl FnMut(u16) -> bool,
    ) -> Option<u16> {
        let mut candidates = self.candidates(local, remote);
        let port = candidates.find(|&p| suitable(p))?;
        self.advance(local, remote, candidates.tried());
        Some(port)
    }
}

impl fmt::Debug for EphemeralPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EphemeralPorts")
            .field("range", &self.range())
            .finish_non_exhaustive()
    }
}

/// The ports of an [`EphemeralPorts`] range in search order, each exactly
/// once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidates {
    first: u16,
    len: u32,
    start: u32,
    tried: u32,
}

impl Candidates {
    /// How many ports the iterator has yielded so far.
    pub const fn tried(&self) -> u32 {
        self.tried
    }
}

impl Iterator for Candidates {
    type Item = u16;

    fn next(&mut self) -> Option<u16> {
        if self.tried >= self.len {
            return None;
        }
        // start < len and tried < len, so the sum fits and the port is at
        // most first + len - 1 <= 65535.
        let index = (self.start + self.tried) % self.len;
        self.tried += 1;
        Some((u32::from(self.first) + index) as u16)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = (self.len - self.tried) as usize;
        (left, Some(left))
    }
}

impl ExactSizeIterator for Candidates {}

impl FusedIterator for Candidates {}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: Secret = Secret::new(*b"0123456789abcdef");
    const LOCAL: (Ipv4Addr, u16) = (Ipv4Addr::new(192, 168, 1, 1), 80);
    const REMOTE: (Ipv4Addr, u16) = (Ipv4Addr::new(203, 0, 113, 7), 40000);

    #[test]
    fn isn_deterministic_and_keyed() {
        let g = IsnGenerator::new(KEY);
        let now = Instant::from_millis(1234);
        assert_eq!(g.isn(LOCAL, REMOTE, now), g.isn(LOCAL, REMOTE, now));
        assert_eq!(
            g.isn(LOCAL, REMOTE, now),
            IsnGenerator::new(KEY).isn(LOCAL, REMOTE, now)
        );
        let other = IsnGenerator::new(Secret::new(*b"0123456789abcdeg"));
        assert_ne!(g.isn(LOCAL, REMOTE, now), other.isn(LOCAL, REMOTE, now));
        // Swapping ends or changing a port changes F.
        assert_ne!(g.offset(LOCAL, REMOTE), g.offset(REMOTE, LOCAL));
        assert_ne!(g.offset(LOCAL, REMOTE), g.offset(LOCAL, (REMOTE.0, 40001)));
    }

    #[test]
    fn isn_is_f_plus_4us_clock() {
        let g = IsnGenerator::new(KEY);
        let f = g.offset(LOCAL, REMOTE);
        assert_eq!(g.isn(LOCAL, REMOTE, Instant::ZERO), TcpSeqNumber(f));
        assert_eq!(
            g.isn(LOCAL, REMOTE, Instant::from_nanos(3_999)),
            TcpSeqNumber(f)
        );
        assert_eq!(
            g.isn(LOCAL, REMOTE, Instant::from_micros(4)),
            TcpSeqNumber(f.wrapping_add(1))
        );
        assert_eq!(
            g.isn(LOCAL, REMOTE, Instant::from_secs(1)),
            TcpSeqNumber(f.wrapping_add(250_000))
        );
        // M wraps after 2^32 ticks (about 4.77 hours).
        let wrap = Instant::from_micros(4 * (1u64 << 32));
        assert_eq!(g.isn(LOCAL, REMOTE, wrap), TcpSeqNumber(f));
        assert_eq!(IsnGenerator::clock(Instant::MAX), (u64::MAX / 4000) as u32);
    }

    #[test]
    fn isn_secret_debug_is_redacted_and_derive_differs() {
        assert_eq!(format!("{KEY:?}"), "Secret(..)");
        let a = KEY.derive(b"isn");
        let b = KEY.derive(b"cookies");
        assert_ne!(a, b);
        assert_ne!(a, KEY);
        assert_eq!(a, KEY.derive(b"isn"));
        assert_eq!(KEY.as_bytes(), b"0123456789abcdef");
    }

    #[test]
    fn isn_cookie_round_trip_every_mss() {
        let c = SynCookies::new(KEY);
        let now = Instant::from_secs(1000);
        for (i, &mss) in SynCookies::MSS_TABLE.iter().enumerate() {
            assert_eq!(SynCookies::mss_index(mss), i);
            let isn = TcpSeqNumber(0xdead_beef ^ i as u32);
            let (cookie, sent) = c.generate(LOCAL, REMOTE, isn, mss, now);
            assert_eq!(sent, CookieInfo::mss_only(mss));
            assert_eq!(c.validate(LOCAL, REMOTE, isn, cookie, now), Some(sent));
            // One above the entry still encodes the entry.
            let (cookie, sent) = c.generate(LOCAL, REMOTE, isn, mss + 1, now);
            assert_eq!(sent.mss, mss);
            assert_eq!(c.validate(LOCAL, REMOTE, isn, cookie, now), Some(sent));
        }
        // Below the table: its smallest entry.
        assert_eq!(SynCookies::mss_index(100), 0);
        assert_eq!(SynCookies::mss_index(u16::MAX), 7);
        assert_eq!(SynCookies::mss_index(1459), 5);
    }

    #[test]
    fn isn_cookie_round_trip_options() {
        let c = SynCookies::new(KEY);
        let now = Instant::from_secs(77);
        for ws in [None, Some(0), Some(7), Some(14), Some(15), Some(200)] {
            for sack in [false, true] {
                let want = CookieInfo {
                    mss: 1460,
                    window_scale: ws,
                    sack_permitted: sack,
                };
                let (cookie, sent) =
                    c.generate_with_options(LOCAL, REMOTE, TcpSeqNumber(5), want, now);
                assert_eq!(sent.window_scale, ws.map(|s| s.min(14)));
                assert_eq!(sent.sack_permitted, sack);
                assert_eq!(sent, want.encodable());
                assert_eq!(
                    c.validate(LOCAL, REMOTE, TcpSeqNumber(5), cookie, now),
                    Some(sent)
                );
            }
        }
    }

    #[test]
    fn isn_cookie_rejects_tampering() {
        let c = SynCookies::new(KEY);
        let now = Instant::from_secs(500);
        let isn = TcpSeqNumber(42);
        let (cookie, _) = c.generate(LOCAL, REMOTE, isn, 1460, now);
        for bit in 0..32 {
            let bad = TcpSeqNumber(cookie.0 ^ (1 << bit));
            assert_eq!(c.validate(LOCAL, REMOTE, isn, bad, now), None, "bit {bit}");
        }
        assert_eq!(c.validate(LOCAL, REMOTE, isn + 1, cookie, now), None);
        assert_eq!(c.validate(LOCAL, (REMOTE.0, 40001), isn, cookie, now), None);
        assert_eq!(c.validate((LOCAL.0, 81), REMOTE, isn, cookie, now), None);
        assert_eq!(c.validate(REMOTE, LOCAL, isn, cookie, now), None);
        let other = SynCookies::new(KEY.derive(b"x"));
        assert_eq!(other.validate(LOCAL, REMOTE, isn, cookie, now), None);
    }

    #[test]
    fn isn_cookie_age_window() {
        let c = SynCookies::new(KEY);
        let isn = TcpSeqNumber(7);
        let t0 = Instant::from_secs(64 * 100 + 63); // last second of tick 100
        let (cookie, sent) = c.generate(LOCAL, REMOTE, isn, 1440, t0);
        // Valid through the end of tick 102, i.e. at least 128 s.
        for secs in [0, 1, 64, 128] {
            let now = t0 + Duration::from_secs(secs);
            assert_eq!(
                c.validate(LOCAL, REMOTE, isn, cookie, now),
                Some(sent),
                "{secs}"
            );
        }
        // Tick 103 onwards: too old, including when the 2-bit counter
        // aliases back to a valid age (ticks 104-106, 108...).
        for secs in [129, 193, 256, 300, 64 * 8, 64 * 1000] {
            let now = t0 + Duration::from_secs(secs);
            assert_eq!(c.validate(LOCAL, REMOTE, isn, cookie, now), None, "{secs}");
        }
        // From the future (clock went backwards): rejected.
        let early = Instant::from_secs(64 * 99);
        assert_eq!(c.validate(LOCAL, REMOTE, isn, cookie, early), None);
        // Near the epoch, age cannot exceed the counter.
        let (cookie0, _) = c.generate(LOCAL, REMOTE, isn, 536, Instant::ZERO);
        assert!(c
            .validate(LOCAL, REMOTE, isn, cookie0, Instant::from_secs(130))
            .is_some());
        assert_eq!(
            c.validate(LOCAL, REMOTE, isn, TcpSeqNumber(3 << 8), Instant::ZERO),
            None
        );
    }

    #[test]
    fn isn_ephemeral_default_range_full_coverage() {
        let ports = EphemeralPorts::new(KEY);
        assert_eq!(ports.range(), 49152..=65535);
        assert_eq!(ports.port_count(), 16384);
        let c = ports.candidates(LOCAL.0, REMOTE);
        assert_eq!(c.len(), 16384);
        let mut seen = vec![false; 65536];
        let mut first = None;
        for p in c {
            first.get_or_insert(p);
            assert!((49152..=65535).contains(&p));
            assert!(!seen[usize::from(p)], "{p} twice");
            seen[usize::from(p)] = true;
        }
        assert_eq!(seen.iter().filter(|&&s| s).count(), 16384);
        assert_eq!(
            first,
            Some(49152 + ports.next_offset(LOCAL.0, REMOTE) as u16)
        );
    }

    #[test]
    fn isn_ephemeral_advance_and_select() {
        let mut ports = EphemeralPorts::new(KEY);
        let start = ports.next_offset(LOCAL.0, REMOTE);
        let p0 = ports.candidates(LOCAL.0, REMOTE).next().unwrap();
        // The first candidate is suitable: one tried, counter + 1.
        assert_eq!(ports.select(LOCAL.0, REMOTE, |_| true), Some(p0));
        assert_eq!(
            ports.next_offset(LOCAL.0, REMOTE),
            (start + 1) % ports.port_count()
        );
        // Skip three: four tried.
        let want = ports.candidates(LOCAL.0, REMOTE).nth(3).unwrap();
        let mut n = 0;
        assert_eq!(
            ports.select(LOCAL.0, REMOTE, |_| {
                n += 1;
                n == 4
            }),
            Some(want)
        );
        assert_eq!(
            ports.next_offset(LOCAL.0, REMOTE),
            (start + 5) % ports.port_count()
        );
        // Nothing suitable: None, counter unchanged.
        assert_eq!(ports.select(LOCAL.0, REMOTE, |_| false), None);
        assert_eq!(
            ports.next_offset(LOCAL.0, REMOTE),
            (start + 5) % ports.port_count()
        );
        // Different destinations start at unrelated offsets (with this key).
        let other = (Ipv4Addr::new(198, 51, 100, 1), 443);
        assert_ne!(
            ports.next_offset(LOCAL.0, REMOTE),
            ports.next_offset(LOCAL.0, other)
        );
    }

    #[test]
    fn isn_ephemeral_ranges() {
        assert!(EphemeralPorts::with_range(KEY, RangeInclusive::new(10, 9)).is_none());
        let one = EphemeralPorts::with_range(KEY, 7..=7).unwrap();
        assert_eq!(one.candidates(LOCAL.0, REMOTE).collect::<Vec<_>>(), [7]);
        let all = EphemeralPorts::with_range(KEY, 0..=65535).unwrap();
        assert_eq!(all.port_count(), 65536);
        assert_eq!(all.range(), 0..=65535);
        let mut c = all.candidates(LOCAL.0, REMOTE);
        assert_eq!(c.by_ref().count(), 65536);
        assert_eq!(c.tried(), 65536);
        assert_eq!(c.next(), None);
        let linux = EphemeralPorts::with_range(KEY, 32768..=60999).unwrap();
        assert_eq!(
            format!("{linux:?}"),
            "EphemeralPorts { range: 32768..=60999, .. }"
        );
    }
}
