//! A hostile host on the server's network segment.
//!
//! The attacker sits on a switch's mirror port of every link
//! ([`crate::kernel::world::World::mirror`]): it sees a copy of every frame
//! the link carries and sends into the link towards the server. Its frames
//! are built and the frames it watches are parsed with `etherparse`, an
//! implementation independent of Rusty's wire code, so what it sends is
//! what an outside tool would send.
//!
//! What it does, each at its own rate ([`AttackSpec`]):
//! * **SYN flood** — SYNs to the server's port from spoofed sources: random
//!   addresses of the client's subnet that no host owns, random ports and
//!   sequence numbers. The server's SYN queue fills and SYN cookies take
//!   over; its SYN-ACKs wait for ARP answers that never come.
//! * **Blind in-window RST** — RSTs on live connections whose sequence
//!   number lands inside the server's receive window but not at
//!   `RCV.NXT`, which is what an off-path attacker who knows the 4-tuple
//!   (ports are guessable) gets from spraying the sequence space: RFC 5961
//!   §3 says answer with a challenge ACK and keep the connection.
//! * **Blind data injection** — in-window data whose acknowledgement is
//!   what a blind guess gets: outside `[SND.UNA − MAX.SND.WND, SND.NXT]`
//!   (RFC 5961 §5), so it must be dropped, never delivered.
//! * **ACKs of unsent data** — segments at `RCV.NXT` acknowledging far
//!   beyond anything the server sent (RFC 9293 §3.10.7.4: send an ACK and
//!   drop the segment; `SND.UNA` must not move).
//! * **Out-of-window storm** — data far outside the receive window, and
//!   SYNs on synchronised connections (RFC 5961 §4), which draw rate-limited
//!   (duplicate or challenge) ACKs.
//!
//! The attacker learns the 4-tuples and the sequence numbers in use from
//! the frames it watches (the 4096 most recent connections); it never
//! sends at exactly `RCV.NXT` with an acceptable acknowledgement, which no
//! TCP can tell from the real peer. Everything random comes from its own
//! seeded stream; it stops when the run heals ([`HostModel::heal`]) or at
//! [`AttackSpec::until`].

use std::collections::HashMap;
use std::net::Ipv4Addr;

use etherparse::{LinkSlice, NetSlice, PacketBuilder, SlicedPacket, TcpOptionElement};
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use rusty_stack::stats::{IfaceCounters, TcpCounters};
use rusty_stack::time::{Duration, Instant};
use rusty_stack::wire::ethernet::MacAddr;
use serde::{Deserialize, Serialize};

use crate::hosts::rusty::{CoreRun, CoreStats, HostModel, Outbox};
use crate::kernel::rng::{below, Seeds};
use crate::net::link::serde_time;
use crate::net::nic::NicStats;

/// The most frames per second of any one attack.
pub const MAX_ATTACK_PPS: f64 = 10_000_000.0;

/// The most spoofed source addresses per link (host numbers 10..250 of the
/// client's /24 are free: the engine's hosts use 1 and 2).
pub const MAX_SPOOFED_SOURCES: u32 = 240;

/// Connections the attacker keeps track of per link.
const MAX_FLOWS: usize = 4096;

/// First two bytes of the (locally administered) MACs of spoofed SYNs.
const SPOOFED_MAC_PREFIX: [u8; 2] = [0x02, 0xad];

/// How often the attacker sends its next batch while it attacks.
const TICK: Duration = Duration::from_micros(50);

/// Most frames of one kind per tick (bounds a tick's work when a run
/// resumes after a long gap).
const MAX_BATCH: u64 = 10_000;

/// What the attacker does: frames per second of each attack (0: off),
/// and when. In a scenario: an `[attacker]` table, for example
/// `syn_flood_pps = 100000` or `rst_pps = 2000, data_pps = 2000`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AttackSpec {
    /// Spoofed SYNs per second (all rates are totals over the links).
    pub syn_flood_pps: f64,
    /// Blind in-window RSTs per second.
    pub rst_pps: f64,
    /// Blind in-window data segments (with unacceptable ACKs) per second.
    pub data_pps: f64,
    /// ACKs of data the server never sent, per second.
    pub ack_pps: f64,
    /// Out-of-window segments and SYNs on live connections, per second.
    pub storm_pps: f64,
    /// When the attack starts.
    #[serde(with = "serde_time::instant")]
    pub from: Instant,
    /// When it stops (default: when the run heals or ends).
    #[serde(
        default,
        with = "serde_time::option_instant",
        skip_serializing_if = "Option::is_none"
    )]
    pub until: Option<Instant>,
    /// Distinct spoofed source addresses per link (`1..=`[`MAX_SPOOFED_SOURCES`]).
    pub spoofed_sources: u32,
}

impl Default for AttackSpec {
    fn default() -> Self {
        AttackSpec {
            syn_flood_pps: 0.0,
            rst_pps: 0.0,
            data_pps: 0.0,
            ack_pps: 0.0,
            storm_pps: 0.0,
            from: Instant::ZERO,
            until: None,
            spoofed_sources: 200,
        }
    }
}

impl AttackSpec {
    /// The rates with their scenario names, in a fixed order.
    pub fn rates(&self) -> [(&'static str, f64); 5] {
        [
            ("syn_flood_pps", self.syn_flood_pps),
            ("rst_pps", self.rst_pps),
            ("data_pps", self.data_pps),
            ("ack_pps", self.ack_pps),
            ("storm_pps", self.storm_pps),
        ]
    }

    /// Checks every field: rates finite in `0..=`[`MAX_ATTACK_PPS`],
    /// `until` after `from`, spoofed sources in range. Errors name the
    /// field (`"rst_pps"`) and say why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        for (name, rate) in self.rates() {
            if !(rate.is_finite() && (0.0..=MAX_ATTACK_PPS).contains(&rate)) {
                return Err((
                    name,
                    format!("must be a rate in 0..={MAX_ATTACK_PPS} frames/s, got {rate}"),
                ));
            }
        }
        if self.until.is_some_and(|u| u <= self.from) {
            return Err(("until", "must be after `from`".into()));
        }
        if !(1..=MAX_SPOOFED_SOURCES).contains(&self.spoofed_sources) {
            return Err((
                "spoofed_sources",
                format!(
                    "must be in 1..={MAX_SPOOFED_SOURCES}, got {}",
                    self.spoofed_sources
                ),
            ));
        }
        Ok(())
    }
}

/// The server end of one link the attacker is wired to.
#[derive(Clone, Copy, Debug)]
pub struct AttackTarget {
    /// The server port's MAC address.
    pub mac: MacAddr,
    /// The server port's address.
    pub ip: Ipv4Addr,
    /// The port the server listens on.
    pub port: u16,
}

/// Frames the attacker sent, by attack, and what it saw.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AttackCounters {
    /// Spoofed SYNs.
    pub syns: u64,
    /// In-window RSTs.
    pub rsts: u64,
    /// In-window data segments with unacceptable ACKs.
    pub data: u64,
    /// ACKs of unsent data.
    pub acks: u64,
    /// Out-of-window segments and SYNs on live connections.
    pub storm: u64,
    /// Frames it watched.
    pub watched: u64,
    /// Connections it learned of.
    pub flows_seen: u64,
}

/// What the attacker knows of one connection, from the frames it saw.
#[derive(Clone, Copy, Debug)]
struct FlowView {
    client_mac: [u8; 6],
    client_ip: Ipv4Addr,
    client_port: u16,
    /// The highest sequence number the client sent up to (≥ the server's
    /// `RCV.NXT`: the attacker sees every frame when the server does).
    client_nxt: u32,
    /// The client's latest acknowledgement (≤ the server's `SND.NXT`).
    client_ack: u32,
    /// The highest sequence number the server sent up to (≤ its
    /// `SND.NXT`).
    server_nxt: u32,
    /// The server's receive window in bytes, as last advertised.
    server_window: u32,
    /// The server's window scale (from its SYN-ACK).
    server_shift: u8,
    /// Whether the server's SYN-ACK was seen (the connection is live).
    synced: bool,
}

/// Per link: the target and the connections seen on it.
#[derive(Debug)]
struct LinkState {
    target: AttackTarget,
    flows: Vec<FlowView>,
    index: HashMap<(Ipv4Addr, u16), usize>,
    /// Next flow slot to overwrite when the table is full.
    evict: usize,
}

impl LinkState {
    /// Drops flow `i` from the table.
    fn forget(&mut self, i: usize) {
        let gone = self.flows.swap_remove(i);
        self.index.remove(&(gone.client_ip, gone.client_port));
        if let Some(moved) = self.flows.get(i) {
            self.index.insert((moved.client_ip, moved.client_port), i);
        }
        if self.evict >= self.flows.len() {
            self.evict = 0;
        }
    }
}

/// The attacker host (see the [module documentation](self)).
#[derive(Debug)]
pub struct AttackerHost {
    spec: AttackSpec,
    links: Vec<LinkState>,
    rng: ChaCha8Rng,
    /// When each attack last sent, and the fraction of a frame it owes.
    last: Option<Instant>,
    credit: [f64; 5],
    healed: bool,
    counters: AttackCounters,
    stats: CoreStats,
}

impl AttackerHost {
    /// An attacker with one port per link, aiming at `targets` (in link
    /// order), drawing from stream `("attacker", 0)` of `seeds`.
    pub fn new(spec: AttackSpec, targets: Vec<AttackTarget>, seeds: &Seeds) -> Self {
        AttackerHost {
            spec,
            links: targets
                .into_iter()
                .map(|target| LinkState {
                    target,
                    flows: Vec::new(),
                    index: HashMap::new(),
                    evict: 0,
                })
                .collect(),
            rng: seeds.stream("attacker", 0),
            last: None,
            credit: [0.0; 5],
            healed: false,
            counters: AttackCounters::default(),
            stats: CoreStats::default(),
        }
    }

    /// What it sent and saw so far.
    pub fn counters(&self) -> AttackCounters {
        self.counters
    }

    fn active(&self, now: Instant) -> bool {
        !self.healed && now >= self.spec.from && self.spec.until.is_none_or(|u| now < u)
    }

    /// Learns from a frame the link carried.
    fn watch(&mut self, port: usize, frame: &[u8]) {
        let Some(link) = self.links.get_mut(port) else {
            return;
        };
        let Ok(p) = SlicedPacket::from_ethernet(frame) else {
            return;
        };
        let (Some(LinkSlice::Ethernet2(eth)), Some(NetSlice::Ipv4(ip)), Some(tcp)) =
            (&p.link, &p.net, tcp_of(&p))
        else {
            return;
        };
        if eth.source()[..2] == SPOOFED_MAC_PREFIX {
            return; // its own spoofed SYNs
        }
        let (src, dst) = (ip.header().source_addr(), ip.header().destination_addr());
        let to_server = dst == link.target.ip && tcp.destination_port() == link.target.port;
        let from_server = src == link.target.ip && tcp.source_port() == link.target.port;
        if !to_server && !from_server {
            return;
        }
        let key = if to_server {
            (src, tcp.source_port())
        } else {
            (dst, tcp.destination_port())
        };
        let end = tcp
            .sequence_number()
            .wrapping_add(tcp.payload().len() as u32)
            .wrapping_add(u32::from(tcp.syn()) + u32::from(tcp.fin()));
        let i = match link.index.get(&key) {
            Some(&i) => i,
            None => {
                // Only a client's SYN starts a connection worth watching.
                if !(to_server && tcp.syn() && !tcp.ack()) {
                    return;
                }
                let view = FlowView {
                    client_mac: eth.source(),
                    client_ip: key.0,
                    client_port: key.1,
                    client_nxt: end,
                    client_ack: 0,
                    server_nxt: 0,
                    server_window: 0,
                    server_shift: 0,
                    synced: false,
                };
                self.counters.flows_seen += 1;
                if link.flows.len() < MAX_FLOWS {
                    link.flows.push(view);
                    link.index.insert(key, link.flows.len() - 1);
                    link.flows.len() - 1
                } else {
                    let i = link.evict;
                    link.evict = (link.evict + 1) % MAX_FLOWS;
                    let old = link.flows[i];
                    link.index.remove(&(old.client_ip, old.client_port));
                    link.flows[i] = view;
                    link.index.insert(key, i);
                    i
                }
            }
        };
        if tcp.rst() || (to_server && tcp.fin()) {
            // Reset, or the client is done sending: nothing left to attack.
            link.forget(i);
            return;
        }
        let view = &mut link.flows[i];
        if to_server {
            if seq_after(end, view.client_nxt) {
                view.client_nxt = end;
            }
            if tcp.ack() {
                view.client_ack = tcp.acknowledgment_number();
            }
        } else {
            if tcp.syn() {
                view.synced = true;
                view.server_nxt = end;
                view.server_shift = tcp
                    .options_iterator()
                    .filter_map(Result::ok)
                    .find_map(|o| match o {
                        TcpOptionElement::WindowScale(s) => Some(s.min(14)),
                        _ => None,
                    })
                    .unwrap_or(0);
            } else if !view.synced {
                return;
            }
            if seq_after(end, view.server_nxt) {
                view.server_nxt = end;
            }
            let shift = if tcp.syn() { 0 } else { view.server_shift };
            view.server_window = u32::from(tcp.window_size()) << shift;
        }
    }

    /// A live connection of link `port`, chosen at random.
    fn pick(&mut self, port: usize) -> Option<FlowView> {
        let flows = &self.links[port].flows;
        if flows.is_empty() {
            return None;
        }
        // A few tries find a live one in a table of mostly live flows.
        for _ in 0..8 {
            let i = below(&mut self.rng, flows.len() as u64) as usize;
            if flows[i].synced {
                return Some(flows[i]);
            }
        }
        None
    }

    /// Builds one attack frame of `kind` on link `port`, or `None` when
    /// the attack needs a connection and none is known yet.
    fn forge(&mut self, kind: usize, port: usize, out: &mut Vec<u8>) -> Option<()> {
        let target = self.links[port].target;
        let r = self.rng.next_u32();
        let payload = [b'X'; 64];
        if kind == 0 {
            // Spoofed SYN from a free address of the client's subnet.
            let n = below(&mut self.rng, u64::from(self.spec.spoofed_sources)) as u8;
            let octets = target.ip.octets();
            let src = [octets[0], octets[1], octets[2], 10 + n];
            let [a, b] = SPOOFED_MAC_PREFIX;
            let mac = [a, b, 0, 0, port as u8, 10 + n];
            let sport = 1024 + (r % 64_000) as u16;
            let builder = PacketBuilder::ethernet2(mac, target.mac.0)
                .ipv4(src, target.ip.octets(), 64)
                .tcp(sport, target.port, self.rng.next_u32(), 64_240)
                .syn()
                .options(&[TcpOptionElement::MaximumSegmentSize(1460)])
                .ok()?;
            builder.write(out, &[]).ok()?;
            return Some(());
        }
        let f = self.pick(port)?;
        let window = f.server_window.clamp(2, 1 << 30);
        let tcp_builder = |seq: u32| {
            PacketBuilder::ethernet2(f.client_mac, target.mac.0)
                .ipv4(f.client_ip.octets(), target.ip.octets(), 64)
                .tcp(f.client_port, target.port, seq, 65_535)
        };
        match kind {
            1 => {
                // Inside the window, never at RCV.NXT.
                let seq = f.client_nxt.wrapping_add(1 + r % (window - 1));
                tcp_builder(seq).rst().write(out, &[]).ok()?;
            }
            2 => {
                let seq = f.client_nxt.wrapping_add(r % window);
                let ack = f
                    .client_ack
                    .wrapping_sub(1 << 29)
                    .wrapping_sub(self.rng.next_u32() % (1 << 20));
                let len = 1 + (self.rng.next_u32() % 64) as usize;
                tcp_builder(seq)
                    .ack(ack)
                    .psh()
                    .write(out, &payload[..len])
                    .ok()?;
            }
            3 => {
                // Far beyond anything in flight (16 MiB and more ahead).
                let ack = f
                    .server_nxt
                    .wrapping_add(1 << 24)
                    .wrapping_add(self.rng.next_u32() % (1 << 24));
                let len = if r & 1 == 0 { 0 } else { 16 };
                tcp_builder(f.client_nxt)
                    .ack(ack)
                    .write(out, &payload[..len])
                    .ok()?;
            }
            _ => {
                if r.is_multiple_of(4) {
                    // A SYN on a synchronised connection.
                    tcp_builder(self.rng.next_u32())
                        .syn()
                        .write(out, &[])
                        .ok()?;
                } else {
                    let seq = f
                        .client_nxt
                        .wrapping_add(1 << 30)
                        .wrapping_add(self.rng.next_u32() % (1 << 30));
                    tcp_builder(seq)
                        .ack(f.client_ack)
                        .psh()
                        .write(out, &payload[..32])
                        .ok()?;
                }
            }
        }
        Some(())
    }

    fn count(&mut self, kind: usize) {
        let c = &mut self.counters;
        match kind {
            0 => c.syns += 1,
            1 => c.rsts += 1,
            2 => c.data += 1,
            3 => c.acks += 1,
            _ => c.storm += 1,
        }
    }
}

fn tcp_of<'a>(p: &'a SlicedPacket<'a>) -> Option<&'a etherparse::TcpSlice<'a>> {
    match &p.transport {
        Some(etherparse::TransportSlice::Tcp(t)) => Some(t),
        _ => None,
    }
}

/// `a > b` in sequence space.
fn seq_after(a: u32, b: u32) -> bool {
    (a.wrapping_sub(b) as i32) > 0
}

impl HostModel for AttackerHost {
    fn name(&self) -> &str {
        "attacker"
    }

    fn cores(&self) -> usize {
        1
    }

    fn ports(&self) -> usize {
        self.links.len()
    }

    fn deliver(&mut self, port: usize, frame: &[u8], _now: Instant) -> Option<usize> {
        self.counters.watched += 1;
        self.stats.rx_frames += 1;
        self.watch(port, frame);
        None
    }

    fn run_core(&mut self, _core: usize, now: Instant, out: &mut Outbox) -> CoreRun {
        if !self.active(now) {
            self.last = None;
            let wake_at = (!self.healed && now < self.spec.from).then_some(self.spec.from);
            return CoreRun {
                busy_until: now,
                wake_at,
            };
        }
        let elapsed = match self.last {
            Some(last) => (now - last).as_secs_f64(),
            None => 0.0,
        };
        self.last = Some(now);
        let rates = self.spec.rates();
        for (kind, (_, rate)) in rates.into_iter().enumerate() {
            self.credit[kind] += rate * elapsed;
            let n = (self.credit[kind].floor() as u64).min(MAX_BATCH);
            self.credit[kind] -= self.credit[kind].floor();
            for i in 0..n {
                let port = (i as usize) % self.links.len().max(1);
                let mut buf = out.buffer();
                if self.forge(kind, port, &mut buf).is_some() {
                    self.count(kind);
                    self.stats.tx_frames += 1;
                    out.send(port, buf);
                } else {
                    out.recycle(buf);
                }
            }
        }
        let next = now + TICK;
        let wake_at = self.spec.until.is_none_or(|u| next < u).then_some(next);
        CoreRun {
            busy_until: now,
            wake_at,
        }
    }

    fn core_stats(&self, _core: usize) -> CoreStats {
        self.stats
    }

    fn iface_counters(&self) -> IfaceCounters {
        IfaceCounters::default()
    }

    fn tcp_counters(&self) -> TcpCounters {
        TcpCounters::default()
    }

    fn nic_stats(&self) -> NicStats {
        NicStats {
            rx_frames: self.stats.rx_frames,
            tx_frames: self.stats.tx_frames,
            ..NicStats::default()
        }
    }

    fn heal(&mut self) {
        self.healed = true;
    }

    fn attack_counters(&self) -> Option<AttackCounters> {
        Some(self.counters)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use etherparse::TransportSlice;

    const SERVER: [u8; 4] = [10, 0, 0, 1];
    const CLIENT: [u8; 4] = [10, 0, 0, 2];
    const SERVER_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
    const CLIENT_ISN: u32 = 0xffff_fff0; // wraps: the sequence space is circular
    const SERVER_ISN: u32 = 7_000;

    fn frame(to_server: bool, seq: u32, ack: Option<u32>, syn: bool, payload: &[u8]) -> Vec<u8> {
        let (smac, dmac, sip, dip, sp, dp) = if to_server {
            (CLIENT_MAC, SERVER_MAC, CLIENT, SERVER, 40_000, 80)
        } else {
            (SERVER_MAC, CLIENT_MAC, SERVER, CLIENT, 80, 40_000)
        };
        let b = PacketBuilder::ethernet2(smac, dmac)
            .ipv4(sip, dip, 64)
            .tcp(sp, dp, seq, 512);
        let b = if syn { b.syn() } else { b };
        let b = match ack {
            Some(a) => b.ack(a),
            None => b,
        };
        let b = if syn && !to_server {
            b.options(&[TcpOptionElement::WindowScale(7)]).unwrap()
        } else {
            b
        };
        let mut out = Vec::new();
        b.write(&mut out, payload).unwrap();
        out
    }

    /// An attacker that watched one connection's handshake and some data
    /// both ways, then attacked for 10 ms; every frame it sent.
    fn attack(spec: AttackSpec) -> (AttackerHost, Vec<Vec<u8>>) {
        let target = AttackTarget {
            mac: MacAddr(SERVER_MAC),
            ip: Ipv4Addr::from(SERVER),
            port: 80,
        };
        let mut a = AttackerHost::new(spec, vec![target], &Seeds::new(9));
        let c1 = CLIENT_ISN.wrapping_add(1);
        let watched = [
            frame(true, CLIENT_ISN, None, true, &[]),
            frame(false, SERVER_ISN, Some(c1), true, &[]),
            frame(true, c1, Some(SERVER_ISN + 1), false, &[b'G'; 40]),
            frame(
                false,
                SERVER_ISN + 1,
                Some(c1.wrapping_add(40)),
                false,
                &[b'x'; 1000],
            ),
            frame(
                true,
                c1.wrapping_add(40),
                Some(SERVER_ISN + 1001),
                false,
                &[],
            ),
        ];
        for f in &watched {
            a.deliver(0, f, Instant::ZERO);
        }
        let mut out = Outbox::default();
        a.run_core(0, Instant::ZERO, &mut out);
        a.run_core(0, Instant::from_micros(10_000), &mut out);
        let frames = out.drain().map(|(_, f)| f).collect();
        (a, frames)
    }

    #[test]
    fn forged_segments_are_well_formed_and_land_where_the_attack_says() {
        let spec = AttackSpec {
            syn_flood_pps: 10_000.0,
            rst_pps: 10_000.0,
            data_pps: 10_000.0,
            ack_pps: 10_000.0,
            storm_pps: 10_000.0,
            ..AttackSpec::default()
        };
        let (a, frames) = attack(spec);
        let c = a.counters();
        assert_eq!(
            (c.syns, c.rsts, c.data, c.acks, c.storm),
            (100, 100, 100, 100, 100)
        );
        assert_eq!(frames.len(), 500);
        let rcv_nxt = CLIENT_ISN.wrapping_add(41);
        let window = 512u32 << 7;
        for f in &frames {
            // etherparse, an independent parser, accepts every frame and
            // its checksums.
            let p = SlicedPacket::from_ethernet(f).expect("parses");
            let Some(NetSlice::Ipv4(ip)) = &p.net else {
                panic!("IPv4")
            };
            let Some(TransportSlice::Tcp(tcp)) = &p.transport else {
                panic!("TCP")
            };
            let ip_header = ip.header().to_header();
            assert_eq!(ip_header.header_checksum, ip_header.calc_header_checksum());
            let want = tcp
                .to_header()
                .calc_checksum_ipv4(&ip_header, tcp.payload())
                .unwrap();
            assert_eq!(tcp.checksum(), want);
            assert_eq!(ip.header().destination(), SERVER);
            assert_eq!(tcp.destination_port(), 80);
            let ahead = tcp.sequence_number().wrapping_sub(rcv_nxt);
            if ip.header().source() != CLIENT {
                // Spoofed SYNs: from free addresses of the subnet.
                assert!(tcp.syn() && !tcp.ack());
                assert!((10..250).contains(&ip.header().source()[3]));
            } else if tcp.rst() {
                assert!(ahead > 0 && ahead < window, "RST at RCV.NXT + {ahead}");
            } else if tcp.syn() {
                // A SYN on the synchronised connection (the storm).
            } else if ahead >= 1 << 30 {
                // Out of the window (the storm).
                assert!(tcp.ack() && !tcp.payload().is_empty());
            } else if tcp.acknowledgment_number().wrapping_sub(SERVER_ISN + 1001) < 1 << 31 {
                // An ACK of unsent data: far beyond SND.NXT.
                assert_eq!(ahead, 0);
                assert!(tcp.acknowledgment_number().wrapping_sub(SERVER_ISN + 1001) >= 1 << 24);
            } else {
                // Injected data: in the window, its ACK far behind SND.UNA.
                assert!(ahead < window && !tcp.payload().is_empty());
                let behind = (SERVER_ISN + 1001).wrapping_sub(tcp.acknowledgment_number());
                assert!(behind >= 1 << 29, "ACK only {behind} behind");
            }
        }
    }

    #[test]
    fn the_attack_keeps_to_its_window_and_stops_when_healed() {
        let spec = AttackSpec {
            rst_pps: 10_000.0,
            from: Instant::from_micros(5_000),
            until: Some(Instant::from_micros(8_000)),
            ..AttackSpec::default()
        };
        let (a, frames) = attack(spec.clone());
        assert_eq!(frames.len(), 0, "the first run after `until` sends nothing");
        assert_eq!(a.counters().rsts, 0);
        let mut a = AttackerHost::new(
            AttackSpec {
                until: None,
                ..spec
            },
            Vec::new(),
            &Seeds::new(1),
        );
        a.heal();
        let mut out = Outbox::default();
        let run = a.run_core(0, Instant::from_micros(6_000), &mut out);
        assert!(out.is_empty() && run.wake_at.is_none());
    }
}
