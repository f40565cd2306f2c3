//! The cost meter: per-core counts of the operations that cost CPU time.
//!
//! A [`CostMeter`] counts, at the points in the code where the work is
//! done, each operation whose cost a cost model prices: frames and their
//! bytes, headers parsed and built (per layer, template or generic),
//! bytes checksummed and copied, precomputed-sum lookups, timer-wheel
//! operations, connection-table lookups, calls into the [`Driver`] and
//! into the [`App`]. A simulator multiplies each count by a cost per unit
//! of a processor profile (cycles per frame, per header, per byte summed,
//! ...) to charge a core the virtual time its work would take, instead of
//! one coarse cost per frame.
//!
//! Each [`Stack`] (one core's instance on one port) has one meter, in its
//! interface: [`Stack::meter`] (and [`Interface::meter`] for an interface
//! used alone). Counting is a plain `u64` increment beside work that is
//! done anyway: no atomics, no branch of its own, no allocation, and no
//! count is ever read by the stack, so the meter cannot change behaviour.
//! Counters only grow (wrapping after 2^64, never in practice); take a
//! delta with [`CostMeter::since`] (or `-`).
//!
//! **Units.** Each field's doc says what one unit is. In short: every
//! attempt counts, failed or not (a malformed header was still parsed, a
//! frame the transmit ring refused was still built); a "header" is one
//! protocol header; bytes are bytes of frames.
//!
//! **Not counted here.** Heap allocations: the stack makes none on the
//! data path (the zero-allocation tests check it), and a stack cannot see
//! the allocator, so a simulator counts them around each core's run with
//! `rusty-alloc-counter` (`stack/alloc-counter`). Work inside the driver
//! (buffer pools, rings, DMA) is the driver's: the meter counts the calls
//! the stack makes into it. The application's own work inside its handlers
//! (parsing a request, copying data out of a receive cursor) is the
//! application's: the meter counts the calls ([`CostMeter::app_calls`],
//! [`CostMeter::writer_calls`]) and the bytes its writers put into
//! transmit buffers ([`CostMeter::bytes_copied`]). Also not counted: the
//! small copies of a header that crosses a buffer boundary into a scratch
//! array while it is parsed, the hashes of ISNs, SYN cookies and port
//! choices (a few per connection), and the wheel's cascades between its
//! levels.
//!
//! **Relations that hold exactly** (`stack/tests/cost_meter.rs` checks
//! them against frames captured on the wire):
//! * `frames_rx`, `bytes_rx` are the frames received and their lengths;
//!   `frames_tx`, `bytes_tx` those sent (with no transmit ring refusal).
//! * Each received TCP/IPv4 frame adds one to `eth_parsed`, `ipv4_parsed`
//!   and `tcp_parsed`, and each sent one to `eth_built`, to one of
//!   `ipv4_built`/`ipv4_templated` and to one of `tcp_built`/`tcp_templated`.
//! * A received TCP/IPv4 frame adds its IPv4 header length plus its whole
//!   TCP segment length (header and payload) to `bytes_checksummed`, or
//!   only the IPv4 header length when the NIC verified the TCP checksum
//!   ([`Frame::l4_checksum_verified`](crate::Frame::l4_checksum_verified)). A sent
//!   one adds 20 (the IPv4 header) when `ipv4_built` (not when templated:
//!   the template's sum is precomputed), its TCP header length when
//!   `tcp_built` (not when templated: the template adds up its fields'
//!   words), and every payload byte whose writer had no precomputed sum;
//!   payload covered by [`Writer::sum`] adds nothing to `bytes_checksummed`
//!   and one to `prefix_sum_lookups` per writer piece.
//! * TCP payload bytes sent add as much to `bytes_copied`, in
//!   `writer_calls` pieces (one per transmit-queue entry a segment covers),
//!   except pieces sent by reference, which add one to `tx_references`
//!   each and nothing to `bytes_copied` or `writer_calls`.
//!
//! ```
//! use rusty_stack::meter::CostMeter;
//!
//! let before = CostMeter::default();
//! let mut now = before;
//! now.frames_rx += 2;
//! now.bytes_checksummed += 1500;
//! let delta = now.since(&before);
//! assert_eq!(delta.frames_rx, 2);
//! assert_eq!(delta + before, now);
//! // A report lists every counter by name; a cost model prices them.
//! let cycles_per_unit = |name: &str| match name {
//!     "frames_rx" => 400,
//!     "bytes_checksummed" => 1,
//!     _ => 0,
//! };
//! let cycles: u64 = delta.fields().iter().map(|&(name, n)| n * cycles_per_unit(name)).sum();
//! assert_eq!(cycles, 2 * 400 + 1500);
//! ```
//!
//! [`Driver`]: crate::Driver
//! [`App`]: crate::App
//! [`Stack`]: crate::Stack
//! [`Stack::meter`]: crate::Stack::meter
//! [`Interface::meter`]: crate::iface::Interface::meter
//! [`Writer::sum`]: crate::Writer::sum

use core::ops::{Add, AddAssign, Sub};

/// Declares [`CostMeter`] with its fields once, and derives from the one
/// list the arithmetic and [`CostMeter::fields`].
macro_rules! cost_meter {
    ($($(#[$doc:meta])* $field:ident,)*) => {
        /// Per-core counts of the operations that cost CPU time (see the
        /// [module docs](self) for what each is for and what is left out).
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        pub struct CostMeter {
            $($(#[$doc])* pub $field: u64,)*
        }

        impl CostMeter {
            /// How many counters there are.
            pub const FIELDS: usize = [$(stringify!($field)),*].len();

            /// Every counter with its field name, in declaration order (for
            /// reports and cost models).
            pub fn fields(&self) -> [(&'static str, u64); Self::FIELDS] {
                [$((stringify!($field), self.$field)),*]
            }

            /// What was counted since `earlier` (an earlier reading of the
            /// same meter): the difference of every counter, wrapping.
            pub fn since(&self, earlier: &CostMeter) -> CostMeter {
                CostMeter {
                    $($field: self.$field.wrapping_sub(earlier.$field),)*
                }
            }
        }

        impl Add for CostMeter {
            type Output = CostMeter;
            /// The counts of both (say, of two cores), wrapping.
            fn add(self, other: CostMeter) -> CostMeter {
                CostMeter {
                    $($field: self.$field.wrapping_add(other.$field),)*
                }
            }
        }
    };
}

cost_meter! {
    /// [`Stack::poll`](crate::Stack::poll) calls.
    polls,
    /// Frames handed to the interface's receive path
    /// ([`Interface::process`](crate::iface::Interface::process)): from the
    /// driver, or forwarded by another core.
    frames_rx,
    /// Bytes of the frames of `frames_rx` (Ethernet header included, no
    /// FCS).
    bytes_rx,
    /// Frames handed to [`Driver::transmit`](crate::Driver::transmit),
    /// whether or not its ring took them (the frame was built either way).
    frames_tx,
    /// Bytes of the frames of `frames_tx`.
    bytes_tx,
    /// Ethernet headers parsed: one per frame of `frames_rx`.
    eth_parsed,
    /// ARP packets parsed.
    arp_parsed,
    /// IPv4 headers parsed (options skipped, checksum verified if the length
    /// checks pass; its bytes are in `bytes_checksummed`).
    ipv4_parsed,
    /// ICMP headers parsed.
    icmp_parsed,
    /// TCP headers parsed, options included (one per segment handed to
    /// TCP, malformed ones too).
    tcp_parsed,
    /// Ethernet headers written: one per frame built.
    eth_built,
    /// ARP packets written.
    arp_built,
    /// IPv4 headers written field by field, their checksum summed over the
    /// 20 bytes (datagrams without a template: ICMP, TCP control segments,
    /// anything waiting for ARP).
    ipv4_built,
    /// IPv4 headers copied from a connection's template and patched (length,
    /// identification, checksum from the template's precomputed sum).
    ipv4_templated,
    /// ICMP headers written.
    icmp_built,
    /// TCP headers written by the generic emitter, options laid out one by
    /// one and the header's bytes summed (SYNs, resets, TIME-WAIT ACKs,
    /// cookie SYN-ACKs, segments carrying SACK blocks).
    tcp_built,
    /// TCP headers written from the connection's header template (data and
    /// ACK segments without SACK blocks): the template is copied and its
    /// variable fields written, the checksum from their words.
    tcp_templated,
    /// Payload bytes written into transmit frames: TCP data by the
    /// application's writers, and ICMP echo data. The stack copies no
    /// received payload (out-of-order segments are kept as frames, and
    /// applications read the receive buffers in place).
    bytes_copied,
    /// Reference slots chained onto sent frames
    /// ([`Driver::alloc_tx_reference`](crate::Driver::alloc_tx_reference)):
    /// payload pieces that the NIC reads from the application's memory
    /// instead of a writer copying them (their bytes are not in
    /// `bytes_copied`).
    tx_references,
    /// Bytes read by the ones' complement sum (the Internet checksum), on
    /// receive and transmit. Pseudo-headers, template sums and RFC 1624
    /// updates are a few word additions each and are not counted; see the
    /// module docs for what each header adds.
    bytes_checksummed,
    /// Precomputed checksums used: each [`Writer::sum`](crate::Writer::sum)
    /// that returned a sum, so the stack did not read those bytes.
    prefix_sum_lookups,
    /// Timers scheduled on the timer wheel (each replaces any earlier timer
    /// of the same kind, which counts as a cancel).
    timer_schedules,
    /// Timers cancelled on the wheel.
    timer_cancels,
    /// Timers popped from the wheel as expired (a stale one, whose
    /// connection is gone, too).
    timer_expiries,
    /// Connection-table lookups by 4-tuple on receive (demultiplexing):
    /// one per TCP segment whose header parsed and whose checksum held.
    conn_lookups,
    /// Scans of the listening ports, for a segment of no connection.
    listener_lookups,
    /// Other connection-table operations: inserts, removals, and the
    /// lookups of an active open (per port tried) and of a slot being freed.
    conn_table_ops,
    /// [`Driver::receive`](crate::Driver::receive) calls (the last call of
    /// a poll, which finds nothing, included).
    driver_receives,
    /// [`Driver::alloc_tx`](crate::Driver::alloc_tx) calls (one per frame
    /// built, a refusal included).
    driver_allocs,
    /// [`Driver::transmit`](crate::Driver::transmit) calls.
    driver_transmits,
    /// [`Driver::release`](crate::Driver::release) calls (received frames,
    /// and transmit frames given up, returned to the pool).
    driver_releases,
    /// Calls into the application's [`App`](crate::App) handlers (`accept`,
    /// `on_connected`, `on_data`, `on_acked`, `on_remote_close`,
    /// `on_close`, `on_reset`, `on_timer`, `next_connect`,
    /// `on_connect_failed`); the owner's closure of
    /// [`Stack::with_conn`](crate::Stack::with_conn) is not one.
    app_calls,
    /// Calls into the application's [`Writer::write`](crate::Writer::write),
    /// one per piece of a segment's payload (a segment spans several
    /// transmit-queue entries in several pieces).
    writer_calls,
}

impl CostMeter {
    /// Headers parsed, all layers together.
    pub fn headers_parsed(&self) -> u64 {
        self.eth_parsed + self.arp_parsed + self.ipv4_parsed + self.icmp_parsed + self.tcp_parsed
    }

    /// Headers written, all layers and both ways (generic and templated).
    pub fn headers_built(&self) -> u64 {
        self.eth_built
            + self.arp_built
            + self.ipv4_built
            + self.ipv4_templated
            + self.icmp_built
            + self.tcp_built
            + self.tcp_templated
    }

    /// Calls into the driver, all kinds together.
    pub fn driver_calls(&self) -> u64 {
        self.driver_receives + self.driver_allocs + self.driver_transmits + self.driver_releases
    }

    /// Timer-wheel operations, all kinds together.
    pub fn timer_ops(&self) -> u64 {
        self.timer_schedules + self.timer_cancels + self.timer_expiries
    }
}

impl AddAssign for CostMeter {
    fn add_assign(&mut self, other: CostMeter) {
        *self = *self + other;
    }
}

impl Sub for CostMeter {
    type Output = CostMeter;
    /// `self.since(&earlier)`.
    fn sub(self, earlier: CostMeter) -> CostMeter {
        self.since(&earlier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered() -> CostMeter {
        let mut m = CostMeter::default();
        // Every field gets its own value, through the one list of names.
        let names = m.fields().map(|(name, _)| name);
        for (i, name) in names.iter().enumerate() {
            let v = 10 * (i as u64 + 1);
            match *name {
                "polls" => m.polls = v,
                "frames_rx" => m.frames_rx = v,
                "bytes_rx" => m.bytes_rx = v,
                "frames_tx" => m.frames_tx = v,
                "bytes_tx" => m.bytes_tx = v,
                "eth_parsed" => m.eth_parsed = v,
                "arp_parsed" => m.arp_parsed = v,
                "ipv4_parsed" => m.ipv4_parsed = v,
                "icmp_parsed" => m.icmp_parsed = v,
                "tcp_parsed" => m.tcp_parsed = v,
                "eth_built" => m.eth_built = v,
                "arp_built" => m.arp_built = v,
                "ipv4_built" => m.ipv4_built = v,
                "ipv4_templated" => m.ipv4_templated = v,
                "icmp_built" => m.icmp_built = v,
                "tcp_built" => m.tcp_built = v,
                "tcp_templated" => m.tcp_templated = v,
                "bytes_copied" => m.bytes_copied = v,
                "tx_references" => m.tx_references = v,
                "bytes_checksummed" => m.bytes_checksummed = v,
                "prefix_sum_lookups" => m.prefix_sum_lookups = v,
                "timer_schedules" => m.timer_schedules = v,
                "timer_cancels" => m.timer_cancels = v,
                "timer_expiries" => m.timer_expiries = v,
                "conn_lookups" => m.conn_lookups = v,
                "listener_lookups" => m.listener_lookups = v,
                "conn_table_ops" => m.conn_table_ops = v,
                "driver_receives" => m.driver_receives = v,
                "driver_allocs" => m.driver_allocs = v,
                "driver_transmits" => m.driver_transmits = v,
                "driver_releases" => m.driver_releases = v,
                "app_calls" => m.app_calls = v,
                "writer_calls" => m.writer_calls = v,
                other => panic!("field {other} missing from this test"),
            }
        }
        m
    }

    #[test]
    fn fields_name_every_counter_once_in_order() {
        let m = numbered();
        let fields = m.fields();
        assert_eq!(fields.len(), CostMeter::FIELDS);
        for (i, (_, v)) in fields.iter().enumerate() {
            assert_eq!(*v, 10 * (i as u64 + 1), "field {i}");
        }
        let mut names: Vec<_> = fields.iter().map(|(n, _)| *n).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CostMeter::FIELDS);
    }

    #[test]
    fn add_sub_and_since_are_per_field() {
        let a = numbered();
        let b = a + a;
        for ((_, x), (_, y)) in a.fields().iter().zip(b.fields().iter()) {
            assert_eq!(2 * x, *y);
        }
        assert_eq!(b - a, a);
        assert_eq!(b.since(&a), a);
        let mut c = a;
        c += a;
        assert_eq!(c, b);
        assert_eq!(a.since(&a), CostMeter::default());
    }

    #[test]
    fn since_wraps_instead_of_panicking() {
        let later = CostMeter::default();
        let earlier = CostMeter {
            polls: 1,
            ..CostMeter::default()
        };
        assert_eq!(later.since(&earlier).polls, u64::MAX);
        let max = CostMeter {
            polls: u64::MAX,
            ..CostMeter::default()
        };
        assert_eq!((max + earlier).polls, 0);
    }

    #[test]
    fn totals_add_up_their_fields() {
        let m = numbered();
        assert_eq!(
            m.headers_parsed(),
            m.eth_parsed + m.arp_parsed + m.ipv4_parsed + m.icmp_parsed + m.tcp_parsed
        );
        assert_eq!(
            m.headers_built(),
            m.eth_built
                + m.arp_built
                + m.ipv4_built
                + m.ipv4_templated
                + m.icmp_built
                + m.tcp_built
                + m.tcp_templated
        );
        assert_eq!(
            m.driver_calls(),
            m.driver_receives + m.driver_allocs + m.driver_transmits + m.driver_releases
        );
        assert_eq!(
            m.timer_ops(),
            m.timer_schedules + m.timer_cancels + m.timer_expiries
        );
    }
}
