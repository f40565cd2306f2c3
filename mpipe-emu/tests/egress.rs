//! eDMA rings and equeues: generation bits across wraps, out-of-order
//! posting, reservation limits, gather, `ns`, `hwb`, chained egress,
//! checksum offload against etherparse, completion counts, link state.

mod common;
use common::*;
use mpipe_emu::link::attr;
use mpipe_emu::{BDesc, BufferSize, Chain, Config, Context, EDesc, Error};

struct Tx {
    s: Setup,
    ering: u32,
    stack: u32,
}

fn tx(entries: usize, config: Config) -> Tx {
    let mut s = setup(Opts {
        config,
        stacks: &[(BufferSize::B128, 64), (BufferSize::B1664, 64)],
        ..Opts::default()
    });
    let ering = s.ctx.alloc_edma_rings(1, 0, 0).unwrap();
    s.ctx.equeue_init(ering, u32::from(s.ch), entries).unwrap();
    let stack = s.stacks[1];
    Tx { s, ering, stack }
}

/// Pops a buffer and writes `bytes` at `off`; returns its bdesc (va + off).
fn filled(t: &mut Tx, off: usize, bytes: &[u8]) -> BDesc {
    let stack = t.stack;
    let mut b = t.s.ctx.pop_buffer_bdesc(stack).unwrap();
    assert_eq!(b.c(), Chain::Unchained);
    t.s.ctx.buffer_mut(b).unwrap()[off..off + bytes.len()].copy_from_slice(bytes);
    b.set_va(b.va() + off as i64);
    b
}

fn edesc(b: BDesc, len: usize, bound: bool, hwb: bool) -> EDesc {
    let mut e = EDesc::default();
    e.set_bdesc(b);
    e.set_xfer_size(len as u32);
    e.set_bound(bound);
    e.set_hwb(hwb);
    e
}

fn pop(t: &mut Tx) -> Option<Vec<u8>> {
    let mut out = vec![0u8; 20000];
    let n = t.s.ctx.egress_pop(t.s.ch, &mut out).unwrap()?;
    out.truncate(n);
    Some(out)
}

#[test]
fn generation_bit_alternates_across_ring_wraps_and_completions_count() {
    let mut t = tx(512, Config::default());
    let b = filled(&mut t, 0, &udp_frame_len(60, 1));
    for slot in 0..1300u64 {
        t.s.ctx
            .equeue_put(t.ering, edesc(b, 60, true, false))
            .unwrap();
        let stored = t.s.ctx.edma_descriptor(t.ering, slot).unwrap();
        let lap = slot / 512;
        assert_eq!(stored.gen(), u8::from(lap % 2 == 0), "slot {slot}");
        assert!(t.s.ctx.equeue_is_complete(t.ering, slot).unwrap());
        assert!(!t.s.ctx.equeue_is_complete(t.ering, slot + 1).unwrap());
        if slot % 500 == 0 {
            t.s.ctx.drain_egress(t.s.ch, |_| {}).unwrap();
        }
    }
    assert_eq!(t.s.ctx.edma_completion_count(t.ering), Ok(1300));
    let st = t.s.ctx.edma_stats(t.ering).unwrap();
    assert_eq!(
        (st.descriptors, st.frames, st.buffers_returned),
        (1300, 1300, 0)
    );
    // The 16-bit completion count rolls over.
    for _ in 1300..65536 + 5 {
        t.s.ctx
            .equeue_put(t.ering, edesc(b, 60, true, false))
            .unwrap();
        if t.s.ctx.egress_len(t.s.ch).unwrap() >= 1000 {
            t.s.ctx.drain_egress(t.s.ch, |_| {}).unwrap();
        }
    }
    assert_eq!(t.s.ctx.edma_completion_count(t.ering), Ok(5));
    // A 24-bit slot from reserve_fast is accepted by put_at.
    let fast = t.s.ctx.equeue_reserve_fast(t.ering, 1).unwrap();
    assert_eq!(u64::from(fast), (65536 + 5) & 0xFF_FFFF);
    t.s.ctx
        .equeue_put_at(t.ering, edesc(b, 60, true, false), u64::from(fast))
        .unwrap();
    assert!(t.s.ctx.equeue_is_complete(t.ering, 65536 + 5).unwrap());
}

#[test]
fn out_of_order_posts_are_sent_in_slot_order_after_a_wrap() {
    let mut t = tx(512, Config::default());
    let b = filled(&mut t, 0, &[0u8; 64]);
    for _ in 0..510 {
        t.s.ctx
            .equeue_put(t.ering, edesc(b, 64, true, false))
            .unwrap();
    }
    t.s.ctx.drain_egress(t.s.ch, |_| {}).unwrap();
    // Slots 510..515 straddle the wrap; ring memory holds last lap's
    // descriptors (gen 1) at 512.., which must not be taken as posted.
    let first = t.s.ctx.equeue_reserve(t.ering, 5).unwrap();
    assert_eq!(first, 510);
    let frames: Vec<BDesc> = (0..5u8).map(|i| filled(&mut t, 0, &[i; 64])).collect();
    for k in [4u64, 2, 3] {
        t.s.ctx
            .equeue_put_at(
                t.ering,
                edesc(frames[k as usize], 64, true, false),
                first + k,
            )
            .unwrap();
    }
    assert_eq!(t.s.ctx.egress_len(t.s.ch), Ok(0));
    assert!(!t.s.ctx.equeue_is_complete(t.ering, first).unwrap());
    t.s.ctx
        .equeue_put_at(t.ering, edesc(frames[0], 64, true, false), first)
        .unwrap();
    assert_eq!(t.s.ctx.egress_len(t.s.ch), Ok(1));
    t.s.ctx
        .equeue_put_at(t.ering, edesc(frames[1], 64, true, false), first + 1)
        .unwrap();
    let got: Vec<u8> = std::iter::from_fn(|| pop(&mut t)).map(|f| f[0]).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    assert_eq!(t.s.ctx.edma_descriptor(t.ering, 513).unwrap().gen(), 0);
    // Posting twice, or to a slot never reserved, is refused.
    assert_eq!(
        t.s.ctx
            .equeue_put_at(t.ering, edesc(b, 64, true, false), first),
        Err(Error::BadConfig)
    );
    assert_eq!(
        t.s.ctx
            .equeue_put_at(t.ering, edesc(b, 64, true, false), 9999),
        Err(Error::BadConfig)
    );
}

#[test]
fn reservations_are_bounded_by_the_ring() {
    let mut t = tx(512, Config::default());
    assert_eq!(t.s.ctx.equeue_reserve(t.ering, 512), Ok(0));
    assert_eq!(t.s.ctx.equeue_reserve(t.ering, 1), Err(Error::Busy));
    assert_eq!(t.s.ctx.equeue_reserve(t.ering, 0), Err(Error::Busy));
    let mut ctx = Context::init(0).unwrap();
    assert_eq!(ctx.equeue_init(0, 0, 512), Err(Error::BadEdmaRing));
    let e = ctx.alloc_edma_rings(1, 0, 0).unwrap();
    assert_eq!(
        ctx.equeue_init(e, 0, 512),
        Err(Error::BadChannel),
        "link not open"
    );
    ctx.link_open("gbe3", 0).unwrap();
    assert_eq!(ctx.equeue_init(e, 3, 500), Err(Error::InvalMemorySize));
    ctx.equeue_init(e, 3, 2048).unwrap();
    assert_eq!(ctx.edma_entries(e), Ok(2048));
    assert_eq!(ctx.alloc_edma_rings(24, 0, 0), Err(Error::NoEdmaRing));
    assert_eq!(ctx.alloc_edma_rings(23, 0, 0), Ok(1));
}

#[test]
fn gather_ns_and_hwb() {
    let mut t = tx(512, Config::default());
    let full = t.s.ctx.stack_len(t.stack).unwrap();
    let parts: [&[u8]; 3] = [&[1; 20], &[2; 30], &[3; 40]];
    let bds: Vec<BDesc> = parts
        .iter()
        .enumerate()
        .map(|(i, p)| filled(&mut t, i * 3, p))
        .collect();
    for (i, b) in bds.iter().enumerate() {
        t.s.ctx
            .equeue_put(t.ering, edesc(*b, parts[i].len(), i == 2, true))
            .unwrap();
        assert_eq!(t.s.ctx.egress_len(t.s.ch), Ok(usize::from(i == 2)));
    }
    assert_eq!(pop(&mut t).unwrap(), parts.concat());
    assert_eq!(t.s.ctx.stack_len(t.stack), Ok(full));
    // ns: nothing sent, buffers still returned.
    let b = filled(&mut t, 0, &[9; 60]);
    let mut e = edesc(b, 60, true, true);
    e.set_ns(true);
    t.s.ctx.equeue_put(t.ering, e).unwrap();
    assert_eq!(pop(&mut t), None);
    assert_eq!(t.s.ctx.stack_len(t.stack), Ok(full));
    // hwb = 0: software keeps the buffer.
    let b = filled(&mut t, 0, &[8; 60]);
    t.s.ctx
        .equeue_put(t.ering, edesc(b, 60, true, false))
        .unwrap();
    assert_eq!(pop(&mut t).unwrap(), vec![8; 60]);
    assert_eq!(t.s.ctx.stack_len(t.stack), Ok(full - 1));
    // A descriptor outside registered memory discards the packet.
    t.s.ctx
        .equeue_put(
            t.ering,
            edesc(BDesc::new(1 << 30, 0, 4, Chain::Unchained), 60, true, false),
        )
        .unwrap();
    assert_eq!(pop(&mut t), None);
    // hwb with a size that does not match the stack is not pushed.
    let mut wrong = filled(&mut t, 0, &[7; 60]);
    wrong.set_size(0);
    t.s.ctx
        .equeue_put(t.ering, edesc(wrong, 60, true, true))
        .unwrap();
    assert_eq!(pop(&mut t).unwrap(), vec![7; 60]);
    let st = t.s.ctx.edma_stats(t.ering).unwrap();
    assert_eq!(
        (
            st.no_send,
            st.bad_packets,
            st.return_errors,
            st.buffers_returned
        ),
        (1, 1, 1, 4)
    );
    assert_eq!((st.frames, st.descriptors), (3, 7));
}

#[test]
fn chained_ingress_packet_goes_back_out_with_hwb() {
    let mut t = tx(512, Config::default());
    let link = t.s.link;
    t.s.ctx
        .link_set_attr(&link, attr::RECEIVE_JUMBO, 1)
        .unwrap();
    // A rule sending everything to the 128-byte stack: a jumbo frame chains.
    let mut r = mpipe_emu::Rules::new();
    r.begin(t.s.bucket0, t.s.nbuckets, Some(&[t.s.stacks[0] as u8; 8]))
        .unwrap();
    t.s.ctx.commit_rules(&r).unwrap();
    let small = t.s.stacks[0];
    let before = t.s.ctx.stack_len(small).unwrap();
    let frame = udp_frame_len(5000, 4);
    let frame = &frame[..];
    let mut out = vec![0u8; 6000];
    // 5000 bytes need 42 buffers of 128; the stack has 64.
    t.s.ctx.inject(t.s.ch, frame).unwrap();
    let d = t.s.ctx.iqueue_try_get(t.s.rings[0]).unwrap();
    assert_eq!(d.c(), Chain::Chained);
    assert_eq!(t.s.ctx.read_packet(&d, &mut out), Ok(5000));
    assert!(t.s.ctx.stack_len(small).unwrap() < before);
    t.s.ctx.equeue_put(t.ering, EDesc::copy_idesc(&d)).unwrap();
    assert_eq!(pop(&mut t).as_deref(), Some(frame));
    assert_eq!(t.s.ctx.stack_len(small), Ok(before));
}

#[test]
fn checksum_offload_matches_etherparse() {
    let mut t = tx(512, Config::default());
    let payload: Vec<u8> = (0..333u32).map(|i| (i * 7) as u8).collect();
    let (src, dst) = ([192, 168, 1, 2], [192, 168, 1, 77]);
    let good = udp_frame(src, dst, 4000, 53, &payload);
    let want = etherparse::UdpHeader::with_ipv4_checksum(
        4000,
        53,
        &etherparse::Ipv4Header::new(
            (8 + payload.len()) as u16,
            64,
            etherparse::IpNumber::UDP,
            src,
            dst,
        )
        .unwrap(),
        &payload,
    )
    .unwrap()
    .checksum;
    assert_eq!(u16::from_be_bytes([good[40], good[41]]), want);
    let udp_len = (8 + payload.len()) as u64;
    let mut pseudo = 0u64;
    for w in [&src[..], &dst[..]] {
        pseudo += u64::from(u16::from_be_bytes([w[0], w[1]]))
            + u64::from(u16::from_be_bytes([w[2], w[3]]));
    }
    pseudo += 17 + udp_len;
    while pseudo > 0xFFFF {
        pseudo = (pseudo & 0xFFFF) + (pseudo >> 16);
    }
    // Linux's way: pseudo-header sum pre-loaded in the check field, seed 0;
    // and the other way: check field 0, the pseudo sum as the seed. Header
    // and payload in two descriptors: the sum runs to the end of the packet.
    for preload in [true, false] {
        let mut f = good.clone();
        let field = if preload { pseudo as u16 } else { 0 };
        f[40..42].copy_from_slice(&field.to_be_bytes());
        let h = filled(&mut t, 0, &f[..42]);
        let p = filled(&mut t, 0, &f[42..]);
        let mut e = edesc(h, 42, false, true);
        e.set_csum(true);
        e.set_csum_start(34);
        e.set_csum_dest(40);
        e.set_csum_seed_host(if preload { 0 } else { pseudo as u16 });
        t.s.ctx.equeue_put(t.ering, e).unwrap();
        t.s.ctx
            .equeue_put(t.ering, edesc(p, payload.len(), true, true))
            .unwrap();
        assert_eq!(pop(&mut t).unwrap(), good, "preload {preload}");
    }
    // csum_dest outside the descriptor: counted, frame sent unchanged.
    let h = filled(&mut t, 0, &good);
    let mut e = edesc(h, 30, true, true);
    e.set_csum(true);
    e.set_csum_dest(40);
    t.s.ctx.equeue_put(t.ering, e).unwrap();
    assert_eq!(pop(&mut t).unwrap(), &good[..30]);
    assert_eq!(t.s.ctx.edma_stats(t.ering).unwrap().csum_errors, 1);
}

#[test]
fn link_down_discards_unless_told_not_to_and_the_wire_is_bounded() {
    let mut t = tx(
        512,
        Config {
            egress_queue_frames: 2,
            ..Config::default()
        },
    );
    let full = t.s.ctx.stack_len(t.stack).unwrap();
    let link = t.s.link;
    t.s.ctx.set_carrier(t.s.ch, false).unwrap();
    let b = filled(&mut t, 0, &[5; 60]);
    t.s.ctx
        .equeue_put(t.ering, edesc(b, 60, true, true))
        .unwrap();
    assert_eq!(pop(&mut t), None);
    assert_eq!(t.s.ctx.stack_len(t.stack), Ok(full), "hwb buffer returned");
    assert_eq!(t.s.ctx.edma_stats(t.ering).unwrap().discarded_down, 1);
    t.s.ctx
        .link_set_attr(&link, attr::DISCARD_IF_DOWN, 0)
        .unwrap();
    let b = filled(&mut t, 0, &[6; 60]);
    for _ in 0..3 {
        t.s.ctx
            .equeue_put(t.ering, edesc(b, 60, true, false))
            .unwrap();
    }
    assert_eq!(t.s.ctx.egress_len(t.s.ch), Ok(2));
    let st = t.s.ctx.edma_stats(t.ering).unwrap();
    assert_eq!((st.frames, st.wire_overflow), (2, 1));
    let mut small = [0u8; 10];
    assert_eq!(
        t.s.ctx.egress_pop(t.s.ch, &mut small),
        Err(Error::BadConfig)
    );
    assert_eq!(t.s.ctx.egress_peek(t.s.ch).unwrap(), Some(&[6u8; 60][..]));
    assert_eq!(
        t.s.ctx.drain_egress(t.s.ch, |f| assert_eq!(f, [6; 60])),
        Ok(2)
    );
}

#[test]
fn loopback_links_return_egress_frames_as_ingress() {
    let mut s = setup(Opts::default());
    let lp = s.ctx.link_open("loop1", 0).unwrap();
    assert_eq!(lp.channel, 21);
    let ering = s.ctx.alloc_edma_rings(1, 0, 0).unwrap();
    s.ctx.equeue_init(ering, 21, 512).unwrap();
    let full = s.ctx.stack_len(s.stacks[0]).unwrap();
    let frame = udp_frame_len(300, 9);
    let mut b = s.ctx.pop_buffer_bdesc(s.stacks[0]).unwrap();
    s.ctx.buffer_mut(b).unwrap()[..300].copy_from_slice(&frame);
    b.set_hwb(true);
    let mut e = EDesc::default();
    e.set_bdesc(b);
    e.set_xfer_size(300);
    e.set_bound(true);
    s.ctx.equeue_put(ering, e).unwrap();
    assert_eq!(s.ctx.egress_len(21), Ok(0));
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert_eq!(d.channel(), 21);
    let mut out = [0u8; 400];
    assert_eq!(s.ctx.read_packet(&d, &mut out), Ok(300));
    assert_eq!(&out[..300], &frame[..]);
    // The sent buffer went back (hwb) and the looped frame took one.
    assert_eq!(s.ctx.stack_len(s.stacks[0]), Ok(full - 1));
    assert_eq!(s.ctx.edma_stats(ering).unwrap().frames, 1);
}

#[test]
fn forwarding_a_be_packet_sends_nothing_and_returns_its_buffers() {
    let mut s = setup(Opts {
        stacks: &[(BufferSize::B128, 3)],
        rule_stacks: Some([0; 8]),
        ..Opts::default()
    });
    let ering = s.ctx.alloc_edma_rings(1, 0, 0).unwrap();
    s.ctx.equeue_init(ering, u32::from(s.ch), 512).unwrap();
    // A partial chain (3 of 5 buffers), then no buffer at all.
    s.ctx.inject(s.ch, &udp_frame_len(600, 0)).unwrap();
    let partial = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    s.ctx.inject(s.ch, &udp_frame_len(60, 0)).unwrap();
    let none = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert!(partial.be() && none.be());
    assert_eq!((partial.c(), none.c()), (Chain::Chained, Chain::Invalid));
    for d in [partial, none] {
        let e = EDesc::copy_idesc(&d);
        assert!(e.ns());
        s.ctx.equeue_put(ering, e).unwrap();
    }
    assert_eq!(s.ctx.egress_len(s.ch), Ok(0));
    assert_eq!(s.ctx.stack_len(s.stacks[0]), Ok(3));
    let st = s.ctx.edma_stats(ering).unwrap();
    assert_eq!(
        (st.no_send, st.buffers_returned, st.return_errors),
        (2, 3, 0)
    );
}
