//! Rusty's HTTP server on the mPIPE backend (`nic::mpipe` over mpipe-emu,
//! feature `mpipe`), four workers, one per NotifRing/eDMA ring, serving
//! the benchmark's 500 pages to smoltcp clients across the deterministic
//! link; the clients check every body byte against the fixtures.
//!
//! The host under test injects what the link delivers into the emulated
//! mPIPE (`inject` on the link's channel: classifier, flow hash, buckets,
//! iDMA), polls one `Stack` per worker on its `MpipeDriver`, and puts what
//! the eDMA sent back on the link. Workers share only ARP mappings, as the
//! simulator's hosts do. After each run every mPIPE buffer is back on its
//! stack (conservation), also after a lossy run whose 1514-byte frames
//! the iDMA chains over 1024-byte buffers.
//!
//! A second test runs Rusty's HTTP load client on the four workers
//! against a smoltcp server: with the classifier's hash known, every
//! connection's replies reach the worker that opened it; without it, they
//! do not (the control that shows the check can fail).

use core::fmt::Debug;

use mpipe_emu::c_abi::CContext;
use mpipe_emu::{Config as EmuConfig, Context as EmuContext};
use rusty_apps::{Content, HttpClientConfig, HttpLoadClient, HttpServer, HttpServerCounters};
use rusty_fixtures::PageContent;
use rusty_sim::hosts::interop::{self, Host, InteropNet, NetError, NetLimits, Wire};
use rusty_sim::hosts::smol_http::{SmolHttpClient, SmolHttpServer};
use rusty_sim::hosts::smol_peer::SmolPeer;
use rusty_sim::kernel::rng::Seeds;
use rusty_sim::net::link::Faults;
use rusty_stack::iface::{IfaceEvent, InterfaceConfig};
use rusty_stack::mem::buf::NUM_CLASSES;
use rusty_stack::nic::mpipe::{MpipeConfig, MpipeDriver, MpipeNic, MpipeStats};
use rusty_stack::nic::rss::MICROSOFT_RSS_KEY;
use rusty_stack::tcp::{App, TcpConfig};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};
use rusty_stack::{Driver, Stack};
use rusty_tests::FixtureSubset;

const SMOL_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
const RUSTY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SMOL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const HTTP_PORT: u16 = 80;
const WORKERS: usize = 4;

/// Rusty's stacks, one per worker, on one emulated mPIPE.
struct MpipeHost<A: App> {
    nic: MpipeNic,
    workers: Vec<(Stack<A>, MpipeDriver)>,
    learned: Vec<(Ipv4Addr, MacAddr)>,
}

impl<A: App> MpipeHost<A> {
    /// Worker `w`'s TCP secret is stream `("tcp-secret", w)` of the Rusty
    /// peer's subtree of `seeds` ([`interop::rusty_seeds`]).
    fn new(config: &MpipeConfig, seeds: &Seeds, mut app: impl FnMut(usize) -> A) -> Self {
        let rusty = interop::rusty_seeds(seeds);
        let ctx = CContext::new(EmuContext::new(EmuConfig::default()).expect("emulator"));
        let (nic, drivers) = MpipeNic::on_emulator(ctx, config).expect("mPIPE set-up");
        let cidr = Ipv4Cidr::new(RUSTY_IP, 24).expect("prefix");
        let workers = drivers
            .into_iter()
            .enumerate()
            .map(|(w, driver)| {
                let mut iface = InterfaceConfig::new(cidr);
                iface.report_arp = true;
                iface.announce = w == 0;
                let tcp = TcpConfig {
                    max_connections: 64,
                    time_wait_capacity: 1024,
                    ooo_pool_segments: 256,
                    secret: rusty.key16("tcp-secret", w as u64),
                    ..TcpConfig::default()
                };
                let caps = driver.capabilities();
                let stack = Stack::new(&caps, iface, tcp, app(w), Instant::ZERO);
                (stack, driver)
            })
            .collect();
        MpipeHost {
            nic,
            workers,
            learned: Vec::new(),
        }
    }

    fn emu<R>(&self, f: impl FnOnce(&mut EmuContext) -> R) -> R {
        let ctx = self.nic.emulator().expect("emulated");
        let mut guard = ctx.lock().expect("context");
        f(&mut guard)
    }

    /// Every buffer is back on its stack and no worker holds one.
    fn assert_all_home(&self) {
        for class in 0..NUM_CLASSES {
            if let Some(stack) = self.nic.stack(class) {
                let on_stack = self.emu(|c| c.stack_len(stack)).expect("stack");
                assert_eq!(on_stack, self.nic.buffers(class), "class {class}");
            }
        }
        for (_, d) in &self.workers {
            assert_eq!(d.held(), 0, "worker {}", d.worker());
        }
    }
}

impl<A: App> Host for MpipeHost<A> {
    fn set_now(&mut self, now: Instant) {
        let ns = now.as_nanos();
        self.emu(|c| c.set_time(ns));
    }

    fn deliver(&mut self, frame: Vec<u8>) {
        let ch = self.nic.channel() as u8;
        // Drops (a full ring, an empty stack) are the emulator's to count.
        let _ = self.emu(|c| c.inject(ch, &frame)).expect("open channel");
    }

    fn poll(&mut self, now: Instant) -> bool {
        let mut worked = false;
        for (stack, driver) in &mut self.workers {
            worked |= stack.poll(driver, now);
            while let Some(event) = stack.take_iface_event() {
                if let IfaceEvent::ArpLearned { ip, mac } = event {
                    self.learned.push((ip, mac));
                }
            }
        }
        // ARP replies reach whichever worker the MAC pair hashes to: share.
        for (ip, mac) in self.learned.drain(..) {
            for (stack, _) in &mut self.workers {
                stack.iface_mut().learn_arp(ip, mac, now);
            }
        }
        worked
    }

    fn take_tx(&mut self, out: &mut Vec<Vec<u8>>) {
        let ch = self.nic.channel() as u8;
        self.emu(|c| c.drain_egress(ch, |f| out.push(f.to_vec())))
            .expect("open channel");
    }

    fn poll_at(&mut self, _now: Instant) -> Option<Instant> {
        self.workers.iter().filter_map(|(s, _)| s.poll_at()).min()
    }
}

fn limits() -> NetLimits {
    NetLimits {
        max_iterations: 20_000_000,
        time_limit: Instant::from_secs(2_400),
        ..NetLimits::default()
    }
}

/// smoltcp clients fetch `pages` of `content` from the four workers'
/// `HttpServer`s; returns the per-worker server counters.
fn serve<C: Content + Clone + Debug>(
    wire: Wire,
    config: &MpipeConfig,
    content: C,
    pages: Vec<usize>,
) -> (Vec<HttpServerCounters>, Vec<MpipeStats>) {
    let requests = pages.len() as u64;
    let expected: u64 = pages
        .iter()
        .map(|&p| content.page(p).expect("page").body.len() as u64)
        .sum();
    let seeds = wire.seeds();
    let host = MpipeHost::new(config, &seeds, |_| HttpServer::new(content.clone()));
    let smol = interop::smoltcp_seed(&seeds);
    let mut net = InteropNet::new(
        wire.link(),
        host,
        SmolPeer::new(SMOL_MAC, SMOL_IP, 24, smol),
    )
    .with_limits(limits())
    .with_trace(false);
    for (stack, _) in &mut net.a.workers {
        stack.listen(HTTP_PORT, 64).expect("listen");
    }
    let mut client =
        SmolHttpClient::new(RUSTY_IP, HTTP_PORT, content, pages, 16, 64 * 1024, 4 * 1024);
    let done = net.run_until(Instant::from_secs(600), |net| {
        client.step(&mut net.b);
        client.is_done()
    });
    let drivers: Vec<_> = net.a.workers.iter().map(|(_, d)| *d.stats()).collect();
    assert!(done.is_ok(), "{done:?}: {client:?}\ndrivers {drivers:#?}");
    let c = *client.counters();
    assert_eq!(
        (c.ok, c.failed(), c.bytes_ok),
        (requests, 0, expected),
        "{client:?}"
    );
    // Let every connection close, then count.
    let closed = net.run_until(Instant::from_secs(1_200), |net| {
        client.step(&mut net.b);
        client.lingering().is_empty()
            && net
                .a
                .workers
                .iter()
                .all(|(s, _)| s.active_connections() == 0)
    });
    assert!(closed.is_ok(), "{closed:?}");
    let counters: Vec<HttpServerCounters> = net
        .a
        .workers
        .iter()
        .map(|(s, _)| *s.app().counters())
        .collect();
    let ok: u64 = counters.iter().map(|c| c.ok).sum();
    let body: u64 = counters.iter().map(|c| c.body_bytes).sum();
    assert_eq!((ok, body), (requests, expected), "{counters:?}");
    let drivers: Vec<_> = net.a.workers.iter().map(|(_, d)| *d.stats()).collect();
    println!(
        "at {}: link {:?}\nservers {counters:?}\ndrivers {drivers:?}",
        net.now(),
        net.link.stats()
    );
    // TIME-WAIT holds no buffer: every one is back on its stack.
    net.a.assert_all_home();
    (counters, drivers)
}

#[test]
fn four_mpipe_workers_serve_all_pages_to_smoltcp() {
    let fixtures = PageContent::all();
    let pages: Vec<usize> = (0..fixtures.count()).collect();
    assert_eq!(pages.len(), 500);
    let config = MpipeConfig {
        workers: WORKERS,
        flow_hash_key: Some(MICROSOFT_RSS_KEY),
        ..MpipeConfig::default()
    };
    let (counters, _) = serve(Wire::new(0x4117), &config, fixtures, pages);
    // The classifier spread the 500 connections over all four workers.
    assert!(counters.iter().all(|c| c.ok > 60), "{counters:?}");
    assert_eq!(
        counters.iter().map(|c| c.body_bytes).sum::<u64>(),
        rusty_fixtures::page_set().total_bytes() as u64
    );
}

#[test]
fn lossy_server_run_with_checksum_offload_returns_every_buffer() {
    let content = FixtureSubset::smaller_than(100_000);
    let pages: Vec<usize> = (0..content.count()).step_by(3).collect();
    assert!(pages.len() > 50);
    let config = MpipeConfig {
        workers: WORKERS,
        flow_hash_key: Some(MICROSOFT_RSS_KEY),
        checksum_offload: true,
        ..MpipeConfig::default()
    };
    let (counters, drivers) = serve(lossy(0x1055), &config, content, pages);
    assert!(counters.iter().all(|c| c.ok > 0), "{counters:?}");
    // smoltcp checked every TCP checksum the eDMA computed.
    let offloaded: u64 = drivers.iter().map(|d| d.tx_csum_offloaded).sum();
    assert!(offloaded > 1000, "{drivers:?}");
}

fn lossy(seed: u64) -> Wire {
    Wire {
        seed,
        faults: Faults {
            loss: 0.03,
            duplicate: 0.01,
            reorder: 0.1,
            reorder_delay: Duration::from_millis(3),
            ..Faults::default()
        },
    }
}

/// What a run of Rusty load clients on the four workers did.
struct ClientRun {
    finished: Result<Instant, NetError>,
    ok: Vec<u64>,
    strays: usize,
    resets_sent: u64,
    drivers: Vec<MpipeStats>,
    host: MpipeHost<HttpLoadClient<FixtureSubset>>,
}

/// Each worker's `HttpLoadClient` makes `per_worker` requests to a smoltcp
/// server of the pages below 20 kB (it checks every body itself).
fn fetch(wire: Wire, config: &MpipeConfig, per_worker: u64) -> ClientRun {
    let content = FixtureSubset::smaller_than(20_000);
    let seeds = wire.seeds();
    let rusty = interop::rusty_seeds(&seeds);
    let host = MpipeHost::new(config, &seeds, |w| {
        HttpLoadClient::new(
            HttpClientConfig {
                concurrency: 4,
                max_requests: Some(per_worker),
                seed: rusty.seed_u64("http-client", w as u64),
                host: Some("x"),
                ..HttpClientConfig::new(SMOL_IP, HTTP_PORT)
            },
            content.clone(),
        )
    });
    let smol = interop::smoltcp_seed(&seeds);
    let mut net = InteropNet::new(
        wire.link(),
        host,
        SmolPeer::new(SMOL_MAC, SMOL_IP, 24, smol),
    )
    .with_limits(limits())
    .with_trace(false);
    let mut server = SmolHttpServer::new(HTTP_PORT, content, 24, 4096, 64 * 1024);
    let finished = net.run_until(Instant::from_secs(120), |net| {
        server.step(&mut net.b);
        net.a.workers.iter().all(|(s, _)| s.app().is_finished())
    });
    let ok = net
        .a
        .workers
        .iter()
        .map(|(s, _)| s.app().counters().ok)
        .collect();
    let strays = net
        .a
        .workers
        .iter_mut()
        .map(|(s, _)| core::iter::from_fn(|| s.take_stray()).count())
        .sum();
    let resets_sent = net
        .a
        .workers
        .iter()
        .map(|(s, _)| s.tcp_counters().resets_sent)
        .sum();
    let drivers = net.a.workers.iter().map(|(_, d)| *d.stats()).collect();
    ClientRun {
        finished,
        ok,
        strays,
        resets_sent,
        drivers,
        host: net.a,
    }
}

#[test]
fn active_opens_get_their_replies_on_their_own_worker() {
    const PER_WORKER: u64 = 25;
    for steered in [true, false] {
        let config = MpipeConfig {
            workers: WORKERS,
            flow_hash_key: steered.then_some(MICROSOFT_RSS_KEY),
            ..MpipeConfig::default()
        };
        let run = fetch(Wire::new(7), &config, PER_WORKER);
        let (ok, strays) = (&run.ok, run.strays);
        println!(
            "steered {steered}: {:?}, ok {ok:?}, strays {strays}",
            run.finished
        );
        if steered {
            assert!(run.finished.is_ok(), "{:?} {ok:?}", run.finished);
            assert_eq!(
                ok, &[PER_WORKER; WORKERS],
                "every worker's requests succeed"
            );
            assert_eq!(strays, 0, "no reply reached another worker");
            assert_eq!(run.resets_sent, 0);
        } else {
            // Without the hash, replies land on other workers: requests
            // stall or fail instead.
            let total: u64 = ok.iter().sum();
            assert!(
                run.finished.is_err() || total < WORKERS as u64 * PER_WORKER || strays > 0,
                "{:?} {ok:?} strays {strays}",
                run.finished
            );
        }
    }
}

#[test]
fn lossy_client_run_with_chained_frames_returns_every_buffer() {
    let config = MpipeConfig {
        workers: WORKERS,
        flow_hash_key: Some(MICROSOFT_RSS_KEY),
        // Full-size frames (1514 bytes + 2 of headroom) in 512-byte
        // buffers: the iDMA chains each over three.
        rx_classes: Some([0, 1, 2, 2, 2, 5, 6, 7]),
        buffers: [512, 512, 2048, 512, 512, 64, 32, 32],
        ..MpipeConfig::default()
    };
    let run = fetch(lossy(0xc4a1), &config, 30);
    assert!(run.finished.is_ok(), "{:?} {:?}", run.finished, run.ok);
    assert_eq!(run.ok, [30; WORKERS]);
    let chained: u64 = run.drivers.iter().map(|d| d.rx_chained).sum();
    assert!(chained > 500, "{:?}", run.drivers);
    println!("chained frames {chained}, drivers {:?}", run.drivers);
    run.host.assert_all_home();
}
