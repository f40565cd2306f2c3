//! ARP and ICMP echo between Rusty's `Interface` and smoltcp, over the
//! simulator's link (`rusty_sim::hosts::interop`): both directions, on a perfect
//! link, under seeded loss, and under corruption that the checksums must
//! catch.

use rusty_sim::hosts::interop::{self, InteropNet, RustyPeer};
use rusty_sim::hosts::smol_peer::SmolPeer;
use rusty_sim::kernel::rng::Seeds;
use rusty_sim::net::link::{CorruptScope, Faults, LinkConfig, LinkStats, Side};
use rusty_stack::iface::{IfaceEvent, Interface};
use rusty_stack::stats::DropReason;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};

const RUSTY_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const SMOL_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
const RUSTY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SMOL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

type IcmpNet = InteropNet<RustyPeer<Interface>, SmolPeer>;

/// A net on seed `seed` whose link is `link` (see `perfect`).
fn net(seed: u64, link: LinkConfig) -> IcmpNet {
    let seeds = Seeds::new(seed);
    let cidr = Ipv4Cidr::new(RUSTY_IP, 24).expect("valid prefix");
    InteropNet::new(
        interop::link(link, &seeds),
        RustyPeer::interface(Side::A, RUSTY_MAC, cidr),
        SmolPeer::new(SMOL_MAC, SMOL_IP, 24, interop::smoltcp_seed(&seeds)),
    )
}

/// The interop link (1 ms, no bandwidth limit) with `faults`.
fn perfect(faults: Faults) -> LinkConfig {
    LinkConfig {
        faults,
        ..interop::link_config()
    }
}

/// The echo replies Rusty has received so far: (ident, seq, data length).
fn take_rusty_replies(net: &mut IcmpNet, into: &mut Vec<(u16, u16, usize)>) {
    while let Some(event) = net.a.node.take_event() {
        // ARP events are only reported with `report_arp`, off here.
        if let IfaceEvent::EchoReply {
            from,
            ident,
            seq_no,
            data_len,
            ..
        } = event
        {
            assert_eq!(from, SMOL_IP);
            into.push((ident, seq_no, data_len));
        }
    }
}

fn rusty_ping(net: &mut IcmpNet, ident: u16, seq: u16, len: usize) {
    let now = net.now();
    let (iface, driver) = net.a.parts();
    // Refusals (ARP pending queue full, resolution failed) are counted by
    // the interface; the loss tests expect some.
    let _ = iface.send_ping(driver, now, SMOL_IP, ident, seq, len);
}

fn payload(seq: u16, len: usize) -> Vec<u8> {
    (0..len).map(|i| (i as u8) ^ (seq as u8)).collect()
}

#[test]
fn interop_smoltcp_rusty_pings_smoltcp() {
    let mut net = net(1, perfect(Faults::default()));
    for seq in 0..5u16 {
        rusty_ping(&mut net, 0x1234, seq, 56 + usize::from(seq));
    }
    let mut replies = Vec::new();
    let at = net
        .run_until(Instant::from_secs(5), |net| {
            take_rusty_replies(net, &mut replies);
            replies.len() >= 5
        })
        .expect("five echo replies");
    let expected: Vec<_> = (0..5u16)
        .map(|seq| (0x1234, seq, 56 + usize::from(seq)))
        .collect();
    assert_eq!(replies, expected);
    // One ARP exchange and five echo round trips of 1 ms each way.
    assert!(at <= Instant::from_millis(10), "took until {at}");
    let counters = net.a.node.counters();
    assert_eq!(counters.icmp_echo_requests_sent, 5);
    assert_eq!(counters.total_drops(), 0, "{counters:?}");
    assert_eq!(
        net.a.node.arp_lookup(SMOL_IP, net.now()),
        Some(SMOL_MAC),
        "Rusty learned smoltcp's MAC"
    );
    // Nothing lost, nothing leaked.
    net.run_for(Duration::from_secs(2)).expect("runs");
    assert_eq!(net.link.stats().total().lost(), 0);
    assert_eq!(net.a.driver.buffers_in_use(), 0);
}

#[test]
fn interop_smoltcp_smoltcp_pings_rusty() {
    let mut net = net(2, perfect(Faults::default()));
    let socket = net.b.add_icmp_socket(0x4242, 16);
    for seq in 0..5u16 {
        net.b
            .send_ping(socket, RUSTY_IP, 0x4242, seq, &payload(seq, 64))
            .expect("socket has room");
    }
    let mut replies = Vec::new();
    net.run_until(Instant::from_secs(5), |net| {
        while let Some(reply) = net.b.recv_ping(socket) {
            replies.push(reply);
        }
        replies.len() >= 5
    })
    .expect("five echo replies");
    for (seq, reply) in (0..5u16).zip(&replies) {
        assert_eq!(reply.from, RUSTY_IP);
        assert_eq!((reply.ident, reply.seq_no), (0x4242, seq));
        assert_eq!(reply.data, payload(seq, 64));
    }
    let counters = net.a.node.counters();
    assert_eq!(counters.icmp_echo_replies_sent, 5);
    assert!(counters.arp_replies_sent >= 1, "{counters:?}");
    assert_eq!(counters.total_drops(), 0, "{counters:?}");
    assert_eq!(net.a.driver.buffers_in_use(), 0);
}

/// What a lossy run produced, to compare runs of one seed.
#[derive(Debug, PartialEq, Eq)]
struct LossyRun {
    rusty_replies: Vec<(u16, u16, usize)>,
    smol_replies: Vec<u16>,
    link: LinkStats,
    end: Instant,
    trace: Vec<String>,
}

/// Both hosts ping each other every 100 ms, 50 times, over a link losing
/// 10% of the frames; each side counts its replies.
fn lossy_pings(seed: u64) -> LossyRun {
    let link = LinkConfig {
        delay: Duration::from_millis(3),
        ..perfect(Faults {
            loss: 0.10,
            ..Faults::default()
        })
    };
    let mut net = net(seed, link);
    let socket = net.b.add_icmp_socket(0x77, 64);
    let mut rusty_replies = Vec::new();
    let mut smol_replies = Vec::new();
    for seq in 0..50u16 {
        rusty_ping(&mut net, 0x99, seq, 32);
        net.b
            .send_ping(socket, RUSTY_IP, 0x77, seq, &payload(seq, 40))
            .expect("socket has room");
        net.run_for(Duration::from_millis(100)).expect("runs");
        take_rusty_replies(&mut net, &mut rusty_replies);
        while let Some(reply) = net.b.recv_ping(socket) {
            assert_eq!(reply.data, payload(reply.seq_no, 40));
            smol_replies.push(reply.seq_no);
        }
    }
    net.run_for(Duration::from_secs(3)).expect("runs");
    take_rusty_replies(&mut net, &mut rusty_replies);
    while let Some(reply) = net.b.recv_ping(socket) {
        smol_replies.push(reply.seq_no);
    }
    assert_eq!(net.a.driver.buffers_in_use(), 0);
    LossyRun {
        rusty_replies,
        smol_replies,
        link: net.link.stats(),
        end: net.now(),
        trace: net.trace_lines(usize::MAX),
    }
}

#[test]
fn interop_smoltcp_pings_under_loss_are_deterministic() {
    let run = lossy_pings(0xdecaf);
    assert!(run.link.total().lost() > 0, "{:?}", run.link);
    // Each ping needs two frames to survive (81%); ARP costs a few more.
    assert!(
        run.rusty_replies.len() >= 30,
        "Rusty got {} of 50 replies:\n{}",
        run.rusty_replies.len(),
        run.trace.join("\n")
    );
    assert!(
        run.smol_replies.len() >= 30,
        "smoltcp got {} of 50 replies:\n{}",
        run.smol_replies.len(),
        run.trace.join("\n")
    );
    assert!(run.rusty_replies.len() <= 50 && run.smol_replies.len() <= 50);
    for &(ident, _, len) in &run.rusty_replies {
        assert_eq!((ident, len), (0x99, 32));
    }
    // The same seed gives the very same run; another seed another one.
    assert_eq!(lossy_pings(0xdecaf), run);
    assert_ne!(lossy_pings(0xdecaf + 1).trace, run.trace);
}

#[test]
fn interop_smoltcp_corrupted_pings_are_caught_by_checksums() {
    // IPv4 frames only: a flipped bit in an ARP frame has no checksum to
    // catch it.
    let faults = Faults {
        corrupt: 0.3,
        corrupt_scope: CorruptScope::Ipv4Only,
        ..Faults::default()
    };
    let mut net = net(99, perfect(faults));
    let socket = net.b.add_icmp_socket(0x55, 64);
    let mut rusty_replies = Vec::new();
    let mut smol_replies = Vec::new();
    for seq in 0..40u16 {
        rusty_ping(&mut net, 0x66, seq, 100);
        net.b
            .send_ping(socket, RUSTY_IP, 0x55, seq, &payload(seq, 100))
            .expect("socket has room");
        net.run_for(Duration::from_millis(50)).expect("runs");
        take_rusty_replies(&mut net, &mut rusty_replies);
        while let Some(reply) = net.b.recv_ping(socket) {
            smol_replies.push(reply);
        }
    }
    let stats = net.link.stats();
    assert!(stats.total().corrupted > 10, "{stats:?}");
    // Every reply that got through is intact.
    for &(ident, seq, len) in &rusty_replies {
        assert_eq!((ident, len), (0x66, 100), "seq {seq}");
    }
    for reply in &smol_replies {
        assert_eq!(reply.ident, 0x55);
        assert_eq!(reply.data, payload(reply.seq_no, 100));
    }
    // Rusty dropped what was corrupted on its way in.
    let counters = net.a.node.counters();
    let caught =
        counters.drops(DropReason::Ipv4BadChecksum) + counters.drops(DropReason::IcmpBadChecksum);
    assert!(caught > 0, "{counters:?}");
    assert!(rusty_replies.len() >= 10 && smol_replies.len() >= 10);
    assert!(rusty_replies.len() < 40 || smol_replies.len() < 40);
}
