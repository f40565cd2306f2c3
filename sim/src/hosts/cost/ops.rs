//! Prices of the operations a [`CostMeter`] counts, by field name.
//!
//! [`INSTRUCTIONS`]: x86 instructions our stack executes per counted unit,
//! in thousandths. Source: callgrind on `rusty-sim bench --stack rusty
//! --conns 1` (release build, 2026-12-02; the difference between runs of
//! 1,000 and 3,000 requests, both ends, 415 k instructions per request
//! with the meter on), split over the operations by the functions that do
//! them. (The build of 2026-12-03 executes 435 k: its AVX2 receive sum
//! saves 22 k and its prefetch hints add 27 k; both are x86-specific and
//! not priced, see the checksum line below and `rusty_stack::mem::prefetch`.)
//!
//! * receive: `Interface::process` (about 730 per frame, of which the IPv4
//!   header parse 230 and the payload view 250), `demux::parse` with the
//!   TCP header (about 300 besides its checksum), the connection lookup,
//!   `process_data` (about 460 per segment besides the app);
//! * checksum: `checksum::sum_run` and `ones_sum`, 0.41 per byte summed
//!   (the portable 64-bit loop; on x86 CPUs with AVX2 the stack now runs
//!   the same loop with 256-bit vectors, 0.21 per byte, which a TILE-Gx
//!   tile has no counterpart for, so the price stays the portable one's);
//! * send: `send_segment` besides its writer closure, about 840 per
//!   segment (the templated headers, the buffer, the transmit), the writer
//!   closure about 280 per piece besides the copy and the sums, the copy
//!   (glibc's AVX `memcpy`) 0.123 per byte, a precomputed sum
//!   (`HttpWriter::sum`) about 240;
//! * a poll of the stack besides its frames about 1,500;
//! * an app handler call about 300 (its own work, like the client's byte
//!   compare, is the application's and not priced here).
//!
//! Of the 415.4 k, 19.0 k are the client's byte compare (`memcmp`,
//! application work, not priced); priced with these tables, a bench
//! request's meter counts come to within 5% of the other 396.4 k
//! (`sim/tests/cost_profiles.rs` checks it). The byte prices are those of
//! x86 with AVX; a TILE-Gx tile moves 8 bytes per load or store, but its
//! copy's cost is dominated by the memory stalls [`super::MemoryCosts`]
//! prices apart.
//!
//! [`ALLOCATIONS_2015`]: dynamic allocations (thousandths) the original
//! C++ stack made per counted unit (thesis chapter 4 and its
//! introduction: timers in a `std::map`, a `shared_ptr` per buffer,
//! closures, transmit-queue entries, TCBs).
//!
//! [`CostMeter`]: rusty_stack::meter::CostMeter

/// x86 instructions per counted unit, thousandths, by meter field name.
pub const INSTRUCTIONS: &[(&str, u64)] = &[
    ("polls", 1_500_000),
    ("frames_rx", 250_000),
    ("bytes_rx", 0),
    ("frames_tx", 300_000),
    ("bytes_tx", 0),
    ("eth_parsed", 30_000),
    ("arp_parsed", 300_000),
    ("ipv4_parsed", 230_000),
    ("icmp_parsed", 200_000),
    ("tcp_parsed", 300_000),
    ("eth_built", 40_000),
    ("arp_built", 300_000),
    ("ipv4_built", 200_000),
    ("ipv4_templated", 60_000),
    ("icmp_built", 200_000),
    ("tcp_built", 500_000),
    ("tcp_templated", 250_000),
    ("bytes_copied", 123),
    // A slot popped from a free stack and linked into the frame: priced as
    // `driver_allocs` (not measured on its own; the simulated NIC copies
    // frames onto its links and offers no reference slots).
    ("tx_references", 120_000),
    ("bytes_checksummed", 410),
    ("prefix_sum_lookups", 240_000),
    ("timer_schedules", 80_000),
    ("timer_cancels", 60_000),
    ("timer_expiries", 150_000),
    // A lookup and the segment's processing (`process_data`).
    ("conn_lookups", 460_000),
    ("listener_lookups", 200_000),
    ("conn_table_ops", 400_000),
    ("driver_receives", 80_000),
    ("driver_allocs", 120_000),
    ("driver_transmits", 120_000),
    ("driver_releases", 60_000),
    ("app_calls", 300_000),
    ("writer_calls", 280_000),
];

/// Dynamic allocations of the original stack per counted unit,
/// thousandths, by meter field name.
pub const ALLOCATIONS_2015: &[(&str, u64)] = &[
    // A node of the timer tree (`std::map`) per timer scheduled.
    ("timer_schedules", 1000),
    // A `shared_ptr` per buffer: every frame received ...
    ("frames_rx", 1000),
    // ... and every transmit buffer allocated.
    ("driver_allocs", 1000),
    // A closure per app callback.
    ("app_calls", 1000),
    // A transmit-queue entry per piece written.
    ("writer_calls", 1000),
    // A TCB per connection inserted (and freed at removal).
    ("conn_table_ops", 1000),
];

#[cfg(test)]
mod tests {
    use super::*;
    use rusty_stack::meter::CostMeter;

    #[test]
    fn every_priced_name_is_a_meter_field_and_every_field_is_priced() {
        let fields = CostMeter::default().fields();
        let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
        for (name, _) in INSTRUCTIONS.iter().chain(ALLOCATIONS_2015) {
            assert!(names.contains(name), "{name} is not a CostMeter field");
        }
        for name in names {
            assert!(
                INSTRUCTIONS.iter().any(|(n, _)| *n == name),
                "CostMeter field {name} has no instruction price"
            );
        }
    }
}
