use rusty_stack::iface::{IfaceEvent, Interface};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};

use super::*;
use crate::hosts::smol_peer::SmolPeer;
use crate::net::link::Faults;

const RUSTY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SMOL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);

fn net(faults: Faults, seed: u64) -> InteropNet<RustyPeer<Interface>, SmolPeer> {
    let seeds = Seeds::new(seed);
    let config = LinkConfig {
        faults,
        ..link_config()
    };
    let cidr = Ipv4Cidr::new(RUSTY_IP, 24).expect("prefix");
    InteropNet::new(
        link(config, &seeds),
        RustyPeer::interface(Side::A, MacAddr([2, 0, 0, 0, 0, 1]), cidr),
        SmolPeer::new(
            MacAddr([2, 0, 0, 0, 0, 2]),
            SMOL_IP,
            24,
            smoltcp_seed(&seeds),
        ),
    )
}

#[test]
fn a_ping_crosses_the_link_and_is_traced() {
    let mut net = net(Faults::default(), 1);
    let now = net.now();
    let (iface, driver) = net.a.parts();
    iface
        .send_ping(driver, now, SMOL_IP, 7, 0, 32)
        .expect("queued behind ARP");
    let mut replied = false;
    let at = net
        .run_until(Instant::from_secs(1), |net| {
            while let Some(e) = net.a.node.take_event() {
                replied |= matches!(e, IfaceEvent::EchoReply { .. });
            }
            replied
        })
        .expect("a reply");
    // ARP request and reply (smoltcp also asks for Rusty's address), echo
    // request and reply: 1 ms each way.
    assert_eq!(at, Instant::from_millis(4));
    assert_eq!(net.trace().len(), 5, "{:#?}", net.trace_lines(9));
    let lines = net.trace_lines(2);
    assert_eq!(lines.len(), 2);
    assert!(lines[0].starts_with("#3 "), "{lines:?}");
    assert!(lines[1].contains("ICMP echo reply"), "{lines:?}");
    assert_eq!(net.link.stats().total().delivered_frames, 5);
    // Nothing else is scheduled: the net goes idle.
    assert_eq!(
        net.run_until(Instant::from_secs(1), |_| false),
        Err(NetError::Idle(at))
    );
}

#[test]
fn a_lossy_run_replays_from_its_seed() {
    let run = |seed| {
        let faults = Faults {
            loss: 0.3,
            ..Faults::default()
        };
        let mut net = net(faults, seed);
        for seq in 0..20 {
            let now = net.now();
            let (iface, driver) = net.a.parts();
            let _ = iface.send_ping(driver, now, SMOL_IP, 7, seq, 32);
            net.run_for(Duration::from_millis(100)).expect("runs");
        }
        (net.link.stats(), net.trace_lines(usize::MAX))
    };
    let first = run(5);
    assert!(first.0.total().lost() > 0);
    assert_eq!(run(5), first);
    assert_ne!(run(6).1, first.1);
}
