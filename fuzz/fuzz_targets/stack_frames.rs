//! Sequences of arbitrary frames, with time steps between them, into a
//! `Stack` running the HTTP server over the 500-page set on port 80.
//!
//! The input is a list of records ([`rusty_fuzz::records`]): frames (raw,
//! or first addressed to the stack and given valid checksums, so mutations
//! reach TCP) and time steps. The stack is the one the `curl-rusty`
//! capture shows (10.77.0.2/24, `02:00:00:77:00:02`, seed 7, clock
//! 8533 ns at creation), so frames from that capture, which `seeds.sh`
//! writes into the corpus, replay its conversations. After every record the
//! stack is polled until it is idle, and every frame it emits must parse
//! with etherparse, with valid IPv4 and TCP/ICMP checksums, and come from
//! its own MAC address. At the end time runs on through the stack's timers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use rusty_apps::HttpServer;
use rusty_fixtures::PageContent;
use rusty_fuzz::check::assert_frame;
use rusty_fuzz::records::{self, Record};
use rusty_fuzz::wire::{drain, fix_checksums, inject, readdress};
use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::buf::PoolConfig;
use rusty_stack::nic::pair::{pair, PairConfig, PairDriver};
use rusty_stack::nic::Driver;
use rusty_stack::tcp::App;
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};
use rusty_stack::{Stack, TcpConfig};

/// The stack's MAC address (the `curl-rusty` capture's).
const STACK_MAC: MacAddr = MacAddr([0x02, 0x00, 0x00, 0x77, 0x00, 0x02]);
/// The stack's address.
const STACK_IP: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
/// The stack's clock when it was created.
const START: Instant = Instant::from_nanos(8533);
/// Polls at one instant before the stack counts as busy for ever.
const MAX_POLLS: usize = 1000;
/// Timer steps run after the last record.
const FINAL_TIMER_STEPS: usize = 64;

/// The TCP settings of the TAP examples (seed 7), with small tables so a
/// stack is cheap to build for every input.
fn tcp_config() -> TcpConfig {
    let mut secret = [0u8; 16];
    secret[..8].copy_from_slice(&7u64.to_le_bytes());
    TcpConfig {
        secret,
        max_connections: 16,
        time_wait_capacity: 16,
        ooo_max_segments: 48,
        ooo_pool_segments: 96,
        ..TcpConfig::default()
    }
}

/// A pool of both ends of the wire: enough for a window of full frames,
/// small enough to build quickly (and to run out under a flood).
fn pool() -> PoolConfig {
    PoolConfig {
        counts: [128, 64, 64, 64, 256, 8, 8, 0],
        chaining: false,
        references: 128,
    }
}

/// Polls `stack` at `now` until it has nothing to do, then checks every
/// frame it sent.
fn settle<A: App>(
    stack: &mut Stack<A>,
    driver: &mut PairDriver,
    peer: &mut PairDriver,
    now: Instant,
) {
    driver.set_now(now);
    for _ in 0..MAX_POLLS {
        if !stack.poll(driver, now) {
            break;
        }
    }
    for frame in drain(peer) {
        assert_frame(&frame);
        assert_eq!(frame[6..12], STACK_MAC.0, "a frame from another MAC");
    }
}

fuzz_target!(|data: &[u8]| {
    let (mut driver, mut peer) = pair(&PairConfig {
        macs: [STACK_MAC, MacAddr([0x02, 0xee, 0, 0, 0, 1])],
        mtu: 1500,
        pool: pool(),
        queue_capacity: 512,
        capture: false,
        shared_pool: false,
    });
    driver.set_now(START);
    let ip = Ipv4Cidr::new(STACK_IP, 24).expect("a /24");
    let mut stack = Stack::new(
        &driver.capabilities(),
        InterfaceConfig::new(ip),
        tcp_config(),
        HttpServer::new(PageContent::all()),
        START,
    );
    stack.listen(80, 128).expect("port 80 is free");

    let mut now = START;
    settle(&mut stack, &mut driver, &mut peer, now);
    for record in records::parse(data) {
        match record {
            Record::Frame {
                fix_checksums: fix,
                readdress: to_stack,
                bytes,
            } => {
                let mut frame = bytes.to_vec();
                if to_stack {
                    readdress(&mut frame, STACK_MAC, STACK_IP);
                }
                if fix {
                    fix_checksums(&mut frame);
                }
                inject(&mut peer, &frame);
            }
            Record::Advance(by) => now += by,
            Record::NextTimer => {
                if let Some(at) = stack.poll_at() {
                    now = now.max(at);
                }
            }
        }
        settle(&mut stack, &mut driver, &mut peer, now);
    }
    // Let every timer run: retransmissions, keepalives, TIME-WAIT.
    for _ in 0..FINAL_TIMER_STEPS {
        let Some(at) = stack.poll_at() else { break };
        now = now.max(at).max(now + Duration::from_millis(1));
        settle(&mut stack, &mut driver, &mut peer, now);
    }
});
