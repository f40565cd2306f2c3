//! Seeded randomness: independent ChaCha8 streams derived from one seed.
//!
//! A simulation has one `u64` seed. Every consumer of randomness (each
//! direction of each link, each host, each core, each workload) draws from
//! its own [`ChaCha8Rng`] stream, obtained with [`Seeds::stream`] from a
//! label and an index, for example `("link", 3)` or `("host", 0)`. A
//! stream depends only on `(seed, label, index)`, never on which other
//! streams exist or how much they were used, so adding a host or a link
//! leaves every other stream, and therefore every other random decision,
//! exactly as it was.
//!
//! The derivation is SHA-256 over a fixed byte encoding of the inputs (see
//! [`Seeds::stream_seed`]), and the 32-byte digest is the ChaCha key. Both
//! are specified algorithms with fixed outputs, so streams are identical on
//! every platform and with every Rust version. `std`'s `DefaultHasher` is not
//! used on purpose: its algorithm is explicitly unspecified and may change
//! between Rust releases, which would silently change every seeded run.
//!
//! # The tree
//!
//! Every random choice of a simulation comes from this one tree, with no
//! other mixing of seeds anywhere (no XOR, rotation or ad-hoc generator
//! seeding another). A component with streams of its own gets a
//! [`Seeds::subtree`] and names its streams inside it:
//!
//! | stream | decides |
//! |---|---|
//! | `("link-a-to-b", l)`, `("link-b-to-a", l)` | the faults of link `l`, per direction |
//! | subtree `("server", 0)` → `("tcp-secret", i)` | the TCP secret of the server's stack `i` |
//! | subtree `("client", seed_offset)` → `("tcp-secret", i)` | the TCP secret of the Rusty client's stack `i` |
//! | … → `("http-client", i)` | the page choices of the HTTP load client of stack `i` |
//! | … → `("smoltcp-random", i)` | smoltcp's `random_seed` (its ISNs) on interface `i` |
//! | … → `("smoltcp-ports", i)` | where interface `i`'s ephemeral port cycle starts |
//! | … → `("smoltcp-pages", i)` | the page choices on interface `i` |
//!
//! where `i` is [`core_port_index`]`(core, port)`. The two-host harness of
//! the interop tests ([`crate::hosts::interop`]) uses its own tree per run:
//! `("link-a-to-b", 0)` and `("link-b-to-a", 0)` for its link, subtree
//! `("rusty-peer", 0)` → `("tcp-secret", w)` and `("http-client", w)` for
//! Rusty, and subtree `("smoltcp-peer", 0)` → `("smoltcp-random", 0)` for
//! smoltcp. Components outside the
//! simulator that take a plain `u64` seed or a key (the stack's apps, the
//! stack's TCP secret, smoltcp) get one with [`Seeds::seed_u64`] or
//! [`Seeds::key16`], drawn from their own stream.
//!
//! The helpers [`bernoulli`], [`unit_f64`], [`below`] and
//! [`uniform_duration`] turn raw draws into decisions with exact,
//! documented consumption, so a run can be reasoned about draw by draw.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use rusty_stack::time::Duration;
use sha2::{Digest, Sha256};

/// Domain separation for [`Seeds::stream_seed`]; changing it changes every
/// stream of every simulation.
const DOMAIN: &[u8] = b"rusty-sim stream v1\0";

/// Domain separation for [`Seeds::subtree`], so that a subtree's seed is
/// never the key of a stream with the same label and index.
const SUBTREE_DOMAIN: &[u8] = b"rusty-sim subtree v1\0";

/// The root of a simulation's randomness: one `u64` seed from which every
/// stream is derived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Seeds {
    /// The simulation's seed.
    pub seed: u64,
}

impl Seeds {
    /// The streams of `seed`.
    pub const fn new(seed: u64) -> Self {
        Seeds { seed }
    }

    /// The 32-byte ChaCha key of stream `(label, index)`: SHA-256 of
    /// `"rusty-sim stream v1\0" ‖ seed (u64 LE) ‖ label length (u64 LE) ‖
    /// label bytes ‖ index (u64 LE)`. The length prefix keeps
    /// `("ab", …)` and `("a", …)` followed by other bytes apart.
    pub fn stream_seed(&self, label: &str, index: u64) -> [u8; 32] {
        self.digest(DOMAIN, label, index)
    }

    /// SHA-256 of `domain ‖ seed ‖ label length ‖ label ‖ index` (integers
    /// as u64 LE).
    fn digest(&self, domain: &[u8], label: &str, index: u64) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(domain);
        h.update(self.seed.to_le_bytes());
        h.update((label.len() as u64).to_le_bytes());
        h.update(label.as_bytes());
        h.update(index.to_le_bytes());
        h.finalize().into()
    }

    /// The random stream named `(label, index)`, independent of every other
    /// stream of this seed.
    pub fn stream(&self, label: &str, index: u64) -> ChaCha8Rng {
        ChaCha8Rng::from_seed(self.stream_seed(label, index))
    }

    /// The seeds of a component that has streams of its own (a host, say):
    /// a new root whose seed is the first 8 bytes (LE) of SHA-256 of
    /// `"rusty-sim subtree v1\0" ‖ seed ‖ label length ‖ label ‖ index`.
    /// Its streams are as independent of this tree's as two trees' are, and
    /// the component can name its streams without knowing where it sits.
    pub fn subtree(&self, label: &str, index: u64) -> Seeds {
        let d = self.digest(SUBTREE_DOMAIN, label, index);
        Seeds::new(u64::from_le_bytes([
            d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7],
        ]))
    }

    /// A `u64` seed for a component with its own generator (an app's page
    /// choices, smoltcp's `random_seed`): the first draw of stream
    /// `(label, index)`.
    pub fn seed_u64(&self, label: &str, index: u64) -> u64 {
        self.stream(label, index).next_u64()
    }

    /// A 16-byte key (a TCP secret): the first 16 bytes of stream
    /// `(label, index)`.
    pub fn key16(&self, label: &str, index: u64) -> [u8; 16] {
        let mut key = [0; 16];
        self.stream(label, index).fill_bytes(&mut key);
        key
    }
}

/// The stream index of `(core, port)` of a host: the core in the high 32
/// bits, the port in the low 32, so indices never collide whatever the
/// number of ports.
pub const fn core_port_index(core: usize, port: usize) -> u64 {
    ((core as u64) << 32) | (port as u64 & 0xffff_ffff)
}

/// A uniform `f64` in `[0, 1)` with 53 random bits; consumes one `u64`.
pub fn unit_f64<R: RngCore + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// `true` with probability `p`; consumes exactly one `u64` whatever `p` is.
/// Exact at the ends: never `true` for `p <= 0` (or NaN), always `true` for
/// `p >= 1`.
pub fn bernoulli<R: RngCore + ?Sized>(rng: &mut R, p: f64) -> bool {
    unit_f64(rng) < p
}

/// A uniform integer in `[0, n)` without modulo bias (rejection sampling;
/// usually one `u64`). Returns 0 for `n == 0` without drawing.
pub fn below<R: RngCore + ?Sized>(rng: &mut R, n: u64) -> u64 {
    if n == 0 {
        return 0;
    }
    // Largest multiple of n that fits: draws at or above it are rejected.
    let zone = u64::MAX - (u64::MAX - n + 1) % n;
    loop {
        let x = rng.next_u64();
        if x <= zone {
            return x % n;
        }
    }
}

/// A uniform duration in `[0, max]`, both ends included, at nanosecond
/// resolution. Returns zero for `max == 0` without drawing.
pub fn uniform_duration<R: RngCore + ?Sized>(rng: &mut R, max: Duration) -> Duration {
    let max = max.as_nanos();
    let ns = match max {
        0 => 0,
        u64::MAX => rng.next_u64(),
        _ => below(rng, max + 1),
    };
    Duration::from_nanos(ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(rng: &mut ChaCha8Rng, n: usize) -> Vec<u64> {
        (0..n).map(|_| rng.next_u64()).collect()
    }

    #[test]
    fn same_inputs_same_stream() {
        let s = Seeds::new(42);
        assert_eq!(
            take(&mut s.stream("link", 3), 64),
            take(&mut s.stream("link", 3), 64)
        );
        assert_eq!(
            take(&mut Seeds::new(42).stream("host", 0), 8),
            take(&mut Seeds { seed: 42 }.stream("host", 0), 8)
        );
    }

    #[test]
    fn different_inputs_differ() {
        let s = Seeds::new(42);
        let base = take(&mut s.stream("link", 3), 4);
        assert_ne!(base, take(&mut s.stream("link", 4), 4));
        assert_ne!(base, take(&mut s.stream("host", 3), 4));
        assert_ne!(base, take(&mut Seeds::new(43).stream("link", 3), 4));
        // Length prefix: these encodings must not collide.
        assert_ne!(s.stream_seed("ab", 0), s.stream_seed("a", 0));
        assert_ne!(s.stream_seed("", 1), s.stream_seed("", 0));
    }

    #[test]
    fn streams_are_stable_across_versions() {
        // A pinned value: if this changes, every seeded run changes.
        let s = Seeds::new(1);
        let first = s.stream("link", 0).next_u64();
        let again = ChaCha8Rng::from_seed(s.stream_seed("link", 0)).next_u64();
        assert_eq!(first, again);
        assert_eq!(first, PINNED_LINK_0_FIRST);
    }

    /// First `u64` of `Seeds::new(1).stream("link", 0)`.
    const PINNED_LINK_0_FIRST: u64 = 4_394_264_993_888_187_527;

    #[test]
    fn adding_streams_does_not_perturb_others() {
        let s = Seeds::new(7);
        // World 1: two hosts, interleaved use.
        let mut h0 = s.stream("host", 0);
        let mut h1 = s.stream("host", 1);
        let mut w1 = Vec::new();
        for _ in 0..16 {
            w1.push(h0.next_u64());
            h1.next_u64();
        }
        // World 2: a third host and a link created first and used heavily.
        let mut h2 = s.stream("host", 2);
        let mut l0 = s.stream("link", 0);
        let mut h0 = s.stream("host", 0);
        let mut w2 = Vec::new();
        for _ in 0..16 {
            take(&mut h2, 3);
            take(&mut l0, 5);
            w2.push(h0.next_u64());
        }
        assert_eq!(w1, w2);
    }

    #[test]
    fn subtrees_are_separate_from_streams_and_each_other() {
        let s = Seeds::new(3);
        let client = s.subtree("client", 0);
        assert_eq!(client, s.subtree("client", 0));
        assert_ne!(client, s.subtree("client", 1));
        assert_ne!(client, s.subtree("server", 0));
        assert_ne!(client, Seeds::new(4).subtree("client", 0));
        // A subtree's seed is not the stream of the same name.
        assert_ne!(client.seed, s.seed_u64("client", 0));
        assert_ne!(
            take(&mut client.stream("link", 0), 4),
            take(&mut s.stream("link", 0), 4)
        );
    }

    #[test]
    fn seed_u64_and_key16_are_the_streams_first_bytes() {
        let s = Seeds::new(11);
        let mut rng = s.stream("tcp-secret", 5);
        assert_eq!(s.seed_u64("tcp-secret", 5), rng.clone().next_u64());
        let mut key = [0u8; 16];
        rng.fill_bytes(&mut key);
        assert_eq!(s.key16("tcp-secret", 5), key);
        assert_ne!(s.key16("tcp-secret", 5), s.key16("tcp-secret", 6));
    }

    #[test]
    fn core_port_indices_never_collide() {
        let mut seen = std::collections::BTreeSet::new();
        for core in 0..70 {
            for port in 0..70 {
                assert!(seen.insert(core_port_index(core, port)));
            }
        }
        assert_eq!(core_port_index(1, 0), 1 << 32);
    }

    #[test]
    fn bernoulli_is_exact_at_the_ends() {
        let mut rng = Seeds::new(0).stream("t", 0);
        for _ in 0..10_000 {
            assert!(!bernoulli(&mut rng, 0.0));
            assert!(bernoulli(&mut rng, 1.0));
            assert!(!bernoulli(&mut rng, f64::NAN));
            assert!(!bernoulli(&mut rng, -1.0));
            assert!(bernoulli(&mut rng, 2.0));
        }
        // Extreme draws: 0 and u64::MAX.
        struct Fixed(u64);
        impl RngCore for Fixed {
            fn next_u32(&mut self) -> u32 {
                self.0 as u32
            }
            fn next_u64(&mut self) -> u64 {
                self.0
            }
            fn fill_bytes(&mut self, dest: &mut [u8]) {
                dest.fill(self.0 as u8)
            }
            fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
                self.fill_bytes(dest);
                Ok(())
            }
        }
        assert!(!bernoulli(&mut Fixed(0), 0.0));
        assert!(bernoulli(&mut Fixed(0), f64::MIN_POSITIVE));
        assert!(bernoulli(&mut Fixed(u64::MAX), 1.0));
        assert!(!bernoulli(&mut Fixed(u64::MAX), 1.0 - 1e-15));
    }

    #[test]
    fn bernoulli_rate_is_close_to_p() {
        let mut rng = Seeds::new(5).stream("t", 0);
        let n = 200_000;
        for p in [0.001, 0.1, 0.5, 0.9] {
            let hits = (0..n).filter(|_| bernoulli(&mut rng, p)).count() as f64;
            let sigma = (n as f64 * p * (1.0 - p)).sqrt();
            assert!(
                (hits - n as f64 * p).abs() < 4.0 * sigma,
                "p={p} hits={hits}"
            );
        }
    }

    #[test]
    fn uniform_duration_covers_the_closed_range() {
        let mut rng = Seeds::new(9).stream("t", 0);
        assert_eq!(uniform_duration(&mut rng, Duration::ZERO), Duration::ZERO);
        let mut seen = [0u32; 4];
        for _ in 0..4000 {
            let d = uniform_duration(&mut rng, Duration::from_nanos(3)).as_nanos();
            seen[d as usize] += 1;
        }
        assert!(seen.iter().all(|&c| (850..1150).contains(&c)), "{seen:?}");
        let _ = uniform_duration(&mut rng, Duration::MAX);
        assert_eq!(below(&mut rng, 1), 0);
        assert_eq!(below(&mut rng, 0), 0);
        assert!((0..1000).all(|_| below(&mut rng, 7) < 7));
    }
}
