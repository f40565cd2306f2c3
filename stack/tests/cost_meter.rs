//! The cost meter (`rusty_stack::meter::CostMeter`) against independent
//! counts: real traffic between two stacks over the pair driver, the
//! frames captured on the wire decoded by etherparse, a counting wrapper
//! around each driver, applications that count their own handler calls
//! and writers that count what they write. Every relation is exact (the
//! module docs of `rusty_stack::meter` state them); and the meter
//! allocates nothing.

mod support;

use std::cell::Cell;
use std::rc::Rc;

use etherparse::{NetSlice, SlicedPacket, TcpOptionElement, TransportSlice};
use rusty_alloc_counter::{thread_allocations, CountingAllocator};
use rusty_stack::checksum::ones_sum;
use rusty_stack::iface::{IfaceEvent, Interface, InterfaceConfig};
use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::meter::CostMeter;
use rusty_stack::nic::pair::{pair, CapturedFrame, PairConfig};
use rusty_stack::nic::{Capabilities, Driver, TxFull};
use rusty_stack::tcp::{App, Conn, Connect, TcpConfig, Writer};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};
use rusty_stack::Frame;
use support::{pattern, test_config, Net, IP_B};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

/// Calls a stack made into its driver, counted by [`Counted`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Calls {
    receive: u64,
    alloc_tx: u64,
    transmit: u64,
    release: u64,
    references: u64,
}

/// A driver that counts the calls made into it and forwards them.
struct Counted<'a, D> {
    inner: &'a mut D,
    calls: &'a mut Calls,
}

impl<D: Driver> Driver for Counted<'_, D> {
    fn capabilities(&self) -> Capabilities {
        self.inner.capabilities()
    }
    fn receive(&mut self) -> Option<Frame> {
        self.calls.receive += 1;
        self.inner.receive()
    }
    fn alloc_tx(&mut self, len: usize) -> Option<Frame> {
        self.calls.alloc_tx += 1;
        self.inner.alloc_tx(len)
    }
    fn alloc_tx_reference(&mut self, bytes: &'static [u8]) -> Option<Frame> {
        self.calls.references += 1;
        self.inner.alloc_tx_reference(bytes)
    }
    fn transmit(&mut self, frame: Frame) -> Result<(), TxFull> {
        self.calls.transmit += 1;
        self.inner.transmit(frame)
    }
    fn release(&mut self, frame: Frame) {
        self.calls.release += 1;
        self.inner.release(frame);
    }
}

/// What a writer did: calls, bytes written, sums given.
#[derive(Debug, Default)]
struct WriteLog {
    calls: Cell<u64>,
    bytes: Cell<u64>,
    sums: Cell<u64>,
}

/// A writer over shared bytes that logs its calls; with `sums`, it
/// answers [`Writer::sum`] (as a precomputed table would).
#[derive(Clone)]
struct LoggedWriter {
    data: Rc<[u8]>,
    sums: bool,
    /// The same bytes in static memory, offered for sending by reference.
    statics: Option<&'static [u8]>,
    log: Rc<WriteLog>,
}

impl Writer for LoggedWriter {
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        let n = out.len();
        out.write(&self.data[offset..offset + n]).unwrap();
        self.log.calls.set(self.log.calls.get() + 1);
        self.log.bytes.set(self.log.bytes.get() + n as u64);
    }
    fn sum(&self, offset: usize, len: usize) -> Option<u16> {
        self.sums.then(|| {
            self.log.sums.set(self.log.sums.get() + 1);
            ones_sum(&self.data[offset..offset + len])
        })
    }
    fn static_bytes(&self, offset: usize, len: usize) -> Option<&'static [u8]> {
        self.statics?.get(offset..offset + len)
    }
}

/// Both ends' application: as a server it answers the first data with
/// `reply` (in two sends, so segments span two writers) and closes when the
/// peer does; as a client it opens `to_open` connections, sends `request`
/// and closes. It counts every handler call.
struct Peer {
    request: Rc<[u8]>,
    /// The reply, in two parts.
    reply: [Rc<[u8]>; 2],
    /// The reply's parts in static memory, if the server offers them for
    /// sending by reference.
    reply_statics: Option<[&'static [u8]; 2]>,
    sums: bool,
    server: bool,
    send_on_connect: bool,
    to_open: usize,
    handler_calls: u64,
    received: u64,
    closed: usize,
    log: Rc<WriteLog>,
}

impl Peer {
    fn client(to_open: usize) -> Self {
        Peer::new(false, to_open, false)
    }
    fn server() -> Self {
        Peer::new(true, 0, true)
    }
    fn new(server: bool, to_open: usize, sums: bool) -> Self {
        let reply = pattern(20_000, 2);
        let (a, b) = reply.split_at(1000);
        Peer {
            request: pattern(300, 1).into(),
            reply: [a.into(), b.into()],
            reply_statics: None,
            sums,
            server,
            send_on_connect: true,
            to_open,
            handler_calls: 0,
            received: 0,
            closed: 0,
            log: Rc::default(),
        }
    }
    fn writer(&self, data: Rc<[u8]>, statics: Option<&'static [u8]>) -> LoggedWriter {
        LoggedWriter {
            data,
            sums: self.sums,
            statics,
            log: self.log.clone(),
        }
    }
}

impl App for Peer {
    type Conn = bool;
    type Writer = LoggedWriter;
    fn accept(&mut self, _port: u16, _: &mut Conn<'_, LoggedWriter>) -> Option<bool> {
        self.handler_calls += 1;
        Some(false)
    }
    fn on_connected(&mut self, _: &mut bool, conn: &mut Conn<'_, LoggedWriter>) {
        self.handler_calls += 1;
        if self.send_on_connect {
            conn.send(self.request.len(), self.writer(self.request.clone(), None))
                .unwrap();
            conn.close();
        }
    }
    fn on_data(&mut self, replied: &mut bool, conn: &mut Conn<'_, LoggedWriter>, data: Cursor<'_>) {
        self.handler_calls += 1;
        self.received += data.len() as u64;
        if self.server && !*replied {
            *replied = true;
            for (i, part) in self.reply.clone().into_iter().enumerate() {
                let statics = self.reply_statics.map(|s| s[i]);
                conn.send(part.len(), self.writer(part, statics)).unwrap();
            }
        }
    }
    fn on_acked(&mut self, _: &mut bool, _: &mut Conn<'_, LoggedWriter>, _: LoggedWriter) {
        self.handler_calls += 1;
    }
    fn on_remote_close(&mut self, _: &mut bool, conn: &mut Conn<'_, LoggedWriter>) {
        self.handler_calls += 1;
        conn.close();
    }
    fn on_close(&mut self, _: bool) {
        self.handler_calls += 1;
        self.closed += 1;
    }
    fn on_reset(&mut self, _: bool) {
        self.handler_calls += 1;
    }
    fn next_connect(&mut self, _now: Instant) -> Option<Connect<bool>> {
        self.handler_calls += 1;
        self.to_open = self.to_open.checked_sub(1)?;
        Some(Connect {
            addr: IP_B,
            port: 80,
            state: false,
        })
    }
    fn on_connect_failed(&mut self, _: bool) {
        self.handler_calls += 1;
    }
}

/// Polls both stacks through counting drivers until quiet, jumping from
/// timer to timer, until `limit` of virtual time has passed; returns the
/// polls made of each.
fn drive<A: App, B: App>(net: &mut Net<A, B>, calls: &mut [Calls; 2], limit: Duration) -> [u64; 2] {
    let end = net.now + limit;
    let mut polls = [0u64; 2];
    loop {
        loop {
            let [ca, cb] = calls;
            let mut da = Counted {
                inner: &mut net.da,
                calls: ca,
            };
            let mut db = Counted {
                inner: &mut net.db,
                calls: cb,
            };
            let wa = net.a.poll(&mut da, net.now);
            let wb = net.b.poll(&mut db, net.now);
            polls[0] += 1;
            polls[1] += 1;
            if !wa && !wb && net.da.pending() == 0 && net.db.pending() == 0 {
                break;
            }
        }
        let next = [net.a.poll_at(), net.b.poll_at()]
            .into_iter()
            .flatten()
            .filter(|&t| t > net.now)
            .min();
        match next {
            Some(t) if t <= end => {
                net.now = t;
                net.da.set_now(t);
            }
            _ => return polls,
        }
    }
}

/// What the wire shows of the frames one end sent.
#[derive(Debug, Default, PartialEq, Eq)]
struct Wire {
    frames: u64,
    bytes: u64,
    tcp: u64,
    /// TCP segments with SYN or RST (sent by the generic path: IPv4 and
    /// TCP headers emitted).
    control: u64,
    /// Other TCP segments carrying SACK blocks (a templated IPv4 header, a
    /// generic TCP header).
    sack: u64,
    /// TCP segments carrying data.
    data_segments: u64,
    /// IPv4 header bytes plus whole TCP segment bytes.
    ip_header_bytes: u64,
    tcp_segment_bytes: u64,
    tcp_header_bytes_generic: u64,
    payload: u64,
    syns_without_ack: u64,
}

/// The frames end `from` sent (`delivered`: only those the wire did not
/// lose).
fn wire_of(frames: &[CapturedFrame], from: usize) -> Wire {
    let w = wire_of_lossy(frames, from, false);
    assert_eq!(w, wire_of_lossy(frames, from, true), "nothing lost");
    w
}

fn wire_of_lossy(frames: &[CapturedFrame], from: usize, delivered: bool) -> Wire {
    let mut w = Wire::default();
    for f in frames
        .iter()
        .filter(|f| f.from == from && !(delivered && f.lost))
    {
        w.frames += 1;
        w.bytes += f.bytes.len() as u64;
        let sliced = SlicedPacket::from_ethernet(&f.bytes).expect("etherparse decodes it");
        let Some(NetSlice::Ipv4(ip)) = &sliced.net else {
            panic!("not IPv4: {:?}", sliced.net);
        };
        let Some(TransportSlice::Tcp(tcp)) = &sliced.transport else {
            panic!("not TCP");
        };
        w.tcp += 1;
        let ihl = u64::from(ip.header().ihl()) * 4;
        let total = u64::from(ip.header().total_len());
        w.ip_header_bytes += ihl;
        w.tcp_segment_bytes += total - ihl;
        let header_len = tcp.header_len() as u64;
        assert_eq!(header_len + tcp.payload().len() as u64, total - ihl);
        w.payload += tcp.payload().len() as u64;
        let sack = tcp
            .options_iterator()
            .any(|o| matches!(o, Ok(TcpOptionElement::SelectiveAcknowledgement(..))));
        if tcp.syn() || tcp.rst() {
            w.control += 1;
        } else if sack {
            w.sack += 1;
        }
        if tcp.syn() || tcp.rst() || sack {
            w.tcp_header_bytes_generic += header_len;
        }
        if !tcp.payload().is_empty() {
            w.data_segments += 1;
        }
        if tcp.syn() && !tcp.ack() {
            w.syns_without_ack += 1;
        }
    }
    w
}

const CONNS: usize = 5;

fn page_run() -> (Net<Peer, Peer>, [Calls; 2], [u64; 2]) {
    let config: TcpConfig = test_config();
    let mut net = Net::new(Peer::client(CONNS), Peer::server(), config.clone(), config);
    net.b.listen(80, 64).unwrap();
    let mut calls = [Calls::default(); 2];
    let polls = drive(&mut net, &mut calls, Duration::from_secs(600));
    assert_eq!(net.a.app().closed, CONNS);
    assert_eq!(net.b.app().closed, CONNS);
    assert_eq!(net.a.app().received, (CONNS * 20_000) as u64);
    assert_eq!(net.b.app().received, (CONNS * 300) as u64);
    (net, calls, polls)
}

#[test]
fn frames_and_bytes_match_the_wire() {
    let (net, _, _) = page_run();
    let frames = net.da.take_capture();
    let (wa, wb) = (wire_of(&frames, 0), wire_of(&frames, 1));
    let (ma, mb) = (net.a.meter(), net.b.meter());
    assert!(
        wa.frames >= 4 * CONNS as u64 && wb.frames > 10 * CONNS as u64,
        "{wa:?} {wb:?}"
    );
    assert_eq!((ma.frames_tx, ma.bytes_tx), (wa.frames, wa.bytes));
    assert_eq!((mb.frames_tx, mb.bytes_tx), (wb.frames, wb.bytes));
    assert_eq!((ma.frames_rx, ma.bytes_rx), (wb.frames, wb.bytes));
    assert_eq!((mb.frames_rx, mb.bytes_rx), (wa.frames, wa.bytes));
}

#[test]
fn headers_parsed_and_built_match_what_etherparse_decodes() {
    let (net, _, _) = page_run();
    let frames = net.da.take_capture();
    for (m, sent, got) in [
        (net.a.meter(), wire_of(&frames, 0), wire_of(&frames, 1)),
        (net.b.meter(), wire_of(&frames, 1), wire_of(&frames, 0)),
    ] {
        // Each TCP frame received: Ethernet + IPv4 + TCP, nothing else.
        assert_eq!(m.eth_parsed, got.frames);
        assert_eq!(m.ipv4_parsed, got.tcp);
        assert_eq!(m.tcp_parsed, got.tcp);
        assert_eq!((m.arp_parsed, m.icmp_parsed), (0, 0));
        assert_eq!(m.headers_parsed(), 3 * got.tcp);
        // Each sent: Ethernet + IPv4 + TCP; the generic emitter for SYNs
        // and resets (with the generic IPv4 path), templates for the rest.
        assert_eq!(m.eth_built, sent.frames);
        assert_eq!(m.tcp_built, sent.control + sent.sack);
        assert_eq!(m.tcp_templated, sent.tcp - sent.control - sent.sack);
        assert_eq!(m.ipv4_built, sent.control);
        assert_eq!(m.ipv4_templated, sent.tcp - sent.control);
        assert_eq!((m.arp_built, m.icmp_built), (0, 0));
        assert_eq!(m.headers_built(), 3 * sent.frames);
    }
}

#[test]
fn bytes_checksummed_are_the_headers_and_segments_summed() {
    let (net, _, _) = page_run();
    let frames = net.da.take_capture();
    let (wa, wb) = (wire_of(&frames, 0), wire_of(&frames, 1));
    // Received: every IPv4 header and whole TCP segment. Sent: the generic
    // path's IPv4 headers (20 bytes) and TCP headers, and the payload the
    // writers had no sum for (A's; B's writers give every sum).
    let rx = |w: &Wire| w.ip_header_bytes + w.tcp_segment_bytes;
    let tx_headers = |w: &Wire| 20 * w.control + w.tcp_header_bytes_generic;
    let (ma, mb) = (net.a.meter(), net.b.meter());
    assert_eq!(ma.bytes_checksummed, rx(&wb) + tx_headers(&wa) + wa.payload);
    assert_eq!(mb.bytes_checksummed, rx(&wa) + tx_headers(&wb));
    // B's payload was covered by precomputed sums, one per writer piece.
    assert_eq!(mb.prefix_sum_lookups, net.b.app().log.sums.get());
    assert_eq!(mb.prefix_sum_lookups, mb.writer_calls);
    assert_eq!(ma.prefix_sum_lookups, 0);
    assert_eq!(net.a.app().log.sums.get(), 0);
}

#[test]
fn bytes_copied_and_writer_calls_match_the_writers() {
    let (net, _, _) = page_run();
    let frames = net.da.take_capture();
    let (wa, wb) = (wire_of(&frames, 0), wire_of(&frames, 1));
    for (m, sent, app) in [
        (net.a.meter(), &wa, net.a.app()),
        (net.b.meter(), &wb, net.b.app()),
    ] {
        assert_eq!(m.bytes_copied, app.log.bytes.get());
        assert_eq!(m.bytes_copied, sent.payload);
        assert_eq!(m.writer_calls, app.log.calls.get());
    }
    // No retransmission: the application bytes, once.
    assert_eq!(wa.payload, (CONNS * 300) as u64);
    assert_eq!(wb.payload, (CONNS * 20_000) as u64);
    // One piece per data segment, and two for the one segment per
    // connection that spans B's two sends.
    assert_eq!(net.a.meter().writer_calls, wa.data_segments);
    assert_eq!(net.b.meter().writer_calls, wb.data_segments + CONNS as u64);
}

#[test]
fn pieces_sent_by_reference_are_counted_apart_from_copies() {
    let config: TcpConfig = test_config();
    let mut server = Peer::server();
    let statics = server
        .reply
        .clone()
        .map(|part| &*Box::leak(part.to_vec().into_boxed_slice()));
    server.reply_statics = Some(statics);
    let mut net = Net::new(Peer::client(CONNS), server, config.clone(), config);
    net.b.listen(80, 64).unwrap();
    let mut calls = [Calls::default(); 2];
    drive(&mut net, &mut calls, Duration::from_secs(600));
    assert_eq!(net.a.app().received, (CONNS * 20_000) as u64);
    let frames = net.da.take_capture();
    let wb = wire_of(&frames, 1);
    let m = net.b.meter();
    // Same bytes on the wire as when copied; the writers copied only the
    // pieces too short for a reference (the first part's start and the
    // ends of segments that span both parts).
    assert_eq!(wb.payload, (CONNS * 20_000) as u64);
    assert_eq!(m.bytes_copied, net.b.app().log.bytes.get());
    assert_eq!(m.writer_calls, net.b.app().log.calls.get());
    assert!(m.tx_references > 0);
    assert_eq!(m.tx_references, calls[1].references);
    assert!(m.bytes_copied < wb.payload / 4, "{m:?}");
    // Every piece went one way or the other, and each frame took one
    // driver allocation (the header buffer) whatever its references.
    assert_eq!(
        m.writer_calls + m.tx_references,
        wb.data_segments + CONNS as u64
    );
    assert_eq!(m.driver_allocs, calls[1].alloc_tx);
    assert_eq!(m.driver_allocs, m.frames_tx);
    // The referenced memory never changed.
    for (part, copy) in net.b.app().reply.iter().zip(statics) {
        assert_eq!(&part[..], copy);
    }
}

#[test]
fn connection_and_listener_lookups_match_the_segments() {
    let (net, _, _) = page_run();
    let frames = net.da.take_capture();
    let (wa, wb) = (wire_of(&frames, 0), wire_of(&frames, 1));
    let (ma, mb) = (net.a.meter(), net.b.meter());
    // One demultiplexing lookup per TCP segment received.
    assert_eq!(ma.conn_lookups, wb.tcp);
    assert_eq!(mb.conn_lookups, wa.tcp);
    // The listener is looked up for segments of no connection: the SYNs.
    assert_eq!(mb.listener_lookups, wa.syns_without_ack);
    assert_eq!(mb.listener_lookups, CONNS as u64);
    assert_eq!(ma.listener_lookups, 0);
    // Each connection: inserted, and removed (B) or turned to TIME-WAIT
    // and expired (A); A also looked up each port it chose, B each slot
    // it freed.
    assert_eq!(mb.conn_table_ops, 3 * CONNS as u64);
    assert_eq!(ma.conn_table_ops, 4 * CONNS as u64);
}

#[test]
fn driver_app_and_poll_calls_match_independent_counts() {
    let (net, calls, polls) = page_run();
    for (m, c, p, handlers) in [
        (net.a.meter(), calls[0], polls[0], net.a.app().handler_calls),
        (net.b.meter(), calls[1], polls[1], net.b.app().handler_calls),
    ] {
        assert_eq!(m.polls, p);
        assert_eq!(m.driver_receives, c.receive);
        assert_eq!(m.driver_allocs, c.alloc_tx);
        assert_eq!(m.driver_transmits, c.transmit);
        assert_eq!(m.driver_releases, c.release);
        assert_eq!(
            m.driver_calls(),
            c.receive + c.alloc_tx + c.transmit + c.release
        );
        assert_eq!(m.app_calls, handlers);
        // Every frame sent was allocated; every one received released.
        assert_eq!(m.driver_allocs, m.frames_tx);
        assert_eq!(m.driver_transmits, m.frames_tx);
        assert_eq!(m.driver_releases, m.frames_rx);
        assert_eq!(m.driver_receives, m.frames_rx + m.polls);
    }
}

#[test]
fn every_timer_scheduled_is_cancelled_or_expires() {
    let (net, _, _) = page_run();
    // Nothing is left on either wheel: each timer scheduled was cancelled
    // (also by being replaced) or popped as expired.
    assert_eq!(net.a.poll_at(), None);
    assert_eq!(net.b.poll_at(), None);
    for m in [net.a.meter(), net.b.meter()] {
        assert!(m.timer_schedules > 0);
        assert_eq!(
            m.timer_schedules,
            m.timer_cancels + m.timer_expiries,
            "{m:?}"
        );
        assert_eq!(m.timer_ops(), 2 * m.timer_schedules);
    }
    // A's TIME-WAIT and delayed ACKs are not on the wheel; its
    // retransmission timers are, and expired only... never: no loss.
    assert_eq!(net.a.tcp_counters().rto_expirations, 0);
}

#[test]
fn a_delayed_ack_is_one_schedule_and_one_expiry() {
    // One segment of data, no reply: the receiver's delayed-ACK timer fires.
    let mut client = Peer::client(0);
    client.send_on_connect = false;
    let mut net = Net::new(client, Peer::client(0), test_config(), test_config());
    net.b.listen(80, 64).unwrap();
    let mut calls = [Calls::default(); 2];
    let id = net
        .a
        .connect(&mut net.da, net.now, IP_B, 80, false)
        .unwrap();
    drive(&mut net, &mut calls, Duration::from_millis(1));
    let before = *net.b.meter();
    let sent = net.a.with_conn(&mut net.da, net.now, id, |app, _, conn| {
        conn.send(100, app.writer(pattern(100, 3).into(), None))
    });
    assert_eq!(sent, Some(Ok(())));
    drive(&mut net, &mut calls, Duration::from_secs(1));
    let delta = net.b.meter().since(&before);
    // The segment scheduled the delayed ACK; its expiry sent the ACK.
    assert_eq!(delta.timer_expiries, 1, "{delta:?}");
    assert!(delta.timer_schedules >= 1, "{delta:?}");
    assert_eq!(delta.frames_tx, 1);
    assert_eq!(
        (delta.frames_rx, delta.tcp_parsed, delta.conn_lookups),
        (1, 1, 1)
    );
    assert_eq!(net.b.tcp_counters().delayed_acks, 1);
    // The data reached the app (one call; and every poll asked it for a
    // connection to open), which sent nothing.
    assert_eq!(delta.app_calls, 1 + delta.polls);
    assert_eq!(delta.bytes_copied, 0);
}

#[test]
fn arp_and_icmp_are_counted_by_the_interface() {
    let (mut da, mut db) = pair(&PairConfig {
        capture: true,
        ..PairConfig::default()
    });
    let ip = |last| Ipv4Cidr::new(Ipv4Addr::new(10, 0, 0, last), 24).unwrap();
    let mut config_a = InterfaceConfig::new(ip(1));
    config_a.announce = false;
    let mut config_b = InterfaceConfig::new(ip(2));
    config_b.announce = false;
    let mut a = Interface::new(&da.capabilities(), config_a);
    let mut b = Interface::new(&db.capabilities(), config_b);
    let now = da.now();
    let data_len = 56;
    a.send_ping(&mut da, now, IP_B, 1, 1, data_len).unwrap(); // waits for ARP
    while a.poll(&mut da, now) | b.poll(&mut db, now) {}
    assert!(matches!(a.take_event(), Some(IfaceEvent::EchoReply { .. })));
    let frames = da.take_capture();
    let (ma, mb) = (a.meter(), b.meter());
    // A: ARP request, echo request; B: ARP reply, echo reply.
    assert_eq!(frames.len(), 4);
    assert_eq!((ma.arp_built, ma.icmp_built, ma.ipv4_built), (1, 1, 1));
    assert_eq!((mb.arp_built, mb.icmp_built, mb.ipv4_built), (1, 1, 1));
    assert_eq!((ma.arp_parsed, ma.ipv4_parsed, ma.icmp_parsed), (1, 1, 1));
    assert_eq!((mb.arp_parsed, mb.ipv4_parsed, mb.icmp_parsed), (1, 1, 1));
    for m in [ma, mb] {
        assert_eq!((m.eth_built, m.eth_parsed), (2, 2));
        assert_eq!((m.frames_tx, m.frames_rx), (2, 2));
        // The echo data written into the frame (generated by A, copied by B).
        assert_eq!(m.bytes_copied, data_len as u64);
    }
    let icmp_len = (8 + data_len) as u64;
    // A sums the request it builds (data and header) and its IPv4 header,
    // then the reply's IPv4 header and ICMP message; B sums the request's
    // IPv4 header and message and its reply's IPv4 header (the reply's
    // ICMP checksum is an RFC 1624 update: nothing summed).
    assert_eq!(ma.bytes_checksummed, icmp_len + 20 + 20 + icmp_len);
    assert_eq!(mb.bytes_checksummed, 20 + icmp_len + 20);
    // Interface::poll's calls: a receive per frame plus the empty one per
    // poll; a release per frame; an allocation and transmit per frame sent.
    for m in [ma, mb] {
        assert_eq!(m.driver_releases, 2);
        assert_eq!((m.driver_allocs, m.driver_transmits), (2, 2));
        assert_eq!(m.polls, 0, "Interface::poll is not Stack::poll");
    }
}

#[test]
fn the_meter_allocates_nothing_and_keeps_counting() {
    // Capture off (it allocates per frame); warm up, then count.
    let mut net = Net::quiet(
        Peer::client(0),
        Peer::server(),
        test_config(),
        test_config(),
    );
    net.b.listen(80, 64).unwrap();
    let mut calls = [Calls::default(); 2];
    let round = |net: &mut Net<Peer, Peer>, calls: &mut [Calls; 2]| {
        net.a.app_mut().to_open = 1;
        drive(net, calls, Duration::from_secs(300));
    };
    round(&mut net, &mut calls);
    round(&mut net, &mut calls);
    let before = (*net.a.meter(), *net.b.meter());
    let allocs = thread_allocations();
    for _ in 0..20 {
        round(&mut net, &mut calls);
    }
    let allocations = thread_allocations() - allocs;
    let (da, db) = (
        net.a.meter().since(&before.0),
        net.b.meter().since(&before.1),
    );
    assert_eq!(allocations, 0, "allocations during 20 connections");
    assert_eq!(net.a.app().closed, 22);
    assert!(
        da.frames_tx >= 20 * 4 && db.bytes_copied == 20 * 20_000,
        "{da:?} {db:?}"
    );
    assert_eq!(da - CostMeter::default(), da);
}

#[test]
fn with_loss_retransmissions_and_sacks_are_counted_too() {
    // B's frames are lost now and then: A sends SACKs, B retransmits.
    let config: TcpConfig = test_config();
    let mut net = Net::new(Peer::client(CONNS), Peer::server(), config.clone(), config);
    net.db.set_loss_filter(|i, _| i % 9 == 4);
    net.b.listen(80, 64).unwrap();
    let mut calls = [Calls::default(); 2];
    let polls = drive(&mut net, &mut calls, Duration::from_secs(600));
    assert_eq!(net.a.app().received, (CONNS * 20_000) as u64);
    assert_eq!(net.b.app().closed, CONNS);
    assert!(net.b.tcp_counters().retransmits > 0);
    let frames = net.da.take_capture();
    let sent = [
        wire_of_lossy(&frames, 0, false),
        wire_of_lossy(&frames, 1, false),
    ];
    let got = [
        wire_of_lossy(&frames, 1, true),
        wire_of_lossy(&frames, 0, true),
    ];
    assert!(sent[0].sack > 0, "{:?}", sent[0]);
    assert!(got[0].frames < sent[1].frames);
    let apps = [net.a.app(), net.b.app()];
    for (i, m) in [net.a.meter(), net.b.meter()].into_iter().enumerate() {
        let (sent, got, c) = (&sent[i], &got[i], calls[i]);
        // Sent: every frame handed to the driver, lost or not.
        assert_eq!((m.frames_tx, m.bytes_tx), (sent.frames, sent.bytes));
        assert_eq!((m.frames_rx, m.bytes_rx), (got.frames, got.bytes));
        assert_eq!(m.tcp_parsed, got.tcp);
        assert_eq!(m.conn_lookups, got.tcp);
        assert_eq!(m.ipv4_built + m.ipv4_templated, sent.tcp);
        assert_eq!(m.tcp_built, sent.control + sent.sack);
        assert_eq!(m.tcp_built + m.tcp_templated, sent.tcp);
        // Retransmitted payload is written (and copied) again.
        assert_eq!(m.bytes_copied, sent.payload);
        assert_eq!(m.bytes_copied, apps[i].log.bytes.get());
        assert_eq!(m.writer_calls, apps[i].log.calls.get());
        assert_eq!(m.app_calls, apps[i].handler_calls);
        assert_eq!(m.polls, polls[i]);
        assert_eq!(
            (
                m.driver_receives,
                m.driver_allocs,
                m.driver_transmits,
                m.driver_releases
            ),
            (c.receive, c.alloc_tx, c.transmit, c.release)
        );
        let rx = got.ip_header_bytes + got.tcp_segment_bytes;
        let tx_headers = 20 * sent.control + sent.tcp_header_bytes_generic;
        let tx_payload = if i == 0 { sent.payload } else { 0 };
        assert_eq!(m.bytes_checksummed, rx + tx_headers + tx_payload, "end {i}");
    }
    assert_eq!(net.b.meter().prefix_sum_lookups, net.b.app().log.sums.get());
}
