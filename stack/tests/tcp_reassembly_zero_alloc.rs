//! The out-of-order queue allocates nothing after start-up: a counting
//! global allocator watches a 1 MiB stream of NIC-buffer frames (`Frame`s
//! from a `BufPool`) received out of order, with duplicates, reassembled
//! through `insert`, `pop_ready`, `sack_blocks` and `clear`.

use rusty_alloc_counter::{thread_allocations, CountingAllocator};

use rusty_stack::mem::buf::{BufPool, Frame, PoolConfig};
use rusty_stack::tcp::reassembly::{window_end, OooQueue, SegmentPool};
use rusty_stack::wire::TcpSeqNumber;

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

const HEADER: usize = 54;
const MSS: u32 = 1460;
const BUDGET: u32 = 8 * MSS;
const ISN: u32 = u32::MAX - 100_000;

/// The stream byte at offset `i`.
fn byte(i: u32) -> u8 {
    (i ^ (i >> 8) ^ (i >> 16)) as u8
}

struct Receiver {
    bufs: BufPool,
    pool: SegmentPool<Frame>,
    q: OooQueue,
    /// Stream offset of RCV.NXT.
    delivered: u32,
    frames_out: u64,
}

impl Receiver {
    fn rcv_nxt(&self) -> TcpSeqNumber {
        TcpSeqNumber(ISN).wrapping_add(self.delivered)
    }

    /// Receives the segment holding stream bytes `[at, at + MSS)`.
    fn receive(&mut self, at: u32) {
        let mut chain = self.bufs.alloc_chain(HEADER + MSS as usize).unwrap();
        let mut payload = [0u8; MSS as usize];
        for (i, b) in payload.iter_mut().enumerate() {
            *b = byte(at + i as u32);
        }
        let mut w = chain.cursor_mut();
        w.fill(0xee, HEADER).unwrap();
        w.write(&payload).unwrap();
        self.frames_out += 1;
        let rcv_nxt = self.rcv_nxt();
        let frames_out = &mut self.frames_out;
        let mut release = |c: Frame| {
            drop(c);
            *frames_out -= 1;
        };
        let out = self.pool.insert(
            &mut self.q,
            rcv_nxt,
            window_end(rcv_nxt, BUDGET),
            TcpSeqNumber(ISN).wrapping_add(at),
            HEADER as u32,
            MSS,
            chain,
            BUDGET,
            16,
            &mut release,
        );
        if let Some((c, _)) = out.into_rejected() {
            release(c);
        }
        let mut sack = [(TcpSeqNumber(0), TcpSeqNumber(0)); 3];
        let n = self.pool.sack_blocks(&self.q, &mut sack);
        assert!(n <= 3);
        loop {
            let rcv_nxt = TcpSeqNumber(ISN).wrapping_add(self.delivered);
            let Some(r) = self.pool.pop_ready(&mut self.q, rcv_nxt, &mut release) else {
                break;
            };
            let mut got = [0u8; MSS as usize];
            let len = r.len as usize;
            r.frame
                .cursor()
                .drop(r.offset as usize)
                .read(&mut got[..len])
                .unwrap();
            for (i, &b) in got[..len].iter().enumerate() {
                assert_eq!(b, byte(self.delivered + i as u32));
            }
            self.delivered += r.len;
            release(r.frame);
        }
    }
}

#[test]
fn zero_alloc_reassembly() {
    let mut rx = Receiver {
        bufs: BufPool::new(&PoolConfig::uniform(64).with_chaining(true)),
        pool: SegmentPool::new(32),
        q: OooQueue::new(),
        delivered: 0,
        frames_out: 0,
    };
    // Each group of eight segments arrives scrambled, with a duplicate and
    // an overlapping retransmission.
    let order = [3u32, 1, 7, 1, 0, 5, 2, 6, 4];
    let group = |rx: &mut Receiver, g: u32| {
        let base = g * 8 * MSS;
        for &k in &order {
            rx.receive(base + k * MSS);
        }
        rx.receive(base + 7 * MSS + MSS / 2);
    };
    group(&mut rx, 0); // warm-up: first use of every path
    let before = thread_allocations();
    for g in 1..90 {
        group(&mut rx, g);
    }
    let frames_out = &mut rx.frames_out;
    rx.pool.clear(&mut rx.q, |c| {
        drop(c);
        *frames_out -= 1;
    });
    let after = thread_allocations();
    assert_eq!(after - before, 0, "allocations after start-up");
    assert!(rx.delivered >= 90 * 8 * MSS);
    assert_eq!(rx.pool.free_entries(), 32);
    assert_eq!(rx.frames_out, 0, "every frame given back");
    assert_eq!(rx.bufs.in_use(), 0, "every buffer back in the pool");
}
