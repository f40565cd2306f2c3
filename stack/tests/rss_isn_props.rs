//! Property tests of receive-side scaling (`rss`) and the keyed TCP
//! secrets (`tcp::isn`): the table-driven Toeplitz hash equals the bitwise
//! definition, SYN cookies round-trip and resist tampering, ephemeral port
//! candidates cover their range exactly once, and none of the per-packet
//! or per-connection paths allocates.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use proptest::prelude::*;

use rusty_stack::nic::rss::{RssTable, Toeplitz, INDIRECTION_LEN, MICROSOFT_RSS_KEY};
use rusty_stack::nic::FlowTuple;
use rusty_stack::tcp::isn::{CookieInfo, EphemeralPorts, IsnGenerator, Secret, SynCookies};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, TcpSeqNumber};

/// Counts allocations made by the current thread only, so that tests
/// running in parallel do not disturb each other's counts.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + 1));
}

fn allocations() -> u64 {
    ALLOCATIONS.with(|c| c.get())
}

// SAFETY: forwards every call unchanged to the system allocator; only
// counts, through a const-initialised thread-local that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn endpoint() -> impl Strategy<Value = (Ipv4Addr, u16)> {
    (addr(), any::<u16>())
}

fn secret() -> impl Strategy<Value = Secret> {
    any::<[u8; 16]>().prop_map(Secret::new)
}

fn flow_bytes(src: Ipv4Addr, dst: Ipv4Addr, sp: u16, dp: u16) -> [u8; 12] {
    let mut b = [0u8; 12];
    b[..4].copy_from_slice(&src.octets());
    b[4..8].copy_from_slice(&dst.octets());
    b[8..10].copy_from_slice(&sp.to_be_bytes());
    b[10..].copy_from_slice(&dp.to_be_bytes());
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The lookup tables compute the bitwise Toeplitz hash, for any key.
    #[test]
    fn rss_table_path_equals_bitwise(
        key in any::<[u8; 40]>(),
        src in addr(), dst in addr(), sp in any::<u16>(), dp in any::<u16>(),
    ) {
        let t = Toeplitz::new(&key);
        let input = flow_bytes(src, dst, sp, dp);
        prop_assert_eq!(t.hash_ipv4_tcp(src, dst, sp, dp), t.hash(&input));
        prop_assert_eq!(t.hash_table(&input), t.hash(&input));
        prop_assert_eq!(t.hash_ipv4(src, dst), t.hash(&input[..8]));
    }

    /// Toeplitz is linear over GF(2).
    #[test]
    fn rss_hash_is_linear(a in any::<[u8; 36]>(), b in any::<[u8; 36]>()) {
        let t = Toeplitz::new(&MICROSOFT_RSS_KEY);
        let x: [u8; 36] = core::array::from_fn(|i| a[i] ^ b[i]);
        prop_assert_eq!(t.hash(&x), t.hash(&a) ^ t.hash(&b));
    }

    /// `queue_for` is the table entry at the low 7 bits of the hash of the
    /// incoming tuple, and always a configured queue.
    #[test]
    fn rss_queue_for_uses_low_bits(
        queues in 1u16..64,
        src in addr(), dst in addr(), sp in any::<u16>(), dp in any::<u16>(),
    ) {
        let rss = RssTable::new(&MICROSOFT_RSS_KEY, queues);
        let flow = FlowTuple { src_addr: src, src_port: sp, dst_addr: dst, dst_port: dp };
        let h = rss.toeplitz().hash(&flow_bytes(src, dst, sp, dp));
        prop_assert_eq!(rss.hash_flow(&flow), h);
        let q = rss.queue_for(&flow);
        prop_assert_eq!(q, ((h as usize % INDIRECTION_LEN) % usize::from(queues)) as u16);
        prop_assert!(q < queues);
    }

    /// Same secret and inputs, same ISN; the ISN advances one per 4 µs.
    #[test]
    fn isn_deterministic_and_clocked(
        key in secret(), local in endpoint(), remote in endpoint(),
        t in 0u64..(1 << 60), dt in 0u64..(1 << 40),
    ) {
        let a = IsnGenerator::new(key);
        let b = IsnGenerator::new(key);
        let now = Instant::from_nanos(t);
        prop_assert_eq!(a.isn(local, remote, now), b.isn(local, remote, now));
        let later = now + Duration::from_nanos(dt);
        let ticks = (later.as_nanos() / 4000).wrapping_sub(t / 4000) as u32;
        prop_assert_eq!(a.isn(local, remote, later), a.isn(local, remote, now).wrapping_add(ticks));
    }

    /// Different secrets give different ISNs (a 2^-32 chance of a false
    /// failure per case).
    #[test]
    fn isn_differs_across_keys(
        k1 in secret(), k2 in secret(), local in endpoint(), remote in endpoint(), t in any::<u64>(),
    ) {
        prop_assume!(k1 != k2);
        let now = Instant::from_nanos(t);
        prop_assert_ne!(
            IsnGenerator::new(k1).isn(local, remote, now),
            IsnGenerator::new(k2).isn(local, remote, now)
        );
    }

    /// A cookie validates, with what it encoded, for its tuple and client
    /// ISN within the age window.
    #[test]
    fn isn_cookie_round_trip(
        key in secret(), local in endpoint(), remote in endpoint(),
        client in any::<u32>(), mss in any::<u16>(), ws in proptest::option::of(0u8..=20),
        sack in any::<bool>(), t in 0u64..(1 << 50), wait in 0u64..128_000_000_000,
    ) {
        let c = SynCookies::new(key);
        let want = CookieInfo { mss, window_scale: ws, sack_permitted: sack };
        let now = Instant::from_nanos(t);
        let (cookie, sent) = c.generate_with_options(local, remote, TcpSeqNumber(client), want, now);
        prop_assert_eq!(sent, want.encodable());
        prop_assert!(sent.mss <= mss || mss < SynCookies::MSS_TABLE[0]);
        let later = now + Duration::from_nanos(wait);
        prop_assert_eq!(c.validate(local, remote, TcpSeqNumber(client), cookie, later), Some(sent));
    }

    /// Any change to the cookie, the client ISN or the tuple is caught
    /// (each has a 2^-22 chance of a false failure per case).
    #[test]
    fn isn_cookie_rejects_changes(
        key in secret(), local in endpoint(), remote in endpoint(),
        client in any::<u32>(), mss in any::<u16>(), t in 0u64..(1 << 50),
        flip in 1u32.., other in endpoint(),
    ) {
        let c = SynCookies::new(key);
        let now = Instant::from_nanos(t);
        let isn = TcpSeqNumber(client);
        let (cookie, _) = c.generate(local, remote, isn, mss, now);
        prop_assert_eq!(c.validate(local, remote, isn, TcpSeqNumber(cookie.0 ^ flip), now), None);
        prop_assert_eq!(c.validate(local, remote, TcpSeqNumber(client ^ flip), cookie, now), None);
        if other != remote {
            prop_assert_eq!(c.validate(local, other, isn, cookie, now), None);
        }
        if other != local {
            prop_assert_eq!(c.validate(other, remote, isn, cookie, now), None);
        }
    }

    /// Cookies older than MAX_AGE_TICKS + 1 ticks are refused.
    #[test]
    fn isn_cookie_expires(
        key in secret(), local in endpoint(), remote in endpoint(),
        client in any::<u32>(), t in 0u64..(1 << 50), extra_ticks in 3u64..100,
    ) {
        let c = SynCookies::new(key);
        let now = Instant::from_nanos(t);
        let (cookie, _) = c.generate(local, remote, TcpSeqNumber(client), 1460, now);
        let tick = SynCookies::TICK.as_nanos();
        let later = Instant::from_nanos((t / tick + extra_ticks) * tick);
        prop_assert_eq!(c.validate(local, remote, TcpSeqNumber(client), cookie, later), None);
    }

    /// Candidates cover any range exactly once, starting at next_offset.
    #[test]
    fn isn_ephemeral_candidates_cover_range(
        key in secret(), first in any::<u16>(), span in 0u16..2000,
        local in addr(), remote in endpoint(), advances in 0u32..100_000,
    ) {
        let last = first.saturating_add(span);
        let mut ports = EphemeralPorts::with_range(key, first..=last).unwrap();
        ports.advance(local, remote, advances);
        let n = u32::from(last - first) + 1;
        prop_assert_eq!(ports.port_count(), n);
        let c = ports.candidates(local, remote);
        prop_assert_eq!(c.len(), n as usize);
        let mut seen = vec![false; n as usize];
        for (i, p) in c.enumerate() {
            prop_assert!((first..=last).contains(&p));
            let idx = usize::from(p - first);
            prop_assert!(!seen[idx], "port {} twice", p);
            seen[idx] = true;
            if i == 0 {
                prop_assert_eq!(u32::from(p - first), ports.next_offset(local, remote));
            }
        }
        prop_assert!(seen.iter().all(|&s| s));
    }

    /// Same secret and history, same candidates.
    #[test]
    fn isn_ephemeral_deterministic(key in secret(), local in addr(), remote in endpoint(), k in 0u32..50) {
        let mut a = EphemeralPorts::new(key);
        let mut b = EphemeralPorts::new(key);
        for _ in 0..k {
            let pa = a.select(local, remote, |p| p % 3 == 0);
            let pb = b.select(local, remote, |p| p % 3 == 0);
            prop_assert_eq!(pa, pb);
        }
        prop_assert!(a.candidates(local, remote).eq(b.candidates(local, remote)));
    }
}

/// Hashing, queue lookup, ISNs, cookies and port search allocate nothing.
#[test]
fn rss_isn_paths_do_not_allocate() {
    let rss = RssTable::new(&MICROSOFT_RSS_KEY, 8);
    let key = Secret::new([7; 16]);
    let isns = IsnGenerator::new(key);
    let cookies = SynCookies::new(key);
    let mut ports = EphemeralPorts::new(key);
    let local = Ipv4Addr::new(10, 0, 0, 1);
    let remote = (Ipv4Addr::new(10, 0, 0, 2), 80);

    let before = allocations();
    let mut sink = 0u64;
    for i in 0..1000u32 {
        let now = Instant::from_micros(u64::from(i) * 997);
        let flow = FlowTuple {
            src_addr: remote.0,
            src_port: remote.1,
            dst_addr: local,
            dst_port: 49152 + (i as u16 % 1000),
        };
        sink += u64::from(rss.queue_for(&flow));
        sink += u64::from(rss.toeplitz().hash(&i.to_be_bytes()));
        sink += u64::from(isns.isn((local, 49152), remote, now).0);
        let (c, _) = cookies.generate((local, 80), remote, TcpSeqNumber(i), 1460, now);
        sink += u64::from(
            cookies
                .validate((local, 80), remote, TcpSeqNumber(i), c, now)
                .unwrap()
                .mss,
        );
        // Pick a port whose replies reach queue 3, as a core would.
        let port = ports
            .select(local, remote, |p| {
                rss.queue_for(&FlowTuple {
                    src_addr: remote.0,
                    src_port: remote.1,
                    dst_addr: local,
                    dst_port: p,
                }) == 3
            })
            .unwrap();
        sink += u64::from(port);
    }
    assert_eq!(allocations() - before, 0);
    assert!(sink > 0);
}

/// Ports chosen for one queue really steer the reply flow to that queue,
/// and successive picks towards one destination differ.
#[test]
fn rss_port_selection_steers_replies() {
    let rss = RssTable::new(&MICROSOFT_RSS_KEY, 4);
    let mut ports = EphemeralPorts::new(Secret::new(*b"steer-replies-ok"));
    let local = Ipv4Addr::new(192, 0, 2, 10);
    let remote = (Ipv4Addr::new(198, 51, 100, 20), 443);
    let reply = |p: u16| FlowTuple {
        src_addr: remote.0,
        src_port: remote.1,
        dst_addr: local,
        dst_port: p,
    };
    for queue in 0..4 {
        let mut picked = Vec::new();
        for _ in 0..20 {
            let p = ports
                .select(local, remote, |p| {
                    rss.queue_for(&reply(p)) == queue && !picked.contains(&p)
                })
                .unwrap();
            assert_eq!(rss.queue_for(&reply(p)), queue);
            picked.push(p);
        }
    }
}
