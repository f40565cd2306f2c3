//! TCP settings, fixed when a stack is built.

use crate::time::Duration;

/// Settings of one core's TCP layer. All capacities are allocated at
/// construction; nothing grows afterwards.
#[derive(Clone, Debug)]
pub struct TcpConfig {
    /// Connection slots (TCBs), including those in SYN-RECEIVED.
    pub max_connections: usize,
    /// TIME-WAIT entries kept (compact, separate from TCBs). When full, the
    /// oldest is dropped early and counted.
    pub time_wait_capacity: usize,
    /// Writers each connection's transmit queue holds.
    pub tx_queue_entries: usize,
    /// Bytes of out-of-order data a connection may hold. The advertised
    /// receive window is this budget (in-order data goes straight to the
    /// application), rounded down to what the window field can express, so
    /// the window never promises what cannot be stored. `Stack::new` caps
    /// it at `ooo_max_segments` full-sized segments. The default, 256 KiB,
    /// keeps a 10 Gbit/s link busy at about 200 µs of round-trip time (a
    /// 64 KiB window caps a real link at 64 KiB in flight).
    pub rx_budget: u32,
    /// Out-of-order segments a connection may hold (the default holds the
    /// default budget in full-sized segments).
    pub ooo_max_segments: u16,
    /// Out-of-order segments all connections of this core may hold. When
    /// the pool is empty a new out-of-order segment is refused (its sender
    /// retransmits it); held data is never given up for it.
    pub ooo_pool_segments: usize,
    /// Maximum segment size we announce; `None` derives it from the MTU.
    pub mss: Option<u16>,
    /// Initial congestion window in bytes; `None` = 10 segments (RFC 6928).
    pub initial_window: Option<u32>,
    /// RTO before any RTT sample (RFC 6298: 1 s).
    pub initial_rto: Duration,
    /// Lower bound of the RTO (RFC 6298 says 1 s; Linux uses 200 ms).
    pub min_rto: Duration,
    /// Upper bound of the RTO.
    pub max_rto: Duration,
    /// Retransmissions of one segment before the connection is reset.
    pub max_retransmissions: u32,
    /// SYN (or SYN-ACK) retransmissions before a handshake is abandoned.
    pub syn_retries: u32,
    /// Delayed-ACK timeout; zero acknowledges every segment at once.
    pub delayed_ack: Duration,
    /// How long a closed connection stays in TIME-WAIT (2 × MSL).
    pub time_wait: Duration,
    /// How long a connection may stay in FIN-WAIT-2 without hearing from
    /// the peer before its slot is freed (Linux's `tcp_fin_timeout`);
    /// `None` waits for ever.
    pub fin_wait2_timeout: Option<Duration>,
    /// Idle time before keepalive probes start; `None` disables keepalive.
    pub keepalive: Option<Duration>,
    /// Time between keepalive probes.
    pub keepalive_interval: Duration,
    /// Unanswered keepalive probes before the connection is reset.
    pub keepalive_probes: u32,
    /// Nagle's algorithm: hold small segments while data is in flight.
    pub nagle: bool,
    /// Offer and use RFC 7323 timestamps.
    pub timestamps: bool,
    /// Offer and use RFC 2018 SACK.
    pub sack: bool,
    /// Offer window scaling (needed for budgets above 64 KiB).
    pub window_scaling: bool,
    /// Half-open connections a listener may hold (its SYN queue).
    pub default_backlog: usize,
    /// Answer SYNs with RFC 4987 cookies when a SYN queue is full.
    pub syn_cookies: bool,
    /// Per connection, the shortest time between two ACKs sent in answer to
    /// unacceptable segments (out of window, PAWS, challenge ACKs; RFC 5961
    /// §7, Linux's `tcp_invalid_ratelimit`); see [`super::ack_limit`].
    pub invalid_ack_interval: Duration,
    /// Challenge ACKs (RFC 5961 §3–5) this core sends per second at most
    /// (Linux's `tcp_challenge_ack_limit`).
    pub challenge_ack_limit: u32,
    /// Ephemeral port range for active opens (inclusive).
    pub ephemeral_ports: (u16, u16),
    /// `(this core, cores)`: ephemeral ports `p` with `p % cores == core`
    /// belong to this core, so frames of unknown flows can be forwarded
    /// to their owner. `None` on a single core.
    pub port_partition: Option<(u16, u16)>,
    /// Granularity of the timer wheel.
    pub timer_tick: Duration,
    /// Secret for ISNs, SYN cookies, ephemeral ports and table hashing.
    /// The owner seeds it (the simulator derives it from its seed).
    pub secret: [u8; 16],
    /// Bytes of open connections' slots (connections times
    /// [`Stack::connection_slot_bytes`]) from which a poll takes received
    /// frames in groups and asks the memory for their connections' state
    /// before processing them (a hint: what the stack does is the same
    /// either way). Below it the slots stay in a core's cache and the hints
    /// cost more than they save; the default, 512 KiB, is about half the
    /// second-level cache of the x86 machines it was measured on (on
    /// `rusty-sim bench`: 4–9% slower at 100 connections, about 90 KB of
    /// slots, and 6–10% faster at 1000). `usize::MAX` never, 0 always.
    ///
    /// [`Stack::connection_slot_bytes`]: crate::Stack::connection_slot_bytes
    pub prefetch_min_slot_bytes: usize,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            max_connections: 1024,
            time_wait_capacity: 4096,
            tx_queue_entries: 8,
            rx_budget: 256 * 1024,
            ooo_max_segments: 192,
            ooo_pool_segments: 4096,
            mss: None,
            initial_window: None,
            initial_rto: Duration::from_secs(1),
            min_rto: Duration::from_millis(200),
            max_rto: Duration::from_secs(60),
            max_retransmissions: 12,
            syn_retries: 5,
            delayed_ack: Duration::from_millis(40),
            time_wait: Duration::from_secs(60),
            fin_wait2_timeout: Some(Duration::from_secs(60)),
            keepalive: None,
            keepalive_interval: Duration::from_secs(75),
            keepalive_probes: 9,
            nagle: false,
            timestamps: true,
            sack: true,
            window_scaling: true,
            default_backlog: 128,
            syn_cookies: true,
            invalid_ack_interval: Duration::from_millis(500),
            challenge_ack_limit: 1000,
            ephemeral_ports: (49152, 65535),
            port_partition: None,
            timer_tick: Duration::from_millis(1),
            secret: [0x52; 16],
            prefetch_min_slot_bytes: 512 * 1024,
        }
    }
}

impl TcpConfig {
    /// The window scale shift we offer: the smallest that lets the window
    /// field carry the whole receive budget.
    pub fn window_shift(&self) -> u8 {
        if !self.window_scaling {
            return 0;
        }
        let mut shift = 0u8;
        while shift < 14 && (self.rx_budget >> shift) > 0xffff {
            shift += 1;
        }
        shift
    }
}
