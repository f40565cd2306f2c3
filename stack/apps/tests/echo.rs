//! The echo server over the pair driver: payloads of every size come back
//! intact, in several chunks when they are large, through losses and
//! retransmissions; a peer that outruns the transmit queue is reset.

#[path = "../../tests/support/mod.rs"]
mod support;

mod common;

use common::{config, RawClient};
use rusty_apps::{EchoServer, ECHO_CHUNK};
use rusty_stack::tcp::TcpConfig;
use rusty_stack::time::Duration;
use support::{pattern, Net};

fn leak(bytes: Vec<u8>) -> &'static [u8] {
    Box::leak(bytes.into_boxed_slice())
}

fn echo_net(jobs: Vec<Vec<&'static [u8]>>, server_config: TcpConfig) -> Net<EchoServer, RawClient> {
    let mut client = RawClient::new(jobs, true);
    client.port = 7;
    let mut net = Net::quiet(EchoServer::new(), client, server_config, config());
    net.a.listen(7, 64).unwrap();
    net
}

#[test]
fn echoes_payloads_of_every_size() {
    let sizes = [
        1usize,
        5,
        1460,
        1461,
        ECHO_CHUNK,
        ECHO_CHUNK + 1,
        10_000,
        50_000,
    ];
    let payloads: Vec<&'static [u8]> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| leak(pattern(n, i as u32)))
        .collect();
    let server_config = TcpConfig {
        tx_queue_entries: 64,
        ..config()
    };
    let mut net = echo_net(payloads.iter().map(|&p| vec![p]).collect(), server_config);
    assert!(
        net.run_until(Duration::from_secs(30), |n| n.b.app().all_done()
            && n.a.active_connections() == 0)
    );
    for (log, payload) in net.b.app().logs.iter().zip(&payloads) {
        assert!(log.closed && !log.reset, "{} bytes: {log:?}", payload.len());
        assert_eq!(log.received.len(), payload.len());
        assert!(log.received == *payload, "{} bytes differ", payload.len());
    }
    let total: usize = sizes.iter().sum();
    let c = net.a.app().counters();
    assert_eq!(c.connections, sizes.len() as u64);
    assert_eq!(c.bytes_received, total as u64);
    assert_eq!(c.bytes_echoed, total as u64);
    assert_eq!(c.bytes_acked, total as u64);
    assert_eq!(
        (c.closed, c.resets, c.overflows),
        (sizes.len() as u64, 0, 0)
    );
}

#[test]
fn echoes_pieces_sent_one_by_one() {
    let pieces: Vec<&'static [u8]> = vec![b"hel", b"lo, ", b"wor", b"ld", b"!"];
    let mut net = echo_net(vec![pieces], config());
    assert!(
        net.run_until(Duration::from_secs(10), |n| n.b.app().all_done()
            && n.a.active_connections() == 0)
    );
    let log = &net.b.app().logs[0];
    assert_eq!(log.received, b"hello, world!");
    assert!(
        log.deliveries >= 5,
        "each piece is echoed on its own: {log:?}"
    );
    assert!(log.closed);
}

/// Echoes 40 KB with every fifth server frame and every seventh client
/// frame lost: the echo writers are called again for retransmissions.
fn echo_through_losses(sack: bool) {
    let payload = leak(pattern(40_000, 9));
    let server_config = TcpConfig {
        tx_queue_entries: 64,
        sack,
        ..config()
    };
    let mut net = echo_net(vec![vec![payload]], server_config);
    net.da.set_loss_filter(|n, _| n % 5 == 3);
    net.db.set_loss_filter(|n, _| n % 7 == 4);
    assert!(
        net.run_until(Duration::from_secs(120), |n| n.b.app().all_done()
            && n.a.active_connections() == 0)
    );
    let log = &net.b.app().logs[0];
    assert!(log.closed, "{log:?}");
    assert!(log.received == payload);
    assert!(net.da.stats().lost > 0 && net.db.stats().lost > 0);
    assert!(net.a.tcp_counters().retransmits > 0);
    assert!(net.b.tcp_counters().retransmits > 0);
    assert_eq!(net.a.app().counters().bytes_acked, 40_000);
}

#[test]
fn echoes_through_losses() {
    echo_through_losses(false);
}

/// The same with SACK. Once stalled: after a retransmission timeout both
/// peers went back to `snd_una` and sent pure ACKs below the other's
/// `rcv_nxt`, which were dropped unread. Fixed by sending pure ACKs at
/// `snd_max` and using the ACK of old segments.
#[test]
fn echoes_through_losses_with_sack() {
    echo_through_losses(true);
}

#[test]
fn overflow_resets_the_connection() {
    // Two writers of 2 KB plus one pending chunk cannot hold 100 KB sent at once.
    let payload = leak(pattern(100_000, 3));
    let server_config = TcpConfig {
        tx_queue_entries: 2,
        ..config()
    };
    let mut net = echo_net(vec![vec![payload]], server_config);
    assert!(
        net.run_until(Duration::from_secs(30), |n| n.b.app().all_done()
            && n.a.active_connections() == 0)
    );
    assert!(net.b.app().logs[0].reset);
    let c = net.a.app().counters();
    assert_eq!((c.overflows, c.resets), (1, 1));
}
