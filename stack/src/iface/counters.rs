//! Counters the stack keeps: traffic totals and one counter per drop reason.
//!
//! Every frame the stack refuses is counted under exactly one
//! [`DropReason`], so reports can say why traffic was lost.

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

/// Traffic and drop counters of one stack instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Counters {
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
    /// ICMP echo requests answered.
    pub icmp_echo_replies_sent: u64,
    /// ICMP echo requests sent by [`super::Interface::send_ping`].
    pub icmp_echo_requests_sent: u64,
    drops: [u64; DropReason::ALL.len()],
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            rx_frames: 0,
            rx_bytes: 0,
            tx_frames: 0,
            tx_bytes: 0,
            arp_requests_sent: 0,
            arp_replies_sent: 0,
            icmp_echo_replies_sent: 0,
            icmp_echo_requests_sent: 0,
            drops: [0; DropReason::ALL.len()],
        }
    }
}

impl Counters {
    /// Counts one drop.
    pub fn drop(&mut self, reason: DropReason) {
        self.drops[reason as usize] += 1;
    }

    /// Drops counted for `reason`.
    pub fn drops(&self, reason: DropReason) -> u64 {
        self.drops[reason as usize]
    }

    /// Drops of every reason together.
    pub fn total_drops(&self) -> u64 {
        self.drops.iter().sum()
    }

    /// The non-zero drop counters, in declaration order.
    pub fn nonzero_drops(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|&r| (r, self.drops(r)))
            .filter(|&(_, n)| n > 0)
    }

    /// Adds every counter of `other` into `self` (for per-host totals).
    pub fn merge(&mut self, other: &Counters) {
        self.rx_frames += other.rx_frames;
        self.rx_bytes += other.rx_bytes;
        self.tx_frames += other.tx_frames;
        self.tx_bytes += other.tx_bytes;
        self.arp_requests_sent += other.arp_requests_sent;
        self.arp_replies_sent += other.arp_replies_sent;
        self.icmp_echo_replies_sent += other.icmp_echo_replies_sent;
        self.icmp_echo_requests_sent += other.icmp_echo_requests_sent;
        for (a, b) in self.drops.iter_mut().zip(other.drops.iter()) {
            *a += b;
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_are_counted_per_reason() {
        let mut c = Counters::default();
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
        let mut sum = Counters::default();
        sum.merge(&c);
        sum.merge(&c);
        assert_eq!(sum.drops(DropReason::Ipv4Fragment), 4);
    }

    #[test]
    fn reason_names_are_unique() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}
