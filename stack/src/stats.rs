//! The drop reasons and counters of every layer.
//!
//! * [`DropReason`] — why a frame (or a datagram, or a segment) was
//!   dropped. Every frame the stack refuses is counted under exactly one
//!   reason, so reports can say why traffic was lost; the reasons' names
//!   ([`DropReason::as_str`]) are the keys of the simulator's reports.
//! * [`IfaceCounters`] — the interface's traffic totals, ARP and ICMP
//!   messages, and its drops ([`crate::iface::Interface::counters`]).
//! * [`TcpCounters`] — what one core's TCP layer did, and its drops, the
//!   `tcp_*` reasons ([`crate::Stack::tcp_counters`]).
//!
//! Each layer counts into the counters it owns: TCP never touches the
//! interface's. A report of everything a stack dropped adds the two
//! layers' [`nonzero_drops`](IfaceCounters::nonzero_drops) (each reason is
//! counted by one layer only).

use core::fmt;

macro_rules! drop_reasons {
    ($( $(#[$doc:meta])* $name:ident => $text:literal, )*) => {
        /// Why a frame (or a datagram waiting for ARP) was dropped.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        pub enum DropReason {
            $( $(#[$doc])* $name, )*
        }

        impl DropReason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];

            /// A short snake_case name for reports and JSON keys.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $( DropReason::$name => $text, )*
                }
            }
        }
    };
}

drop_reasons! {
    /// Frame shorter than an Ethernet header.
    EthernetTruncated => "eth_truncated",
    /// Unicast frame for another MAC, or a multicast we do not join.
    EthernetNotForUs => "eth_not_for_us",
    /// EtherType other than IPv4 and ARP.
    EthernetUnknownType => "eth_unknown_type",
    /// ARP packet too short or inconsistent.
    ArpMalformed => "arp_malformed",
    /// ARP for a hardware or protocol type other than Ethernet/IPv4, or an
    /// unknown operation.
    ArpUnsupported => "arp_unsupported",
    /// ARP packet about other hosts, with nothing for us to learn.
    ArpNotForUs => "arp_not_for_us",
    /// IPv4 header truncated or inconsistent (version, IHL, total length).
    Ipv4Malformed => "ipv4_malformed",
    /// IPv4 header checksum wrong.
    Ipv4BadChecksum => "ipv4_bad_checksum",
    /// IPv4 fragment (reassembly is not supported).
    Ipv4Fragment => "ipv4_fragment",
    /// IPv4 datagram for another address.
    Ipv4NotForUs => "ipv4_not_for_us",
    /// IPv4 datagram with a source address we refuse (broadcast, ours, zero).
    Ipv4BadSource => "ipv4_bad_source",
    /// IPv4 protocol the stack does not handle.
    Ipv4UnknownProtocol => "ipv4_unknown_protocol",
    /// ICMP message truncated or malformed.
    IcmpMalformed => "icmp_malformed",
    /// ICMP checksum wrong.
    IcmpBadChecksum => "icmp_bad_checksum",
    /// ICMP type the stack does not handle.
    IcmpUnsupported => "icmp_unsupported",
    /// Event (echo reply, ARP learned) lost because the owner's event queue
    /// was full.
    IcmpEventOverflow => "event_overflow",
    /// Outgoing datagram with no route (off-subnet and no gateway).
    NoRoute => "no_route",
    /// Outgoing datagram dropped: the queue of datagrams waiting for ARP was full.
    ArpPendingFull => "arp_pending_full",
    /// Outgoing datagram dropped: ARP resolution of its next hop failed.
    ArpUnresolved => "arp_unresolved",
    /// No transmit buffer was available.
    TxNoBuffer => "tx_no_buffer",
    /// The driver's transmit ring was full (back-pressure).
    TxRingFull => "tx_ring_full",
    /// Outgoing datagram larger than the MTU.
    TxTooBig => "tx_too_big",
    /// TCP header truncated or malformed (bad offset, bad option, port 0).
    TcpMalformed => "tcp_malformed",
    /// TCP checksum wrong.
    TcpBadChecksum => "tcp_bad_checksum",
    /// TCP segment for no connection and no listener (answered by a reset).
    TcpNoConnection => "tcp_no_connection",
    /// TCP segment outside the receive window (answered by an ACK).
    TcpOutOfWindow => "tcp_out_of_window",
    /// TCP segment with an old timestamp (PAWS, RFC 7323).
    TcpPaws => "tcp_paws",
    /// SYN dropped: the listener's queue was full and cookies are off.
    TcpSynQueueFull => "tcp_syn_queue_full",
    /// Connection dropped: no free connection slot.
    TcpTableFull => "tcp_table_full",
    /// TCP ACK for data never sent, or far too old.
    TcpBadAck => "tcp_bad_ack",
    /// TCP segment without ACK on a synchronised connection.
    TcpNoAck => "tcp_no_ack",
    /// SYN on a synchronised connection (answered by a challenge ACK).
    TcpUnexpectedSyn => "tcp_unexpected_syn",
    /// Segment for a connection in TIME-WAIT (answered by an ACK).
    TcpTimeWait => "tcp_time_wait",
    /// Out-of-order segment beyond the connection's budget.
    TcpOooDropped => "tcp_ooo_dropped",
    /// Frame for another core dropped: the forwarding queue was full.
    TcpStrayOverflow => "tcp_stray_overflow",
}

/// One counter per [`DropReason`], shared by the counters of every layer.
#[derive(Clone, PartialEq, Eq)]
struct Drops([u64; DropReason::ALL.len()]);

impl Default for Drops {
    fn default() -> Self {
        Drops([0; DropReason::ALL.len()])
    }
}

impl Drops {
    fn count(&mut self, reason: DropReason) {
        self.0[reason as usize] += 1;
    }

    fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    fn nonzero(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.get(r)))
            .filter(|&(_, n)| n > 0)
    }

    fn merge(&mut self, other: &Drops) {
        for (a, b) in self.0.iter_mut().zip(other.0.iter()) {
            *a += b;
        }
    }
}

/// Prints as the bare array, as the counters printed before they shared
/// this type.
impl fmt::Debug for Drops {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Traffic and drop counters of one interface.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IfaceCounters {
    /// Frames handed to the stack by the driver.
    pub rx_frames: u64,
    /// Bytes of those frames.
    pub rx_bytes: u64,
    /// Frames the stack handed to the driver.
    pub tx_frames: u64,
    /// Bytes of those frames.
    pub tx_bytes: u64,
    /// ARP requests sent (including the start-up announcement).
    pub arp_requests_sent: u64,
    /// ARP replies sent.
    pub arp_replies_sent: u64,
    /// Unicast ARP probes of neighbours whose reachability lapsed or was
    /// suspected (also counted in `arp_requests_sent`).
    pub arp_probes_sent: u64,
    /// Neighbours that did not answer their probes: their entries were
    /// removed, to be resolved again by broadcast.
    pub arp_neighbors_failed: u64,
    /// ICMP echo requests answered.
    pub icmp_echo_replies_sent: u64,
    /// ICMP echo requests sent by [`crate::iface::Interface::send_ping`].
    pub icmp_echo_requests_sent: u64,
    drops: Drops,
}

impl IfaceCounters {
    /// Counts one drop.
    pub fn drop(&mut self, reason: DropReason) {
        self.drops.count(reason);
    }

    /// Drops counted for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops.get(reason)
    }

    /// Drops of every reason together.
    pub fn total_drops(&self) -> u64 {
        self.drops.total()
    }

    /// The non-zero drop counters, in declaration order.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        self.drops.nonzero()
    }

    /// Adds every counter of `other` into `self` (for per-host totals).
    pub fn merge(&mut self, other: &IfaceCounters) {
        self.rx_frames += other.rx_frames;
        self.rx_bytes += other.rx_bytes;
        self.tx_frames += other.tx_frames;
        self.tx_bytes += other.tx_bytes;
        self.arp_requests_sent += other.arp_requests_sent;
        self.arp_replies_sent += other.arp_replies_sent;
        self.arp_probes_sent += other.arp_probes_sent;
        self.arp_neighbors_failed += other.arp_neighbors_failed;
        self.icmp_echo_replies_sent += other.icmp_echo_replies_sent;
        self.icmp_echo_requests_sent += other.icmp_echo_requests_sent;
        self.drops.merge(&other.drops);
    }
}

/// What one core's TCP layer did, and the segments it dropped (under the
/// `tcp_*` reasons).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TcpCounters {
    /// Segments received (before any check).
    pub segments_in: u64,
    /// Segments sent.
    pub segments_out: u64,
    /// Payload bytes delivered to applications in order.
    pub bytes_received: u64,
    /// Payload bytes sent (first transmissions and retransmissions).
    pub bytes_sent: u64,
    /// Segments sent again (any cause).
    pub retransmits: u64,
    /// Fast retransmits (third duplicate ACK, NewReno partial ACKs).
    pub fast_retransmits: u64,
    /// Retransmission timer expirations.
    pub rto_expirations: u64,
    /// Retries of a segment that found no transmit buffer (the short
    /// timer that stands in for the RTO then, without its back-off).
    pub buffer_retries: u64,
    /// Connections reset after too many retransmissions.
    pub retransmission_timeouts_fatal: u64,
    /// Handshakes abandoned after too many SYN retries.
    pub handshake_timeouts: u64,
    /// Zero-window probes sent.
    pub window_probes: u64,
    /// Delayed ACKs sent by their timer (not piggybacked).
    pub delayed_acks: u64,
    /// Keepalive probes sent.
    pub keepalive_probes: u64,
    /// Connections reset because keepalive probes went unanswered.
    pub keepalive_timeouts: u64,
    /// Connections freed after too long in FIN-WAIT-2.
    pub fin_wait2_timeouts: u64,
    /// Active opens started.
    pub connect_attempts: u64,
    /// Active opens that found no usable ephemeral port.
    pub connect_no_port: u64,
    /// Active opens that completed.
    pub connections_opened: u64,
    /// Passive opens accepted by the application.
    pub connections_accepted: u64,
    /// Connections refused (RST to our SYN, or the application said no).
    pub connections_refused: u64,
    /// Connections closed gracefully.
    pub connections_closed: u64,
    /// Connections reset (peer RST, timeout, abort).
    pub connections_reset: u64,
    /// RSTs received that reset a connection.
    pub resets_received: u64,
    /// RSTs sent.
    pub resets_sent: u64,
    /// RFC 5961 challenge ACKs sent.
    pub challenge_acks: u64,
    /// ACKs to unacceptable segments (challenge ACKs included) not sent
    /// because of their rate limits (RFC 5961 §7).
    pub acks_rate_limited: u64,
    /// SYN cookies sent (SYN queue full).
    pub syn_cookies_sent: u64,
    /// Connections established from a valid cookie.
    pub syn_cookies_accepted: u64,
    /// Old segments (entirely before RCV.NXT) whose ACK was still used.
    pub old_segments: u64,
    /// Out-of-order segments stored.
    pub ooo_segments: u64,
    /// TIME-WAIT entries dropped early to make room.
    pub time_wait_evicted: u64,
    /// TIME-WAIT entries taken over by a new SYN (RFC 6191).
    pub time_wait_reused: u64,
    /// Frames of other cores' flows handed to the owner for forwarding.
    pub stray_forwarded: u64,
    /// Timers that could not be scheduled (wheel full).
    pub timer_overflow: u64,
    drops: Drops,
}

impl TcpCounters {
    /// Counts one drop.
    pub fn drop(&mut self, reason: DropReason) {
        self.drops.count(reason);
    }

    /// Drops counted for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops.get(reason)
    }

    /// Drops of every reason together.
    pub fn total_drops(&self) -> u64 {
        self.drops.total()
    }

    /// The non-zero drop counters, in declaration order.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        self.drops.nonzero()
    }

    /// Adds every counter of `other` into `self`.
    pub fn merge(&mut self, o: &TcpCounters) {
        macro_rules! add {
            ($($f:ident),*) => { $( self.$f += o.$f; )* };
        }
        add!(
            segments_in,
            segments_out,
            bytes_received,
            bytes_sent,
            retransmits,
            fast_retransmits,
            rto_expirations,
            buffer_retries,
            retransmission_timeouts_fatal,
            handshake_timeouts,
            window_probes,
            delayed_acks,
            keepalive_probes,
            keepalive_timeouts,
            fin_wait2_timeouts,
            connect_attempts,
            connect_no_port,
            connections_opened,
            connections_accepted,
            connections_refused,
            connections_closed,
            connections_reset,
            resets_received,
            resets_sent,
            challenge_acks,
            acks_rate_limited,
            syn_cookies_sent,
            syn_cookies_accepted,
            old_segments,
            ooo_segments,
            time_wait_evicted,
            time_wait_reused,
            stray_forwarded,
            timer_overflow
        );
        self.drops.merge(&o.drops);
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A drop reason is also the error of the paths that drop (`iface`'s
/// transmit helpers).
impl std::error::Error for DropReason {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_counted_per_reason() {
        let mut c = IfaceCounters::default();
        c.drop(DropReason::Ipv4Fragment);
        c.drop(DropReason::Ipv4Fragment);
        c.drop(DropReason::NoRoute);
        assert_eq!(c.drops(DropReason::Ipv4Fragment), 2);
        assert_eq!(c.total_drops(), 3);
        let listed: Vec<_> = c.nonzero_drops().collect();
        assert_eq!(
            listed,
            vec![(DropReason::Ipv4Fragment, 2), (DropReason::NoRoute, 1)]
        );
        let mut sum = IfaceCounters::default();
        sum.merge(&c);
        sum.merge(&c);
        assert_eq!(sum.drops(DropReason::Ipv4Fragment), 4);
    }

    #[test]
    fn tcp_counts_its_own_drops() {
        let mut t = TcpCounters::default();
        t.drop(DropReason::TcpPaws);
        let mut sum = TcpCounters::default();
        sum.merge(&t);
        sum.merge(&t);
        assert_eq!(sum.drops(DropReason::TcpPaws), 2);
        assert_eq!(sum.total_drops(), 2);
        let listed: Vec<_> = sum.nonzero_drops().collect();
        assert_eq!(listed, vec![(DropReason::TcpPaws, 2)]);
    }

    #[test]
    fn reason_names_are_unique() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}
