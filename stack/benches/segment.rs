//! The send path, per data segment: what it costs a [`Stack`] to build and
//! transmit one 1460-byte data segment of an established connection, end to
//! end (TCP output, the writer filling the NIC buffer, the checksum, IPv4
//! and Ethernet headers, the ARP lookup, `Driver::alloc_tx` and
//! `Driver::transmit`), in steady state.
//!
//! Set-up (not timed): a client stack sending without end to a server stack
//! over the pair driver, until a few megabytes have flowed. Then the client
//! is driven alone by a bench driver that feeds it the server's ACKs
//! (copies of a captured ACK with the acknowledgment number moved on) and
//! throws its frames away at once (their buffers go back to the pool, so
//! nothing grows). The server's window is 64 full segments; the client is
//! first brought to the point where 64 segments are in flight, where every
//! ACK that acknowledges `k` segments lets out exactly `k` new ones.
//!
//! Timed: `Stack::poll` calls, each receiving one ACK. The figure is the
//! time of those polls divided by the number of data segments transmitted,
//! so it includes the ACK's share (receive, parse, checksum check, ACK
//! processing, congestion control, timers), spread over the `k` segments
//! it releases:
//!
//! * `segment/ack_every_2/{copy,presummed}` — one ACK per two segments, as
//!   a receiver that acknowledges every second segment: half an ACK per
//!   segment;
//! * `segment/ack_every_64/{copy,presummed}` — one ACK per window (64
//!   segments): the cost of the segment itself, the ACK amortised away.
//!
//! `copy`: the writer copies the payload and the stack checksums it by
//! reading it back; `presummed`: the writer has a precomputed checksum table
//! ([`rusty_stack::prefix_sum::PrefixSums`], as the HTTP server's pages), so
//! the payload is copied but not read again. Throughput is in segments per
//! second (elements) for the per-segment time.
//!
//! TCP timestamps are off, so that a full segment carries 1460 bytes.
//!
//! Run: `cargo bench -p rusty-stack --bench segment`.

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rusty_stack::nic::Capabilities;
use rusty_stack::Stack;

use common::{
    BenchDriver, Blaster, Flow, TcpFields, Template, FULL_SEGMENT, MTU, NOW, WINDOW_SEGMENTS,
};

/// ACKs prepared ahead and then received in one timed run.
const ACKS_PER_RUN: usize = 32;

/// The client of a flow, fed ACKs of `k` segments each.
struct Sender {
    stack: Stack<Blaster>,
    driver: BenchDriver,
    ack: Template,
    /// The highest acknowledgment number sent to the client.
    acked: u32,
    /// The client's `snd_nxt`, as of the last frame it transmitted.
    snd_nxt: u32,
}

impl Sender {
    fn new(presummed: bool) -> Sender {
        let flow = Flow::new(presummed);
        let caps = Capabilities::new(flow.dc.mac(), MTU);
        let (stack, ack, acked, snd_nxt) = flow.into_sender();
        Sender {
            stack,
            driver: BenchDriver::new(caps, ACKS_PER_RUN, 1),
            ack,
            acked,
            snd_nxt,
        }
    }

    fn in_flight(&self) -> u32 {
        self.snd_nxt.wrapping_sub(self.acked)
    }

    /// Reads `snd_nxt` off the last frame transmitted.
    fn update_snd_nxt(&mut self) {
        if let Some(fields) = self.driver.last_tx.as_ref().and_then(TcpFields::of_frame) {
            if fields.seq_end().wrapping_sub(self.snd_nxt) < 1 << 31 {
                self.snd_nxt = fields.seq_end();
            }
        }
    }

    /// One ACK of `k` segments (or of everything in flight, if less), one
    /// poll, untimed: brings the client to a full window.
    fn step(&mut self, k: u32) {
        let bytes = (k * FULL_SEGMENT).min(self.in_flight());
        self.acked = self.acked.wrapping_add(bytes);
        let seq = self.ack.fields.seq;
        let frame = self.ack.frame(&self.driver.wire_pool, seq, self.acked);
        self.driver.push(frame);
        self.stack.poll(&mut self.driver, NOW);
        self.update_snd_nxt();
    }

    /// Runs untimed until `WINDOW_SEGMENTS` full segments are in flight
    /// after an ACK of `k` segments.
    fn reach_full_window(&mut self, k: u32) {
        for _ in 0..10_000 {
            self.step(k);
            if self.in_flight() == WINDOW_SEGMENTS * FULL_SEGMENT {
                return;
            }
        }
        panic!(
            "the sender did not reach a full window: {} bytes in flight",
            self.in_flight()
        );
    }

    /// `ACKS_PER_RUN` ACKs of `k` segments each, received by as many polls;
    /// the time of the polls and the number of frames they transmitted.
    fn timed_run(&mut self, k: u32) -> (Duration, u64) {
        // With a full window in flight, ACK `i` of the run acknowledges
        // data sent before it (each earlier ACK let `k` segments out).
        let seq = self.ack.fields.seq;
        for _ in 0..ACKS_PER_RUN {
            self.acked = self.acked.wrapping_add(k * FULL_SEGMENT);
            let frame = self.ack.frame(&self.driver.wire_pool, seq, self.acked);
            self.driver.push(frame);
        }
        let before = self.driver.transmitted;
        let start = Instant::now();
        for _ in 0..ACKS_PER_RUN {
            self.stack.poll(&mut self.driver, NOW);
        }
        let elapsed = start.elapsed();
        self.update_snd_nxt();
        (elapsed, self.driver.transmitted - before)
    }
}

fn segment(c: &mut Criterion) {
    let mut group = c.benchmark_group("segment");
    group.throughput(Throughput::Elements(1));
    for (writer, presummed) in [("copy", false), ("presummed", true)] {
        let mut sender = Sender::new(presummed);
        for k in [2u32, WINDOW_SEGMENTS] {
            sender.reach_full_window(k);
            let counters = sender.stack.tcp_counters().clone();
            let id = BenchmarkId::new(format!("ack_every_{k}"), writer);
            group.bench_function(id, |b| {
                b.iter_custom(|iters| {
                    let mut time = Duration::ZERO;
                    let mut frames = 0u64;
                    while frames < iters {
                        let (t, n) = sender.timed_run(k);
                        time += t;
                        frames += n;
                    }
                    // Per segment: scale to `iters` segments.
                    time.mul_f64(iters as f64 / frames as f64)
                })
            });
            // Still steady: a full window in flight, nothing resent, every
            // frame a full data segment.
            assert_eq!(sender.in_flight(), WINDOW_SEGMENTS * FULL_SEGMENT);
            assert_eq!(sender.stack.tcp_counters().retransmits, 0);
            assert_eq!(sender.stack.iface().counters().total_drops(), 0);
            let now = sender.stack.tcp_counters();
            let segments = now.segments_out - counters.segments_out;
            assert_eq!(
                now.bytes_sent - counters.bytes_sent,
                segments * u64::from(FULL_SEGMENT)
            );
        }
    }
    group.finish();
}

criterion_group!(benches, segment);
criterion_main!(benches);
