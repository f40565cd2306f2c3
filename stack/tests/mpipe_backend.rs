//! The mPIPE backend (`nic::mpipe`, feature `mpipe`) on mpipe-emu: frames
//! are built and checked with etherparse, and the emulator's own safe API
//! (its memory, its buffer stacks, its wire) is the independent witness of
//! what the backend did through the gxio C face.
//!
//! * received frames are the ingress buffers themselves (no copy), up to
//!   the application's cursor;
//! * chained jumbo frames arrive whole, in place;
//! * every buffer popped is pushed back or held (conservation), through
//!   bad packets, MAC errors, exhausted stacks, over-long chains and
//!   transmits;
//! * transmit with `hwb` gives the buffers back, gather sends chains, the
//!   checksum offload fills in the TCP checksum;
//! * flows land on the queue the stack predicts from the classifier's
//!   hash, and active opens hear their SYN-ACKs on their own worker;
//! * the receive and transmit paths allocate nothing.

use std::cell::RefCell;
use std::rc::Rc;

use etherparse::{PacketBuilder, SlicedPacket, TransportSlice};
use mpipe_emu::c_abi::CContext;
use mpipe_emu::{Config as EmuConfig, Context as EmuContext, Delivery, InjectErrors};
use rusty_alloc_counter::{allocations_during, is_installed, CountingAllocator};
use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::buf::{Frame, NUM_CLASSES, SIZE_CLASSES};
use rusty_stack::mem::cursor::Cursor;
use rusty_stack::nic::mpipe::{MpipeConfig, MpipeDriver, MpipeNic};
use rusty_stack::nic::rss::MICROSOFT_RSS_KEY;
use rusty_stack::nic::{Driver, FlowTuple};
use rusty_stack::tcp::{App, Conn, Connect, StaticWriter, TcpConfig};
use rusty_stack::time::Instant;
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};
use rusty_stack::Stack;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const PEER_MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];
const PEER_IP: [u8; 4] = [10, 0, 0, 2];
const OUR_IP: [u8; 4] = [10, 0, 0, 1];

struct Nic {
    nic: MpipeNic,
    drivers: Vec<MpipeDriver>,
}

impl Nic {
    fn new(config: &MpipeConfig, emu: EmuConfig) -> Nic {
        let ctx = CContext::new(EmuContext::new(emu).expect("emulator"));
        let (nic, drivers) = MpipeNic::on_emulator(ctx, config).expect("mPIPE set-up");
        Nic { nic, drivers }
    }

    fn with<R>(&self, f: impl FnOnce(&mut EmuContext) -> R) -> R {
        let ctx = self.nic.emulator().expect("emulated");
        let mut guard = ctx.lock().expect("context");
        f(&mut guard)
    }

    fn inject(&self, frame: &[u8]) -> Delivery {
        let ch = self.nic.channel() as u8;
        self.with(|c| c.inject(ch, frame)).expect("inject")
    }

    fn inject_with(&self, frame: &[u8], errors: InjectErrors) -> Delivery {
        let ch = self.nic.channel() as u8;
        self.with(|c| c.inject_with_errors(ch, frame, errors))
            .expect("inject")
    }

    fn drain(&self) -> Vec<Vec<u8>> {
        let ch = self.nic.channel() as u8;
        let mut out = Vec::new();
        self.with(|c| c.drain_egress(ch, |f| out.push(f.to_vec())))
            .expect("drain");
        out
    }

    fn mac(&self) -> [u8; 6] {
        self.nic.mac().0
    }

    /// Buffers of `class` on its stack, as the emulator counts them.
    fn on_stack(&self, class: usize) -> usize {
        self.nic
            .stack(class)
            .map_or(0, |s| self.with(|c| c.stack_len(s)).expect("stack"))
    }

    /// Every buffer is on its stack or held by a worker's frames (call
    /// with the iqueues empty: a waiting descriptor holds buffers too).
    fn assert_conserved(&self) {
        let on_stacks: usize = (0..NUM_CLASSES).map(|c| self.on_stack(c)).sum();
        let held: usize = self.drivers.iter().map(MpipeDriver::held).sum();
        let total: usize = (0..NUM_CLASSES).map(|c| self.nic.buffers(c)).sum();
        assert_eq!(
            on_stacks + held,
            total,
            "on stacks {on_stacks}, held {held}"
        );
    }

    /// Every buffer is back on its stack.
    fn assert_all_home(&self) {
        for class in 0..NUM_CLASSES {
            assert_eq!(
                self.on_stack(class),
                self.nic.buffers(class),
                "class {class}"
            );
        }
        assert!(self.drivers.iter().all(|d| d.held() == 0));
    }

    /// The emulator's memory at `addr` (fails unless the emulator mapped it).
    fn memory(&self, addr: usize, len: usize) -> Vec<u8> {
        self.with(|c| c.memory(addr as u64, len).map(<[u8]>::to_vec))
            .expect("address in the emulator's memory")
    }
}

fn udp_frame(dst_mac: [u8; 6], sport: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, dst_mac)
        .ipv4(PEER_IP, OUR_IP, 64)
        .udp(sport, 9)
        .write(&mut out, payload)
        .expect("frame");
    out
}

fn payload(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31) ^ seed)
        .collect()
}

#[test]
fn received_frames_are_the_ingress_buffers() {
    let mut n = Nic::new(&MpipeConfig::default(), EmuConfig::default());
    let frame = udp_frame(n.mac(), 4000, &payload(300, 1));
    // 2 bytes of headroom + 342 bytes: a 512-byte buffer.
    let class = 2;
    let before = n.on_stack(class);
    assert!(matches!(n.inject(&frame), Delivery::Delivered { .. }));
    let got = n.drivers[0].receive().expect("a frame");
    assert!(n.drivers[0].receive().is_none());
    assert_eq!(got.copy_to_vec(), frame);
    assert_eq!(got.buffer_count(), 1);
    let seg = got.segments().next().expect("one segment");
    let addr = seg.as_ptr() as usize;
    // The bytes the stack reads are the emulator's buffer: same address,
    // after the rule's 2 bytes of headroom in a 128-byte-aligned buffer.
    assert_eq!(n.memory(addr, frame.len()), frame);
    assert_eq!(addr % 128, 2);
    assert_eq!(
        n.on_stack(class),
        before - 1,
        "the buffer is lent, not copied"
    );
    assert_eq!(n.drivers[0].held(), 1);
    n.assert_conserved();
    drop(got);
    assert_eq!(n.on_stack(class), before);
    n.assert_all_home();
    assert_eq!(n.drivers[0].stats().rx_frames, 1);
}

#[test]
fn chained_jumbo_frames_arrive_whole_and_in_place() {
    let config = MpipeConfig {
        jumbo: true,
        mtu: 9000,
        // Jumbo frames in 1664-byte buffers: the iDMA chains them.
        rx_classes: Some([0, 1, 2, 3, 4, 4, 4, 4]),
        ..MpipeConfig::default()
    };
    let mut n = Nic::new(&config, EmuConfig::default());
    let frame = udp_frame(n.mac(), 4001, &payload(8972, 7));
    assert_eq!(frame.len(), 9014);
    let before = n.on_stack(4);
    n.inject(&frame);
    let got = n.drivers[0].receive().expect("a frame");
    assert_eq!(got.len(), frame.len());
    assert_eq!(got.copy_to_vec(), frame);
    // 1664-byte buffers less the chain links and the headroom: 6 buffers.
    assert_eq!(got.buffer_count(), 6);
    assert_eq!(n.on_stack(4), before - 6);
    let mut at = 0;
    for seg in got.segments() {
        assert_eq!(
            n.memory(seg.as_ptr() as usize, seg.len()),
            frame[at..at + seg.len()]
        );
        at += seg.len();
    }
    n.assert_conserved();
    drop(got);
    n.assert_all_home();
}

#[test]
fn conservation_through_bad_packets_errors_exhaustion_and_long_chains() {
    let config = MpipeConfig {
        jumbo: true,
        mtu: 9000,
        buffers: [128, 0, 0, 0, 24, 0, 0, 0],
        // Small frames in 128-byte buffers, everything else in 1664-byte
        // ones, except class 6 frames, which go to 128-byte buffers: a
        // 9000-byte frame needs 75 of them, more than a frame holds.
        rx_classes: Some([0, 4, 4, 4, 4, 4, 0, 4]),
        ..MpipeConfig::default()
    };
    let emu = EmuConfig {
        drop_bad: false,
        ..EmuConfig::default()
    };
    let mut n = Nic::new(&config, emu);
    let mac = n.mac();
    let mut held: Vec<Frame> = Vec::new();
    // Good frames of every size, one bad IPv4 checksum, MAC errors.
    for (i, len) in [10, 100, 500, 1400, 3000].into_iter().enumerate() {
        n.inject(&udp_frame(mac, 5000 + i as u16, &payload(len, i as u8)));
    }
    let mut bad = udp_frame(mac, 5100, &payload(200, 9));
    bad[24] ^= 0xff; // IPv4 header checksum
    n.inject(&bad);
    n.inject_with(
        &udp_frame(mac, 5101, &payload(700, 3)),
        InjectErrors {
            ce: true,
            ..InjectErrors::default()
        },
    );
    // Too long a chain for a frame: every buffer must still go back.
    n.inject(&udp_frame(mac, 5102, &payload(8900, 4)));
    while let Some(f) = n.drivers[0].receive() {
        held.push(f);
    }
    let stats = *n.drivers[0].stats();
    assert_eq!(stats.rx_frames, 5);
    assert_eq!(stats.rx_bad, 2, "{stats:?}");
    assert_eq!(stats.rx_chain_too_long, 1, "{stats:?}");
    n.assert_conserved();
    // Hold 1664-byte buffers until the stack runs dry, then keep sending:
    // the iDMA reports `be`, the backend drops and returns what it got.
    for i in 0..40u16 {
        n.inject(&udp_frame(mac, 6000 + i, &payload(1400, 5)));
        while let Some(f) = n.drivers[0].receive() {
            held.push(f);
        }
        n.assert_conserved();
    }
    assert_eq!(n.on_stack(4), 0, "the 1664-byte stack ran dry");
    let dry = *n.drivers[0].stats();
    assert!(dry.rx_bad + dry.rx_no_buffer > stats.rx_bad, "{dry:?}");
    // Transmit a few held frames back out (hwb) and drop the rest.
    let mut sent = 0;
    for f in held.drain(..) {
        if sent < 5 && f.len() < 1500 {
            n.drivers[0].transmit(f).expect("room");
            sent += 1;
        }
    }
    assert_eq!(n.drain().len(), sent);
    n.assert_all_home();
}

#[test]
fn transmit_with_hwb_returns_buffers_and_gathers_chains() {
    let mut n = Nic::new(&MpipeConfig::default(), EmuConfig::default());
    let bytes = udp_frame(PEER_MAC, 7000, &payload(900, 2));
    let d = &mut n.drivers[0];
    let mut frame = d.alloc_tx(bytes.len()).expect("buffer");
    assert_eq!(d.held(), 1);
    frame.cursor_mut().write(&bytes).expect("fits");
    d.transmit(frame).expect("room");
    assert_eq!(d.held(), 0);
    // Gather: a frame of two buffers goes out as two descriptors.
    let (head, tail) = bytes.split_at(100);
    let mut first = d.alloc_tx(head.len()).expect("buffer");
    first.cursor_mut().write(head).expect("fits");
    let mut second = d.alloc_tx(tail.len()).expect("buffer");
    second.cursor_mut().write(tail).expect("fits");
    first.push(second).expect("same pool");
    assert_eq!(first.buffer_count(), 2);
    d.transmit(first).expect("room");
    assert_eq!(d.stats().tx_frames, 2);
    let wire = n.drain();
    assert_eq!(wire, [bytes.clone(), bytes]);
    n.assert_all_home();
    // Too long for any stack.
    assert!(n.drivers[0].alloc_tx(20_000).is_none());
    assert_eq!(n.drivers[0].stats().tx_too_long, 1);
}

fn tcp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, PEER_MAC)
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1234, 4096)
        .ack(99)
        .write(&mut out, data)
        .expect("frame");
    out
}

/// Whether the TCP checksum of an Ethernet/IPv4/TCP frame verifies.
fn tcp_checksum_ok(frame: &[u8]) -> bool {
    let p = SlicedPacket::from_ethernet(frame).expect("parses");
    let Some(etherparse::NetSlice::Ipv4(ip)) = p.net else {
        panic!("IPv4")
    };
    let Some(TransportSlice::Tcp(tcp)) = p.transport else {
        panic!("TCP")
    };
    let expected = tcp
        .to_header()
        .calc_checksum_ipv4(&ip.header().to_header(), tcp.payload())
        .expect("checksum");
    tcp.checksum() == expected
}

#[test]
fn checksum_offload_fills_in_the_tcp_checksum() {
    for offload in [false, true] {
        let config = MpipeConfig {
            checksum_offload: offload,
            ..MpipeConfig::default()
        };
        let mut n = Nic::new(&config, EmuConfig::default());
        let mut bytes = tcp_frame(OUR_IP, PEER_IP, 80, 5555, &payload(777, 8));
        assert!(tcp_checksum_ok(&bytes));
        bytes[14 + 20 + 16] ^= 0x5a; // damage the checksum
        let d = &mut n.drivers[0];
        let mut frame = d.alloc_tx(bytes.len()).expect("buffer");
        frame.cursor_mut().write(&bytes).expect("fits");
        d.transmit(frame).expect("room");
        assert_eq!(d.stats().tx_csum_offloaded, u64::from(offload));
        let wire = n.drain();
        assert_eq!(wire.len(), 1);
        assert_eq!(tcp_checksum_ok(&wire[0]), offload, "offload {offload}");
        assert_eq!(wire[0][..50], bytes[..50]);
        assert_eq!(wire[0][52..], bytes[52..]);
        n.assert_all_home();
    }
}

#[test]
fn flows_land_on_the_queue_the_stack_predicts() {
    for (key, exact) in [(MICROSOFT_RSS_KEY, true), ([0x5a; 40], false)] {
        let config = MpipeConfig {
            workers: 4,
            flow_hash_key: Some(key),
            ..MpipeConfig::default()
        };
        let mut n = Nic::new(&config, EmuConfig::default());
        let mut per_worker = [0usize; 4];
        let mut mispredicted = 0;
        for sport in 1000..1400u16 {
            n.inject(&tcp_frame(PEER_IP, OUR_IP, sport, 80, b"x"));
            let flow = FlowTuple {
                src_addr: Ipv4Addr::from(PEER_IP),
                src_port: sport,
                dst_addr: Ipv4Addr::from(OUR_IP),
                dst_port: 80,
            };
            let mut got = None;
            for d in &mut n.drivers {
                if let Some(f) = d.receive() {
                    assert!(got.is_none(), "one worker only");
                    got = Some(d.worker());
                    drop(f);
                }
            }
            let worker = got.expect("delivered");
            per_worker[worker] += 1;
            let predicted = n.drivers[worker].capabilities().queue_for(&flow);
            mispredicted += usize::from(predicted != Some(worker as u16));
        }
        assert!(per_worker.iter().all(|&c| c > 50), "{per_worker:?}");
        if exact {
            assert_eq!(mispredicted, 0);
        } else {
            assert!(
                mispredicted > 100,
                "a wrong key predicts badly: {mispredicted}"
            );
        }
        n.assert_all_home();
    }
}

/// Where each piece of received data lay, and its bytes.
type DataLog = Rc<RefCell<Vec<(usize, Vec<u8>)>>>;

/// An app that opens `connects` connections to the peer, counts the ones
/// that complete, and records where received data lies.
#[derive(Default)]
struct Probe {
    connects: usize,
    connected: usize,
    resets: usize,
    data: DataLog,
}

impl App for Probe {
    type Conn = ();
    type Writer = StaticWriter;

    fn accept(&mut self, _port: u16, _conn: &mut Conn<'_, StaticWriter>) -> Option<()> {
        Some(())
    }

    fn on_connected(&mut self, _c: &mut (), _conn: &mut Conn<'_, StaticWriter>) {
        self.connected += 1;
    }

    fn on_data(&mut self, _c: &mut (), _conn: &mut Conn<'_, StaticWriter>, data: Cursor<'_>) {
        let mut log = self.data.borrow_mut();
        for seg in data.segments() {
            log.push((seg.as_ptr() as usize, seg.to_vec()));
        }
    }

    fn on_remote_close(&mut self, _c: &mut (), _conn: &mut Conn<'_, StaticWriter>) {}

    fn on_close(&mut self, _c: ()) {}

    fn on_reset(&mut self, _c: ()) {
        self.resets += 1;
    }

    fn next_connect(&mut self, _now: Instant) -> Option<Connect<()>> {
        (self.connects > 0).then(|| {
            self.connects -= 1;
            Connect {
                addr: Ipv4Addr::from(PEER_IP),
                port: 80,
                state: (),
            }
        })
    }
}

fn stack_on(driver: &MpipeDriver, app: Probe, worker: usize) -> Stack<Probe> {
    let cidr = Ipv4Cidr::new(Ipv4Addr::from(OUR_IP), 24).expect("prefix");
    let mut iface = InterfaceConfig::new(cidr);
    iface.announce = false;
    let tcp = TcpConfig {
        secret: [worker as u8 + 1; 16],
        ..TcpConfig::default()
    };
    let mut stack = Stack::new(&driver.capabilities(), iface, tcp, app, Instant::ZERO);
    stack
        .iface_mut()
        .add_static_arp(Ipv4Addr::from(PEER_IP), MacAddr(PEER_MAC))
        .expect("room");
    stack
}

/// A segment from the peer's port 40000 to our port 7, to `mac`: a SYN
/// with sequence number `seq` when `ack` is `None`, else an ACK of `ack`
/// carrying `data`.
fn peer_segment(mac: [u8; 6], seq: u32, ack: Option<u32>, data: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(PEER_MAC, mac)
        .ipv4(PEER_IP, OUR_IP, 64)
        .tcp(40000, 7, seq, 65535);
    let b = match ack {
        None => b.syn(),
        Some(ack) => b.ack(ack),
    };
    let mut out = Vec::new();
    b.write(&mut out, data).expect("frame");
    out
}

/// A stack on worker 0 listening on port 7, with a probe app that logs
/// the data it receives, and the peer's handshake (sequence 100) done at
/// `now`. Returns the stack, the log and our initial sequence number.
fn established_probe(n: &mut Nic, now: Instant) -> (Stack<Probe>, DataLog, u32) {
    let mac = n.mac();
    let log = DataLog::default();
    let app = Probe {
        data: Rc::clone(&log),
        ..Probe::default()
    };
    let mut stack = stack_on(&n.drivers[0], app, 0);
    stack.listen(7, 8).expect("listen");
    n.inject(&peer_segment(mac, 100, None, &[]));
    stack.poll(&mut n.drivers[0], now);
    let out = n.drain();
    let (_, _, iss, syn, ack) = tcp_of(&out[0]).expect("SYN-ACK");
    assert!(syn && ack);
    n.inject(&peer_segment(mac, 101, Some(iss.wrapping_add(1)), &[]));
    stack.poll(&mut n.drivers[0], now);
    (stack, log, iss)
}

/// The TCP header fields of a frame on the wire: ports, seq, flags.
fn tcp_of(frame: &[u8]) -> Option<(u16, u16, u32, bool, bool)> {
    let p = SlicedPacket::from_ethernet(frame).ok()?;
    let Some(TransportSlice::Tcp(t)) = p.transport else {
        return None;
    };
    Some((
        t.source_port(),
        t.destination_port(),
        t.sequence_number(),
        t.syn(),
        t.ack(),
    ))
}

/// The peer's SYN-ACK to a SYN from `sport`.
fn syn_ack(dst_mac: [u8; 6], sport: u16, their_seq: u32) -> Vec<u8> {
    let mut out = Vec::new();
    PacketBuilder::ethernet2(PEER_MAC, dst_mac)
        .ipv4(PEER_IP, OUR_IP, 64)
        .tcp(80, sport, 5_000_000, 65535)
        .syn()
        .ack(their_seq.wrapping_add(1))
        .write(&mut out, &[])
        .expect("frame");
    out
}

#[test]
fn active_opens_hear_their_replies_on_their_own_worker() {
    const PER_WORKER: usize = 40;
    for steered in [true, false] {
        let config = MpipeConfig {
            workers: 4,
            flow_hash_key: steered.then_some(MICROSOFT_RSS_KEY),
            ..MpipeConfig::default()
        };
        let mut n = Nic::new(&config, EmuConfig::default());
        let mac = n.mac();
        let mut stacks: Vec<Stack<Probe>> = (0..4)
            .map(|w| {
                let app = Probe {
                    connects: PER_WORKER,
                    ..Probe::default()
                };
                stack_on(&n.drivers[w], app, w)
            })
            .collect();
        let now = Instant::from_millis(1);
        for (w, stack) in stacks.iter_mut().enumerate() {
            stack.poll(&mut n.drivers[w], now);
        }
        let syns = n.drain();
        assert_eq!(syns.len(), 4 * PER_WORKER);
        for syn in &syns {
            let (sport, dport, seq, is_syn, _) = tcp_of(syn).expect("TCP");
            assert!(is_syn && dport == 80);
            n.inject(&syn_ack(mac, sport, seq));
        }
        let mut strays = 0;
        for (w, stack) in stacks.iter_mut().enumerate() {
            stack.poll(&mut n.drivers[w], now);
            while stack.take_stray().is_some() {
                strays += 1;
            }
        }
        let connected: Vec<usize> = stacks.iter().map(|s| s.app().connected).collect();
        if steered {
            assert_eq!(connected, [PER_WORKER; 4]);
            assert_eq!(strays, 0);
            let received: Vec<u64> = n.drivers.iter().map(|d| d.stats().rx_frames).collect();
            assert_eq!(received, [PER_WORKER as u64; 4]);
        } else {
            // Unsteered, about three in four replies reach another worker.
            let total: usize = connected.iter().sum();
            assert!(total < 4 * PER_WORKER / 2, "{connected:?}");
        }
        let _ = n.drain();
        drop(stacks);
        n.assert_all_home();
    }
}

#[test]
fn the_apps_cursor_points_into_the_mpipe_buffers() {
    let mut n = Nic::new(&MpipeConfig::default(), EmuConfig::default());
    let mac = n.mac();
    let now = Instant::from_millis(1);
    let (mut stack, log, iss) = established_probe(&mut n, now);
    let data = payload(1000, 42);
    n.inject(&peer_segment(mac, 101, Some(iss.wrapping_add(1)), &data));
    stack.poll(&mut n.drivers[0], now);
    let log = log.borrow();
    let received: Vec<u8> = log.iter().flat_map(|(_, b)| b.iter().copied()).collect();
    assert_eq!(received, data);
    for (addr, bytes) in log.iter() {
        // The emulator reads the same bytes at the cursor's address: the
        // app saw the ingress buffer, not a copy.
        assert_eq!(&n.memory(*addr, bytes.len()), bytes);
        let (class, offset) = n.drivers[0]
            .pool()
            .lent_class_at(*addr)
            .expect("lent memory");
        assert!(offset + bytes.len() <= SIZE_CLASSES[class]);
    }
    drop(stack);
    n.assert_all_home();
}

#[test]
fn receive_and_transmit_allocate_nothing() {
    assert!(is_installed(), "the counting allocator must be installed");
    let mut n = Nic::new(&MpipeConfig::default(), EmuConfig::default());
    let mac = n.mac();
    let frames: Vec<Vec<u8>> = (0..16)
        .map(|i| udp_frame(mac, 9000 + i, &payload(64 + 90 * usize::from(i), i as u8)))
        .collect();
    let mut total = 0;
    let mut moved = 0;
    for round in 0..200 {
        for f in &frames {
            n.inject(f);
        }
        let d = &mut n.drivers[0];
        let (count, allocations) = allocations_during(|| {
            let mut count = 0;
            while let Some(rx) = d.receive() {
                let Some(mut tx) = d.alloc_tx(rx.len()) else {
                    continue;
                };
                if tx.cursor_mut().write_cursor(rx.cursor()).is_ok() && d.transmit(tx).is_ok() {
                    count += 1;
                }
                drop(rx);
            }
            count
        });
        if round > 0 {
            total += allocations;
        }
        moved += count;
        assert_eq!(n.drain().len(), count);
    }
    assert_eq!(moved, 200 * frames.len());
    assert_eq!(total, 0, "allocations on the receive/transmit path");
    n.assert_all_home();
}

#[test]
fn the_classifier_verifies_tcp_checksums_so_the_stack_does_not() {
    let mut n = Nic::new(&MpipeConfig::default(), EmuConfig::default());
    let mac = n.mac();
    let good = peer_segment(mac, 100, Some(1), &payload(900, 3));
    assert!(tcp_checksum_ok(&good));
    // A good segment arrives marked verified.
    n.inject(&good);
    let frame = n.drivers[0].receive().expect("delivered");
    assert!(frame.l4_checksum_verified());
    assert_eq!(n.drivers[0].stats().rx_l4_verified, 1);
    // Any write access takes the mark away (the bytes may have changed).
    let mut frame = frame;
    let _ = frame.cursor_mut();
    assert!(!frame.l4_checksum_verified());
    drop(frame);
    // A damaged one never reaches the stack.
    let mut bad = good.clone();
    bad[14 + 20 + 16] ^= 0x5a;
    assert!(!tcp_checksum_ok(&bad));
    n.inject(&bad);
    assert!(n.drivers[0].receive().is_none());
    assert_eq!(n.drivers[0].stats().rx_bad, 1);
    assert_eq!(n.drivers[0].stats().rx_l4_verified, 1);
    // Through a stack: a verified data segment costs the software checksum
    // only its IPv4 header (the meter counts what was summed).
    let now = Instant::from_millis(1);
    let (mut stack, log, iss) = established_probe(&mut n, now);
    let before = *stack.meter();
    let data = payload(1000, 42);
    n.inject(&peer_segment(mac, 101, Some(iss.wrapping_add(1)), &data));
    stack.poll(&mut n.drivers[0], now);
    let delta = stack.meter().since(&before);
    assert_eq!(delta.frames_rx, 1);
    assert_eq!(delta.frames_tx, 0, "one segment waits for the delayed ACK");
    assert_eq!(delta.bytes_checksummed, 20, "{delta:?}");
    let received: Vec<u8> = log.borrow().iter().flat_map(|(_, b)| b.clone()).collect();
    assert_eq!(received, data);
    drop(stack);
    let _ = n.drain();
    n.assert_all_home();
}
