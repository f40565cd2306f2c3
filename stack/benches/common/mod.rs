//! Shared set-up of the `segment` and `rx_frame` benchmarks: one TCP
//! connection between two [`Stack`]s over the in-memory pair driver, with a
//! client that sends without end ([`Blaster`]) and a server that takes
//! everything ([`Sink`]); then one of the two stacks is taken off the pair
//! and driven by a [`BenchDriver`], which hands it prepared frames (crafted
//! from frames captured on the pair, so they are what the peer would send)
//! and throws away what it transmits.
//!
//! Only public API is used: `Stack::poll` with a driver of our own, and
//! frames built byte by byte from the pair's capture.
#![allow(dead_code)]

use std::collections::VecDeque;

use rusty_stack::checksum::{self, Checksum};
use rusty_stack::iface::InterfaceConfig;
use rusty_stack::mem::buf::{BufPool, Frame, PoolConfig, NUM_CLASSES};
use rusty_stack::mem::cursor::{Cursor, CursorMut};
use rusty_stack::nic::pair::{pair, CapturedFrame, PairConfig, PairDriver};
use rusty_stack::nic::{Capabilities, Driver, TxFull};
use rusty_stack::prefix_sum::PrefixSums;
use rusty_stack::tcp::{App, Conn, Connect, TcpConfig, Writer};
use rusty_stack::time::Instant;
use rusty_stack::wire::{Ipv4Addr, Ipv4Cidr};
use rusty_stack::Stack;

/// The server (receiver) address.
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
/// The client (sender) address.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 2);
/// The server port.
pub const PORT: u16 = 80;
/// The MTU of both ends.
pub const MTU: usize = 1500;
/// Payload bytes of a full segment: the MSS of a 1500-byte MTU. TCP
/// timestamps are off in these benchmarks; with them a full segment would
/// carry 12 bytes less.
pub const FULL_SEGMENT: u32 = 1460;
/// The receive window, in full segments: the server's receive budget is
/// exactly this many full segments, so that a window-limited sender sends
/// only full segments.
pub const WINDOW_SEGMENTS: u32 = 64;
/// Bytes of the client's page; each `send` covers a whole number of full
/// segments of it, so that no segment spans two sends.
const PAGE_LEN: usize = 1 << 20;

/// The virtual time of the whole benchmark (it never moves: no timer
/// fires, and per-frame costs do not depend on it).
pub const NOW: Instant = Instant::from_secs(1);

/// Deterministic page bytes.
fn page_bytes(len: usize) -> Vec<u8> {
    let mut x = 0x9e37_79b9u32;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

/// A writer over a static page, optionally with its checksum table (as
/// the HTTP server's pages).
#[derive(Clone, Copy, Debug)]
pub struct Chunk {
    page: &'static [u8],
    sums: Option<&'static PrefixSums>,
}

impl Writer for Chunk {
    fn write(&self, offset: usize, out: &mut CursorMut<'_>) {
        let end = (offset + out.len()).min(self.page.len());
        let _ = out.write(&self.page[offset..end]);
    }

    fn sum(&self, offset: usize, len: usize) -> Option<u16> {
        self.sums?.sum(self.page, offset, len)
    }
}

/// The sending application: opens one connection and keeps its transmit
/// queue full of `send_len`-byte sends of its page.
pub struct Blaster {
    chunk: Chunk,
    send_len: usize,
    connect: bool,
    /// Bytes acknowledged, in whole sends.
    pub sends_acked: u64,
}

impl Blaster {
    fn fill(&self, conn: &mut Conn<'_, Chunk>) {
        while conn.send_capacity() > 0 {
            if conn.send(self.send_len, self.chunk).is_err() {
                break;
            }
        }
    }
}

impl App for Blaster {
    type Conn = ();
    type Writer = Chunk;

    fn accept(&mut self, _: u16, _: &mut Conn<'_, Chunk>) -> Option<()> {
        None
    }

    fn on_connected(&mut self, _: &mut (), conn: &mut Conn<'_, Chunk>) {
        self.fill(conn);
    }

    fn on_acked(&mut self, _: &mut (), conn: &mut Conn<'_, Chunk>, _: Chunk) {
        self.sends_acked += 1;
        self.fill(conn);
    }

    fn on_data(&mut self, _: &mut (), _: &mut Conn<'_, Chunk>, _: Cursor<'_>) {}

    fn on_remote_close(&mut self, _: &mut (), conn: &mut Conn<'_, Chunk>) {
        conn.close();
    }

    fn on_close(&mut self, _: ()) {}

    fn on_reset(&mut self, _: ()) {}

    fn next_connect(&mut self, _now: Instant) -> Option<Connect<()>> {
        core::mem::take(&mut self.connect).then_some(Connect {
            addr: SERVER_IP,
            port: PORT,
            state: (),
        })
    }
}

/// The receiving application: accepts, counts the bytes it is handed (they
/// are not copied: the stack delivers them in place) and sends nothing.
#[derive(Default)]
pub struct Sink {
    /// Payload bytes delivered by `on_data`.
    pub bytes: u64,
    /// Connections accepted.
    pub accepted: u32,
}

impl App for Sink {
    type Conn = ();
    type Writer = Chunk;

    fn accept(&mut self, _: u16, _: &mut Conn<'_, Chunk>) -> Option<()> {
        self.accepted += 1;
        Some(())
    }

    fn on_data(&mut self, _: &mut (), _: &mut Conn<'_, Chunk>, data: Cursor<'_>) {
        self.bytes += data.len() as u64;
    }

    fn on_remote_close(&mut self, _: &mut (), conn: &mut Conn<'_, Chunk>) {
        conn.close();
    }

    fn on_close(&mut self, _: ()) {}

    fn on_reset(&mut self, _: ()) {}
}

/// A driver for the stack under measurement: hands it the frames queued
/// with [`BenchDriver::push`], at most `per_poll` per [`Stack::poll`] (its
/// receive batch), and drops every frame it transmits at once, keeping only
/// the last one (to read its sequence number between timed runs).
pub struct BenchDriver {
    caps: Capabilities,
    /// Buffers for the frames the stack receives.
    pub wire_pool: BufPool,
    tx_pool: BufPool,
    rx: VecDeque<Frame>,
    per_poll: usize,
    given: usize,
    /// Frames transmitted so far.
    pub transmitted: u64,
    /// The last frame transmitted.
    pub last_tx: Option<Frame>,
}

impl BenchDriver {
    /// A driver with the capabilities `caps` (those the stack was built
    /// with), room for `rx_frames` full-sized received frames, and a
    /// receive batch of `per_poll` frames.
    pub fn new(caps: Capabilities, rx_frames: usize, per_poll: usize) -> Self {
        let mut wire = PoolConfig::uniform(64);
        // 1514-byte frames take one 1664-byte buffer.
        wire.counts[4] = rx_frames + 64;
        let mut tx = PoolConfig::uniform(0);
        tx.counts = [256; NUM_CLASSES];
        BenchDriver {
            caps,
            wire_pool: BufPool::new(&wire),
            tx_pool: BufPool::new(&tx),
            rx: VecDeque::with_capacity(rx_frames + 64),
            per_poll: per_poll.max(1),
            given: 0,
            transmitted: 0,
            last_tx: None,
        }
    }

    /// Queues a frame for the stack to receive.
    pub fn push(&mut self, frame: Frame) {
        self.rx.push_back(frame);
    }

    /// Frames queued and not yet received.
    pub fn pending(&self) -> usize {
        self.rx.len()
    }
}

impl Driver for BenchDriver {
    fn capabilities(&self) -> Capabilities {
        self.caps.clone()
    }

    fn receive(&mut self) -> Option<Frame> {
        if self.given == self.per_poll {
            // End of this poll's batch.
            self.given = 0;
            return None;
        }
        match self.rx.pop_front() {
            Some(frame) => {
                self.given += 1;
                Some(frame)
            }
            None => {
                self.given = 0;
                None
            }
        }
    }

    fn alloc_tx(&mut self, len: usize) -> Option<Frame> {
        self.tx_pool.alloc_chain(len)
    }

    fn transmit(&mut self, frame: Frame) -> Result<(), TxFull> {
        self.transmitted += 1;
        // Dropping the previous frame gives its buffers back.
        self.last_tx = Some(frame);
        Ok(())
    }
}

/// The TCP fields of a captured Ethernet/IPv4/TCP frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFields {
    /// Offset of the TCP header in the frame.
    pub tcp_offset: usize,
    /// Length of the TCP segment (header and payload).
    pub tcp_len: usize,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgment number.
    pub ack: u32,
    /// Flags byte (FIN 0x01, SYN 0x02, RST 0x04, PSH 0x08, ACK 0x10).
    pub flags: u8,
    /// Payload bytes.
    pub payload_len: usize,
}

impl TcpFields {
    /// Parses the headers of an IPv4/TCP frame (`None` for anything else).
    pub fn parse(bytes: &[u8]) -> Option<TcpFields> {
        if bytes.len() < 54 || bytes[12..14] != [0x08, 0x00] || bytes[23] != 6 {
            return None;
        }
        let ihl = usize::from(bytes[14] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
        let tcp_offset = 14 + ihl;
        let tcp = bytes.get(tcp_offset..14 + total)?;
        let data_offset = usize::from(tcp.get(12)? >> 4) * 4;
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        Some(TcpFields {
            tcp_offset,
            tcp_len: tcp.len(),
            seq: be32(&tcp[4..8]),
            ack: be32(&tcp[8..12]),
            flags: tcp[13],
            payload_len: tcp.len().checked_sub(data_offset)?,
        })
    }

    /// Parses a frame held in buffers.
    pub fn of_frame(frame: &Frame) -> Option<TcpFields> {
        TcpFields::parse(&frame.copy_to_vec())
    }

    /// The sequence number after the segment's payload.
    pub fn seq_end(&self) -> u32 {
        self.seq.wrapping_add(self.payload_len as u32)
    }
}

/// A captured frame used as a model for frames fed to a stack: the same
/// bytes with another sequence or acknowledgment number, checksummed anew.
#[derive(Clone, Debug)]
pub struct Template {
    bytes: Vec<u8>,
    /// Its TCP fields.
    pub fields: TcpFields,
}

impl Template {
    /// A template from a captured IPv4/TCP frame whose checksum is right.
    pub fn new(bytes: Vec<u8>) -> Template {
        let fields = TcpFields::parse(&bytes).expect("an IPv4/TCP frame");
        let mut t = Template { bytes, fields };
        let original = t.tcp_checksum();
        t.set_checksum();
        let norm = |s: u16| if s == 0xffff { 0 } else { s };
        assert_eq!(
            norm(t.tcp_checksum()),
            norm(original),
            "the bench's checksum agrees with the stack's"
        );
        t
    }

    fn tcp_checksum(&self) -> u16 {
        let at = self.fields.tcp_offset + 16;
        u16::from_be_bytes([self.bytes[at], self.bytes[at + 1]])
    }

    /// Recomputes the TCP checksum from the pseudo-header and the segment.
    fn set_checksum(&mut self) {
        let TcpFields {
            tcp_offset,
            tcp_len,
            ..
        } = self.fields;
        let at = tcp_offset + 16;
        self.bytes[at..at + 2].copy_from_slice(&[0, 0]);
        let ip = |i: usize| {
            [
                self.bytes[i],
                self.bytes[i + 1],
                self.bytes[i + 2],
                self.bytes[i + 3],
            ]
        };
        let mut sum = Checksum::new();
        sum.add_u16(checksum::pseudo_header_sum(
            ip(26),
            ip(30),
            6,
            tcp_len as u16,
        ));
        sum.add_bytes(&self.bytes[tcp_offset..tcp_offset + tcp_len]);
        let value = sum.finish();
        self.bytes[at..at + 2].copy_from_slice(&value.to_be_bytes());
    }

    /// The template with sequence number `seq` and acknowledgment number
    /// `ack`, in a frame of `pool`.
    pub fn frame(&mut self, pool: &BufPool, seq: u32, ack: u32) -> Frame {
        let at = self.fields.tcp_offset;
        self.bytes[at + 4..at + 8].copy_from_slice(&seq.to_be_bytes());
        self.bytes[at + 8..at + 12].copy_from_slice(&ack.to_be_bytes());
        self.fields.seq = seq;
        self.fields.ack = ack;
        self.set_checksum();
        let mut frame = pool
            .alloc_chain(self.bytes.len())
            .expect("the bench driver's pool holds every queued frame");
        frame
            .cursor_mut()
            .write(&self.bytes)
            .expect("frame of the template's length");
        frame
    }
}

/// Settings of both stacks: no TCP timestamps, so that a full segment
/// carries [`FULL_SEGMENT`] bytes, and a server receive budget of exactly
/// [`WINDOW_SEGMENTS`] full segments.
fn config() -> TcpConfig {
    TcpConfig {
        max_connections: 16,
        time_wait_capacity: 16,
        ooo_pool_segments: 64,
        rx_budget: WINDOW_SEGMENTS * FULL_SEGMENT,
        timestamps: false,
        ..TcpConfig::default()
    }
}

/// A connection between a [`Blaster`] client and a [`Sink`] server over the
/// pair driver, after some data has flowed.
pub struct Flow {
    /// The receiving stack.
    pub server: Stack<Sink>,
    /// The sending stack.
    pub client: Stack<Blaster>,
    /// The server's end of the pair.
    pub ds: PairDriver,
    /// The client's end of the pair.
    pub dc: PairDriver,
}

impl Flow {
    /// Opens the connection and runs it until a few megabytes have been
    /// sent and acknowledged. With `presummed`, the client's page comes
    /// with its checksum table.
    pub fn new(presummed: bool) -> Flow {
        let page: &'static [u8] = Vec::leak(page_bytes(PAGE_LEN));
        let sums: Option<&'static PrefixSums> =
            presummed.then(|| &*Box::leak(Box::new(PrefixSums::new(page))));
        // A whole number of full segments per send.
        let full = FULL_SEGMENT as usize;
        let send_len = (PAGE_LEN / full) * full;
        let (ds, dc) = pair(&PairConfig {
            queue_capacity: 4096,
            capture: true,
            pool: PoolConfig {
                counts: [512, 64, 64, 64, 2048, 8, 4, 4],
                chaining: false,
                references: 2048,
            },
            mtu: MTU,
            ..PairConfig::default()
        });
        let mut is = InterfaceConfig::new(Ipv4Cidr::new(SERVER_IP, 24).expect("valid cidr"));
        let mut ic = InterfaceConfig::new(Ipv4Cidr::new(CLIENT_IP, 24).expect("valid cidr"));
        is.announce = false;
        ic.announce = false;
        let mut server = Stack::new(&ds.capabilities(), is, config(), Sink::default(), NOW);
        let blaster = Blaster {
            chunk: Chunk { page, sums },
            send_len,
            connect: true,
            sends_acked: 0,
        };
        let mut client = Stack::new(&dc.capabilities(), ic, config(), blaster, NOW);
        server
            .iface_mut()
            .add_static_arp(CLIENT_IP, dc.mac())
            .expect("room in the ARP cache");
        client
            .iface_mut()
            .add_static_arp(SERVER_IP, ds.mac())
            .expect("room in the ARP cache");
        server.listen(PORT, 16).expect("port free");
        let mut flow = Flow {
            server,
            client,
            ds,
            dc,
        };
        for _ in 0..10_000 {
            if flow.server.app().bytes >= 4 << 20 {
                break;
            }
            flow.rounds(1);
        }
        assert_eq!(flow.server.app().accepted, 1, "connection accepted");
        assert!(
            flow.server.app().bytes >= 4 << 20,
            "data flowed: {} bytes",
            flow.server.app().bytes
        );
        assert_eq!(flow.client.tcp_counters().retransmits, 0);
        let _ = flow.ds.take_capture();
        flow
    }

    /// Polls both stacks `n` times, keeping only the capture of the last
    /// round.
    fn rounds(&mut self, n: usize) {
        for _ in 0..n {
            let _ = self.ds.take_capture();
            self.server.poll(&mut self.ds, NOW);
            self.client.poll(&mut self.dc, NOW);
        }
    }

    /// Stops the client and lets the server take every frame on the wire.
    /// Returns the server, a captured data segment of the client with a
    /// full payload (the last one) and the server's `rcv_nxt`.
    pub fn into_receiver(mut self) -> (Stack<Sink>, Template, u32) {
        self.rounds(1);
        while self.ds.pending() > 0 {
            self.server.poll(&mut self.ds, NOW);
        }
        let capture = self.ds.take_capture();
        let (last, fields) = frames_from(&capture, 1)
            .filter(|(_, f)| f.payload_len > 0)
            .last()
            .expect("the client sent data in the last round");
        assert_eq!(fields.payload_len as u32, FULL_SEGMENT, "a full segment");
        // No loss and no retransmission: the last data segment sent ends at
        // the server's `rcv_nxt` once the server has taken every frame.
        (
            self.server,
            Template::new(last.bytes.clone()),
            fields.seq_end(),
        )
    }

    /// Stops the server and lets the client take every ACK on the wire.
    /// Returns the client, the server's last pure ACK, the acknowledgment
    /// number it carries (the client's `snd_una`) and the client's
    /// `snd_nxt`.
    pub fn into_sender(mut self) -> (Stack<Blaster>, Template, u32, u32) {
        self.rounds(1);
        let _ = self.ds.take_capture();
        self.server.poll(&mut self.ds, NOW);
        while self.dc.pending() > 0 {
            self.client.poll(&mut self.dc, NOW);
        }
        let capture = self.ds.take_capture();
        let (ack, ack_fields) = frames_from(&capture, 0)
            .last()
            .expect("the server acknowledged in the last round");
        assert_eq!(ack_fields.payload_len, 0, "a pure ACK");
        let (_, data) = frames_from(&capture, 1)
            .filter(|(_, f)| f.payload_len > 0)
            .last()
            .expect("the client sent data after the last ACKs");
        (
            self.client,
            Template::new(ack.bytes.clone()),
            ack_fields.ack,
            data.seq_end(),
        )
    }
}

/// The captured frames sent by end `from`, with their TCP fields.
fn frames_from(
    capture: &[CapturedFrame],
    from: usize,
) -> impl Iterator<Item = (&CapturedFrame, TcpFields)> + '_ {
    capture
        .iter()
        .filter(move |c| c.from == from && !c.lost)
        .filter_map(|c| TcpFields::parse(&c.bytes).map(|f| (c, f)))
}
