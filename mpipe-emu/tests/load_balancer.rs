//! Load-balancer buckets in each mode, NotifRing capacity and wrap, and
//! credits.

mod common;
use common::*;
use mpipe_emu::{Bucket, BucketMode, Context, Delivery, Error, InjectDrop, Rules, ALLOC_FIXED};

const SRC: [u8; 4] = [10, 0, 0, 2];
const DST: [u8; 4] = [10, 0, 0, 1];

/// A source port whose flow lands in bucket offset `want` under `mask`.
fn sport_for(ctx: &Context, want: u32, mask: u32) -> u16 {
    (1024..u16::MAX)
        .find(|&p| ctx.flow_hasher().ipv4_ports(SRC, DST, p, 80) & mask == want)
        .unwrap()
}

fn flow(sport: u16) -> Vec<u8> {
    udp_frame(SRC, DST, sport, 80, b"lb")
}

fn ring_of(r: Delivery) -> Option<u8> {
    match r {
        Delivery::Delivered { ring, .. } => Some(ring),
        Delivery::Dropped(_) => None,
    }
}

#[test]
fn static_flow_affinity_maps_bucket_i_to_ring_i_mod_n_and_drops_when_full() {
    let mut s = setup(Opts {
        nrings: 4,
        nbuckets: 16,
        ..Opts::default()
    });
    for i in 0..16 {
        let b = s.ctx.bucket(s.bucket0 + i).unwrap();
        assert_eq!(u32::from(b.ring), s.rings[0] + i % 4);
        let p = sport_for(&s.ctx, i, 15);
        for _ in 0..3 {
            let r = s.ctx.inject(s.ch, &flow(p)).unwrap();
            assert_eq!(ring_of(r), Some((s.rings[0] + i % 4) as u8));
        }
    }
    // 128-entry ring: 127 usable. Bucket 1 → ring 1 already holds 12.
    let r1 = s.rings[1];
    let p = sport_for(&s.ctx, 1, 15);
    while s.ctx.ring_outstanding(r1).unwrap() < 127 {
        assert!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()).is_some());
    }
    assert_eq!(
        s.ctx.inject(s.ch, &flow(p)),
        Ok(Delivery::Dropped(InjectDrop::RingFull))
    );
    assert_eq!(s.ctx.ring_stats(r1).unwrap().dropped_full, 1);
    assert_eq!(s.ctx.stats().drop_ring_full, 1);
    // Other rings still accept; consuming one frees one entry.
    assert!(ring_of(s.ctx.inject(s.ch, &flow(sport_for(&s.ctx, 2, 15))).unwrap()).is_some());
    let d = s.ctx.iqueue_try_get(r1).unwrap();
    s.ctx.return_packet_buffers(&d);
    assert_eq!(
        ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()),
        Some(r1 as u8)
    );
}

#[test]
fn ring_wraps_over_slots_1_to_n_minus_1_and_peek_is_contiguous() {
    let mut s = setup(Opts {
        stacks: &[(mpipe_emu::BufferSize::B256, 300)],
        ..Opts::default()
    });
    let r = s.rings[0];
    let p = sport_for(&s.ctx, 0, 15);
    for i in 0..127u8 {
        let f = udp_frame(SRC, DST, p, 80, &[i; 20]);
        assert!(ring_of(s.ctx.inject(s.ch, &f).unwrap()).is_some());
    }
    assert_eq!(s.ctx.iqueue_try_peek(r), Ok(127));
    for _ in 0..100 {
        let d = s.ctx.iqueue_try_get(r).unwrap();
        s.ctx.return_packet_buffers(&d);
    }
    for i in 127..227u32 {
        let f = udp_frame(SRC, DST, p, 80, &[i as u8; 20]);
        assert!(ring_of(s.ctx.inject(s.ch, &f).unwrap()).is_some(), "{i}");
    }
    // Head at slot 101: 27 contiguous to the end, 127 ready in all.
    assert_eq!(s.ctx.iqueue_try_peek(r), Ok(27));
    assert_eq!(s.ctx.ring_outstanding(r), Ok(127));
    let mut sqn = Vec::new();
    for k in 0..127 {
        let d = s.ctx.iqueue_peek_at(r, k).unwrap();
        sqn.push(d.packet_sqn());
    }
    assert_eq!(sqn, (100..227).collect::<Vec<u64>>());
    // Order and payloads survive the wrap.
    for i in 100..227u32 {
        let d = s.ctx.iqueue_try_get(r).unwrap();
        let mut buf = [0u8; 128];
        let n = s.ctx.read_packet(&d, &mut buf).unwrap();
        assert_eq!(buf[n - 1], i as u8);
        s.ctx.return_packet_buffers(&d);
    }
    assert_eq!(s.ctx.iqueue_try_peek(r), Err(Error::IqueueEmpty));
    assert_eq!(s.ctx.iqueue_try_get(r), Err(Error::IqueueEmpty));
}

#[test]
fn credits_free_ring_space_and_are_checked() {
    let mut s = setup(Opts::default());
    let r = s.rings[0];
    let p = sport_for(&s.ctx, 0, 15);
    for _ in 0..127 {
        s.ctx.inject(s.ch, &flow(p)).unwrap();
    }
    // Advancing alone gives no credit: still full for the hardware.
    let d = s.ctx.iqueue_peek(r).unwrap();
    s.ctx.iqueue_advance(r, 1).unwrap();
    s.ctx.return_packet_buffers(&d);
    assert_eq!(
        s.ctx.inject(s.ch, &flow(p)),
        Ok(Delivery::Dropped(InjectDrop::RingFull))
    );
    s.ctx.credit(Some(r), None, 1).unwrap();
    assert!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()).is_some());
    // Release credits the descriptor's ring.
    let d = s.ctx.iqueue_peek(r).unwrap();
    s.ctx.iqueue_advance(r, 1).unwrap();
    s.ctx.iqueue_release(&d).unwrap();
    assert_eq!(s.ctx.ring_outstanding(r), Ok(126));
    // Crediting more than is outstanding is refused and counted.
    assert_eq!(s.ctx.credit(Some(r), None, 127), Err(Error::BadNotifRing));
    assert_eq!(s.ctx.ring_stats(r).unwrap().credit_errors, 1);
    assert_eq!(s.ctx.credit(Some(200), None, 1), Err(Error::BadNotifRing));
    assert_eq!(s.ctx.credit(None, Some(4000), 1), Err(Error::BadBucket));
    assert_eq!(s.ctx.iqueue_advance(r, 1000), Err(Error::IqueueEmpty));
}

#[test]
fn round_robin_spreads_one_flow_over_the_least_full_rings() {
    let mut s = setup(Opts {
        nrings: 4,
        nbuckets: 16,
        mode: BucketMode::RoundRobin,
        ..Opts::default()
    });
    let p = sport_for(&s.ctx, 0, 15);
    let mut seen = Vec::new();
    for _ in 0..40 {
        seen.push(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()).unwrap());
    }
    for w in seen.windows(2) {
        assert_ne!(w[0], w[1], "{seen:?}");
    }
    for &r in &s.rings {
        assert_eq!(s.ctx.ring_outstanding(r), Ok(10));
    }
    // Empty ring 2: the next four packets go there (it is the least full).
    while let Ok(d) = s.ctx.iqueue_try_get(s.rings[2]) {
        s.ctx.return_packet_buffers(&d);
    }
    for _ in 0..4 {
        assert_eq!(
            ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()),
            Some(s.rings[2] as u8)
        );
    }
}

/// Two rings with `mode` buckets for untagged frames, plus a static bucket
/// on the first ring for VLAN 1 frames (to preload it).
fn two_rings(mode: BucketMode) -> (Setup, u32) {
    let mut s = setup(Opts {
        nrings: 2,
        nbuckets: 16,
        mode,
        ..Opts::default()
    });
    let pre = s.ctx.alloc_buckets(4, 4096, ALLOC_FIXED).unwrap();
    let g = s.ctx.alloc_notif_groups(1, 0, 0).unwrap();
    s.ctx
        .init_notif_group_and_buckets(g, s.rings[0], 1, pre, 4, BucketMode::StaticFlowAffinity)
        .unwrap();
    let mut r = Rules::new();
    r.begin(pre, 1, None).unwrap();
    r.add_vlan(1).unwrap();
    r.begin(s.bucket0, 16, None).unwrap();
    s.ctx.commit_rules(&r).unwrap();
    (s, pre)
}

fn preload(s: &mut Setup, n: usize) {
    let mut f = udp_frame(SRC, DST, 9, 9, b"pre");
    f.splice(12..12, [0x81, 0x00, 0x00, 0x01]);
    for _ in 0..n {
        assert_eq!(
            ring_of(s.ctx.inject(s.ch, &f).unwrap()),
            Some(s.rings[0] as u8)
        );
    }
}

#[test]
fn dynamic_flow_affinity_moves_only_at_refcount_zero() {
    let (mut s, _) = two_rings(BucketMode::DynamicFlowAffinity);
    let (a, b) = (s.rings[0] as u8, s.rings[1] as u8);
    let p = sport_for(&s.ctx, 0, 15); // bucket offset 0 → ring A
    let bucket = s.bucket0;
    assert_eq!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()), Some(a));
    assert_eq!(s.ctx.bucket(bucket).unwrap().refcount, 1);
    preload(&mut s, 5);
    // References held: stays on the fuller ring.
    assert_eq!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()), Some(a));
    let Bucket { refcount, ring, .. } = s.ctx.bucket(bucket).unwrap();
    assert_eq!((refcount, ring), (2, a));
    // Consuming the flow's first packet releases one reference.
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert_eq!(u32::from(d.bucket_id()), bucket);
    assert_eq!(s.ctx.bucket(bucket).unwrap().refcount, 1);
    assert_eq!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()), Some(a));
    // A bucket credit brings it to zero: the next packet moves to B.
    s.ctx.credit(None, Some(bucket), 2).unwrap();
    assert_eq!(s.ctx.bucket(bucket).unwrap().refcount, 0);
    assert_eq!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()), Some(b));
    assert_eq!(s.ctx.bucket(bucket).unwrap().ring, b);
    assert_eq!(s.ctx.credit(None, Some(bucket), 2), Err(Error::BadBucket));
    // A full ring drops while references pin the bucket to it, even with
    // room on the other ring.
    while s.ctx.ring_outstanding(s.rings[1]).unwrap() < 127 {
        assert_eq!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()), Some(b));
    }
    assert!(s.ctx.ring_outstanding(s.rings[0]).unwrap() < 127);
    assert_eq!(
        s.ctx.inject(s.ch, &flow(p)),
        Ok(Delivery::Dropped(InjectDrop::RingFull))
    );
    assert_eq!(s.ctx.ring_stats(s.rings[1]).unwrap().dropped_full, 1);
}

#[test]
fn sticky_flow_locality_moves_when_full_and_drops_when_all_are() {
    let (mut s, _) = two_rings(BucketMode::StickyFlowLocality);
    let (a, b) = (s.rings[0] as u8, s.rings[1] as u8);
    let p = sport_for(&s.ctx, 0, 15);
    for _ in 0..100 {
        assert_eq!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()), Some(a));
    }
    preload(&mut s, 27); // A is full now
    for _ in 0..127 {
        assert_eq!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()), Some(b));
    }
    assert_eq!(s.ctx.bucket(s.bucket0).unwrap().ring, b);
    assert_eq!(
        s.ctx.inject(s.ch, &flow(p)),
        Ok(Delivery::Dropped(InjectDrop::RingFull))
    );
    // Room on A again: it moves there (B is still full), then sticks.
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    s.ctx.return_packet_buffers(&d);
    assert_eq!(ring_of(s.ctx.inject(s.ch, &flow(p)).unwrap()), Some(a));
}

#[test]
fn groups_buckets_and_modes_are_validated() {
    let mut ctx = Context::init(0).unwrap();
    assert_eq!(BucketMode::from_value(7), Err(Error::BadConfig));
    assert_eq!(BucketMode::from_value(4), Err(Error::BadConfig));
    assert_eq!(
        BucketMode::from_value(3),
        Ok(BucketMode::StickyFlowLocality)
    );
    // Buckets: lo range in chunks of 256, hi range (4096..4160) in chunks of 4.
    assert_eq!(ctx.alloc_buckets(1, 0, 0), Ok(0));
    assert_eq!(ctx.alloc_buckets(300, 0, 0), Ok(256));
    assert_eq!(ctx.alloc_buckets(4, 4100, ALLOC_FIXED), Ok(4100));
    assert_eq!(
        ctx.alloc_buckets(4, 4101, ALLOC_FIXED),
        Err(Error::NoBucket)
    );
    assert_eq!(
        ctx.alloc_buckets(8, 4092, ALLOC_FIXED),
        Err(Error::NoBucket)
    ); // spans lo and hi
    assert_eq!(ctx.alloc_buckets(4096, 0, 0), Err(Error::NoBucket));
    // Rings in chunks of 8; groups one at a time.
    assert_eq!(ctx.alloc_notif_rings(1, 0, 0), Ok(0));
    assert_eq!(ctx.alloc_notif_rings(1, 0, 0), Ok(8));
    assert_eq!(ctx.alloc_notif_rings(249, 0, 0), Err(Error::NoNotifRing));
    assert_eq!(ctx.alloc_notif_groups(32, 0, 0), Ok(0));
    assert_eq!(ctx.alloc_notif_groups(1, 0, 0), Err(Error::NoNotifGroup));
    assert_eq!(ctx.iqueue_init(0, 100), Err(Error::InvalMemorySize));
    assert_eq!(ctx.iqueue_init(20, 128), Err(Error::BadNotifRing));
    ctx.iqueue_init(0, 128).unwrap();
    let m = BucketMode::StaticFlowAffinity;
    let mut fresh = Context::init(0).unwrap();
    assert_eq!(
        fresh.init_notif_group_and_buckets(0, 0, 1, 0, 1, m),
        Err(Error::BadNotifGroup)
    );
    assert_eq!(
        ctx.init_notif_group_and_buckets(0, 1, 1, 0, 1, m),
        Err(Error::BadNotifRing)
    ); // not initialized
    assert_eq!(
        ctx.init_notif_group_and_buckets(0, 0, 0, 0, 1, m),
        Err(Error::BadNotifRing)
    );
    assert_eq!(
        ctx.init_notif_group_and_buckets(0, 0, 1, 3000, 1, m),
        Err(Error::BadBucket)
    );
    ctx.init_notif_group_and_buckets(0, 0, 1, 0, 256, BucketMode::DynamicFlowAffinity)
        .unwrap();
    assert_eq!(ctx.group_rings(0), Ok(vec![0]));
    assert_eq!(ctx.group_rings(40), Err(Error::BadNotifGroup));
    let b = ctx.bucket(5).unwrap();
    assert_eq!(
        b.state_word(),
        (BucketMode::DynamicFlowAffinity as u32) << 29
    );
    let b = Bucket {
        ring: 0xAB,
        refcount: 0x1234,
        group: 7,
        mode: BucketMode::StickyFlowLocality,
    };
    assert_eq!(b.state_word(), 0xAB | (0x1234 << 8) | (7 << 24) | (3 << 29));
    assert_eq!(ctx.bucket(300), Err(Error::BadBucket));
}
