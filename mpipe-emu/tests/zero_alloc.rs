//! After set-up, the ingress and egress paths allocate nothing: inject,
//! iqueue get, reading the buffers, dropping, posting with hwb, draining.

mod common;
use common::*;
use mpipe_emu::link::attr;
use mpipe_emu::{BufferSize, EDesc};
use rusty_alloc_counter::{allocations_during, is_installed, CountingAllocator};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

#[test]
fn steady_state_packet_paths_do_not_allocate() {
    let mut s = setup(Opts {
        stacks: &[(BufferSize::B256, 256)],
        nrings: 2,
        nbuckets: 64,
        mode: mpipe_emu::BucketMode::RoundRobin,
        rule_stacks: Some([0; 8]),
        ..Opts::default()
    });
    let link = s.link;
    s.ctx.link_set_attr(&link, attr::RECEIVE_JUMBO, 1).unwrap();
    let ering = s.ctx.alloc_edma_rings(1, 0, 0).unwrap();
    s.ctx.equeue_init(ering, u32::from(s.ch), 512).unwrap();
    let frames: Vec<Vec<u8>> = (0..8)
        .map(|i| udp_frame_len(60 + i * 700, i as u8))
        .collect();
    let mut out = vec![0u8; 16384];
    let mut step = |s: &mut Setup, i: usize| {
        let f = &frames[i % frames.len()];
        s.ctx.set_time(i as u64 * 1000);
        s.ctx.inject(s.ch, f).unwrap();
        for &r in &s.rings {
            while let Ok(d) = s.ctx.iqueue_try_get(r) {
                let n: usize = s.ctx.packet_segments(&d).map(|(_, b)| b.len()).sum();
                assert_eq!(n, d.xfer_size());
                if i.is_multiple_of(3) {
                    assert!(!s.ctx.iqueue_drop_if_bad(&d));
                    s.ctx.iqueue_drop(&d);
                } else {
                    s.ctx.equeue_put(ering, EDesc::copy_idesc(&d)).unwrap();
                }
            }
        }
        while let Some(n) = s.ctx.egress_pop(s.ch, &mut out).unwrap() {
            assert_eq!(&out[..n], &f[..]);
        }
    };
    for i in 0..100 {
        step(&mut s, i);
    }
    assert!(is_installed());
    let (_, n) = allocations_during(|| {
        for i in 100..3100 {
            step(&mut s, i);
        }
    });
    assert_eq!(n, 0, "allocations on the packet paths");
    assert_eq!(
        s.ctx.stack_len(s.stacks[0]),
        Ok(256),
        "every buffer came back"
    );
    assert_eq!(s.ctx.stats().rx_delivered, 3100);
}
