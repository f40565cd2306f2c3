//! The receive path, per frame: what it costs a [`Stack`] to take one
//! in-order 1460-byte data segment of an established connection, end to end
//! (`Driver::receive`, Ethernet and IPv4 parsing and checks, the IPv4 and
//! TCP checksums over the whole segment, the connection lookup, TCP input,
//! delivery to the application in place, the frame's release) including
//! its share of the ACKs, in steady state.
//!
//! Set-up (not timed): a client stack sending without end to a server stack
//! over the pair driver, until a few megabytes have flowed. Then the server
//! is driven alone by a bench driver that feeds it the client's next data
//! segments (copies of a captured segment with the sequence number moved
//! on and the checksum redone, prepared before each timed run) and throws
//! away the ACKs it sends. The application only counts the bytes; nothing
//! is copied, and every frame goes back to its pool once delivered, so the
//! loop is steady.
//!
//! Timed: `Stack::poll` calls until 1024 prepared frames are received, the
//! driver handing out `B` frames per poll (one receive batch). The figure
//! is the time of those polls divided by the frames received:
//!
//! * `rx_frame/batch/1` — one frame per poll: an ACK every second frame
//!   (the stack acknowledges at the end of a batch from the second
//!   unacknowledged segment on), and the delayed-ACK timer scheduled and
//!   cancelled in between; plus the poll's own overhead (timers, connects);
//! * `rx_frame/batch/32` — 32 frames per poll, one ACK per batch, as after a
//!   busy NIC interrupt or GRO.
//!
//! Throughput is in frames per second (elements) for the per-frame time.
//! TCP timestamps are off, so that a full segment carries 1460 bytes.
//!
//! Run: `cargo bench -p rusty-stack --bench rx_frame`.

mod common;

use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rusty_stack::nic::Capabilities;
use rusty_stack::Stack;

use common::{BenchDriver, Flow, Sink, Template, FULL_SEGMENT, MTU, NOW};

/// Frames prepared ahead and then received in one timed run.
const FRAMES_PER_RUN: usize = 1024;

/// The server of a flow, fed data segments `batch` at a time.
struct Receiver {
    stack: Stack<Sink>,
    driver: BenchDriver,
    data: Template,
    /// The sequence number of the next segment.
    next_seq: u32,
}

impl Receiver {
    fn new(batch: usize) -> Receiver {
        let flow = Flow::new(false);
        let caps = Capabilities::new(flow.ds.mac(), MTU);
        let (stack, data, next_seq) = flow.into_receiver();
        Receiver {
            stack,
            driver: BenchDriver::new(caps, FRAMES_PER_RUN, batch),
            data,
            next_seq,
        }
    }

    /// `FRAMES_PER_RUN` data segments, received by as many polls as the
    /// batch size needs; the time of the polls.
    fn timed_run(&mut self) -> Duration {
        let ack = self.data.fields.ack;
        for _ in 0..FRAMES_PER_RUN {
            let frame = self.data.frame(&self.driver.wire_pool, self.next_seq, ack);
            self.driver.push(frame);
            self.next_seq = self.next_seq.wrapping_add(FULL_SEGMENT);
        }
        let start = Instant::now();
        while self.driver.pending() > 0 {
            self.stack.poll(&mut self.driver, NOW);
        }
        start.elapsed()
    }
}

fn rx_frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("rx_frame");
    group.throughput(Throughput::Elements(1));
    for batch in [1usize, 32] {
        let mut receiver = Receiver::new(batch);
        let bytes_before = receiver.stack.app().bytes;
        let acks_before = receiver.driver.transmitted;
        let mut frames = 0u64;
        group.bench_function(BenchmarkId::new("batch", batch), |b| {
            b.iter_custom(|iters| {
                let mut time = Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    time += receiver.timed_run();
                    done += FRAMES_PER_RUN as u64;
                }
                frames += done;
                // Per frame: scale to `iters` frames.
                time.mul_f64(iters as f64 / done as f64)
            })
        });
        // Every frame was delivered in order, nothing dropped.
        let delivered = receiver.stack.app().bytes - bytes_before;
        assert_eq!(delivered, frames * u64::from(FULL_SEGMENT));
        assert_eq!(receiver.stack.iface().counters().total_drops(), 0);
        let acks = receiver.driver.transmitted - acks_before;
        eprintln!(
            "rx_frame/batch_{batch}: {frames} frames, {acks} ACKs ({:.1} frames per ACK)",
            frames as f64 / acks.max(1) as f64
        );
    }
    group.finish();
}

criterion_group!(benches, rx_frame);
criterion_main!(benches);
