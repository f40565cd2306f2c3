//! A poll takes at most `InterfaceConfig::poll_budget` frames from the
//! driver and says it worked, so the owner polls again with a fresh `now`.
//! Without the bound, a driver that never ran dry (a TAP device under
//! load) kept one poll going for hundreds of milliseconds, and the
//! retransmission timers armed late in it carried its start time and fired
//! before the peer could answer (spurious RTOs against Linux and wrk).
//! The frames are echo requests built by etherparse, an independent
//! implementation; every one is answered, none dropped.

mod support;

use rusty_stack::iface::InterfaceConfig;
use rusty_stack::nic::pair::{pair, PairConfig};
use rusty_stack::nic::Driver;
use rusty_stack::time::Instant;
use rusty_stack::wire::Ipv4Cidr;
use rusty_stack::Stack;
use support::*;

fn echo_request(seq: u16, dst_mac: [u8; 6]) -> Vec<u8> {
    let builder = etherparse::PacketBuilder::ethernet2([2, 0, 0, 0, 0, 1], dst_mac)
        .ipv4(IP_A.octets(), IP_B.octets(), 64)
        .icmpv4_echo_request(7, seq);
    let mut out = Vec::with_capacity(builder.size(8));
    builder.write(&mut out, &[0x5a; 8]).unwrap();
    out
}

fn answered_per_poll(budget: usize, requests: u16) -> Vec<u64> {
    let (mut da, mut db) = pair(&PairConfig {
        queue_capacity: 4096,
        pool: rusty_stack::mem::buf::PoolConfig {
            counts: [4096, 64, 64, 64, 64, 0, 0, 0],
            chaining: false,
            references: 64,
        },
        ..PairConfig::default()
    });
    let mut config = InterfaceConfig::new(Ipv4Cidr::new(IP_B, 24).unwrap());
    config.announce = false;
    config.poll_budget = budget;
    let mut stack = Stack::new(
        &db.capabilities(),
        config,
        test_config(),
        Script::default(),
        Instant::ZERO,
    );
    stack.iface_mut().add_static_arp(IP_A, da.mac()).unwrap();
    for seq in 0..requests {
        let bytes = echo_request(seq, db.mac().0);
        let mut frame = da.alloc_tx(bytes.len()).unwrap();
        frame.cursor_mut().write(&bytes).unwrap();
        da.transmit(frame).unwrap();
    }
    let mut per_poll = Vec::new();
    let mut before = 0;
    while stack.poll(&mut db, Instant::ZERO) {
        let sent = stack.iface().counters().icmp_echo_replies_sent;
        per_poll.push(sent - before);
        before = sent;
        while let Some(reply) = da.receive() {
            da.release(reply);
        }
        assert!(per_poll.len() < 100, "{per_poll:?}");
    }
    per_poll
}

#[test]
fn a_poll_takes_at_most_its_budget_and_the_rest_comes_next() {
    assert_eq!(answered_per_poll(256, 600), vec![256, 256, 88]);
    assert_eq!(answered_per_poll(1, 3), vec![1, 1, 1]);
    // The default lets a whole default pair queue through at once.
    let default = InterfaceConfig::new(Ipv4Cidr::new(IP_B, 24).unwrap()).poll_budget;
    assert_eq!(answered_per_poll(default, 200), vec![200]);
    // A budget of zero still makes progress (it counts as one).
    assert_eq!(answered_per_poll(0, 2), vec![1, 1]);
}
