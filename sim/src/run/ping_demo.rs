//! Two stack instances pinging each other over the in-memory pair driver:
//! ARP resolution, ICMP echo, and the retries when frames are lost.

use std::fmt::Write as _;

use rusty_stack::iface::{IfaceEvent, Interface, InterfaceConfig};
use rusty_stack::nic::pair::{pair, PairConfig};
use rusty_stack::nic::Driver;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};

/// What the demo does.
#[derive(Clone, Copy, Debug)]
pub struct PingOptions {
    /// Echo requests to send, one per virtual second.
    pub count: u16,
    /// Bytes of echo data in each request.
    pub size: usize,
    /// Frames of the pinging side to lose at the start (exercises ARP retries).
    pub lose_first: u32,
}

/// What happened.
#[derive(Clone, Debug, Default)]
pub struct PingReport {
    /// Requests sent.
    pub sent: u64,
    /// Replies received.
    pub replies: u64,
    /// Virtual time the run took.
    pub virtual_time: Duration,
    /// Human-readable log, one line per event.
    pub log: String,
    /// Total drops counted by both stacks.
    pub drops: u64,
}

/// Runs the demo: stack A (10.0.0.1) pings stack B (10.0.0.2).
pub fn run(options: &PingOptions) -> PingReport {
    let (mut da, mut db) = pair(&PairConfig::default());
    let ip_a = Ipv4Addr::new(10, 0, 0, 1);
    let ip_b = Ipv4Addr::new(10, 0, 0, 2);
    let mut a = Interface::new(
        &da.capabilities(),
        InterfaceConfig::new(Ipv4Cidr::new(ip_a, 24).expect("valid prefix")),
    );
    let mut b = Interface::new(
        &db.capabilities(),
        InterfaceConfig::new(Ipv4Cidr::new(ip_b, 24).expect("valid prefix")),
    );
    da.lose_next(options.lose_first);
    let mut report = PingReport::default();
    let interval = Duration::from_secs(1);
    let end = Instant::ZERO + interval.saturating_mul(u64::from(options.count) + 3);
    let mut next_ping = Instant::ZERO;
    let mut seq: u16 = 0;
    let mut now = Instant::ZERO;
    loop {
        if seq < options.count && now >= next_ping {
            seq += 1;
            if a.send_ping(&mut da, now, ip_b, 0x5253, seq, options.size)
                .is_ok()
            {
                report.sent += 1;
                let _ = writeln!(
                    report.log,
                    "{now}  {ip_a} -> {ip_b}  echo request seq={seq} len={}",
                    options.size
                );
            }
            next_ping = now + interval;
        }
        // Both sides work until quiet at this instant.
        while a.poll(&mut da, now) | b.poll(&mut db, now) {}
        while let Some(IfaceEvent::EchoReply {
            from,
            seq_no,
            data_len,
            ..
        }) = a.take_event()
        {
            report.replies += 1;
            let _ = writeln!(
                report.log,
                "{now}  {from} -> {ip_a}  echo reply   seq={seq_no} len={data_len}"
            );
        }
        let next = [
            a.poll_at(),
            b.poll_at(),
            (seq < options.count).then_some(next_ping),
        ]
        .into_iter()
        .flatten()
        .filter(|&t| t > now)
        .min();
        match next {
            Some(t) if t < end => {
                now = t;
                da.set_now(now);
            }
            _ => break,
        }
    }
    report.virtual_time = now - Instant::ZERO;
    report.drops = a.counters().total_drops() + b.counters().total_drops();
    let _ = writeln!(
        report.log,
        "A: {} ARP requests, {} drops; B: {} ARP replies, {} echo replies, {} drops",
        a.counters().arp_requests_sent,
        a.counters().total_drops(),
        b.counters().arp_replies_sent,
        b.counters().icmp_echo_replies_sent,
        b.counters().total_drops(),
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_ping_is_answered() {
        let report = run(&PingOptions {
            count: 5,
            size: 100,
            lose_first: 0,
        });
        assert_eq!((report.sent, report.replies), (5, 5), "{}", report.log);
    }

    #[test]
    fn lost_arp_request_delays_the_first_reply() {
        // The first two frames of A are its announcement and its first ARP
        // request; the retry a second later resolves B.
        let report = run(&PingOptions {
            count: 2,
            size: 8,
            lose_first: 2,
        });
        assert_eq!(report.replies, 2, "{}", report.log);
        assert!(
            report
                .log
                .contains("1.000000000s  10.0.0.2 -> 10.0.0.1  echo reply   seq=1"),
            "{}",
            report.log
        );
    }

    #[test]
    fn same_options_same_log() {
        let o = PingOptions {
            count: 3,
            size: 64,
            lose_first: 2,
        };
        assert_eq!(run(&o).log, run(&o).log);
    }
}
