//! Canonical TCP exchanges between two Rusty stacks, as readable traces
//! kept as `insta` snapshots: handshake, piggybacked replies and FINs,
//! fast retransmit, RTO backoff and SACK recovery.

mod support;

use rusty_stack::tcp::TcpConfig;
use rusty_stack::time::Duration;
use rusty_stack::wire::{Ipv4Packet, TcpPacket};
use support::*;

fn server() -> Script {
    Script::default()
}

fn client(request: Option<&[u8]>) -> Script {
    Script {
        request: request.map(|r| r.to_vec().into()),
        connects: vec![(IP_B, 80)],
        ..Script::default()
    }
}

fn listen(net: &mut Net<Script, Script>) {
    net.b.listen(80, 16).unwrap();
}

/// Payload length of a TCP frame sent by `end`, or None for non-TCP.
fn tcp_payload_len(frame: &[u8]) -> Option<usize> {
    let ip = Ipv4Packet::new_checked(frame.get(14..)?).ok()?;
    let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
    Some(tcp.payload().len())
}

#[test]
fn handshake_and_active_close() {
    let mut c = client(None);
    c.close_after_request = true;
    let mut net = Net::new(c, server(), test_config(), test_config());
    listen(&mut net);
    net.run_for(Duration::from_secs(1));
    let a = &net.a.app().logs[0];
    let b = &net.b.app().logs[0];
    assert!(a.connected && a.closed && !a.reset, "{a:?}");
    assert!(b.remote_closed && b.closed && !b.reset, "{b:?}");
    assert_eq!(net.a.active_connections(), 0);
    assert_eq!(net.b.active_connections(), 0);
    assert_eq!(net.a.time_wait_connections(), 1, "the active closer waits");
    insta::assert_snapshot!(net.trace());
}

#[test]
fn request_with_piggybacked_response_and_fin() {
    let mut b = server();
    b.reply = Some(data(100, 1));
    b.close_after_reply = true;
    let mut net = Net::new(
        client(Some(b"GET / HTTP/1.0\r\n\r\n")),
        b,
        test_config(),
        test_config(),
    );
    listen(&mut net);
    net.run_for(Duration::from_secs(1));
    let a = &net.a.app().logs[0];
    assert_eq!(a.received, &data(100, 1)[..]);
    assert!(a.remote_closed && a.closed);
    assert!(net.b.app().logs[0].closed);
    let trace = net.trace();
    // The reply, its FIN and the ACK of the request share one segment.
    assert!(trace.contains("B 10.0.0.2:80 > 10.0.0.1:"), "{trace}");
    assert!(
        trace
            .lines()
            .any(|l| l.contains("[FP.]") && l.ends_with("len 100")),
        "{trace}"
    );
    insta::assert_snapshot!(trace);
}

#[test]
fn fin_rides_on_the_ack_of_the_peers_fin() {
    // The client sends its request and FIN together; the server answers
    // inside on_data and closes in on_remote_close: its data, FIN and the
    // ACK of the client's FIN leave in one segment.
    let mut a = client(Some(b"ping"));
    a.close_after_request = true;
    let mut b = server();
    b.reply = Some(data(10, 2));
    let mut net = Net::new(a, b, test_config(), test_config());
    listen(&mut net);
    net.run_for(Duration::from_secs(1));
    assert_eq!(net.a.app().logs[0].received, &data(10, 2)[..]);
    assert!(net.b.app().logs[0].closed && net.a.app().logs[0].closed);
    insta::assert_snapshot!(net.trace());
}

fn bulk(sack: bool, lose: impl FnMut(u64, &[u8]) -> bool + 'static) -> Net<Script, Script> {
    let config = TcpConfig {
        sack,
        ..test_config()
    };
    let mut b = server();
    b.reply = Some(data(20 * 1448, 3));
    b.close_after_reply = true;
    let mut net = Net::new(client(Some(b"GET /big")), b, config.clone(), config);
    listen(&mut net);
    net.db.set_loss_filter(lose);
    net.run_for(Duration::from_secs(10));
    let a = &net.a.app().logs[0];
    assert_eq!(a.received.len(), 20 * 1448);
    assert!(a.received[..] == data(20 * 1448, 3)[..], "bytes differ");
    assert!(a.closed && net.b.app().logs[0].closed);
    net
}

/// Loses the `nth` data segments (counting from 1) the server sends, once each.
fn lose_data_segments(nths: &'static [usize]) -> impl FnMut(u64, &[u8]) -> bool {
    let mut seen = 0usize;
    move |_, frame| {
        if tcp_payload_len(frame).unwrap_or(0) == 0 {
            return false;
        }
        seen += 1;
        nths.contains(&seen)
    }
}

#[test]
fn loss_repaired_by_fast_retransmit() {
    let net = bulk(false, lose_data_segments(&[3]));
    assert_eq!(net.b.tcp_counters().fast_retransmits, 1);
    assert_eq!(net.b.tcp_counters().rto_expirations, 0);
    insta::assert_snapshot!(net.trace());
}

#[test]
fn rto_with_backoff() {
    // The first data segment is lost three times: the RTO doubles each time.
    let mut b = server();
    b.reply = Some(data(500, 4));
    b.close_after_reply = true;
    let mut net = Net::new(client(Some(b"GET /")), b, test_config(), test_config());
    listen(&mut net);
    let mut left = 3;
    net.db.set_loss_filter(move |_, frame| {
        if tcp_payload_len(frame).unwrap_or(0) > 0 && left > 0 {
            left -= 1;
            return true;
        }
        false
    });
    net.run_for(Duration::from_secs(10));
    assert_eq!(net.a.app().logs[0].received, &data(500, 4)[..]);
    assert_eq!(net.b.tcp_counters().rto_expirations, 3);
    insta::assert_snapshot!(net.trace());
}

#[test]
fn sack_recovery_of_two_losses() {
    let net = bulk(true, lose_data_segments(&[3, 6]));
    assert_eq!(
        net.b.tcp_counters().rto_expirations,
        0,
        "SACK repairs both holes without a timeout"
    );
    insta::assert_snapshot!(net.trace());
}
