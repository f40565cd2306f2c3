//! The per-core network interface: Ethernet, ARP, IPv4 and ICMP.
//!
//! An [`Interface`] owns one core's view of the link: its address, the ARP
//! cache, the bounded queue of datagrams waiting for address resolution,
//! and the drop counters. It parses received frames through zero-copy
//! cursors, answers ARP and ICMP echo itself, and hands every other IPv4
//! datagram (TCP) up as an [`IpDatagram`] holding offsets into the frame,
//! so the caller may keep the frame (out-of-order data) without copying.
//!
//! Outgoing datagrams are built straight into driver buffers by
//! [`Interface::send_ipv4`]; when the next hop's MAC is unknown the finished
//! frame waits (bounded) while ARP requests are retried, and is dropped and
//! counted if resolution fails.
//!
//! Nothing allocates after [`Interface::new`].

mod arp_cache;

use std::collections::VecDeque;

use arrayvec::ArrayVec;

use tracing::{debug, trace};

pub use self::arp_cache::{ArpCache, ArpCacheFull, Nud, NudAction};

use crate::checksum;
use crate::mem::buf::Frame;
use crate::mem::cursor::{Cursor, CursorMut};
use crate::meter::CostMeter;
use crate::nic::{Capabilities, Driver};
use crate::stats::{DropReason, IfaceCounters};
use crate::time::{Duration, Instant};
use crate::wire::Error as WireError;
use crate::wire::{
    arp, ethernet, icmp, ipv4, ArpOperation, ArpPacket, ArpRepr, EtherType, EthernetFrame,
    EthernetRepr, IcmpRepr, IpProtocol, Ipv4Addr, Ipv4Cidr, Ipv4Packet, Ipv4Repr, MacAddr,
};

/// Settings of an [`Interface`], fixed at construction. What the NIC
/// decides (MAC address, MTU) comes from the driver's [`Capabilities`].
#[derive(Clone, Debug)]
pub struct InterfaceConfig {
    /// Our IPv4 address and subnet.
    pub ip: Ipv4Cidr,
    /// Next hop for destinations outside the subnet.
    pub gateway: Option<Ipv4Addr>,
    /// TTL of the datagrams we send.
    pub ttl: u8,
    /// Entries the ARP cache holds.
    pub arp_cache_capacity: usize,
    /// How long a learned ARP entry stays valid.
    pub arp_entry_ttl: Duration,
    /// Datagrams that may wait for ARP resolution at once.
    pub arp_pending_capacity: usize,
    /// Time between ARP requests for an unresolved address.
    pub arp_retry_interval: Duration,
    /// ARP requests sent for one address before its datagrams are dropped.
    pub arp_max_requests: u32,
    /// Neighbour reachability: how long an entry is trusted without a
    /// confirmation, and how it is probed after (see [`ArpCache`]; the
    /// probe interval is [`InterfaceConfig::arp_retry_interval`]).
    pub arp_reachable_time: Duration,
    /// How long a used, unconfirmed entry waits before it is probed.
    pub arp_delay_first_probe: Duration,
    /// Unicast probes before an unanswered entry is removed.
    pub arp_unicast_probes: u32,
    /// Send a gratuitous ARP announcement at the first poll.
    pub announce: bool,
    /// Events (echo replies) kept until the owner takes them.
    pub event_capacity: usize,
    /// Report every mapping learned or confirmed by ARP traffic as
    /// [`IfaceEvent::ArpLearned`], so a multi-core owner can share it with
    /// the other cores' interfaces (whose probes and requests may be
    /// answered to this core).
    pub report_arp: bool,
    /// Frames one [`Stack::poll`](crate::Stack::poll) takes from the
    /// driver at most (at least 1); the rest wait in the driver for the
    /// next poll, which the caller makes at once because this one reports
    /// work. A poll stands for one instant (its `now`), so the budget bounds
    /// how stale that instant gets: with a driver that never runs dry (a
    /// TAP device under load), an unbounded poll ran for hundreds of
    /// milliseconds, and the retransmission timers it armed late in the
    /// batch carried its start time and fired before the peer could answer.
    /// Linux's NAPI budget plays the same part.
    pub poll_budget: usize,
}

impl InterfaceConfig {
    /// Defaults for an interface with this address.
    pub fn new(ip: Ipv4Cidr) -> Self {
        InterfaceConfig {
            ip,
            gateway: None,
            ttl: 64,
            arp_cache_capacity: 64,
            arp_entry_ttl: Duration::from_secs(60),
            arp_pending_capacity: 64,
            arp_retry_interval: Duration::from_secs(1),
            arp_max_requests: 3,
            arp_reachable_time: Duration::from_secs(30),
            arp_delay_first_probe: Duration::from_secs(5),
            arp_unicast_probes: 3,
            announce: true,
            event_capacity: 64,
            report_arp: false,
            poll_budget: 256,
        }
    }
}

/// Something the interface reports to its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IfaceEvent {
    /// An ICMP echo reply arrived.
    EchoReply {
        /// Who answered.
        from: Ipv4Addr,
        /// Identifier of the echo.
        ident: u16,
        /// Sequence number of the echo.
        seq_no: u16,
        /// Bytes of echo data.
        data_len: usize,
        /// When it arrived.
        at: Instant,
    },
    /// ARP traffic taught us (or changed) a mapping; only with
    /// [`InterfaceConfig::report_arp`].
    ArpLearned {
        /// The address.
        ip: Ipv4Addr,
        /// Its MAC.
        mac: MacAddr,
    },
}

/// An IPv4 datagram the interface does not handle itself (TCP), located
/// inside its frame by offsets so the frame can be moved or kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpDatagram {
    /// Source MAC of the frame.
    pub src_mac: MacAddr,
    /// The IPv4 header.
    pub ip: Ipv4Repr,
    /// Offset of the IPv4 payload in the frame.
    pub payload_offset: usize,
    /// Length of the IPv4 payload (Ethernet padding excluded).
    pub payload_len: usize,
}

impl IpDatagram {
    /// The payload as a cursor over `frame`, the frame it was parsed from.
    pub fn payload<'a>(&self, frame: &'a Frame) -> Cursor<'a> {
        frame
            .cursor()
            .drop(self.payload_offset)
            .take(self.payload_len)
    }
}

/// The Ethernet and IPv4 headers of one flow's datagrams, built once (at a
/// connection's first segment): per datagram only the destination MAC
/// (looked up in the ARP cache each time, so entries still expire and
/// change as they should), the total length, the identification and the
/// checksum are filled in, the checksum from the precomputed sum of the
/// words that never change. The same template also holds the flow's
/// pseudo-header sum for the transport checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Template {
    dst: Ipv4Addr,
    protocol: IpProtocol,
    /// Ethernet header (destination MAC as last used) and IPv4 header with
    /// zero total length, identification and checksum.
    bytes: [u8; L2_L3_LEN],
    /// Ones' complement sum of the IPv4 header as in `bytes`.
    fixed_sum: u64,
    /// Ones' complement sum of source, destination and protocol.
    pseudo_fixed: u64,
}

impl Ipv4Template {
    /// The destination address.
    pub fn dst(&self) -> Ipv4Addr {
        self.dst
    }

    /// The pseudo-header sum (RFC 9293 §3.1) of a transport segment of
    /// `length` bytes of this flow.
    pub fn pseudo_header_sum(&self, length: u16) -> u16 {
        checksum::fold(self.pseudo_fixed + u64::from(length))
    }
}

/// Offsets of the fields a template fills in, from the frame's start.
mod template_field {
    use crate::wire::ethernet::HEADER_LEN as ETH;
    use crate::wire::ipv4::field;
    pub const TOTAL_LEN: usize = ETH + field::LENGTH;
    pub const IDENT: usize = ETH + field::IDENT;
    pub const CHECKSUM: usize = ETH + field::CHECKSUM;
}

/// A finished frame waiting for its next hop's MAC address.
#[derive(Debug)]
struct PendingFrame {
    next_hop: Ipv4Addr,
    frame: Frame,
}

/// An address being resolved.
#[derive(Clone, Copy, Debug)]
struct Resolving {
    ip: Ipv4Addr,
    next_request: Instant,
    requests_sent: u32,
}

/// One core's Ethernet/ARP/IPv4/ICMP layer.
#[derive(Debug)]
pub struct Interface {
    config: InterfaceConfig,
    mac: MacAddr,
    mtu: usize,
    cache: ArpCache,
    pending: VecDeque<PendingFrame>,
    resolving: Vec<Resolving>,
    events: VecDeque<IfaceEvent>,
    counters: IfaceCounters,
    meter: CostMeter,
    announced: bool,
    next_ident: u16,
}

/// Length of Ethernet + IPv4 headers in the frames we build.
const L2_L3_LEN: usize = ethernet::HEADER_LEN + ipv4::HEADER_LEN;

impl Interface {
    /// An interface on the NIC queue described by `caps`, with all its
    /// tables sized from `config`.
    pub fn new(caps: &Capabilities, config: InterfaceConfig) -> Self {
        let pending_capacity = config.arp_pending_capacity.max(1);
        Interface {
            mac: caps.mac,
            mtu: caps.mtu,
            cache: ArpCache::new(config.arp_cache_capacity),
            pending: VecDeque::with_capacity(pending_capacity),
            resolving: Vec::with_capacity(pending_capacity),
            events: VecDeque::with_capacity(config.event_capacity.max(1)),
            counters: IfaceCounters::default(),
            meter: CostMeter::default(),
            announced: !config.announce,
            next_ident: 1,
            config,
        }
    }

    /// The settings this interface was built with.
    pub fn config(&self) -> &InterfaceConfig {
        &self.config
    }

    /// Our IPv4 address.
    pub fn ip(&self) -> Ipv4Addr {
        self.config.ip.addr()
    }

    /// Our MAC address.
    pub fn mac(&self) -> MacAddr {
        self.mac
    }

    /// The MTU: the largest IPv4 datagram we send, in bytes.
    pub fn mtu(&self) -> usize {
        self.mtu
    }

    /// Traffic and drop counters.
    pub fn counters(&self) -> &IfaceCounters {
        &self.counters
    }

    /// The counters, mutably: for the stack above, which counts here the
    /// datagrams of IP protocols nobody handles.
    pub fn counters_mut(&mut self) -> &mut IfaceCounters {
        &mut self.counters
    }

    /// The cost meter of this interface's core: what it and the TCP layer
    /// above it did (see [`crate::meter`]).
    pub fn meter(&self) -> &CostMeter {
        &self.meter
    }

    /// The cost meter, for the layers above to count their work in.
    pub(crate) fn meter_mut(&mut self) -> &mut CostMeter {
        &mut self.meter
    }

    /// Gives a frame back to the driver, counted.
    fn release_frame<D: Driver>(&mut self, driver: &mut D, frame: Frame) {
        self.meter.driver_releases += 1;
        driver.release(frame);
    }

    /// Adds a static ARP entry (never expires).
    pub fn add_static_arp(&mut self, ip: Ipv4Addr, mac: MacAddr) -> Result<(), ArpCacheFull> {
        self.cache.insert_static(ip, mac)
    }

    /// Records a mapping learned elsewhere (another core's ARP traffic) as
    /// if an ARP reply had arrived; datagrams waiting for it leave at the
    /// next [`Interface::poll_timers`] (which [`Interface::poll_at`] asks for).
    pub fn learn_arp(&mut self, ip: Ipv4Addr, mac: MacAddr, now: Instant) {
        self.cache.insert(ip, mac, now, self.config.arp_entry_ttl);
        for r in self.resolving.iter_mut().filter(|r| r.ip == ip) {
            r.next_request = now;
        }
    }

    /// The MAC of `ip` if it is in the ARP cache and fresh.
    pub fn arp_lookup(&mut self, ip: Ipv4Addr, now: Instant) -> Option<MacAddr> {
        self.cache.lookup(ip, now)
    }

    /// Queues an event for the owner; a full queue drops it and counts.
    fn push_event(&mut self, event: IfaceEvent) {
        if self.events.len() < self.events.capacity() {
            self.events.push_back(event);
        } else {
            self.counters.drop(DropReason::IcmpEventOverflow);
        }
    }

    /// The next event, if any.
    pub fn take_event(&mut self) -> Option<IfaceEvent> {
        self.events.pop_front()
    }

    /// Datagrams waiting for ARP resolution.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Buffers of the frames waiting for address resolution.
    pub fn pending_buffers(&self) -> usize {
        self.pending.iter().map(|p| p.frame.buffer_count()).sum()
    }

    /// The earliest time at which [`Interface::poll`] has timer work to do.
    pub fn poll_at(&self) -> Option<Instant> {
        if !self.announced {
            return Some(Instant::ZERO);
        }
        let resolving = self.resolving.iter().map(|r| r.next_request).min();
        match (resolving, self.cache.nud_at()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The reachability timers of the ARP cache, from the configuration.
    fn nud(&self) -> Nud {
        Nud {
            reachable_time: self.config.arp_reachable_time,
            delay_first_probe: self.config.arp_delay_first_probe,
            unicast_probes: self.config.arp_unicast_probes,
            probe_interval: self.config.arp_retry_interval,
        }
    }

    /// An upper layer saw forward progress with `dst` (new data
    /// acknowledged or received in order): its next hop is reachable.
    pub fn confirm_neighbor(&mut self, dst: Ipv4Addr, now: Instant) {
        if let Ok(hop) = self.next_hop(dst) {
            self.cache.confirm(hop, now);
        }
    }

    /// An upper layer suspects the path to `dst` (a retransmission
    /// timeout): its next hop's entry is probed by unicast now, and
    /// resolved again by broadcast if the probes go unanswered.
    pub fn suspect_neighbor(&mut self, dst: Ipv4Addr, now: Instant) {
        if let Ok(hop) = self.next_hop(dst) {
            self.cache.suspect(hop, now);
        }
    }

    /// Receives every frame the driver holds and runs the ARP timers.
    /// Datagrams of protocols this layer does not handle (TCP, UDP) are
    /// counted as [`DropReason::Ipv4UnknownProtocol`]; a stack with TCP uses
    /// [`Interface::process`] instead. Returns whether any work was done.
    pub fn poll<D: Driver>(&mut self, driver: &mut D, now: Instant) -> bool {
        let mut worked = self.poll_timers(driver, now);
        loop {
            self.meter.driver_receives += 1;
            let Some(frame) = driver.receive() else {
                break;
            };
            worked = true;
            if self.process(driver, &frame, now).is_some() {
                self.counters.drop(DropReason::Ipv4UnknownProtocol);
            }
            self.release_frame(driver, frame);
        }
        worked
    }

    /// Runs the start-up announcement and ARP retries due at `now`.
    pub fn poll_timers<D: Driver>(&mut self, driver: &mut D, now: Instant) -> bool {
        let mut worked = false;
        if !self.announced {
            self.announced = true;
            let ip = self.ip();
            self.send_arp(
                driver,
                ArpOperation::Request,
                MacAddr::BROADCAST,
                MacAddr::UNSPECIFIED,
                ip,
            );
            worked = true;
        }
        let mut i = 0;
        while i < self.resolving.len() {
            let r = self.resolving[i];
            if r.next_request > now {
                i += 1;
                continue;
            }
            worked = true;
            if let Some(mac) = self.cache.lookup(r.ip, now) {
                // Learned meanwhile (from another core): send what waited.
                self.resolved(driver, r.ip, mac);
                continue;
            }
            if r.requests_sent >= self.config.arp_max_requests {
                debug!(ip = %r.ip, "ARP resolution failed");
                self.resolving.swap_remove(i);
                self.drop_pending_for(driver, r.ip);
                continue;
            }
            self.send_arp(
                driver,
                ArpOperation::Request,
                MacAddr::BROADCAST,
                MacAddr::UNSPECIFIED,
                r.ip,
            );
            let entry = &mut self.resolving[i];
            entry.requests_sent += 1;
            entry.next_request = now + self.config.arp_retry_interval;
            i += 1;
        }
        worked |= self.run_nud(driver, now);
        worked
    }

    /// Sends the neighbour probes due at `now`; returns whether any work
    /// was done.
    fn run_nud<D: Driver>(&mut self, driver: &mut D, now: Instant) -> bool {
        if self.cache.nud_at().is_none_or(|t| t > now) {
            return false;
        }
        let nud = self.nud();
        // Collected in fixed-size batches (sending needs `self`).
        loop {
            let mut actions: ArrayVec<NudAction, 16> = ArrayVec::new();
            self.cache
                .run_nud(now, &nud, |a| actions.try_push(a).is_ok());
            let full = actions.is_full();
            self.nud_actions(driver, actions);
            if !full {
                return true;
            }
        }
    }

    fn nud_actions<D: Driver>(&mut self, driver: &mut D, actions: ArrayVec<NudAction, 16>) {
        for action in actions {
            match action {
                NudAction::Probe { ip, mac } => {
                    trace!(%ip, %mac, "ARP unicast probe");
                    self.counters.arp_probes_sent += 1;
                    self.send_arp(driver, ArpOperation::Request, mac, MacAddr::UNSPECIFIED, ip);
                }
                NudAction::Failed { ip } => {
                    debug!(%ip, "neighbour unreachable at its cached MAC: resolving again");
                    self.counters.arp_neighbors_failed += 1;
                }
            }
        }
    }

    /// Processes one received frame. ARP and ICMP are handled here; other
    /// IPv4 datagrams for us are returned for the upper layers. Anything
    /// refused is counted. The caller still owns (and must release) `frame`.
    pub fn process<D: Driver>(
        &mut self,
        driver: &mut D,
        frame: &Frame,
        now: Instant,
    ) -> Option<IpDatagram> {
        self.counters.rx_frames += 1;
        self.counters.rx_bytes += frame.len() as u64;
        self.meter.frames_rx += 1;
        self.meter.bytes_rx += frame.len() as u64;
        self.meter.eth_parsed += 1;
        let cursor = frame.cursor();
        let Ok((eth, payload)) = cursor.read_with(ethernet::HEADER_LEN, |b| {
            EthernetRepr::parse(&EthernetFrame::new_unchecked(b))
        }) else {
            self.counters.drop(DropReason::EthernetTruncated);
            return None;
        };
        let Ok(eth) = eth else {
            self.counters.drop(DropReason::EthernetTruncated);
            return None;
        };
        if eth.dst != self.mac && !eth.dst.is_broadcast() {
            self.counters.drop(DropReason::EthernetNotForUs);
            return None;
        }
        match eth.ethertype {
            EtherType::Arp => {
                self.process_arp(driver, payload, now);
                None
            }
            EtherType::Ipv4 => self.process_ipv4(driver, &eth, payload, now),
            EtherType::Unknown(_) => {
                self.counters.drop(DropReason::EthernetUnknownType);
                None
            }
        }
    }

    fn process_arp<D: Driver>(&mut self, driver: &mut D, payload: Cursor<'_>, now: Instant) {
        self.meter.arp_parsed += 1;
        let parsed = payload.read_with(arp::ETHERNET_IPV4_LEN, |b| {
            ArpRepr::parse(&ArpPacket::new_unchecked(b))
        });
        let repr = match parsed {
            Ok((Ok(repr), _)) => repr,
            Ok((Err(crate::wire::Error::Unsupported), _)) => {
                self.counters.drop(DropReason::ArpUnsupported);
                return;
            }
            _ => {
                self.counters.drop(DropReason::ArpMalformed);
                return;
            }
        };
        let our_ip = self.ip();
        // RFC 826: refresh an entry we have ("merge"), learn the sender if the
        // packet is for us, answer requests for us.
        let sender_valid = !repr.source_ip.is_unspecified()
            && !repr.source_ip.is_broadcast()
            && repr.source_ip != our_ip
            && repr.source_mac.is_unicast();
        let merge = sender_valid && self.cache.contains(repr.source_ip);
        let for_us = repr.target_ip == our_ip;
        if sender_valid && (merge || for_us) {
            trace!(ip = %repr.source_ip, mac = %repr.source_mac, "ARP learned");
            self.cache.insert(
                repr.source_ip,
                repr.source_mac,
                now,
                self.config.arp_entry_ttl,
            );
            // Reported even when nothing changed: on a multi-core host the
            // answer to another core's probe or request arrives here, and
            // that core learns of it (and stops probing) only this way.
            if self.config.report_arp {
                self.push_event(IfaceEvent::ArpLearned {
                    ip: repr.source_ip,
                    mac: repr.source_mac,
                });
            }
            self.resolved(driver, repr.source_ip, repr.source_mac);
        }
        if !for_us {
            if !merge {
                self.counters.drop(DropReason::ArpNotForUs);
            }
            return;
        }
        match repr.operation {
            ArpOperation::Request if sender_valid => {
                self.send_arp(
                    driver,
                    ArpOperation::Reply,
                    repr.source_mac,
                    repr.source_mac,
                    repr.source_ip,
                );
            }
            ArpOperation::Request | ArpOperation::Reply => {}
            ArpOperation::Unknown(_) => self.counters.drop(DropReason::ArpUnsupported),
        }
    }

    /// Sends an ARP packet from us. `eth_dst` is the frame's destination,
    /// `target_mac`/`target_ip` the ARP target fields.
    fn send_arp<D: Driver>(
        &mut self,
        driver: &mut D,
        operation: ArpOperation,
        eth_dst: MacAddr,
        target_mac: MacAddr,
        target_ip: Ipv4Addr,
    ) {
        let len = ethernet::HEADER_LEN + arp::ETHERNET_IPV4_LEN;
        self.meter.driver_allocs += 1;
        let Some(mut frame) = driver.alloc_tx(len) else {
            self.counters.drop(DropReason::TxNoBuffer);
            return;
        };
        let eth = EthernetRepr {
            src: self.mac,
            dst: eth_dst,
            ethertype: EtherType::Arp,
        };
        let repr = ArpRepr {
            operation,
            source_mac: self.mac,
            source_ip: self.ip(),
            target_mac,
            target_ip,
        };
        let mut cursor = frame.cursor_mut();
        let written = cursor
            .write_with(ethernet::HEADER_LEN, |b| {
                eth.emit(&mut EthernetFrame::new_unchecked(b))
            })
            .and_then(|()| {
                cursor.write_with(arp::ETHERNET_IPV4_LEN, |b| {
                    repr.emit(&mut ArpPacket::new_unchecked(b))
                })
            });
        debug_assert!(written.is_ok(), "frame sized for the ARP packet");
        self.meter.eth_built += 1;
        self.meter.arp_built += 1;
        match operation {
            ArpOperation::Reply => self.counters.arp_replies_sent += 1,
            _ => self.counters.arp_requests_sent += 1,
        }
        let _ = self.transmit(driver, frame); // a refusal is counted
    }

    fn process_ipv4<D: Driver>(
        &mut self,
        driver: &mut D,
        eth: &EthernetRepr,
        payload: Cursor<'_>,
        now: Instant,
    ) -> Option<IpDatagram> {
        // The header (with any options) is read as one contiguous slice,
        // even when it crosses into the frame's next buffer. Its length
        // comes from the first byte, so a header that fits its buffer is
        // read in place (a frame of headers chained to a page is not
        // copied into scratch); a bad length still reads enough bytes for
        // `parse_header` to say why.
        let packet_len = payload.len();
        self.meter.ipv4_parsed += 1;
        let ihl = payload.peek_u8().map_or(0, |v| usize::from(v & 0x0f) * 4);
        let header_bytes = ihl
            .clamp(ipv4::HEADER_LEN, ipv4::MAX_HEADER_LEN)
            .min(packet_len);
        let parsed = payload.read_with(header_bytes, |b| {
            // The header length field, for the meter: the checksum covers
            // that many bytes once the length checks have passed.
            let ihl = b.first().map_or(0, |v| u64::from(v & 0x0f) * 4);
            (Ipv4Repr::parse_header(b, packet_len), ihl)
        });
        if let Ok(((Ok(_) | Err(WireError::Checksum | WireError::Fragmented), ihl), _)) = parsed {
            self.meter.bytes_checksummed += ihl;
        }
        let (repr, header_len) = match parsed {
            Ok(((Ok(parsed), _), _)) => parsed,
            Ok(((Err(WireError::Checksum), _), _)) => {
                self.counters.drop(DropReason::Ipv4BadChecksum);
                return None;
            }
            Ok(((Err(WireError::Fragmented), _), _)) => {
                self.counters.drop(DropReason::Ipv4Fragment);
                return None;
            }
            Ok(((Err(_), _), _)) | Err(_) => {
                self.counters.drop(DropReason::Ipv4Malformed);
                return None;
            }
        };
        if repr.dst != self.ip() {
            self.counters.drop(DropReason::Ipv4NotForUs);
            return None;
        }
        if repr.src.is_unspecified()
            || repr.src.is_broadcast()
            || repr.src.is_multicast()
            || repr.src == self.ip()
            || Some(repr.src) == self.config.ip.broadcast()
        {
            self.counters.drop(DropReason::Ipv4BadSource);
            return None;
        }
        let body = payload.drop(header_len).take(repr.payload_len);
        match repr.protocol {
            IpProtocol::Icmp => {
                self.process_icmp(driver, eth, &repr, body, now);
                None
            }
            _ => Some(IpDatagram {
                src_mac: eth.src,
                ip: repr,
                payload_offset: ethernet::HEADER_LEN + header_len,
                payload_len: repr.payload_len,
            }),
        }
    }

    fn process_icmp<D: Driver>(
        &mut self,
        driver: &mut D,
        eth: &EthernetRepr,
        ip: &Ipv4Repr,
        body: Cursor<'_>,
        now: Instant,
    ) {
        self.meter.icmp_parsed += 1;
        let Ok(((kind, received_checksum), data)) = body.read_with(icmp::HEADER_LEN, |b| {
            let checksum = u16::from_be_bytes([b[2], b[3]]);
            (
                IcmpRepr::parse_header(b).map(|r| match r {
                    IcmpRepr::EchoRequest { ident, seq_no, .. } => Some((true, ident, seq_no)),
                    IcmpRepr::EchoReply { ident, seq_no, .. } => Some((false, ident, seq_no)),
                    IcmpRepr::Other { .. } => None,
                }),
                checksum,
            )
        }) else {
            self.counters.drop(DropReason::IcmpMalformed);
            return;
        };
        let mut sum = checksum::Checksum::new();
        body.add_to_checksum(&mut sum);
        self.meter.bytes_checksummed += body.len() as u64;
        if sum.finish() != 0 {
            self.counters.drop(DropReason::IcmpBadChecksum);
            return;
        }
        match kind {
            Ok(Some((true, ident, seq_no))) => {
                self.send_echo_reply(driver, eth, ip, ident, seq_no, received_checksum, data);
            }
            Ok(Some((false, ident, seq_no))) => {
                let event = IfaceEvent::EchoReply {
                    from: ip.src,
                    ident,
                    seq_no,
                    data_len: data.len(),
                    at: now,
                };
                self.push_event(event);
            }
            Ok(None) => self.counters.drop(DropReason::IcmpUnsupported),
            Err(_) => self.counters.drop(DropReason::IcmpMalformed),
        }
    }

    /// Answers an echo request straight back to the frame's sender. The
    /// reply checksum is the request's, updated for the type change
    /// (RFC 1624): the data is copied but never summed again.
    #[allow(clippy::too_many_arguments)]
    fn send_echo_reply<D: Driver>(
        &mut self,
        driver: &mut D,
        eth: &EthernetRepr,
        ip: &Ipv4Repr,
        ident: u16,
        seq_no: u16,
        request_checksum: u16,
        data: Cursor<'_>,
    ) {
        let icmp_len = icmp::HEADER_LEN + data.len();
        let reply_ip = self.ipv4_repr(ip.src, IpProtocol::Icmp, icmp_len);
        let mut checksum = checksum::update(
            request_checksum,
            u16::from(icmp::TYPE_ECHO_REQUEST) << 8,
            u16::from(icmp::TYPE_ECHO_REPLY) << 8,
        );
        // A reply of zeros (identifier, sequence and data all 0) sums to +0:
        // its checksum is 0xffff, where the update gives 0x0000 (see
        // `checksum::update`). Only checked in the 1 in 65,536 case.
        if checksum == 0
            && ident == 0
            && seq_no == 0
            && data.segments().all(|piece| piece.iter().all(|&b| b == 0))
        {
            checksum = 0xffff;
        }
        let data_len = data.len() as u64;
        let result = self.build_frame(driver, eth.src, &reply_ip, |mut out| {
            let header = IcmpRepr::EchoReply {
                ident,
                seq_no,
                data: &[],
            };
            out.write_with(icmp::HEADER_LEN, |b| {
                let written = header.emit_header(b);
                debug_assert!(written.is_ok());
                b[icmp::field::CHECKSUM..][..2].copy_from_slice(&checksum.to_be_bytes());
            })?;
            out.write_cursor(data)?;
            Ok(())
        });
        match result {
            Ok(frame) => {
                // The header written, the checksum updated (RFC 1624), the
                // data copied.
                self.meter.icmp_built += 1;
                self.meter.bytes_copied += data_len;
                self.counters.icmp_echo_replies_sent += 1;
                let _ = self.transmit(driver, frame); // a refusal is counted
            }
            Err(reason) => self.counters.drop(reason),
        }
    }

    /// Sends an ICMP echo request of `data_len` bytes of a fixed pattern to
    /// `dst`. Replies show up as [`IfaceEvent::EchoReply`].
    pub fn send_ping<D: Driver>(
        &mut self,
        driver: &mut D,
        now: Instant,
        dst: Ipv4Addr,
        ident: u16,
        seq_no: u16,
        data_len: usize,
    ) -> Result<(), DropReason> {
        self.counters.icmp_echo_requests_sent += 1;
        // Data written and summed byte by byte, the header summed.
        self.meter.icmp_built += 1;
        self.meter.bytes_copied += data_len as u64;
        self.meter.bytes_checksummed += (data_len + icmp::HEADER_LEN) as u64;
        self.send_ipv4(
            driver,
            now,
            dst,
            IpProtocol::Icmp,
            icmp::HEADER_LEN + data_len,
            |out| {
                let (mut header, mut data) = out.split_at(icmp::HEADER_LEN);
                let mut sum = checksum::Checksum::new();
                for i in 0..data_len {
                    let byte = (i % 251) as u8;
                    data.write(&[byte])?;
                    sum.add_bytes(&[byte]);
                }
                let repr = IcmpRepr::EchoRequest {
                    ident,
                    seq_no,
                    data: &[],
                };
                header.write_with(icmp::HEADER_LEN, |b| {
                    let written = repr.emit_header(b);
                    debug_assert!(written.is_ok());
                    let value = icmp::icmp_checksum(b, sum.sum());
                    b[icmp::field::CHECKSUM..][..2].copy_from_slice(&value.to_be_bytes());
                })?;
                Ok(())
            },
        )
    }

    /// The header template of datagrams from us to `dst` carrying
    /// `protocol` (see [`Ipv4Template`]).
    pub fn ipv4_template(&self, dst: Ipv4Addr, protocol: IpProtocol) -> Ipv4Template {
        let ip = Ipv4Repr {
            src: self.ip(),
            dst,
            protocol,
            payload_len: 0,
            ttl: self.config.ttl,
            dscp_ecn: 0,
            ident: 0,
            dont_frag: true,
        };
        let eth = EthernetRepr {
            src: self.mac,
            dst: MacAddr::UNSPECIFIED,
            ethertype: EtherType::Ipv4,
        };
        let mut bytes = [0u8; L2_L3_LEN];
        eth.emit(&mut EthernetFrame::new_unchecked(&mut bytes[..]));
        ip.emit(&mut Ipv4Packet::new_unchecked(
            &mut bytes[ethernet::HEADER_LEN..],
        ));
        // The variable words start at zero: the sum covers the rest.
        for at in [
            template_field::TOTAL_LEN,
            template_field::IDENT,
            template_field::CHECKSUM,
        ] {
            bytes[at..at + 2].fill(0);
        }
        let header = &bytes[ethernet::HEADER_LEN..];
        let fixed_sum = header
            .chunks_exact(2)
            .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
            .sum();
        let pseudo_fixed = u64::from(checksum::pseudo_header_sum(
            self.ip().octets(),
            dst.octets(),
            protocol.into(),
            0,
        ));
        Ipv4Template {
            dst,
            protocol,
            bytes,
            fixed_sum,
            pseudo_fixed,
        }
    }

    /// Sends an IPv4 datagram of `payload_len` bytes along `template`'s
    /// flow, as [`Interface::send_ipv4`] does (same bytes, same counters,
    /// same ARP handling), but with the headers copied from the template
    /// and patched instead of built field by field. When the next hop's MAC
    /// is not in the ARP cache it takes the general path, which queues the
    /// datagram while ARP resolves.
    pub fn send_ipv4_templated<D: Driver>(
        &mut self,
        driver: &mut D,
        now: Instant,
        template: &mut Ipv4Template,
        payload_len: usize,
        fill: impl FnOnce(CursorMut<'_>) -> Result<(), crate::mem::cursor::CursorError>,
    ) -> Result<(), DropReason> {
        self.send_ipv4_templated_gather(driver, now, template, payload_len, &[], fill)
    }

    /// As [`Interface::send_ipv4_templated`], for a datagram whose payload
    /// is `head_len` bytes written by `fill` followed by the bytes of
    /// `references`, memory that never changes: the frame chains those as
    /// reference slots the NIC reads when it sends
    /// ([`Driver::alloc_tx_reference`]), without copying them. Where the
    /// driver offers no slot (or the datagram waits for ARP) they are
    /// copied instead; the bytes on the wire are the same.
    pub fn send_ipv4_templated_gather<D: Driver>(
        &mut self,
        driver: &mut D,
        now: Instant,
        template: &mut Ipv4Template,
        head_len: usize,
        references: &[&'static [u8]],
        fill: impl FnOnce(CursorMut<'_>) -> Result<(), crate::mem::cursor::CursorError>,
    ) -> Result<(), DropReason> {
        let result = self.send_templated_inner(driver, now, template, head_len, references, fill);
        self.counted(result)
    }

    fn send_templated_inner<D: Driver>(
        &mut self,
        driver: &mut D,
        now: Instant,
        template: &mut Ipv4Template,
        head_len: usize,
        references: &[&'static [u8]],
        fill: impl FnOnce(CursorMut<'_>) -> Result<(), crate::mem::cursor::CursorError>,
    ) -> Result<(), DropReason> {
        let referenced: usize = references.iter().map(|r| r.len()).sum();
        let payload_len = head_len + referenced;
        let next_hop = self.next_hop(template.dst)?;
        let nud = self.nud();
        let Some(mac) = self.cache.lookup_for_send(next_hop, now, &nud) else {
            let (dst, protocol) = (template.dst, template.protocol);
            return self.send_ipv4_inner(driver, now, dst, protocol, payload_len, |out| {
                let (head, mut tail) = out.split_at(head_len);
                fill(head)?;
                for bytes in references {
                    tail.write(bytes)?;
                }
                Ok(())
            });
        };
        template.bytes[..6].copy_from_slice(&mac.0);
        let ident = self.next_ident;
        self.next_ident = self.next_ident.wrapping_add(1);
        // Checked against the MTU before use; truncation is harmless then.
        let total_len = (ipv4::HEADER_LEN + payload_len) as u16;
        let sum = template.fixed_sum + u64::from(total_len) + u64::from(ident);
        let header_checksum = !checksum::fold(sum);
        let bytes = &template.bytes;
        let headers = |b: &mut [u8]| {
            b.copy_from_slice(bytes);
            let put =
                |b: &mut [u8], at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_be_bytes());
            put(b, template_field::TOTAL_LEN, total_len);
            put(b, template_field::IDENT, ident);
            put(b, template_field::CHECKSUM, header_checksum);
        };
        if ipv4::HEADER_LEN + payload_len > self.mtu {
            return Err(DropReason::TxTooBig);
        }
        let mut frame =
            frame_with_headers(driver, &mut self.meter, self.mtu, head_len, headers, fill)?;
        self.meter.ipv4_templated += 1;
        if !references.is_empty() {
            if let Err(reason) = self.chain_references(driver, &mut frame, references) {
                self.meter.driver_releases += 1;
                driver.release(frame);
                return Err(reason);
            }
        }
        self.hand_to_driver(driver, frame)
    }

    /// Chains `references` after `frame`'s bytes: as reference slots while
    /// the driver offers them, the rest copied into one more frame of its
    /// pools.
    fn chain_references<D: Driver>(
        &mut self,
        driver: &mut D,
        frame: &mut Frame,
        references: &[&'static [u8]],
    ) -> Result<(), DropReason> {
        for (i, &bytes) in references.iter().enumerate() {
            if let Some(slot) = driver.alloc_tx_reference(bytes) {
                // A driver's reference slots are of the pool its `alloc_tx`
                // frames come from, so the push succeeds; if it did not,
                // the bytes are copied below.
                if frame.push(slot).is_ok() {
                    self.meter.tx_references += 1;
                    continue;
                }
            }
            let rest = &references[i..];
            let len = rest.iter().map(|r| r.len()).sum();
            self.meter.driver_allocs += 1;
            let mut copy = driver.alloc_tx(len).ok_or(DropReason::TxNoBuffer)?;
            let mut out = copy.cursor_mut();
            for bytes in rest {
                out.write(bytes).map_err(|_| DropReason::TxTooBig)?;
            }
            self.meter.bytes_copied += len as u64;
            return frame.push(copy).map_err(|_| DropReason::TxNoBuffer);
        }
        Ok(())
    }

    /// The next hop towards `dst`: itself on the subnet, else the gateway.
    pub fn next_hop(&self, dst: Ipv4Addr) -> Result<Ipv4Addr, DropReason> {
        if self.config.ip.contains(dst) {
            Ok(dst)
        } else {
            self.config.gateway.ok_or(DropReason::NoRoute)
        }
    }

    /// The IPv4 header of a datagram from us.
    fn ipv4_repr(&mut self, dst: Ipv4Addr, protocol: IpProtocol, payload_len: usize) -> Ipv4Repr {
        let ident = self.next_ident;
        self.next_ident = self.next_ident.wrapping_add(1);
        Ipv4Repr {
            src: self.ip(),
            dst,
            protocol,
            payload_len,
            ttl: self.config.ttl,
            dscp_ecn: 0,
            ident,
            dont_frag: true,
        }
    }

    /// Allocates a frame and writes the Ethernet and IPv4 headers; `fill`
    /// writes the IPv4 payload into a cursor of exactly its length.
    fn build_frame<D: Driver>(
        &mut self,
        driver: &mut D,
        dst_mac: MacAddr,
        ip: &Ipv4Repr,
        fill: impl FnOnce(CursorMut<'_>) -> Result<(), crate::mem::cursor::CursorError>,
    ) -> Result<Frame, DropReason> {
        let eth = EthernetRepr {
            src: self.mac,
            dst: dst_mac,
            ethertype: EtherType::Ipv4,
        };
        let headers = |b: &mut [u8]| {
            let (eth_bytes, ip_bytes) = b.split_at_mut(ethernet::HEADER_LEN);
            eth.emit(&mut EthernetFrame::new_unchecked(eth_bytes));
            ip.emit(&mut Ipv4Packet::new_unchecked(ip_bytes));
        };
        let frame = frame_with_headers(
            driver,
            &mut self.meter,
            self.mtu,
            ip.payload_len,
            headers,
            fill,
        )?;
        // The header emitted field by field, its checksum summed.
        self.meter.ipv4_built += 1;
        self.meter.bytes_checksummed += ipv4::HEADER_LEN as u64;
        Ok(frame)
    }

    /// Sends an IPv4 datagram of `payload_len` bytes to `dst`; `fill` writes
    /// the payload (an upper-layer header and data, checksum included) into a
    /// cursor of exactly that length. If the next hop's MAC is not known the
    /// finished frame waits for ARP. Errors are also counted.
    pub fn send_ipv4<D: Driver>(
        &mut self,
        driver: &mut D,
        now: Instant,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
        fill: impl FnOnce(CursorMut<'_>) -> Result<(), crate::mem::cursor::CursorError>,
    ) -> Result<(), DropReason> {
        let result = self.send_ipv4_inner(driver, now, dst, protocol, payload_len, fill);
        self.counted(result)
    }

    fn send_ipv4_inner<D: Driver>(
        &mut self,
        driver: &mut D,
        now: Instant,
        dst: Ipv4Addr,
        protocol: IpProtocol,
        payload_len: usize,
        fill: impl FnOnce(CursorMut<'_>) -> Result<(), crate::mem::cursor::CursorError>,
    ) -> Result<(), DropReason> {
        let next_hop = self.next_hop(dst)?;
        let ip = self.ipv4_repr(dst, protocol, payload_len);
        let nud = self.nud();
        if let Some(mac) = self.cache.lookup_for_send(next_hop, now, &nud) {
            let frame = self.build_frame(driver, mac, &ip, fill)?;
            return self.hand_to_driver(driver, frame);
        }
        if self.pending.len() >= self.pending.capacity() {
            return Err(DropReason::ArpPendingFull);
        }
        let frame = self.build_frame(driver, MacAddr::UNSPECIFIED, &ip, fill)?;
        self.pending.push_back(PendingFrame { next_hop, frame });
        if !self.resolving.iter().any(|r| r.ip == next_hop) {
            // `resolving` never outgrows `pending`, so this never reallocates.
            self.resolving.push(Resolving {
                ip: next_hop,
                next_request: now,
                requests_sent: 0,
            });
            self.poll_timers(driver, now);
        }
        Ok(())
    }

    /// `ip` is now known to be at `mac`: send what waited for it.
    fn resolved<D: Driver>(&mut self, driver: &mut D, ip: Ipv4Addr, mac: MacAddr) {
        if let Some(i) = self.resolving.iter().position(|r| r.ip == ip) {
            self.resolving.swap_remove(i);
        }
        for _ in 0..self.pending.len() {
            let Some(mut waiting) = self.pending.pop_front() else {
                break;
            };
            if waiting.next_hop != ip {
                self.pending.push_back(waiting);
                continue;
            }
            let patched = waiting.frame.cursor_mut().write(&mac.0);
            debug_assert!(patched.is_ok());
            let _ = self.transmit(driver, waiting.frame); // a refusal is counted
        }
    }

    /// Resolution of `ip` failed: drop and count what waited for it.
    fn drop_pending_for<D: Driver>(&mut self, driver: &mut D, ip: Ipv4Addr) {
        for _ in 0..self.pending.len() {
            let Some(waiting) = self.pending.pop_front() else {
                break;
            };
            if waiting.next_hop == ip {
                self.counters.drop(DropReason::ArpUnresolved);
                self.release_frame(driver, waiting.frame);
            } else {
                self.pending.push_back(waiting);
            }
        }
    }

    /// Hands a finished frame to the driver and counts it; a full transmit
    /// ring drops it, counted as [`DropReason::TxRingFull`].
    pub fn transmit<D: Driver>(&mut self, driver: &mut D, frame: Frame) -> Result<(), DropReason> {
        let result = self.hand_to_driver(driver, frame);
        self.counted(result)
    }

    /// `result`, with its failure (if any) counted under its reason.
    fn counted(&mut self, result: Result<(), DropReason>) -> Result<(), DropReason> {
        if let Err(reason) = result {
            self.counters.drop(reason);
        }
        result
    }

    /// [`Interface::transmit`] without counting a refusal (for callers that
    /// count it themselves).
    fn hand_to_driver<D: Driver>(
        &mut self,
        driver: &mut D,
        frame: Frame,
    ) -> Result<(), DropReason> {
        let len = frame.len() as u64;
        self.meter.driver_transmits += 1;
        self.meter.frames_tx += 1;
        self.meter.bytes_tx += len;
        driver.transmit(frame).map_err(|_| DropReason::TxRingFull)?;
        self.counters.tx_frames += 1;
        self.counters.tx_bytes += len;
        Ok(())
    }
}

/// Allocates a frame for an IPv4 datagram of `payload_len` bytes, lets
/// `headers` write its Ethernet and IPv4 headers and `fill` its payload (a
/// cursor of exactly `payload_len` bytes). Refused with `TxTooBig` past the
/// MTU (or when `fill` writes more than it announced) and `TxNoBuffer`
/// when the pools are empty. The driver calls and the Ethernet header are
/// counted in `meter`.
fn frame_with_headers<D: Driver>(
    driver: &mut D,
    meter: &mut CostMeter,
    mtu: usize,
    payload_len: usize,
    headers: impl FnOnce(&mut [u8]),
    fill: impl FnOnce(CursorMut<'_>) -> Result<(), crate::mem::cursor::CursorError>,
) -> Result<Frame, DropReason> {
    if ipv4::HEADER_LEN + payload_len > mtu {
        return Err(DropReason::TxTooBig);
    }
    meter.driver_allocs += 1;
    let Some(mut frame) = driver.alloc_tx(L2_L3_LEN + payload_len) else {
        return Err(DropReason::TxNoBuffer);
    };
    meter.eth_built += 1;
    let mut cursor = frame.cursor_mut();
    let written = cursor
        .write_with(L2_L3_LEN, headers)
        .and_then(|()| fill(cursor));
    match written {
        Ok(()) => Ok(frame),
        Err(_) => {
            // The frame was sized for the headers and the payload, so only
            // a `fill` that writes more than it announced gets here.
            meter.driver_releases += 1;
            driver.release(frame);
            Err(DropReason::TxTooBig)
        }
    }
}
