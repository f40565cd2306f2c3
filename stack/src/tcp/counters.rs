//! TCP counters of one core.

/// What one core's TCP layer did. Drops are counted in the interface's
/// [`crate::iface::Counters`] under `tcp_*` reasons.
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
}

impl TcpCounters {
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
            syn_cookies_sent,
            syn_cookies_accepted,
            old_segments,
            ooo_segments,
            time_wait_evicted,
            time_wait_reused,
            stray_forwarded,
            timer_overflow
        );
    }
}
