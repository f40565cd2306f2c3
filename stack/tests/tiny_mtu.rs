//! The IPv4 minimum MTU (68 bytes): a 28-byte MSS, of which timestamps
//! take 12 and a SACK block 12 more. Every frame stays within the MTU,
//! every segment with data carries at least one byte, and a transfer with
//! losses in both directions completes byte for byte.
//!
//! Regression: the peer's MSS used to be raised to at least 64, so a stack
//! on a 68-byte MTU built 104-byte segments its own interface refused (the
//! connection stalled), and a peer on a larger MTU sent frames the small
//! one could not take; and a pure ACK carried three SACK blocks (80 bytes
//! of IP) where one fits.

mod support;

use std::cell::Cell;
use std::rc::Rc;

use rusty_stack::stack::MIN_PEER_MSS;
use rusty_stack::time::Duration;
use support::*;

/// Ethernet header plus the IPv4 minimum MTU.
const MAX_FRAME: usize = 14 + 68;
/// Ethernet, IPv4 and TCP headers with the timestamp option.
const HEADERS: usize = 14 + 20 + 20 + 12;

#[test]
fn a_68_byte_mtu_carries_a_lossy_transfer_within_the_mtu() {
    assert_eq!(MIN_PEER_MSS, 28);
    let request = data(3000, 1);
    let reply = data(20_000, 2);
    let client = Script {
        connects: vec![(IP_B, 80)],
        request: Some(request.clone()),
        close_after_request: true,
        ..Script::default()
    };
    let server = Script {
        reply: Some(reply.clone()),
        close_after_reply: true,
        ..Script::default()
    };
    // A is on a 68-byte MTU; B on 1500 must keep to A's MSS.
    let mut net = Net::with_caps_a(client, server, test_config(), test_config(), |caps| {
        caps.mtu = 68;
    });
    net.b.listen(80, 16).unwrap();
    // Lose every fifth data frame of each side, retransmissions included,
    // so both receivers hold out-of-order data and send SACK blocks.
    for (driver, salt) in [(&net.da, 1u64), (&net.db, 3)] {
        let count = Rc::new(Cell::new(0u64));
        driver.set_loss_filter(move |_, frame| {
            if frame.len() <= HEADERS {
                return false;
            }
            count.set(count.get() + 1);
            (count.get() + salt).is_multiple_of(5)
        });
    }
    let done = net.run_until(Duration::from_secs(600), |n| {
        n.a.app().logs.first().is_some_and(|l| l.closed)
            && n.b.app().logs.first().is_some_and(|l| l.closed)
    });
    assert!(done, "the transfer did not finish");
    assert_eq!(&net.b.app().logs[0].received[..], &request[..]);
    assert_eq!(&net.a.app().logs[0].received[..], &reply[..]);

    let frames = net.da.take_capture();
    let mut sack_acks = 0;
    for f in &frames {
        assert!(
            f.bytes.len() <= MAX_FRAME,
            "a {}-byte frame from {} on a 68-byte MTU",
            f.bytes.len(),
            if f.from == 0 { "A" } else { "B" }
        );
        // TCP after Ethernet and a 20-byte IPv4 header.
        let tcp = &f.bytes[34..];
        let data_offset = usize::from(tcp[12] >> 4) * 4;
        if data_offset > 32 && f.bytes.len() == 34 + data_offset && tcp[13] & 0x02 == 0 {
            sack_acks += 1;
        }
    }
    assert!(sack_acks > 0, "no ACK carried a SACK block");
    // 23,000 bytes at 16 a segment, about 1,440 data segments and their
    // ACKs, plus retransmissions: nothing near a loop of empty segments.
    assert!(frames.len() < 10_000, "{} frames", frames.len());
    assert!(net.a.tcp_counters().retransmits > 0);
    assert!(net.b.tcp_counters().retransmits > 0);
}
