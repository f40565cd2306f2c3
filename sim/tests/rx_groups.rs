//! Taking received frames in groups and prefetching their connections'
//! state (`TcpConfig::prefetch_min_slot_bytes`) is a hint: the stacks must
//! do exactly what they do one frame at a time. The bench's page workload
//! runs with the hints always on and never on, and every frame on the
//! wire (both directions, folded into a hash), every metered operation of
//! both ends and every counter must agree; the client verifies every byte
//! against its own copy of the pages.

use std::cell::Cell;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use rusty_sim::run::bench::rusty::RustyPair;
use rusty_sim::run::bench::{BenchConfig, BenchPair, BenchStack, Stop};

/// What one run did: wire hash and frame count of each direction, the
/// meters and counters of both ends, the client's totals.
#[derive(Debug, PartialEq)]
struct Outcome {
    wire: [(u64, u64); 2],
    meters: String,
    counters: String,
    ok: u64,
    bytes_ok: u64,
}

fn run(conns: u32, requests: u64, prefetch_min_slot_bytes: usize) -> Outcome {
    let config = BenchConfig::new(BenchStack::Rusty, conns, Stop::Requests(requests));
    let mut pair = RustyPair::with_tcp(&config, |tcp, _| {
        tcp.prefetch_min_slot_bytes = prefetch_min_slot_bytes;
    })
    .expect("bench pair");
    let hashes: [Rc<Cell<(u64, u64)>>; 2] = Default::default();
    let (ds, dc) = pair.drivers();
    for (driver, hash) in [ds, dc].into_iter().zip(hashes.iter()) {
        let hash = Rc::clone(hash);
        driver.set_loss_filter(move |index, bytes| {
            let mut h = DefaultHasher::new();
            (hash.get().0, index, bytes).hash(&mut h);
            hash.set((h.finish(), hash.get().1 + 1));
            false
        });
    }
    let mut steps = 0u64;
    while pair.totals().completed() < requests {
        if !pair.round() {
            assert!(pair.advance(), "nothing left to do");
        }
        steps += 1;
        assert!(steps < 50_000_000, "no progress");
    }
    let totals = pair.totals();
    Outcome {
        wire: [hashes[0].get(), hashes[1].get()],
        meters: format!("{:?} {:?}", pair.server().meter(), pair.client().meter()),
        counters: format!("{:?}", pair.counters()),
        ok: totals.ok,
        bytes_ok: totals.bytes_ok,
    }
}

#[test]
fn grouped_receive_changes_nothing_the_stacks_do() {
    // 300 connections: 270 KB of server slots, below the default, so the
    // hints are forced on (0) and off (usize::MAX).
    let (conns, requests) = (300, 900);
    let on = run(conns, requests, 0);
    let off = run(conns, requests, usize::MAX);
    assert_eq!(on.ok, requests, "every request verified");
    assert!(on.wire[0].1 > 30_000 && on.bytes_ok > 50_000_000, "{on:?}");
    assert_eq!(on, off);
}
