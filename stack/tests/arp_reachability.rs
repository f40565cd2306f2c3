//! Neighbour reachability (issue #10): a wrong MAC in the ARP cache — from
//! a corrupted ARP packet, or a neighbour that moved — is found by unicast
//! probes after TCP stops making progress, and replaced by a broadcast
//! resolution, so the connection recovers in seconds instead of at the
//! entry's expiry; a neighbour that keeps making progress is never probed.

mod support;

use rusty_stack::iface::InterfaceConfig;
use rusty_stack::nic::fault::{FaultInjector, FaultSpec};
use rusty_stack::nic::pair::{pair, PairConfig};
use rusty_stack::nic::Driver;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Cidr, MacAddr};
use rusty_stack::Stack;
use support::*;

const WRONG: MacAddr = MacAddr([0x12, 0, 0, 0, 0, 2]);

/// Two stacks that resolve each other by ARP (no static entries).
fn dynamic_net(client: Script, server: Script) -> Net<Script, Script> {
    let (da, db) = pair(&PairConfig {
        capture: true,
        queue_capacity: 4096,
        ..PairConfig::default()
    });
    // No gratuitous announcements: they would correct a wrong entry by
    // themselves, and only reachability is tested here.
    let mut ia = InterfaceConfig::new(Ipv4Cidr::new(IP_A, 24).unwrap());
    let mut ib = InterfaceConfig::new(Ipv4Cidr::new(IP_B, 24).unwrap());
    ia.announce = false;
    ib.announce = false;
    let a = Stack::new(&da.capabilities(), ia, test_config(), client, Instant::ZERO);
    let mut b = Stack::new(&db.capabilities(), ib, test_config(), server, Instant::ZERO);
    b.listen(80, 16).unwrap();
    Net {
        a,
        b,
        da,
        db,
        now: Instant::ZERO,
    }
}

#[test]
fn a_wrong_mac_learned_before_the_handshake_is_probed_and_replaced() {
    let reply = data(50_000, 3);
    let (client, server) = fetch(&reply);
    let mut net = dynamic_net(client, server);
    // As if a corrupted ARP packet had taught A a MAC nobody has.
    net.a.iface_mut().learn_arp(IP_B, WRONG, Instant::ZERO);
    net.run_for(Duration::from_secs(30));
    let log = &net.a.app().logs[0];
    assert!(log.connected && !log.reset, "{log:?}");
    assert_eq!(log.received, reply.to_vec());
    let c = net.a.iface().counters();
    assert_eq!(c.arp_probes_sent, 3, "{c:?}");
    assert_eq!(c.arp_neighbors_failed, 1, "{c:?}");
    assert_eq!(
        net.a.iface_mut().arp_lookup(IP_B, net.now),
        Some(net.db.mac())
    );
}

#[test]
fn a_wrong_mac_in_the_middle_of_a_transfer_costs_seconds_not_the_entry_lifetime() {
    let reply = data(400_000, 5);
    let (client, server) = fetch(&reply);
    let mut net = dynamic_net(client, server);
    // Let the transfer start (a few rounds of polls), then poison the
    // server's entry for A.
    for _ in 0..8 {
        net.a.poll(&mut net.da, net.now);
        net.b.poll(&mut net.db, net.now);
    }
    let started = net.a.app().logs[0].received.len();
    assert!(started > 0 && started < reply.len(), "{started}");
    net.b.iface_mut().learn_arp(IP_A, WRONG, net.now);
    net.run_for(Duration::from_secs(15));
    let log = &net.a.app().logs[0];
    assert_eq!(log.received.len(), reply.len(), "{log:?}");
    assert!(log.received == reply.to_vec());
    let c = net.b.iface().counters();
    assert_eq!(c.arp_probes_sent, 3, "{c:?}");
    assert_eq!(c.arp_neighbors_failed, 1, "{c:?}");
    assert!(net.b.tcp_counters().rto_expirations >= 1);
}

#[test]
fn a_neighbour_making_progress_is_never_probed() {
    // A transfer far longer than the reachable time (30 s): 600 KB from B
    // through a 96 kbit/s rate limit takes about 50 s, and every new ACK
    // from A confirms it, so B never probes A.
    let reply = data(600_000, 7);
    let (client, server) = fetch(&reply);
    let Net {
        mut a,
        mut b,
        mut da,
        db,
        ..
    } = dynamic_net(client, server);
    let mut db = FaultInjector::new(db, "rate=96kbit".parse::<FaultSpec>().unwrap());
    let mut now = Instant::ZERO;
    let mut last_data_at = now;
    while now < Instant::from_secs(200) {
        da.set_now(now);
        db.set_now(now);
        for _ in 0..1000 {
            let wa = a.poll(&mut da, now);
            let wb = b.poll(&mut db, now);
            if !wa && !wb && da.pending() == 0 && db.inner().pending() == 0 {
                break;
            }
        }
        if a.app()
            .logs
            .first()
            .is_some_and(|l| l.received.len() < reply.len())
        {
            last_data_at = now;
        }
        let next = [a.poll_at(), b.poll_at(), db.next_release()]
            .into_iter()
            .flatten()
            .filter(|&t| t > now)
            .min();
        match next {
            Some(t) => now = t,
            None => break,
        }
    }
    let log = &a.app().logs[0];
    assert!(
        log.received == reply.to_vec(),
        "{} bytes",
        log.received.len()
    );
    assert!(last_data_at > Instant::from_secs(40), "{last_data_at}");
    let c = b.iface().counters();
    assert_eq!((c.arp_probes_sent, c.arp_neighbors_failed), (0, 0), "{c:?}");
}
