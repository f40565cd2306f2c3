//! A scripted raw-frame peer against a Rusty host in the simulator: the
//! host resolves ARP, answers ICMP echo, refuses a connection to a closed
//! port with a reset, and counts a malformed frame instead of crashing.

use rusty_sim::hosts::cost::CostModel;
use rusty_sim::hosts::rusty::{PortSpec, RustyHost, RustyHostConfig};
use rusty_sim::hosts::scripted::ScriptedHost;
use rusty_sim::kernel::rng::Seeds;
use rusty_sim::kernel::world::World;
use rusty_sim::net::link::{Link, LinkConfig};
use rusty_sim::net::nic_port::NicKind;
use rusty_sim::scenario::workload::BulkServer;
use rusty_stack::mem::buf::PoolConfig;
use rusty_stack::nic::rss::MICROSOFT_RSS_KEY;
use rusty_stack::stats::DropReason;
use rusty_stack::tcp::TcpConfig;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};

const PEER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 9];
const HOST_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];

fn frames() -> Vec<(Instant, Vec<u8>)> {
    let at = |us: u64| Instant::from_micros(us);
    let mut script = Vec::new();
    // Who has 10.0.0.1?
    let arp = {
        let mut f = vec![0xff; 6];
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&[0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1]);
        f.extend_from_slice(&PEER_MAC);
        f.extend_from_slice(&[10, 0, 0, 9]);
        f.extend_from_slice(&[0; 6]);
        f.extend_from_slice(&[10, 0, 0, 1]);
        f
    };
    script.push((at(10), arp));
    // A ping.
    let ping = etherparse::PacketBuilder::ethernet2(PEER_MAC, HOST_MAC)
        .ipv4([10, 0, 0, 9], [10, 0, 0, 1], 64)
        .icmpv4_echo_request(7, 1);
    let mut f = Vec::new();
    ping.write(&mut f, b"scripted").unwrap();
    script.push((at(20), f));
    // A SYN to a closed port.
    let syn = etherparse::PacketBuilder::ethernet2(PEER_MAC, HOST_MAC)
        .ipv4([10, 0, 0, 9], [10, 0, 0, 1], 64)
        .tcp(40000, 81, 1000, 65535)
        .syn();
    let mut f = Vec::new();
    syn.write(&mut f, &[]).unwrap();
    script.push((at(30), f));
    // Garbage with an IPv4 EtherType.
    let mut junk = HOST_MAC.to_vec();
    junk.extend_from_slice(&PEER_MAC);
    junk.extend_from_slice(&[0x08, 0x00, 0x45, 0xff, 0xff]);
    script.push((at(40), junk));
    script
}

#[test]
fn scripted_peer_talks_to_a_rusty_host() {
    let mut world = World::new();
    let config = RustyHostConfig {
        name: "host".into(),
        cores: 2,
        ports: vec![PortSpec {
            mac: MacAddr(HOST_MAC),
            ip: Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, 1), 24).unwrap(),
        }],
        mtu: 1500,
        tcp: TcpConfig {
            max_connections: 8,
            time_wait_capacity: 8,
            ooo_pool_segments: 8,
            ..TcpConfig::default()
        },
        seeds: Seeds::new(1).subtree("host", 0),
        pool: PoolConfig::default(),
        ring: 64,
        batch: 8,
        cost: CostModel::X86,
        static_arp: Vec::new(),
        rss_key: MICROSOFT_RSS_KEY,
        hash_known: true,
        nic: NicKind::Sim,
        faults: Default::default(),
    };
    let host = world.add_host(Box::new(RustyHost::new(config, |_, _| BulkServer {
        bytes: 10,
    })));
    let scripted = ScriptedHost::new("peer", frames());
    let log = scripted.log();
    let peer = world.add_host(Box::new(scripted));
    world.connect(
        Link::seeded(LinkConfig::default(), &Seeds::new(1), 0),
        (peer, 0),
        (host, 0),
    );
    world.run_until(Instant::ZERO + Duration::from_millis(5), |_| false);

    let h = world.host(host);
    assert_eq!(h.iface_counters().arp_replies_sent, 1);
    assert_eq!(h.iface_counters().icmp_echo_replies_sent, 1);
    assert_eq!(h.tcp_counters().resets_sent, 1);
    assert_eq!(h.iface_counters().drops(DropReason::Ipv4Malformed), 1);
    // The peer saw the answers, each parseable by etherparse.
    let mut kinds = Vec::new();
    for (_, frame) in log.borrow().iter() {
        match etherparse::SlicedPacket::from_ethernet(frame) {
            Ok(p) => match p.transport {
                Some(etherparse::TransportSlice::Icmpv4(_)) => kinds.push("icmp"),
                Some(etherparse::TransportSlice::Tcp(t)) if t.rst() => kinds.push("rst"),
                _ => kinds.push("other"),
            },
            Err(_) => kinds.push("unparsed"),
        }
    }
    assert!(
        kinds.contains(&"icmp") && kinds.contains(&"rst"),
        "{kinds:?}"
    );
}
