//! Property tests of the out-of-order queue against a byte-stream model:
//! streams cut into random, overlapping, duplicated segments, delivered in
//! random order through `insert` and `pop_ready`, must reach the
//! application exactly once, in order, with every frame handed back.

use proptest::prelude::*;
use proptest::sample::Index;
use rusty_stack::tcp::reassembly::{window_end, OooQueue, SegmentPool};
use rusty_stack::wire::TcpSeqNumber;

/// A test frame: its id, and header + payload + trailer bytes.
type Frame = (usize, Vec<u8>);

/// Header byte, never part of a payload check.
const HEADER: u8 = 0xa5;

#[derive(Clone, Debug)]
struct Limits {
    budget: u32,
    /// Advertised window (right edge `rcv_nxt + window`).
    window: u32,
    max_entries: u16,
    /// Pool entries (shared by all connections of a case).
    capacity: u32,
    /// Whether everything must be delivered without retransmission.
    large: bool,
}

#[derive(Clone, Debug)]
struct Stream {
    isn: u32,
    data: Vec<u8>,
    /// The sender's segmentation: consecutive `(start, len)` covering `data`.
    cuts: Vec<(u32, u32)>,
    /// Header length of this stream's frames.
    header: u32,
}

/// One connection's receive side plus its application model.
struct Conn {
    stream: Stream,
    q: OooQueue,
    /// Bytes delivered so far (relative to `isn`).
    app: Vec<u8>,
}

impl Conn {
    fn rcv_nxt(&self) -> TcpSeqNumber {
        TcpSeqNumber(self.stream.isn).wrapping_add(self.app.len() as u32)
    }

    fn done(&self) -> bool {
        self.app.len() == self.stream.data.len()
    }
}

struct World {
    pool: SegmentPool<Frame>,
    limits: Limits,
    /// How many times each frame came back (must end at exactly one).
    returned: Vec<u32>,
}

impl World {
    /// Sends `data[start..start + len]` of connection `c` as a new frame,
    /// then delivers everything ready. With `direct`, a segment holding
    /// `RCV.NXT` is delivered straight to the application, as a TCB's fast
    /// path does, instead of going through the queue.
    fn send(&mut self, c: &mut Conn, start: u32, len: u32, direct: bool) {
        let id = self.returned.len();
        self.returned.push(0);
        let s = &c.stream;
        let mut bytes = vec![HEADER; s.header as usize];
        bytes.extend_from_slice(&s.data[start as usize..(start + len) as usize]);
        bytes.extend_from_slice(&[0x5a; 3]);
        let at = c.app.len() as u32;
        if direct && start <= at && at < start + len {
            let from = (s.header + at - start) as usize;
            let to = (s.header + len) as usize;
            let new = bytes[from..to].to_vec();
            c.app.extend_from_slice(&new);
            self.returned[id] += 1;
            self.deliver(c);
            return;
        }
        let rcv_nxt = c.rcv_nxt();
        let returned = &mut self.returned;
        let out = self.pool.insert(
            &mut c.q,
            rcv_nxt,
            rcv_nxt.wrapping_add(self.limits.window),
            TcpSeqNumber(s.isn).wrapping_add(start),
            s.header,
            len,
            (id, bytes),
            self.limits.budget,
            self.limits.max_entries,
            |f| returned[f.0] += 1,
        );
        if let Some((frame, _reason)) = out.into_rejected() {
            assert_eq!(frame.0, id);
            self.returned[id] += 1;
        }
        self.deliver(c);
    }

    /// Delivers everything ready in `c`'s queue, checking every byte.
    fn deliver(&mut self, c: &mut Conn) {
        loop {
            let rcv_nxt = c.rcv_nxt();
            let returned = &mut self.returned;
            let Some(r) = self
                .pool
                .pop_ready(&mut c.q, rcv_nxt, |f| returned[f.0] += 1)
            else {
                break;
            };
            assert!(r.len >= 1);
            let (off, len) = (r.offset as usize, r.len as usize);
            assert!(off >= c.stream.header as usize);
            let bytes = &r.frame.1[off..off + len];
            let at = c.app.len();
            assert!(at + len <= c.stream.data.len(), "delivered past the end");
            assert_eq!(bytes, &c.stream.data[at..at + len], "wrong bytes at {at}");
            c.app.extend_from_slice(bytes);
            self.returned[r.frame.0] += 1;
        }
        self.check(c);
    }

    /// Queue invariants after every operation.
    fn check(&self, c: &Conn) {
        let rcv_nxt = c.rcv_nxt();
        let budget = self.limits.budget;
        assert!(c.q.held_bytes() <= budget);
        assert!(c.q.len() <= usize::from(self.limits.max_entries));
        let end = window_end(rcv_nxt, budget);
        let mut held = 0u32;
        let mut prev: Option<TcpSeqNumber> = None;
        let blocks: Vec<_> = self.pool.blocks(&c.q).collect();
        for &(l, r) in &blocks {
            assert!(l > rcv_nxt, "block {l}..{r} not after rcv_nxt {rcv_nxt}");
            assert!(r > l && r <= end);
            if let Some(p) = prev {
                assert!(l > p, "blocks not merged or not sorted");
            }
            prev = Some(r);
            held += (r - l) as u32;
        }
        assert_eq!(held, c.q.held_bytes());
        let mut sack = [(TcpSeqNumber(0), TcpSeqNumber(0)); 4];
        let n = self.pool.sack_blocks(&c.q, &mut sack);
        assert_eq!(n, blocks.len().min(4));
        for (i, b) in sack[..n].iter().enumerate() {
            assert!(blocks.contains(b));
            assert!(!sack[..i].contains(b));
        }
    }

    /// Holds the pool-wide accounting.
    fn check_pool(&self, conns: &[Conn]) {
        let held: usize = conns.iter().map(|c| c.q.len()).sum();
        assert_eq!(
            self.pool.free_entries() + held,
            self.limits.capacity as usize
        );
    }
}

fn stream() -> impl Strategy<Value = Stream> {
    (
        prop_oneof![any::<u32>(), (u32::MAX - 3000)..=u32::MAX],
        proptest::collection::vec(any::<u8>(), 1..2500),
        proptest::collection::vec(1u32..400, 1..20),
        0u32..40,
    )
        .prop_map(|(isn, data, sizes, header)| {
            let mut cuts = Vec::new();
            let mut at = 0u32;
            for &size in sizes.iter().cycle() {
                if at as usize >= data.len() {
                    break;
                }
                let len = size.min(data.len() as u32 - at);
                cuts.push((at, len));
                at += len;
            }
            Stream {
                isn,
                data,
                cuts,
                header,
            }
        })
}

fn limits(large: bool) -> impl Strategy<Value = Limits> {
    if large {
        Just(Limits {
            budget: 1 << 20,
            window: 1 << 20,
            max_entries: u16::MAX,
            capacity: 4096,
            large: true,
        })
        .boxed()
    } else {
        (1u32..3000, 1u32..4000, 1u16..12, 1u32..16)
            .prop_map(|(budget, window, max_entries, capacity)| Limits {
                budget,
                window,
                max_entries,
                capacity,
                large: false,
            })
            .boxed()
    }
}

/// The segments a stream's sender emits, in delivery order: its cuts, some
/// extra overlapping ranges, and duplicates, shuffled. `(conn, start, len)`.
fn traffic(streams: Vec<Stream>, extras: Vec<(Index, Index, u32)>, dups: Vec<Index>) -> Vec<Seg> {
    let mut segs: Vec<Seg> = streams
        .iter()
        .enumerate()
        .flat_map(|(c, s)| s.cuts.iter().map(move |&(a, l)| (c, a, l)))
        .collect();
    for (c, at, len) in extras {
        let c = c.index(streams.len());
        let n = streams[c].data.len();
        let at = at.index(n);
        let len = len.min((n - at) as u32);
        segs.push((c, at as u32, len));
    }
    for d in dups {
        let seg = segs[d.index(segs.len())];
        segs.push(seg);
    }
    segs
}

/// A segment: connection, start in the stream, length.
type Seg = (usize, u32, u32);

/// Streams, limits, the shuffled traffic, and for each segment whether an
/// in-order one is delivered directly (bypassing the queue).
type Scenario = (Vec<Stream>, Limits, Vec<Seg>, Vec<bool>);

fn scenario(conns: usize, large: bool) -> impl Strategy<Value = Scenario> {
    (
        proptest::collection::vec(stream(), conns),
        limits(large),
        proptest::collection::vec((any::<Index>(), any::<Index>(), 1u32..800), 0..20),
        proptest::collection::vec(any::<Index>(), 0..20),
    )
        .prop_flat_map(|(streams, limits, extras, dups)| {
            let segs = traffic(streams.clone(), extras, dups);
            let direct = proptest::collection::vec(any::<bool>(), segs.len());
            (
                Just(streams),
                Just(limits),
                Just(segs).prop_shuffle(),
                direct,
            )
        })
}

/// Runs a scenario: the shuffled traffic, then retransmissions from
/// `RCV.NXT` until every stream is delivered, then `clear`.
fn run((streams, limits, segs, direct): Scenario) {
    let mut world = World {
        pool: SegmentPool::new(limits.capacity),
        limits,
        returned: Vec::new(),
    };
    let mut conns: Vec<Conn> = streams
        .into_iter()
        .map(|stream| Conn {
            stream,
            q: OooQueue::new(),
            app: Vec::new(),
        })
        .collect();
    for ((c, start, len), direct) in segs.into_iter().zip(direct) {
        world.send(&mut conns[c], start, len, direct);
        world.check_pool(&conns);
    }
    if world.limits.large {
        assert!(conns.iter().all(Conn::done), "large budget: all delivered");
        assert!(conns.iter().all(|c| c.q.is_empty()));
    }
    // Retransmission: each round, every unfinished connection resends the
    // original segment holding RCV.NXT, which arrives in order and is
    // delivered directly, as the TCP layer does (a full queue refuses new
    // segments rather than give up held, possibly SACKed, data); every
    // connection progresses.
    while !conns.iter().all(Conn::done) {
        let before: usize = conns.iter().map(|c| c.app.len()).sum();
        for c in conns.iter_mut().filter(|c| !c.done()) {
            let at = c.app.len() as u32;
            let &(start, len) = c
                .stream
                .cuts
                .iter()
                .find(|&&(a, l)| a <= at && at < a + l)
                .expect("cuts cover the stream");
            world.send(c, start, len, true);
        }
        world.check_pool(&conns);
        let after: usize = conns.iter().map(|c| c.app.len()).sum();
        assert!(after > before, "no progress");
    }
    for c in &mut conns {
        let returned = &mut world.returned;
        world.pool.clear(&mut c.q, |f| returned[f.0] += 1);
        assert_eq!(c.app, c.stream.data);
    }
    assert_eq!(world.pool.free_entries(), world.limits.capacity as usize);
    for (id, &n) in world.returned.iter().enumerate() {
        assert_eq!(n, 1, "frame {id} came back {n} times");
    }
}

proptest! {
    #[test]
    fn reassembly_small_limits_deliver_exactly_once(sc in scenario(1, false)) {
        run(sc);
    }

    #[test]
    fn reassembly_large_budget_delivers_everything(sc in scenario(1, true)) {
        run(sc);
    }

    #[test]
    fn reassembly_two_queues_share_a_small_pool(sc in scenario(2, false)) {
        run(sc);
    }
}
