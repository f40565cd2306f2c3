//! The thesis workload from the IPv4 minimum MTU (68 bytes: 16 bytes of
//! data a segment with timestamps) to jumbo frames (9000, the mPIPE's
//! jumbo buffer classes): every request completes with every byte
//! verified, no frame is dropped for its size, and the pools have the
//! class a full-sized frame needs.

use rusty_sim::cli::RunOptions;
use rusty_sim::run::engine;
use rusty_sim::scenario::{CostModel, LivenessSpec, Scenario};
use rusty_stack::mem::buf::{class_for_len, SIZE_CLASSES};

/// The thesis scenario, short: 2 workers, 4 connections, then a drain in
/// which every started request must finish.
fn point(mtu: u16) -> Scenario {
    let mut s = Scenario::thesis();
    s.name = format!("mtu-{mtu}");
    s.server.workers = 2;
    s.server.mtu = mtu;
    s.server.cost_model = CostModel::ZERO;
    s.client.conns = 4;
    s.client.cores = 1;
    s.duration = 0.002;
    s.liveness = Some(LivenessSpec { drain_s: 60.0 });
    s
}

#[test]
fn the_thesis_workload_completes_from_68_to_9000_bytes() {
    for mtu in [68, 128, 576, 1500, 4000, 9000] {
        let s = point(mtu);
        s.validate().unwrap();
        let r = engine::run(&s, &RunOptions::default(), &mut |_| {})
            .unwrap_or_else(|e| panic!("MTU {mtu}: {e}"));
        assert!(r.requests_ok >= 4, "MTU {mtu}: {r:?}");
        assert_eq!(r.requests_failed, 0, "MTU {mtu}: {r:?}");
        assert_eq!(r.requests_in_flight, 0, "MTU {mtu}");
        assert_eq!(r.bytes_corrupt, 0, "MTU {mtu}");
        assert!(r.bytes_ok > 0, "MTU {mtu}");
        for reason in ["nic_too_long", "ipv4_too_long", "link_queue_full"] {
            assert!(!r.drops.contains_key(reason), "MTU {mtu}: {:?}", r.drops);
        }
        assert_eq!(r.retransmits, 0, "MTU {mtu}: clean links");
    }
}

#[test]
fn jumbo_frames_take_the_mpipe_jumbo_classes() {
    // Above 1664 bytes a full frame needs one of the jumbo classes (4096,
    // 10368, 16384), and the pool gives it as many buffers as the
    // 1664-byte class.
    for (mtu, class_size) in [(1500, 1664), (4000, 4096), (9000, 10368)] {
        let frame = usize::from(mtu) + 14;
        let class = class_for_len(frame).unwrap();
        assert_eq!(SIZE_CLASSES[class], class_size, "MTU {mtu}");
        let pool = engine::pool_for_mtu([2048, 512, 256, 256, 2048, 8, 4, 4], mtu);
        assert_eq!(pool.counts[class], 2048, "MTU {mtu}");
        let config = engine::server_config(&point(mtu)).unwrap();
        assert_eq!(config.pool.counts[class], 2048, "MTU {mtu}");
        assert_eq!(config.mtu, usize::from(mtu));
        assert_eq!(config.tcp.mss, Some(mtu - 40));
    }
}
