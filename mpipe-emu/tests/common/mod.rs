//! Shared set-up for the integration tests: a context with one link, stacks,
//! rings, buckets and a rule; frames built with etherparse.
#![allow(dead_code)]

use etherparse::PacketBuilder;
use mpipe_emu::{BucketMode, BufferSize, Config, Context, Link, Rules};

/// A ready context.
pub struct Setup {
    pub ctx: Context,
    pub link: Link,
    pub ch: u8,
    pub stacks: Vec<u32>,
    pub rings: Vec<u32>,
    pub group: u32,
    pub bucket0: u32,
    pub nbuckets: u32,
}

/// Options of [`setup`].
pub struct Opts<'a> {
    pub config: Config,
    /// (size class, buffers) per stack.
    pub stacks: &'a [(BufferSize, usize)],
    pub nrings: u32,
    pub ring_entries: usize,
    pub nbuckets: u32,
    pub mode: BucketMode,
    /// Explicit stacks per size class (indices into `stacks`), else automatic.
    pub rule_stacks: Option<[u8; 8]>,
    pub headroom: Option<u8>,
    pub tailroom: Option<u8>,
    pub capacity: Option<u16>,
}

impl Default for Opts<'_> {
    fn default() -> Self {
        Opts {
            config: Config::default(),
            stacks: &[(BufferSize::B1664, 64)],
            nrings: 1,
            ring_entries: 128,
            nbuckets: 16,
            mode: BucketMode::StaticFlowAffinity,
            rule_stacks: None,
            headroom: None,
            tailroom: None,
            capacity: None,
        }
    }
}

pub fn setup(o: Opts<'_>) -> Setup {
    let mut ctx = Context::new(o.config).unwrap();
    let link = ctx.link_open("gbe0", 0).unwrap();
    let mut stacks = Vec::new();
    for &(size, n) in o.stacks {
        let s = ctx.alloc_buffer_stacks(1, 0, 0).unwrap();
        ctx.init_buffer_stack(s, size, n).unwrap();
        ctx.populate_buffer_stack(s, n).unwrap();
        stacks.push(s);
    }
    let ring0 = ctx.alloc_notif_rings(o.nrings, 0, 0).unwrap();
    let rings: Vec<u32> = (ring0..ring0 + o.nrings).collect();
    for &r in &rings {
        ctx.iqueue_init(r, o.ring_entries).unwrap();
    }
    let group = ctx.alloc_notif_groups(1, 0, 0).unwrap();
    let bucket0 = ctx.alloc_buckets(o.nbuckets, 0, 0).unwrap();
    ctx.init_notif_group_and_buckets(group, ring0, o.nrings, bucket0, o.nbuckets, o.mode)
        .unwrap();
    let mut rules = Rules::new();
    let explicit = o
        .rule_stacks
        .map(|idx| idx.map(|i| stacks[usize::from(i)] as u8));
    rules.begin(bucket0, o.nbuckets, explicit.as_ref()).unwrap();
    if let Some(h) = o.headroom {
        rules.set_headroom(h).unwrap();
    }
    if let Some(t) = o.tailroom {
        rules.set_tailroom(t).unwrap();
    }
    if let Some(c) = o.capacity {
        rules.set_capacity(c).unwrap();
    }
    ctx.commit_rules(&rules).unwrap();
    Setup {
        ch: link.channel,
        ctx,
        link,
        stacks,
        rings,
        group,
        bucket0,
        nbuckets: o.nbuckets,
    }
}

pub const PEER_MAC: [u8; 6] = [0x02, 0x11, 0x22, 0x33, 0x44, 0x55];

/// An Ethernet/IPv4/UDP frame with `payload`.
pub fn udp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(PEER_MAC, [0x02, 0, 0x5E, 0, 0, 0])
        .ipv4(src, dst, 64)
        .udp(sport, dport);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).unwrap();
    out
}

/// An Ethernet/IPv4/TCP frame with `payload`.
pub fn tcp_frame(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let b = PacketBuilder::ethernet2(PEER_MAC, [0x02, 0, 0x5E, 0, 0, 0])
        .ipv4(src, dst, 64)
        .tcp(sport, dport, 1000, 4096);
    let mut out = Vec::with_capacity(b.size(payload.len()));
    b.write(&mut out, payload).unwrap();
    out
}

/// A UDP frame of exactly `len` bytes (len ≥ 42).
pub fn udp_frame_len(len: usize, seed: u8) -> Vec<u8> {
    let payload: Vec<u8> = (0..len - 42)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect();
    udp_frame(
        [10, 0, 0, 2],
        [10, 0, 0, 1],
        1000 + u16::from(seed),
        80,
        &payload,
    )
}
