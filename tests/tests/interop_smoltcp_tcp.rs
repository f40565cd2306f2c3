//! TCP between Rusty's `Stack` and smoltcp over the simulator's link
//! (`rusty_sim::hosts::interop`): a smoltcp client against a Rusty echo server, a
//! Rusty client against a smoltcp echo server, both on a perfect link and
//! under seeded loss with reordering. Every random choice (the link's
//! faults, smoltcp's ISNs, Rusty's TCP secret) comes from one seed tree. A
//! failing test prints the link trace.

use std::collections::VecDeque;

use rusty_sim::hosts::interop::{self, BytesWriter, InteropNet, NetError, RustyPeer, Wire};
use rusty_sim::hosts::smol_peer::SmolPeer;
use rusty_sim::net::link::{LinkStats, Side};
use rusty_stack::mem::cursor::Cursor;
use rusty_stack::tcp::{App, Conn, ConnId, Connect, SendError, State, TcpConfig};
use rusty_stack::time::Instant;
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr, MacAddr};
use rusty_stack::Stack;
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp::State as SmolState;

const RUSTY_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x01]);
const SMOL_MAC: MacAddr = MacAddr([0x02, 0, 0, 0, 0, 0x02]);
const RUSTY_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const SMOL_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
const ECHO_PORT: u16 = 7;

/// 100 KB of a pattern that does not repeat at segment sizes.
fn test_data(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

// ---------------------------------------------------------------- Rusty apps

/// An echo server: every byte received is sent back; the connection is
/// closed once the peer closed and everything was queued.
#[derive(Debug, Default)]
struct Echo {
    accepted: u32,
    closed: u32,
    reset: u32,
    echoed: u64,
}

/// Per-connection state of [`Echo`]: data not yet accepted by the
/// connection's transmit queue.
#[derive(Debug, Default)]
struct EchoConn {
    backlog: VecDeque<BytesWriter>,
    remote_closed: bool,
    closing: bool,
}

impl EchoConn {
    fn flush(&mut self, conn: &mut Conn<'_, BytesWriter>) {
        while let Some(writer) = self.backlog.front() {
            match conn.send(writer.len(), writer.clone()) {
                Ok(()) => {
                    self.backlog.pop_front();
                }
                Err(SendError::QueueFull) => break,
                Err(SendError::Closed | SendError::Empty) => {
                    self.backlog.clear();
                    break;
                }
            }
        }
        if self.remote_closed && self.backlog.is_empty() && !self.closing {
            self.closing = true;
            conn.close();
        }
    }
}

impl App for Echo {
    type Conn = EchoConn;
    type Writer = BytesWriter;

    fn accept(&mut self, port: u16, _conn: &mut Conn<'_, BytesWriter>) -> Option<EchoConn> {
        assert_eq!(port, ECHO_PORT);
        self.accepted += 1;
        Some(EchoConn::default())
    }

    fn on_data(&mut self, c: &mut EchoConn, conn: &mut Conn<'_, BytesWriter>, data: Cursor<'_>) {
        let bytes = data.copy_to_vec();
        self.echoed += bytes.len() as u64;
        c.backlog.push_back(BytesWriter::new(&bytes));
        c.flush(conn);
    }

    fn on_acked(&mut self, c: &mut EchoConn, conn: &mut Conn<'_, BytesWriter>, _w: BytesWriter) {
        c.flush(conn);
    }

    fn on_remote_close(&mut self, c: &mut EchoConn, conn: &mut Conn<'_, BytesWriter>) {
        c.remote_closed = true;
        c.flush(conn);
    }

    fn on_close(&mut self, _c: EchoConn) {
        self.closed += 1;
    }

    fn on_reset(&mut self, _c: EchoConn) {
        self.reset += 1;
    }
}

/// A client: opens one connection to the smoltcp echo server, sends its
/// data in 4 KiB writes, collects the echo and closes when all came back.
struct Client {
    connect_to: Option<(Ipv4Addr, u16)>,
    to_send: VecDeque<BytesWriter>,
    total: usize,
    received: Vec<u8>,
    connected: bool,
    closing: bool,
    closed: bool,
    reset: bool,
    connect_failed: bool,
    id: Option<ConnId>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("writes_left", &self.to_send.len())
            .field("received", &self.received.len())
            .field("total", &self.total)
            .field("connected", &self.connected)
            .field("closing", &self.closing)
            .field("closed", &self.closed)
            .field("reset", &self.reset)
            .field("connect_failed", &self.connect_failed)
            .finish()
    }
}

impl Client {
    fn new(addr: Ipv4Addr, port: u16, data: &[u8]) -> Self {
        Client {
            connect_to: Some((addr, port)),
            to_send: data.chunks(4096).map(BytesWriter::new).collect(),
            total: data.len(),
            received: Vec::new(),
            connected: false,
            closing: false,
            closed: false,
            reset: false,
            connect_failed: false,
            id: None,
        }
    }

    fn flush(&mut self, conn: &mut Conn<'_, BytesWriter>) {
        while let Some(writer) = self.to_send.front() {
            match conn.send(writer.len(), writer.clone()) {
                Ok(()) => {
                    self.to_send.pop_front();
                }
                Err(SendError::QueueFull) => break,
                Err(e) => panic!("send refused: {e}"),
            }
        }
    }
}

impl App for Client {
    type Conn = ();
    type Writer = BytesWriter;

    fn accept(&mut self, _port: u16, _conn: &mut Conn<'_, BytesWriter>) -> Option<()> {
        None
    }

    fn on_connected(&mut self, _c: &mut (), conn: &mut Conn<'_, BytesWriter>) {
        assert_eq!(conn.remote(), (SMOL_IP, ECHO_PORT));
        self.connected = true;
        self.id = Some(conn.id());
        self.flush(conn);
    }

    fn on_data(&mut self, _c: &mut (), conn: &mut Conn<'_, BytesWriter>, data: Cursor<'_>) {
        self.received.extend(data.copy_to_vec());
        if self.received.len() >= self.total && !self.closing {
            self.closing = true;
            conn.close();
        }
    }

    fn on_acked(&mut self, _c: &mut (), conn: &mut Conn<'_, BytesWriter>, _w: BytesWriter) {
        self.flush(conn);
    }

    fn on_remote_close(&mut self, _c: &mut (), conn: &mut Conn<'_, BytesWriter>) {
        if !self.closing {
            self.closing = true;
            conn.close();
        }
    }

    fn on_close(&mut self, _c: ()) {
        self.closed = true;
    }

    fn on_reset(&mut self, _c: ()) {
        self.reset = true;
    }

    fn next_connect(&mut self, _now: Instant) -> Option<Connect<()>> {
        let (addr, port) = self.connect_to.take()?;
        Some(Connect {
            addr,
            port,
            state: (),
        })
    }

    fn on_connect_failed(&mut self, _c: ()) {
        self.connect_failed = true;
    }
}

// ------------------------------------------------------------------ harness

type TcpNet<A> = InteropNet<RustyPeer<Stack<A>>, SmolPeer>;

fn tcp_config() -> TcpConfig {
    TcpConfig {
        max_connections: 16,
        time_wait_capacity: 16,
        ooo_pool_segments: 256,
        ..TcpConfig::default()
    }
}

fn net<A: App>(wire: Wire, tcp: TcpConfig, app: A) -> TcpNet<A> {
    let seeds = wire.seeds();
    let tcp = TcpConfig {
        secret: interop::tcp_secret(&seeds),
        ..tcp
    };
    let cidr = Ipv4Cidr::new(RUSTY_IP, 24).expect("valid prefix");
    InteropNet::new(
        wire.link(),
        RustyPeer::stack(Side::A, RUSTY_MAC, cidr, tcp, app),
        SmolPeer::new(SMOL_MAC, SMOL_IP, 24, interop::smoltcp_seed(&seeds)),
    )
}

/// Everything worth printing when a test fails.
fn report<A: App + core::fmt::Debug>(net: &mut TcpNet<A>, smol: SocketHandle) -> String {
    let stack = &net.a.node;
    let drops: Vec<_> = (stack.iface().counters().nonzero_drops())
        .chain(stack.tcp_counters().nonzero_drops())
        .collect();
    let app = format!("{:?}", stack.app());
    let tcp = format!("{:?}", stack.tcp_counters());
    let active = stack.active_connections();
    let now = net.now();
    let socket = net.b.tcp(smol);
    format!(
        "at {}\nRusty app: {app}\nRusty TCP: {tcp}\nRusty drops: {drops:?}\n\
         Rusty active connections: {active}\nsmoltcp socket: {:?}, send queue {}, recv queue {}\n\
         link: {:?}\nlast frames:\n{}",
        now,
        socket.state(),
        socket.send_queue(),
        socket.recv_queue(),
        net.link.stats(),
        net.trace_lines(120).join("\n"),
    )
}

/// What a run produced, to compare runs of one seed.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    end: Instant,
    link: LinkStats,
}

// --------------------------------------------- smoltcp client, Rusty server

fn smoltcp_client_to_rusty_echo(
    wire: Wire,
    tcp: TcpConfig,
    len: usize,
    deadline: Instant,
) -> Outcome {
    let mut net = net(wire, tcp, Echo::default());
    net.a
        .node
        .listen(ECHO_PORT, 16)
        .expect("listen on the echo port");
    let handle = net
        .b
        .add_tcp_client(RUSTY_IP, ECHO_PORT, 64 * 1024, 64 * 1024);
    let data = test_data(len);
    let mut sent = 0;
    let mut received = Vec::with_capacity(len);
    let mut closed = false;
    let result = net.run_until(deadline, |net| {
        let socket = net.b.tcp(handle);
        if socket.can_send() && sent < data.len() {
            sent += socket.send_slice(&data[sent..]).expect("socket open");
        }
        while socket.can_recv() {
            socket
                .recv(|buf| {
                    received.extend_from_slice(buf);
                    (buf.len(), ())
                })
                .expect("socket open");
        }
        if received.len() >= data.len() && !closed {
            socket.close();
            closed = true;
        }
        closed && matches!(socket.state(), SmolState::TimeWait | SmolState::Closed)
    });
    if let Err(e) = result {
        panic!(
            "{e}: sent {sent} of {len}, received {} back\n{}",
            received.len(),
            report(&mut net, handle)
        );
    }
    assert!(
        received == data,
        "echo differs from the data (first difference at {:?})\n{}",
        received.iter().zip(&data).position(|(a, b)| a != b),
        report(&mut net, handle)
    );
    // Rusty closes its side after smoltcp's FIN: both ends finish.
    let end = net.now();
    let finished = net.run_until(deadline, |net| {
        net.a.node.app().closed == 1 && net.a.node.active_connections() == 0
    });
    if let Err(e) = finished {
        panic!("{e}: Rusty did not close\n{}", report(&mut net, handle));
    }
    let app = net.a.node.app();
    assert_eq!((app.accepted, app.reset), (1, 0), "{app:?}");
    assert_eq!(app.echoed, len as u64);
    Outcome {
        end,
        link: net.link.stats(),
    }
}

#[test]
fn interop_smoltcp_client_echo_100k_through_rusty_server() {
    let outcome = smoltcp_client_to_rusty_echo(
        Wire::new(1),
        tcp_config(),
        100 * 1024,
        Instant::from_secs(30),
    );
    assert_eq!(outcome.link.total().lost(), 0);
}

#[test]
fn interop_smoltcp_client_echo_under_loss_and_reordering() {
    let link = Wire::lossy(0xa11ce, 0.05);
    let outcome = smoltcp_client_to_rusty_echo(
        link.clone(),
        tcp_config(),
        100 * 1024,
        Instant::from_secs(300),
    );
    assert!(outcome.link.total().lost() > 0 && outcome.link.total().reordered > 0);
    // Deterministic: the same seed gives the same run.
    assert_eq!(
        smoltcp_client_to_rusty_echo(link, tcp_config(), 100 * 1024, Instant::from_secs(300)),
        outcome
    );
}

// --------------------------------------------- Rusty client, smoltcp server

fn rusty_client_to_smoltcp_echo(
    wire: Wire,
    tcp: TcpConfig,
    len: usize,
    deadline: Instant,
) -> Outcome {
    let data = test_data(len);
    let mut net = net(wire, tcp, Client::new(SMOL_IP, ECHO_PORT, &data));
    let handle = net.b.add_tcp_listener(ECHO_PORT, 64 * 1024, 64 * 1024);
    let mut buf = vec![0u8; 64 * 1024];
    let result = net.run_until(deadline, |net| {
        // The smoltcp echo server.
        let socket = net.b.tcp(handle);
        while socket.can_recv() && socket.send_capacity() > socket.send_queue() {
            let room = (socket.send_capacity() - socket.send_queue()).min(buf.len());
            let n = socket.recv_slice(&mut buf[..room]).expect("socket open");
            if n == 0 {
                break;
            }
            let queued = socket.send_slice(&buf[..n]).expect("socket open");
            assert_eq!(queued, n, "room was checked");
        }
        if socket.state() == SmolState::CloseWait && socket.send_queue() == 0 {
            socket.close();
        }
        let app = net.a.node.app();
        app.closed || app.reset || app.connect_failed
    });
    // smoltcp 0.12 had a known flaw (smoltcp-rs/smoltcp#1060, fixed by
    // PR #1126 in 0.13; the workspace uses 0.14): a stale ACK arriving in
    // LAST-ACK stopped its retransmission timer, so if its FIN (or the ACK
    // of its FIN) was lost after that, it never sent the FIN again and sat
    // in LAST-ACK. Rusty then waits in FIN-WAIT-2 (it has no FIN-WAIT-2
    // timeout) and the net goes idle. That outcome is accepted once
    // everything was echoed.
    let smoltcp_stuck = |net: &mut TcpNet<Client>| {
        let rusty_state = net.a.node.app().id.and_then(|id| net.a.node.state(id));
        net.b.tcp(handle).state() == SmolState::LastAck
            && matches!(rusty_state, None | Some(State::FinWait2))
    };
    let stuck = match result {
        Ok(_) => false,
        Err(NetError::Idle(_)) if smoltcp_stuck(&mut net) => true,
        Err(e) => panic!(
            "{e}: Rusty got {} of {len} bytes back\n{}",
            net.a.node.app().received.len(),
            report(&mut net, handle)
        ),
    };
    let app = net.a.node.app();
    assert!(
        app.connected && (app.closed || stuck) && !app.reset && !app.connect_failed,
        "{}",
        report(&mut net, handle)
    );
    assert!(
        app.received == data,
        "echo differs from the data (first difference at {:?})\n{}",
        app.received.iter().zip(&data).position(|(a, b)| a != b),
        report(&mut net, handle)
    );
    let end = net.now();
    // smoltcp's side finishes too (Rusty, in TIME-WAIT, acknowledges its
    // FIN), unless it is stuck in LAST-ACK as above.
    let finished = net.run_until(deadline, |net| {
        matches!(
            net.b.tcp(handle).state(),
            SmolState::Closed | SmolState::TimeWait
        )
    });
    match finished {
        Ok(_) => {}
        Err(NetError::Idle(_)) if smoltcp_stuck(&mut net) => {}
        Err(e) => panic!("{e}: smoltcp did not close\n{}", report(&mut net, handle)),
    }
    Outcome {
        end,
        link: net.link.stats(),
    }
}

#[test]
fn interop_smoltcp_rusty_client_echo_through_smoltcp_server() {
    let outcome = rusty_client_to_smoltcp_echo(
        Wire::new(2),
        tcp_config(),
        100 * 1024,
        Instant::from_secs(30),
    );
    assert_eq!(outcome.link.total().lost(), 0);
}

#[test]
fn interop_smoltcp_rusty_client_under_loss_and_reordering() {
    let link = Wire::lossy(0xb0b, 0.05);
    let outcome = rusty_client_to_smoltcp_echo(
        link.clone(),
        tcp_config(),
        100 * 1024,
        Instant::from_secs(300),
    );
    assert!(outcome.link.total().lost() > 0 && outcome.link.total().reordered > 0);
    assert_eq!(
        rusty_client_to_smoltcp_echo(link, tcp_config(), 100 * 1024, Instant::from_secs(300)),
        outcome
    );
}

// ------------------------------------------- variants isolating features

/// Rusty without SACK: loss recovery by duplicate ACKs (NewReno) and RTOs
/// only, so no segment carries SACK blocks.
fn tcp_config_no_sack() -> TcpConfig {
    TcpConfig {
        sack: false,
        ..tcp_config()
    }
}

#[test]
fn interop_smoltcp_client_under_loss_without_sack() {
    let link = Wire::lossy(0xc0ffee, 0.05);
    let run = || {
        smoltcp_client_to_rusty_echo(
            link.clone(),
            tcp_config_no_sack(),
            100 * 1024,
            Instant::from_secs(300),
        )
    };
    let outcome = run();
    assert!(outcome.link.total().lost() > 0 && outcome.link.total().reordered > 0);
    assert_eq!(run(), outcome, "same seed, same run");
}

#[test]
fn interop_smoltcp_rusty_client_under_loss_without_sack() {
    let link = Wire::lossy(0xfee1, 0.05);
    let outcome = rusty_client_to_smoltcp_echo(
        link,
        tcp_config_no_sack(),
        100 * 1024,
        Instant::from_secs(300),
    );
    assert!(outcome.link.total().lost() > 0);
}

/// Duplicated and corrupted frames: checksums drop the corrupted ones on
/// both sides, duplicates are harmless, and the echo still arrives intact.
/// (Without SACK, so that this checks checksums and duplicates alone; the
/// SACK paths are covered by the loss tests above.)
#[test]
fn interop_smoltcp_echo_with_duplication_and_corruption() {
    let link = Wire::new(0xbad).with_duplicate(0.05).with_corrupt(0.05);
    let outcome = smoltcp_client_to_rusty_echo(
        link.clone(),
        tcp_config_no_sack(),
        100 * 1024,
        Instant::from_secs(300),
    );
    assert!(
        outcome.link.total().duplicated > 0 && outcome.link.total().corrupted > 0,
        "{outcome:?}"
    );
    let outcome = rusty_client_to_smoltcp_echo(
        link,
        tcp_config_no_sack(),
        100 * 1024,
        Instant::from_secs(300),
    );
    assert!(
        outcome.link.total().duplicated > 0 && outcome.link.total().corrupted > 0,
        "{outcome:?}"
    );
}

// ---------------------------------------------------------------- sweeps

/// Many seeds, both directions, SACK on: moderate loss with duplication,
/// corruption and reordering, and heavy loss. Cheap (virtual time), and
/// it shakes out rare interleavings a single seed never shows.
#[test]
fn interop_smoltcp_seed_sweep() {
    for seed in 0..16u64 {
        let mixed = Wire::lossy(seed, 0.03)
            .with_duplicate(0.02)
            .with_corrupt(0.01);
        let heavy = Wire::lossy(1000 + seed, 0.15);
        for link in [mixed, heavy] {
            let deadline = Instant::from_secs(600);
            smoltcp_client_to_rusty_echo(link.clone(), tcp_config(), 64 * 1024, deadline);
            rusty_client_to_smoltcp_echo(link, tcp_config(), 64 * 1024, deadline);
        }
    }
}
