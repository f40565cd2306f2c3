//! The ingress path: chaining in every size class, `be` when a stack runs
//! empty, injected me/tr/ce errors, MAC limits, rules (rooms, capacity,
//! stack choice, filters) and timestamps.

mod common;
use common::*;
use mpipe_emu::link::attr;
use mpipe_emu::{
    BDesc, BufferSize, Chain, Config, Delivery, IDesc, InjectDrop, InjectErrors, Rules,
};
use proptest::prelude::*;

/// A non-IP frame of `len` bytes (ethertype 0x88B5) with a pattern.
fn raw_frame(len: usize, seed: u8) -> Vec<u8> {
    let mut f: Vec<u8> = (0..len)
        .map(|i| (i as u8).wrapping_mul(7).wrapping_add(seed))
        .collect();
    f[..6].copy_from_slice(&[2, 0, 0x5E, 0, 0, 0]);
    f[6..12].copy_from_slice(&PEER_MAC);
    f[12..14].copy_from_slice(&[0x88, 0xB5]);
    f
}

/// Buffers a frame of `len` needs in buffers of `b` bytes with `headroom`:
/// the fact sheet's layout computed independently of the emulator.
fn expected_buffers(len: usize, b: usize, headroom: usize) -> usize {
    if headroom + len <= b {
        return 1;
    }
    let mut left = len - (b - headroom.max(8));
    let mut n = 1;
    while left > b {
        left -= b - 8;
        n += 1;
    }
    n + 1
}

fn one_stack_all_classes(size: BufferSize, buffers: usize) -> Setup {
    let mut s = setup(Opts {
        stacks: &[(size, buffers)],
        rule_stacks: Some([0; 8]),
        ..Opts::default()
    });
    let link = s.link;
    s.ctx.link_set_attr(&link, attr::RECEIVE_JUMBO, 1).unwrap();
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// In every size class, a frame is written across as many buffers as
    /// the chain layout needs, reads back intact, and its buffers go back.
    #[test]
    fn chaining_in_every_size_class(class in 0u32..8, len in 14usize..=10240, seed in any::<u8>()) {
        let size = BufferSize::from_enum(class).unwrap();
        let buffers = 100;
        let mut s = one_stack_all_classes(size, buffers);
        let frame = raw_frame(len, seed);
        let r = s.ctx.inject(s.ch, &frame).unwrap();
        prop_assert!(matches!(r, Delivery::Delivered { be: false, .. }), "{:?}", r);
        let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
        prop_assert_eq!(d.xfer_size(), len);
        let want = expected_buffers(len, size.bytes(), 2);
        let segs: Vec<(BDesc, Vec<u8>)> = s.ctx.packet_segments(&d).map(|(b, x)| (b, x.to_vec())).collect();
        prop_assert_eq!(segs.len(), want);
        prop_assert_eq!(s.ctx.stack_len(s.stacks[0]).unwrap(), buffers - want);
        let mut joined = Vec::new();
        for (i, (b, bytes)) in segs.iter().enumerate() {
            let last = i + 1 == segs.len();
            prop_assert_eq!(b.size(), class as u8);
            prop_assert_eq!(u32::from(b.stack_idx()), s.stacks[0]);
            prop_assert_eq!(b.c(), if last { Chain::Unchained } else { Chain::Chained });
            let off = match (i, want) {
                (0, 1) => 2,
                (0, _) => 8,
                _ if last => 0,
                _ => 8,
            };
            prop_assert_eq!(b.offset(), off);
            prop_assert!(bytes.len() <= size.bytes() - off);
            if !last {
                // The next bdesc is in this buffer's first 8 bytes.
                let head = &s.ctx.buffer(*b).unwrap()[..8];
                prop_assert_eq!(u64::from_le_bytes(head.try_into().unwrap()), segs[i + 1].0 .0);
                prop_assert_eq!(bytes.len(), size.bytes() - off);
            }
            joined.extend_from_slice(bytes);
        }
        prop_assert_eq!(&joined, &frame);
        let mut out = vec![0u8; len];
        prop_assert_eq!(s.ctx.read_packet(&d, &mut out), Ok(len));
        prop_assert_eq!(&out, &frame);
        prop_assert_eq!(s.ctx.return_packet_buffers(&d), want);
        prop_assert_eq!(s.ctx.stack_len(s.stacks[0]).unwrap(), buffers);
    }
}

#[test]
fn empty_stack_sets_be_and_keeps_the_valid_part_of_the_chain() {
    let mut s = setup(Opts {
        stacks: &[(BufferSize::B128, 3)],
        rule_stacks: Some([0; 8]),
        ..Opts::default()
    });
    let frame = raw_frame(600, 1);
    let r = s.ctx.inject(s.ch, &frame).unwrap();
    assert_eq!(
        r,
        Delivery::Delivered {
            ring: s.rings[0] as u8,
            bucket: r_bucket(&r),
            be: true
        }
    );
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert!(d.be() && d.has_error() && d.is_bad());
    // 120 + 120 + 120 bytes written; the third buffer's successor is INVALID.
    assert_eq!(d.xfer_size(), 360);
    let segs: Vec<BDesc> = s.ctx.packet_segments(&d).map(|(b, _)| b).collect();
    assert_eq!(segs.len(), 3);
    let third = s.ctx.buffer(segs[2]).unwrap();
    assert_eq!(
        BDesc(u64::from_le_bytes(third[..8].try_into().unwrap())).c(),
        Chain::Invalid
    );
    assert_eq!(s.ctx.stack_len(s.stacks[0]), Ok(0));
    assert_eq!(s.ctx.stats().rx_buffer_errors, 1);
    // drop_if_bad returns every valid buffer of the chain.
    assert!(s.ctx.iqueue_drop_if_bad(&d));
    assert_eq!(s.ctx.stack_len(s.stacks[0]), Ok(3));

    // No buffer at all: c = INVALID in the idesc, nothing written.
    for _ in 0..3 {
        s.ctx.pop_buffer(s.stacks[0]).unwrap().unwrap();
    }
    s.ctx.inject(s.ch, &raw_frame(60, 2)).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert!(d.be());
    assert_eq!((d.c(), d.xfer_size()), (Chain::Invalid, 0));
    assert_eq!(s.ctx.packet_segments(&d).count(), 0);
    assert_eq!(s.ctx.return_packet_buffers(&d), 0);
}

fn r_bucket(r: &Delivery) -> u16 {
    match r {
        Delivery::Delivered { bucket, .. } => *bucket,
        Delivery::Dropped(_) => u16::MAX,
    }
}

#[test]
fn mac_errors_are_dropped_or_delivered_marked() {
    let frame = udp_frame_len(100, 3);
    let mut s = setup(Opts::default());
    for e in [
        InjectErrors {
            me: true,
            ..Default::default()
        },
        InjectErrors {
            tr: true,
            ..Default::default()
        },
        InjectErrors {
            ce: true,
            ..Default::default()
        },
    ] {
        assert_eq!(
            s.ctx.inject_with_errors(s.ch, &frame, e),
            Ok(Delivery::Dropped(InjectDrop::Errors))
        );
    }
    assert_eq!(s.ctx.stats().drop_errors, 3);

    let mut s = setup(Opts {
        config: Config {
            drop_bad: false,
            ..Config::default()
        },
        ..Opts::default()
    });
    let full = s.ctx.stack_len(s.stacks[0]).unwrap();
    for (e, check) in [
        (
            InjectErrors {
                me: true,
                ..Default::default()
            },
            IDesc::me as fn(&IDesc) -> bool,
        ),
        (
            InjectErrors {
                tr: true,
                ..Default::default()
            },
            IDesc::tr,
        ),
        (
            InjectErrors {
                ce: true,
                ..Default::default()
            },
            IDesc::ce,
        ),
    ] {
        assert!(matches!(
            s.ctx.inject_with_errors(s.ch, &frame, e),
            Ok(Delivery::Delivered { .. })
        ));
        let d = s.ctx.iqueue_peek(s.rings[0]).unwrap();
        assert!(check(&d) && d.is_bad());
        assert!(s.ctx.iqueue_drop_if_bad(&d));
        s.ctx.iqueue_consume(s.rings[0], &d).unwrap();
        assert_eq!(s.ctx.stack_len(s.stacks[0]), Ok(full));
    }
    // A good packet is not dropped.
    s.ctx.inject(s.ch, &frame).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert!(!s.ctx.iqueue_drop_if_bad(&d));
}

#[test]
fn mac_limits_runts_jumbo_and_link_state() {
    let mut s = setup(Opts {
        stacks: &[(BufferSize::B16384, 8)],
        ..Opts::default()
    });
    let link = s.link;
    assert_eq!(
        s.ctx.inject(s.ch, &[0u8; 13]),
        Ok(Delivery::Dropped(InjectDrop::Runt))
    );
    assert!(matches!(
        s.ctx.inject(s.ch, &raw_frame(1544, 0)),
        Ok(Delivery::Delivered { .. })
    ));
    assert_eq!(
        s.ctx.inject(s.ch, &raw_frame(1545, 0)),
        Ok(Delivery::Dropped(InjectDrop::Oversize))
    );
    s.ctx.link_set_attr(&link, attr::RECEIVE_JUMBO, 1).unwrap();
    assert!(matches!(
        s.ctx.inject(s.ch, &raw_frame(10240, 0)),
        Ok(Delivery::Delivered { .. })
    ));
    assert_eq!(
        s.ctx.inject(s.ch, &raw_frame(10241, 0)),
        Ok(Delivery::Dropped(InjectDrop::Oversize))
    );
    s.ctx.set_carrier(s.ch, false).unwrap();
    assert_eq!(
        s.ctx.inject(s.ch, &raw_frame(60, 0)),
        Ok(Delivery::Dropped(InjectDrop::LinkDown))
    );
    s.ctx.set_carrier(s.ch, true).unwrap();
    // A link nobody opened drops; a channel with no link is an error.
    assert_eq!(
        s.ctx.inject(1, &raw_frame(60, 0)),
        Ok(Delivery::Dropped(InjectDrop::NotOpen))
    );
    assert_eq!(
        s.ctx.inject(30, &raw_frame(60, 0)),
        Err(mpipe_emu::Error::BadChannel)
    );
    let st = s.ctx.stats();
    assert_eq!(
        (
            st.drop_runt,
            st.drop_oversize,
            st.drop_link_down,
            st.drop_not_open
        ),
        (1, 2, 1, 1)
    );
    assert_eq!(st.rx_delivered, 2);
}

#[test]
fn headroom_tailroom_capacity_and_stack_choice() {
    let sizes = [
        (BufferSize::B128, 8),
        (BufferSize::B512, 8),
        (BufferSize::B1664, 8),
    ];
    // Automatic choice: the smallest initialized stack that avoids chaining.
    let mut s = setup(Opts {
        stacks: &sizes,
        headroom: Some(10),
        ..Opts::default()
    });
    for (len, stack) in [(60, 0), (118, 0), (119, 1), (502, 1), (503, 2), (1514, 2)] {
        s.ctx.inject(s.ch, &raw_frame(len, 0)).unwrap();
        let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
        assert_eq!(u32::from(d.stack_idx()), s.stacks[stack], "len {len}");
        assert_eq!((d.va() & 127, d.c()), (10, Chain::Unchained));
        s.ctx.return_packet_buffers(&d);
    }
    // Larger than the largest stack: dropped.
    let link = s.link;
    s.ctx.link_set_attr(&link, attr::RECEIVE_JUMBO, 1).unwrap();
    assert_eq!(
        s.ctx.inject(s.ch, &raw_frame(1700, 0)),
        Ok(Delivery::Dropped(InjectDrop::NoStack))
    );

    // Tailroom counts towards the choice; capacity bounds size + rooms.
    let mut s = setup(Opts {
        stacks: &sizes,
        tailroom: Some(100),
        capacity: Some(1000),
        ..Opts::default()
    });
    s.ctx.inject(s.ch, &raw_frame(60, 0)).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert_eq!(u32::from(d.stack_idx()), s.stacks[1]);
    assert_eq!(
        s.ctx.inject(s.ch, &raw_frame(899, 0)),
        Ok(Delivery::Dropped(InjectDrop::Capacity))
    );
    assert!(matches!(
        s.ctx.inject(s.ch, &raw_frame(898, 0)),
        Ok(Delivery::Delivered { .. })
    ));

    // Explicit stacks: 255 drops that size class.
    let mut s = setup(Opts {
        stacks: &sizes,
        rule_stacks: Some([0, 1, 1, 2, 2, 2, 2, 2]),
        ..Opts::default()
    });
    s.ctx.inject(s.ch, &raw_frame(200, 0)).unwrap();
    assert_eq!(
        u32::from(s.ctx.iqueue_try_get(s.rings[0]).unwrap().stack_idx()),
        s.stacks[1]
    );
    let mut r = Rules::new();
    let mut st = [255u8; 8];
    st[0] = s.stacks[0] as u8;
    r.begin(s.bucket0, s.nbuckets, Some(&st)).unwrap();
    s.ctx.commit_rules(&r).unwrap();
    assert_eq!(
        s.ctx.inject(s.ch, &raw_frame(200, 0)),
        Ok(Delivery::Dropped(InjectDrop::NoStack))
    );
    assert!(matches!(
        s.ctx.inject(s.ch, &raw_frame(100, 0)),
        Ok(Delivery::Delivered { .. })
    ));
}

#[test]
fn rule_filters_channel_vlan_dmac_and_order() {
    let mut s = setup(Opts::default());
    let b0 = s.bucket0;
    let other = s
        .ctx
        .alloc_buckets(4, 4096, mpipe_emu::ALLOC_FIXED)
        .unwrap();
    let g2 = s.ctx.alloc_notif_groups(1, 0, 0).unwrap();
    s.ctx
        .init_notif_group_and_buckets(
            g2,
            s.rings[0],
            1,
            other,
            4,
            mpipe_emu::BucketMode::StaticFlowAffinity,
        )
        .unwrap();
    let mut r = Rules::new();
    r.begin(b0, 1, None).unwrap();
    r.add_vlan(5).unwrap();
    r.begin(other, 1, None).unwrap();
    r.add_dmac([2, 0, 0x5E, 0, 0, 0]).unwrap();
    r.add_channel(u32::from(s.ch)).unwrap();
    s.ctx.commit_rules(&r).unwrap();
    // VLAN 5 → first rule.
    let mut tagged = raw_frame(64, 0);
    tagged.splice(12..12, [0x81, 0x00, 0x00, 0x05]);
    s.ctx.inject(s.ch, &tagged).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert_eq!(
        (u32::from(d.bucket_id()), d.c1_vlan(), d.c1_l3_offset()),
        (b0, 5, 18)
    );
    // Untagged, our MAC → second rule.
    s.ctx.inject(s.ch, &raw_frame(64, 0)).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert_eq!(u32::from(d.bucket_id()), other);
    // Untagged, other MAC → no rule.
    let mut f = raw_frame(64, 0);
    f[5] = 9;
    assert_eq!(
        s.ctx.inject(s.ch, &f),
        Ok(Delivery::Dropped(InjectDrop::NoRule))
    );
    // A rule for another channel does not match gbe0; an empty list matches nothing.
    let mut r = Rules::new();
    r.begin(b0, 1, None).unwrap();
    r.add_channel(3).unwrap();
    s.ctx.commit_rules(&r).unwrap();
    assert_eq!(
        s.ctx.inject(s.ch, &raw_frame(64, 0)),
        Ok(Delivery::Dropped(InjectDrop::NoRule))
    );
    s.ctx.commit_rules(&Rules::new()).unwrap();
    assert_eq!(
        s.ctx.inject(s.ch, &raw_frame(64, 0)),
        Ok(Delivery::Dropped(InjectDrop::NoRule))
    );
    assert_eq!(s.ctx.stats().drop_no_rule, 3);
}

#[test]
fn hardware_timestamps_follow_the_owner_clock() {
    let mut s = setup(Opts::default());
    s.ctx.set_time(5_000_000_123);
    s.ctx.inject(s.ch, &raw_frame(60, 0)).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert!(d.ts());
    assert_eq!((d.time_stamp_sec(), d.time_stamp_ns()), (5, 123));
    s.ctx.set_timestamp(100, 999_999_999).unwrap();
    s.ctx.adjust_timestamp(1).unwrap();
    assert_eq!(s.ctx.get_timestamp(), (101, 0));
    s.ctx.set_time(5_000_000_124);
    assert_eq!(s.ctx.get_timestamp(), (101, 1));
    assert_eq!(
        s.ctx.adjust_timestamp(1_000_000_001),
        Err(mpipe_emu::Error::BadConfig)
    );
    assert_eq!(
        s.ctx.set_timestamp(0, 1_000_000_000),
        Err(mpipe_emu::Error::BadConfig)
    );
    s.ctx.inject(s.ch, &raw_frame(60, 0)).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert_eq!((d.time_stamp_sec(), d.time_stamp_ns()), (101, 1));
    // Timestamps can be turned off.
    let mut s = setup(Opts {
        config: Config {
            timestamps: false,
            ..Config::default()
        },
        ..Opts::default()
    });
    s.ctx.set_time(7);
    s.ctx.inject(s.ch, &raw_frame(60, 0)).unwrap();
    let d = s.ctx.iqueue_try_get(s.rings[0]).unwrap();
    assert!(!d.ts() && d.words[6] == 0);
}

#[test]
fn same_inputs_give_the_same_descriptors() {
    let run = || {
        let mut s = setup(Opts {
            nrings: 4,
            nbuckets: 64,
            mode: mpipe_emu::BucketMode::RoundRobin,
            ..Opts::default()
        });
        let mut out = Vec::new();
        for i in 0..40u16 {
            s.ctx.set_time(u64::from(i) * 1000);
            let f = udp_frame([10, 0, 0, 2], [10, 0, 0, 1], 1000 + i, 80, &[i as u8; 30]);
            s.ctx.inject(s.ch, &f).unwrap();
        }
        for &r in &s.rings {
            while let Ok(d) = s.ctx.iqueue_try_get(r) {
                // Addresses differ between contexts; offsets and all else must not.
                let mut w = d.words;
                w[7] &= !((1 << 42) - 1);
                out.push((w, d.va() & 127));
            }
        }
        out
    };
    let (a, b) = (run(), run());
    assert_eq!(a.len(), 40);
    assert_eq!(a, b);
}
