//! Active opens under RSS, frames for other cores, TIME-WAIT and port
//! reuse, keepalive, Nagle and abort.

mod support;

use rusty_stack::nic::rss::{RssTable, MICROSOFT_RSS_KEY};
use rusty_stack::nic::{Driver, FlowSteering, FlowTuple};
use rusty_stack::tcp::{State, TcpConfig};
use rusty_stack::time::{Duration, Instant};
use support::*;

#[test]
fn active_open_picks_ports_whose_replies_hash_to_this_queue() {
    let connects: Vec<_> = (0..40).map(|_| (IP_B, 80)).collect();
    let client = Script {
        connects,
        ..Script::default()
    };
    // A's stack is told it is queue 2 of a 4-queue Toeplitz NIC.
    let rss = RssTable::new(&MICROSOFT_RSS_KEY, 4);
    let steering = FlowSteering {
        rss: rss.clone(),
        queues: 4,
    };
    let mut net = Net::with_caps_a(
        client,
        Script::default(),
        test_config(),
        test_config(),
        |caps| {
            caps.queue = 2;
            caps.steering = Some(steering);
        },
    );
    net.b.listen(80, 64).unwrap();
    let now = Instant::ZERO;
    for _ in 0..10 {
        net.a.poll(&mut net.da, now);
        net.b.poll(&mut net.db, now);
    }
    let conns: Vec<_> = net.a.connections().collect();
    assert_eq!(conns.len(), 40);
    let mut ports: Vec<u16> = conns.iter().map(|c| c.local.1).collect();
    for c in &conns {
        assert_eq!(c.state, State::Established);
        let reply = FlowTuple {
            src_addr: IP_B,
            src_port: 80,
            dst_addr: IP_A,
            dst_port: c.local.1,
        };
        assert_eq!(
            rss.queue_for(&reply),
            2,
            "port {} lands elsewhere",
            c.local.1
        );
    }
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), 40, "distinct ports");
}

#[test]
fn frames_of_another_cores_ports_are_handed_over() {
    // Core 0 of 2 owns even ephemeral ports; a segment for an odd one is
    // not answered with a reset but given to the owner for forwarding.
    let config = TcpConfig {
        port_partition: Some((0, 2)),
        ..test_config()
    };
    let client = Script {
        connects: vec![(IP_B, 80); 4],
        ..Script::default()
    };
    let mut net = Net::new(client, Script::default(), config, test_config());
    net.b.listen(80, 16).unwrap();
    net.settle();
    let ports: Vec<u16> = net.a.connections().map(|c| c.local.1).collect();
    assert_eq!(ports.len(), 4);
    assert!(ports.iter().all(|p| p % 2 == 0), "{ports:?}");
    // B answers a SYN from port 50001 (as if core 1 of A sent it): A gets
    // the SYN-ACK on core 0 and must hand it over.
    let mut odd = Net::new(
        Script::default(),
        Script::default(),
        TcpConfig {
            port_partition: Some((0, 2)),
            ..test_config()
        },
        test_config(),
    );
    // A SYN-ACK for port 50001, as if core 1 had sent the SYN.
    let syn_ack = support_frame_from(IP_B, 80, IP_A, 50001);
    receive_at_a(&mut odd, &syn_ack);
    let stray = odd.a.take_stray().expect("handed over");
    assert_eq!(stray.copy_to_vec(), syn_ack);
    odd.da.release(stray);
    assert_eq!(odd.a.tcp_counters().stray_forwarded, 1);
    assert_eq!(odd.a.tcp_counters().resets_sent, 0);
}

/// A SYN-ACK frame from `src` to `dst`, built with our wire layer.
/// Hands `bytes` to A's stack as a frame received from the wire.
fn receive_at_a(net: &mut Net<Script, Script>, bytes: &[u8]) {
    let mut chain = net.da.alloc_tx(bytes.len()).unwrap();
    chain.cursor_mut().write(bytes).unwrap();
    let now = net.now;
    net.a.receive(&mut net.da, chain, now);
}

fn support_frame_from(
    src: rusty_stack::wire::Ipv4Addr,
    sport: u16,
    dst: rusty_stack::wire::Ipv4Addr,
    dport: u16,
) -> Vec<u8> {
    support_frame_with(src, sport, dst, dport, rusty_stack::wire::TcpFlags::SYN)
}

/// A segment with `flags` (and an ACK) from `src:sport` to `dst:dport`.
fn support_frame_with(
    src: rusty_stack::wire::Ipv4Addr,
    sport: u16,
    dst: rusty_stack::wire::Ipv4Addr,
    dport: u16,
    flags: rusty_stack::wire::TcpFlags,
) -> Vec<u8> {
    use rusty_stack::wire::*;
    let tcp = TcpRepr {
        src_port: sport,
        dst_port: dport,
        flags,
        seq_number: TcpSeqNumber(5),
        ack_number: Some(TcpSeqNumber(9)),
        window_len: 1000,
        window_scale: None,
        max_seg_size: Some(1460),
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload: &[],
    };
    let ip = Ipv4Repr {
        src,
        dst,
        protocol: IpProtocol::Tcp,
        payload_len: tcp.buffer_len(),
        ttl: 64,
        dscp_ecn: 0,
        ident: 0,
        dont_frag: true,
    };
    let eth = EthernetRepr {
        src: MacAddr([2, 0, 0, 0, 0, 2]),
        dst: MacAddr([2, 0, 0, 0, 0, 1]),
        ethertype: EtherType::Ipv4,
    };
    let mut bytes = vec![0u8; 14 + ip.buffer_len()];
    eth.emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
    ip.emit(&mut Ipv4Packet::new_unchecked(&mut bytes[14..]));
    tcp.emit(&mut TcpPacket::new_unchecked(&mut bytes[34..]), src, dst);
    bytes
}

#[test]
fn resets_for_another_cores_ports_are_handed_over_too() {
    // Found by `rusty-sim swarm` (seed 168): a reset that reached the core
    // not owning the port was dropped, and the owner's connection sat in
    // LAST-ACK for ever.
    let mut odd = Net::new(
        Script::default(),
        Script::default(),
        TcpConfig {
            port_partition: Some((0, 2)),
            ..test_config()
        },
        test_config(),
    );
    let rst = support_frame_with(IP_B, 80, IP_A, 50001, rusty_stack::wire::TcpFlags::RST);
    receive_at_a(&mut odd, &rst);
    let stray = odd.a.take_stray().expect("handed over");
    assert_eq!(stray.copy_to_vec(), rst);
    odd.da.release(stray);
    assert_eq!(odd.a.tcp_counters().stray_forwarded, 1);
    // A reset for this core's own port with no connection is still dropped.
    let rst = support_frame_with(IP_B, 80, IP_A, 50002, rusty_stack::wire::TcpFlags::RST);
    receive_at_a(&mut odd, &rst);
    assert!(odd.a.take_stray().is_none());
    assert_eq!(odd.a.tcp_counters().resets_sent, 0);
}

#[test]
fn time_wait_blocks_port_reuse_until_it_ends() {
    // The client closes first, so it holds TIME-WAIT; a narrow port range
    // forces the question of reuse.
    let config = TcpConfig {
        ephemeral_ports: (50000, 50001),
        time_wait: Duration::from_secs(30),
        ..test_config()
    };
    let mut client = Script {
        connects: vec![(IP_B, 80); 2],
        close_after_request: true,
        ..Script::default()
    };
    client.request = Some(data(1, 0));
    let mut net = Net::new(client, Script::default(), config, test_config());
    net.b.listen(80, 16).unwrap();
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.a.time_wait_connections(), 2);
    // Both ports are in TIME-WAIT: a third open finds no port.
    net.a.app_mut().connects.push((IP_B, 80));
    net.run_for(Duration::from_millis(1));
    assert_eq!(net.a.tcp_counters().connect_no_port, 1);
    // After 2 MSL the ports are free again.
    net.run_for(Duration::from_secs(31));
    assert_eq!(net.a.time_wait_connections(), 0);
    net.a.app_mut().connects.push((IP_B, 80));
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.a.tcp_counters().connect_attempts, 3);
    assert!(net.a.app().logs.last().unwrap().connected);
}

#[test]
fn keepalive_probes_then_resets_a_silent_peer() {
    let config = TcpConfig {
        keepalive: Some(Duration::from_secs(10)),
        keepalive_interval: Duration::from_secs(1),
        keepalive_probes: 3,
        ..test_config()
    };
    let client = Script {
        connects: vec![(IP_B, 80)],
        ..Script::default()
    };
    let mut net = Net::new(client, Script::default(), config, test_config());
    net.b.listen(80, 16).unwrap();
    net.run_for(Duration::from_secs(5));
    assert_eq!(net.a.active_connections(), 1);
    // Answered probes keep the connection.
    net.run_for(Duration::from_secs(30));
    assert!(net.a.tcp_counters().keepalive_probes >= 2);
    assert_eq!(net.a.active_connections(), 1);
    // The peer goes silent: probes go unanswered, the connection is reset.
    net.db.set_loss_filter(|_, _| true);
    net.run_for(Duration::from_secs(60));
    assert_eq!(net.a.active_connections(), 0);
    assert_eq!(net.a.tcp_counters().keepalive_timeouts, 1);
    assert!(net.a.app().logs[0].reset);
}

#[test]
fn abort_sends_a_reset_and_frees_both_sides() {
    // The server queues a large reply, then aborts in the same handler:
    // nothing of the reply is sent, a RST is, and both apps hear of it.
    let server = Script {
        reply: Some(data(100_000, 1)),
        abort_on_data: true,
        ..Script::default()
    };
    let client = Script {
        request: Some(data(10, 2)),
        connects: vec![(IP_B, 80)],
        ..Script::default()
    };
    let mut net = Net::new(client, server, test_config(), test_config());
    net.b.listen(80, 16).unwrap();
    net.run_for(Duration::from_secs(1));
    assert!(net.a.app().logs[0].received.is_empty());
    assert!(net.a.app().logs[0].reset && net.b.app().logs[0].reset);
    assert_eq!(net.a.active_connections() + net.b.active_connections(), 0);
    assert_eq!(net.b.tcp_counters().resets_sent, 1);
    let trace = net.trace();
    assert!(trace.lines().last().unwrap().contains("[R.]"), "{trace}");
}

#[test]
fn refused_connection_is_reset_and_reported() {
    let client = Script {
        connects: vec![(IP_B, 80)],
        ..Script::default()
    };
    let server = Script {
        accept: false,
        ..Script::default()
    };
    let mut net = Net::new(client, server, test_config(), test_config());
    net.b.listen(80, 16).unwrap();
    net.run_for(Duration::from_secs(1));
    assert!(net.a.app().logs[0].reset, "{:?}", net.a.app().logs);
    assert_eq!(net.a.active_connections(), 0);
    assert_eq!(net.b.active_connections(), 0);
    assert_eq!(net.b.tcp_counters().connections_refused, 1);
}

#[test]
fn nagle_holds_small_segments_while_data_is_in_flight() {
    let run = |nagle: bool| {
        let config = TcpConfig {
            nagle,
            delayed_ack: Duration::from_millis(40),
            ..test_config()
        };
        // 1448 + 1448 + 104 bytes.
        let server = Script {
            reply: Some(data(3000, 1)),
            ..Script::default()
        };
        let client = Script {
            request: Some(data(1, 0)),
            connects: vec![(IP_B, 80)],
            ..Script::default()
        };
        let mut net = Net::new(client, server, test_config(), config);
        net.b.listen(80, 16).unwrap();
        net.run_for(Duration::from_secs(1));
        assert_eq!(net.a.app().logs[0].received.len(), 3000);
        net.trace()
    };
    // Without Nagle the small tail goes out at once with the full segments.
    let without = run(false);
    let with = run(true);
    assert_ne!(without, with);
    assert!(with.contains("len 104"));
}

#[test]
fn fin_wait_2_times_out_when_the_peer_never_closes() {
    let config = TcpConfig {
        fin_wait2_timeout: Some(Duration::from_secs(30)),
        ..test_config()
    };
    let client = Script {
        connects: vec![(IP_B, 80)],
        close_after_request: true,
        ..Script::default()
    };
    // The server never closes its side.
    let server = Script {
        close_on_remote_close: false,
        ..Script::default()
    };
    let mut net = Net::new(client, server, config, test_config());
    net.b.listen(80, 16).unwrap();
    net.run_for(Duration::from_secs(1));
    assert_eq!(
        net.a.connections().next().map(|c| c.state),
        Some(State::FinWait2)
    );
    net.run_for(Duration::from_secs(40));
    assert_eq!(net.a.active_connections(), 0);
    assert_eq!(net.a.tcp_counters().fin_wait2_timeouts, 1);
    assert!(net.a.app().logs[0].closed);
    assert_eq!(
        net.b.connections().next().map(|c| c.state),
        Some(State::CloseWait)
    );
}

/// A driver whose `alloc_tx` fails for the allocations numbered in `fail`
/// (counted from 1), otherwise the pair driver's.
struct FlakyTx {
    inner: rusty_stack::nic::pair::PairDriver,
    allocs: u32,
    fail: std::ops::RangeInclusive<u32>,
}

impl Driver for FlakyTx {
    fn capabilities(&self) -> rusty_stack::nic::Capabilities {
        self.inner.capabilities()
    }
    fn receive(&mut self) -> Option<rusty_stack::Frame> {
        self.inner.receive()
    }
    fn alloc_tx(&mut self, len: usize) -> Option<rusty_stack::Frame> {
        self.allocs += 1;
        if self.fail.contains(&self.allocs) {
            return None;
        }
        self.inner.alloc_tx(len)
    }
    fn transmit(&mut self, frame: rusty_stack::Frame) -> Result<(), rusty_stack::nic::TxFull> {
        self.inner.transmit(frame)
    }
    fn release(&mut self, frame: rusty_stack::Frame) {
        self.inner.release(frame)
    }
}

/// Runs A (a client sending a request) against B (a server replying 20 KB
/// through `FlakyTx` failing allocations `fail`) until A has the reply;
/// returns when that was and B's counters.
fn reply_through_flaky_buffers(
    fail: std::ops::RangeInclusive<u32>,
) -> (Duration, rusty_stack::stats::TcpCounters) {
    use rusty_stack::iface::InterfaceConfig;
    use rusty_stack::nic::pair::{pair, PairConfig};
    use rusty_stack::wire::Ipv4Cidr;
    use rusty_stack::Stack;
    let reply = data(20_000, 3);
    let (da, db) = pair(&PairConfig::default());
    let mut db = FlakyTx {
        inner: db,
        allocs: 0,
        fail,
    };
    let mut da = da;
    let mut ia = InterfaceConfig::new(Ipv4Cidr::new(IP_A, 24).unwrap());
    let mut ib = InterfaceConfig::new(Ipv4Cidr::new(IP_B, 24).unwrap());
    ia.announce = false;
    ib.announce = false;
    let (client, server) = fetch(&reply);
    let now = Instant::ZERO;
    let mut a = Stack::new(&da.capabilities(), ia, test_config(), client, now);
    let mut b = Stack::new(&db.capabilities(), ib, test_config(), server, now);
    a.iface_mut().add_static_arp(IP_B, db.inner.mac()).unwrap();
    b.iface_mut().add_static_arp(IP_A, da.mac()).unwrap();
    b.listen(80, 4).unwrap();
    let mut now = now;
    let got = |a: &Stack<Script>| a.app().logs.first().map_or(0, |l| l.received.len());
    while got(&a) < reply.len() && now < Instant::ZERO + Duration::from_secs(10) {
        let busy_a = a.poll(&mut da, now);
        let busy_b = b.poll(&mut db, now);
        if busy_a || busy_b || da.pending() > 0 || db.inner.pending() > 0 {
            continue;
        }
        let next = [a.poll_at(), b.poll_at()].into_iter().flatten().min();
        let Some(next) = next else { break };
        now = next.max(now + Duration::from_micros(1));
        da.set_now(now);
    }
    assert_eq!(
        a.app().logs[0].received,
        &reply[..],
        "the whole reply, intact"
    );
    (now - Instant::ZERO, b.tcp_counters().clone())
}

#[test]
fn a_segment_that_finds_no_transmit_buffer_is_retried_soon_without_an_rto() {
    // Allocation 1 is B's SYN-ACK; 2 to 4 fail: the first data segment of
    // the reply, the ACK sent in its place, and the first retry.
    let (clean_at, clean) = reply_through_flaky_buffers(0..=0);
    let (at, counters) = reply_through_flaky_buffers(2..=4);
    assert_eq!(clean.buffer_retries, 0);
    assert!(counters.buffer_retries >= 1, "{counters:?}");
    // No timeout, so no back-off and no window collapse, and the reply is
    // late by the retries (1 ms, then 2 ms), not by an RTO (1 s here).
    assert_eq!(counters.rto_expirations, 0, "{counters:?}");
    assert_eq!(counters.retransmits, 0, "{counters:?}");
    assert!(
        at < clean_at + Duration::from_millis(10),
        "{at:?} against {clean_at:?}"
    );
    assert!(at > clean_at, "the failures cost some time: {at:?}");
    // Short of buffers for longer: the retries double until they would
    // reach the RTO, which then takes over with its back-off and its
    // retry limit (a connection that never gets a buffer ends).
    let (late, counters) = reply_through_flaky_buffers(2..=40);
    assert!((5..=12).contains(&counters.buffer_retries), "{counters:?}");
    assert!(counters.rto_expirations >= 1, "{counters:?}");
    assert!(late > Duration::from_millis(900), "{late:?}");
}
