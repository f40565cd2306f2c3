//! Bad input gives error codes or counted drops, never a panic: random
//! frames on the wire, random egress descriptors, random rule-list bytes.

mod common;
use common::*;
use mpipe_emu::link::attr;
use mpipe_emu::{BDesc, BufferSize, EDesc, IDesc, InjectErrors, Rules};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn random_frames_never_panic(
        frames in proptest::collection::vec((any::<u8>(), proptest::collection::vec(any::<u8>(), 0..2000), 0u8..8), 1..20),
        jumbo in any::<bool>(),
    ) {
        let mut s = setup(Opts {
            config: mpipe_emu::Config { drop_bad: false, ..Default::default() },
            stacks: &[(BufferSize::B128, 40), (BufferSize::B512, 8)],
            ..Opts::default()
        });
        let link = s.link;
        s.ctx.link_set_attr(&link, attr::RECEIVE_JUMBO, u64::from(jumbo)).unwrap();
        let total: usize = s.stacks.iter().map(|&st| s.ctx.stack_len(st).unwrap()).sum();
        for (ch, f, e) in frames {
            let errs = InjectErrors { me: e & 1 != 0, tr: e & 2 != 0, ce: e & 4 != 0 };
            let r = s.ctx.inject_with_errors(ch % 40, &f, errs);
            if ch % 40 >= 24 {
                prop_assert!(r.is_err());
            }
            while let Ok(d) = s.ctx.iqueue_try_get(s.rings[0]) {
                let n: usize = s.ctx.packet_segments(&d).map(|(_, b)| b.len()).sum();
                prop_assert_eq!(n, d.xfer_size());
                s.ctx.iqueue_drop(&d);
            }
        }
        // Buffer conservation: every popped buffer came back.
        let now: usize = s.stacks.iter().map(|&st| s.ctx.stack_len(st).unwrap()).sum();
        prop_assert_eq!(now, total);
    }

    #[test]
    fn random_egress_descriptors_never_panic(descs in proptest::collection::vec((any::<u64>(), any::<u64>(), any::<bool>()), 1..50)) {
        let mut s = setup(Opts::default());
        let ering = s.ctx.alloc_edma_rings(1, 0, 0).unwrap();
        s.ctx.equeue_init(ering, u32::from(s.ch), 512).unwrap();
        let real = s.ctx.pop_buffer_bdesc(s.stacks[0]).unwrap();
        for (w0, w1, near) in descs {
            // Half the time keep the address inside real memory.
            let w1 = if near { (w1 & !((1 << 42) - 1)) | (real.0 & ((1 << 42) - 1)) } else { w1 };
            let _ = s.ctx.equeue_put(ering, EDesc { words: [w0, w1] });
            let mut out = [0u8; 20000];
            while let Ok(Some(_)) = s.ctx.egress_pop(s.ch, &mut out) {}
        }
        let st = s.ctx.edma_stats(ering).unwrap();
        prop_assert!(st.descriptors >= st.frames);
        // Random descriptors, walked as packets, never panic either.
        let mut d = IDesc::default();
        d.set_bdesc(BDesc(real.0 | (1 << 62)));
        d.set_l2_size(5000);
        let _ = s.ctx.packet_segments(&d).count();
        let _ = s.ctx.return_packet_buffers(&d);
    }

    #[test]
    fn random_rule_lists_are_refused_or_accepted_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400), tail in 0u32..500) {
        let mut s = setup(Opts::default());
        let mut r = Rules::new();
        r.begin(s.bucket0, 1, None).unwrap();
        for _ in 0..(tail / 8) {
            let _ = r.add_vlan(1);
        }
        let n = bytes.len().min(r.as_bytes().len());
        r.list_mut()[..n].copy_from_slice(&bytes[..n]);
        let _ = s.ctx.commit_rules(&r);
        let _ = s.ctx.inject(s.ch, &udp_frame_len(100, 0));
    }
}
