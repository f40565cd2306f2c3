//! The C ABI called from Rust: null and uninitialized handles give error
//! codes, and a receive/send round trip works with caller-owned ring memory.

use mpipe_emu::c_abi::*;
use mpipe_emu::{Error, IDesc};
use std::ptr::{null, null_mut};

const BAD_CONFIG: i32 = Error::BadConfig.code();
const NO_DEVICE: i32 = Error::NoDevice.code();

#[repr(C, align(4096))]
struct Page([u8; 8192]);

#[test]
fn null_and_uninitialized_handles_are_errors_not_crashes() {
    let mut zero = CContext::default();
    let z: *mut CContext = &mut zero;
    let mut d = IDesc::default();
    // SAFETY: every pointer is null, or points to a live local value.
    unsafe {
        assert_eq!(gxio_mpipe_init(null_mut(), 0), BAD_CONFIG);
        assert_eq!(gxio_mpipe_alloc_buffer_stacks(z, 1, 0, 0), NO_DEVICE);
        assert_eq!(
            gxio_mpipe_alloc_buffer_stacks(null_mut(), 1, 0, 0),
            NO_DEVICE
        );
        assert!(gxio_mpipe_pop_buffer(z, 0).is_null());
        assert_eq!(gxio_mpipe_iqueue_try_get(null_mut(), &mut d), BAD_CONFIG);
        let mut iq = CIqueue::default();
        assert_eq!(gxio_mpipe_iqueue_try_get(&mut iq, null_mut()), BAD_CONFIG);
        assert_eq!(gxio_mpipe_iqueue_try_get(&mut iq, &mut d), NO_DEVICE);
        assert_eq!(
            gxio_mpipe_link_open(null_mut(), z, c"gbe0".as_ptr(), 0),
            BAD_CONFIG
        );
        let mut l = CLink::default();
        assert_eq!(gxio_mpipe_link_open(&mut l, z, null(), 0), BAD_CONFIG);
        assert_eq!(gxio_mpipe_link_instance(c"gbe0".as_ptr()), 0);
        assert_eq!(gxio_mpipe_link_instance(c"nope".as_ptr()), NO_DEVICE);
        assert_eq!(gxio_mpipe_link_instance(null()), NO_DEVICE);
        assert_eq!(
            gxio_mpipe_equeue_put(null_mut(), Default::default()),
            BAD_CONFIG
        );
        assert_eq!(mpipe_emu_inject(z, 0, null(), 10, 0), BAD_CONFIG);
        assert!(gxio_mpipe_idesc_get_va(null()).is_null());
        assert_eq!(gxio_mpipe_idesc_is_bad(null()), 1);
        assert_eq!(gxio_mpipe_destroy(z), NO_DEVICE);
        assert_eq!(gxio_mpipe_buffer_size_enum_to_buffer_size(9), 0);
        assert_eq!(gxio_mpipe_buffer_size_enum_to_buffer_size(6), 10368);
        assert_eq!(gxio_mpipe_buffer_size_to_buffer_size_enum(100_000), 7);
        assert_eq!(gxio_mpipe_calc_buffer_stack_bytes(25), 192);
        assert_eq!(
            gxio_mpipe_init_notif_group_and_buckets(z, 0, 0, 1, 0, 1, 7),
            BAD_CONFIG
        );
    }
}

#[test]
fn round_trip_with_caller_memory_and_corrupt_rules() {
    let mut ctx = CContext::default();
    let c: *mut CContext = &mut ctx;
    let mut ring = Box::new(Page([0; 8192]));
    let mut ering = Box::new(Page([0; 8192]));
    let mut iq = CIqueue::default();
    let mut eq = CEqueue::default();
    let mut link = CLink::default();
    let mut rules = Box::new(CRules::default());
    // SAFETY: all pointers are to live locals/boxes that outlive the
    // context (destroyed at the end); memory handed in stays valid.
    unsafe {
        assert_eq!(gxio_mpipe_init(c, 0), 0);
        assert_eq!(gxio_mpipe_link_open(&mut link, c, c"gbe5".as_ptr(), 0), 0);
        assert_eq!(gxio_mpipe_link_channel(&link), 5);
        let s = gxio_mpipe_alloc_buffer_stacks(c, 1, 0, 0);
        let stack_mem = mpipe_emu_alloc_memory(c, 65536, 65536);
        assert_eq!(
            gxio_mpipe_init_buffer_stack(
                c,
                s as u32,
                3,
                stack_mem.cast::<u8>().add(64).cast(),
                64,
                0
            ),
            Error::InvalMemorySize.code()
        );
        assert_eq!(
            gxio_mpipe_init_buffer_stack(c, s as u32, 3, stack_mem, 64, 0),
            0
        );
        let bufs = mpipe_emu_alloc_memory(c, 65536, 65536);
        assert_eq!(gxio_mpipe_register_page(c, s as u32, bufs, 65536, 0), 0);
        for i in 0..12 {
            gxio_mpipe_push_buffer(c, s as u32, bufs.cast::<u8>().add(i * 1024).cast());
        }
        gxio_mpipe_push_buffer(c, s as u32, bufs); // 13th: stack full, counted
        assert_eq!(mpipe_emu_stack_len(c, s as u32), 12);
        let r = gxio_mpipe_alloc_notif_rings(c, 1, 0, 0);
        assert_eq!(
            gxio_mpipe_iqueue_init(&mut iq, c, r as u32, ring.0.as_mut_ptr().cast(), 8192, 0),
            0
        );
        let g = gxio_mpipe_alloc_notif_groups(c, 1, 0, 0);
        let b = gxio_mpipe_alloc_buckets(c, 1, 0, 0);
        assert_eq!(
            gxio_mpipe_init_notif_group_and_buckets(c, g as u32, r as u32, 1, b as u32, 1, 0),
            0
        );
        gxio_mpipe_rules_init(&mut *rules, c);
        assert_eq!(
            gxio_mpipe_rules_begin(&mut *rules, b as u32, 1, &CRulesStacks::new([s as u8; 8])),
            0
        );
        assert_eq!(
            gxio_mpipe_rules_add_dmac(&mut *rules, CRulesDmac::new([2, 0, 0x5E, 0, 0, 5])),
            0
        );
        assert_eq!(gxio_mpipe_rules_commit(&mut *rules), 0);
        let e = gxio_mpipe_alloc_edma_rings(c, 1, 0, 0);
        assert_eq!(
            gxio_mpipe_equeue_init(
                &mut eq,
                c,
                e as u32,
                5,
                ering.0.as_mut_ptr().cast(),
                8192,
                0
            ),
            0
        );

        let mut frame = [0x5Au8; 100];
        frame[..6].copy_from_slice(&[2, 0, 0x5E, 0, 0, 5]);
        frame[12..14].copy_from_slice(&[0x88, 0xB5]);
        assert_eq!(mpipe_emu_inject(c, 5, frame.as_ptr().cast(), 100, 0), 1);
        assert_eq!(mpipe_emu_inject(c, 5, frame.as_ptr().cast(), 100, 4), 0); // ce: dropped
        let mut peek: *mut IDesc = null_mut();
        assert_eq!(gxio_mpipe_iqueue_try_peek(&mut iq, &mut peek), 1);
        assert_eq!(
            peek.cast::<u8>(),
            ring.0.as_mut_ptr().add(64),
            "slot 1 of caller memory"
        );
        let d = *peek;
        // The hardware tail is in the ring's first 8 bytes.
        assert_eq!(u64::from_le_bytes(ring.0[..8].try_into().unwrap()), 1);
        let va = gxio_mpipe_idesc_get_va(&d).cast::<u8>();
        assert_eq!(std::slice::from_raw_parts(va, 100), &frame[..]);
        assert_eq!(gxio_mpipe_iqueue_drop_if_bad(&mut iq, &d), 0);
        gxio_mpipe_iqueue_consume(&mut iq, &d);
        assert_eq!(
            gxio_mpipe_iqueue_try_peek(&mut iq, &mut peek),
            Error::IqueueEmpty.code()
        );
        let mut ed = Default::default();
        gxio_mpipe_edesc_copy_idesc(&mut ed, &d);
        let slot = gxio_mpipe_equeue_try_reserve_fast(&mut eq, 1);
        assert_eq!(slot, 0);
        assert_eq!(gxio_mpipe_equeue_put_at(&mut eq, ed, slot as u64), 0);
        assert_eq!(gxio_mpipe_equeue_is_complete(&mut eq, 0, 1), 1);
        assert_eq!(mpipe_emu_stack_len(c, s as u32), 12);
        let mut out = [0u8; 200];
        assert_eq!(
            mpipe_emu_egress_pop(c, 5, out.as_mut_ptr().cast(), 50),
            BAD_CONFIG
        );
        assert_eq!(
            mpipe_emu_egress_pop(c, 5, out.as_mut_ptr().cast(), 200),
            100
        );
        assert_eq!(&out[..100], &frame[..]);
        let mut st = std::mem::MaybeUninit::uninit();
        assert_eq!(mpipe_emu_get_stats(c, st.as_mut_ptr()), 0);
        let st = st.assume_init();
        assert_eq!(
            (st.rx_frames, st.rx_delivered, st.drop_errors, st.tx_frames),
            (2, 1, 1, 1)
        );

        // Timestamps through the C face.
        assert_eq!(mpipe_emu_set_time(c, 3_000_000_005), 0);
        let mut ts = CTimespec::new(0, 0);
        assert_eq!(gxio_mpipe_get_timestamp(c, &mut ts), 0);
        assert_eq!(ts.get(), (3, 5));
        assert_eq!(gxio_mpipe_set_timestamp(c, &CTimespec::new(10, 0)), 0);
        assert_eq!(gxio_mpipe_adjust_timestamp(c, -1), 0);
        assert_eq!(gxio_mpipe_get_timestamp(c, &mut ts), 0);
        assert_eq!(ts.get(), (9, 999_999_999));

        // A list the caller scribbled over does not parse.
        gxio_mpipe_rules_init(&mut *rules, c);
        assert_eq!(gxio_mpipe_rules_begin(&mut *rules, b as u32, 1, null()), 0);
        let raw: *mut u8 = (&mut *rules as *mut CRules).cast();
        *raw.add(8 + 8) = 0xFF; // first byte of the rule's size field
        assert_eq!(
            gxio_mpipe_rules_commit(&mut *rules),
            Error::RulesCorrupt.code()
        );

        assert_eq!(
            gxio_mpipe_link_get_attr(&mut link, 0x040000),
            0x02005E000005
        );
        assert_eq!(
            gxio_mpipe_link_set_attr(&mut link, 0x040000, 0),
            Error::Perm.code()
        );
        assert_eq!(gxio_mpipe_link_close(&mut link), 0);
        assert_eq!(gxio_mpipe_destroy(c), 0);
        assert_eq!(gxio_mpipe_destroy(c), NO_DEVICE);
    }
}

#[test]
fn a_rust_owned_handle_serves_both_faces() {
    let mut h = CContext::new(mpipe_emu::Context::init(0).unwrap());
    let c: *mut CContext = &mut h;
    let mut link = CLink::default();
    // SAFETY: `c` points to the live handle `h`; `link` is a live local.
    unsafe {
        assert_eq!(gxio_mpipe_link_open(&mut link, c, c"gbe7".as_ptr(), 0), 0);
        assert_eq!(gxio_mpipe_link_channel(&link), 7);
    }
    {
        let mut ctx = h.lock().unwrap();
        assert_eq!(ctx.open_channels(), 1 << 7);
        ctx.set_time(42);
    }
    let mut ts = CTimespec::new(1, 1);
    // SAFETY: as above.
    unsafe {
        assert_eq!(gxio_mpipe_get_timestamp(&mut h, &mut ts), 0);
    }
    assert_eq!(ts.get(), (0, 42));
    // SAFETY: as above; after destroy the handle is empty, and dropping it
    // frees nothing twice.
    unsafe {
        assert_eq!(gxio_mpipe_destroy(&mut h), 0);
    }
    assert!(h.lock().is_none());
}

/// A C queue handle moved to a worker thread.
struct Tile(CIqueue, CEqueue);

// SAFETY: the queues name a context whose handle is `Sync` (all access is
// through its mutex) and outlives the threads; each queue is used by one
// thread only.
unsafe impl Send for Tile {}

/// Four "tiles" each poll their own iqueue and send on their own equeue
/// through the C face while the main thread injects: the mutex behind the
/// handle keeps it consistent and every buffer comes back.
#[test]
fn threads_share_one_context_through_the_c_face() {
    use mpipe_emu::{BucketMode, BufferSize, Config, Context, Rules};
    use std::sync::Arc;
    const N: usize = 2000;
    let cfg = Config {
        egress_queue_frames: N as u32,
        ..Config::default()
    };
    let mut ctx = Context::new(cfg).unwrap();
    let link = ctx.link_open("xgbe0", 0).unwrap();
    let s = ctx.alloc_buffer_stacks(1, 0, 0).unwrap();
    ctx.init_buffer_stack(s, BufferSize::B1664, 512).unwrap();
    ctx.populate_buffer_stack(s, 512).unwrap();
    let r0 = ctx.alloc_notif_rings(4, 0, 0).unwrap();
    let e0 = ctx.alloc_edma_rings(4, 0, 0).unwrap();
    let handle = Arc::new(CContext::new(ctx));
    let c = Arc::as_ptr(&handle).cast_mut();
    let mut tiles = Vec::new();
    for w in 0..4u32 {
        let mut iq = CIqueue::default();
        let mut eq = CEqueue::default();
        // SAFETY: `c` points to the live handle; the memory comes from the
        // context and lives as long as it.
        unsafe {
            let m = mpipe_emu_alloc_memory(c, 2048 * 64, 4096);
            assert_eq!(
                gxio_mpipe_iqueue_init(&mut iq, c, r0 + w, m, 2048 * 64, 0),
                0
            );
            let m = mpipe_emu_alloc_memory(c, 512 * 16, 1024);
            assert_eq!(
                gxio_mpipe_equeue_init(&mut eq, c, e0 + w, 16, m, 512 * 16, 0),
                0
            );
        }
        tiles.push(Tile(iq, eq));
    }
    {
        let mut ctx = handle.lock().unwrap();
        let g = ctx.alloc_notif_groups(1, 0, 0).unwrap();
        let b = ctx.alloc_buckets(256, 0, 0).unwrap();
        ctx.init_notif_group_and_buckets(g, r0, 4, b, 256, BucketMode::StaticFlowAffinity)
            .unwrap();
        let mut rules = Rules::new();
        rules.begin(b, 256, None).unwrap();
        ctx.commit_rules(&rules).unwrap();
        assert_eq!(link.channel, 16);
    }
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = tiles
        .into_iter()
        .map(|t| {
            let h = Arc::clone(&handle);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut t = t; // move the whole (Send) tile, not its fields
                let _keep = h;
                let mut d = IDesc::default();
                let mut sent = 0usize;
                loop {
                    // SAFETY: the queues were set up above on the live,
                    // shared context; `d` is a live local.
                    let r = unsafe { gxio_mpipe_iqueue_try_get(&mut t.0, &mut d) };
                    if r == 0 {
                        let mut e = Default::default();
                        // SAFETY: as above.
                        unsafe {
                            gxio_mpipe_edesc_copy_idesc(&mut e, &d);
                            assert_eq!(gxio_mpipe_equeue_put(&mut t.1, e), 0);
                        }
                        sent += 1;
                    } else if done.load(std::sync::atomic::Ordering::Acquire) {
                        // Every packet was injected before `done`: one more
                        // look finds the last ones (a packet can land
                        // between the empty look above and `done`), then
                        // the queue stays empty.
                        // SAFETY: as above.
                        let r = unsafe { gxio_mpipe_iqueue_try_get(&mut t.0, &mut d) };
                        if r == Error::IqueueEmpty.code() {
                            break;
                        }
                        assert_eq!(r, 0, "iqueue_try_get failed");
                        let mut e = Default::default();
                        // SAFETY: as above.
                        unsafe {
                            gxio_mpipe_edesc_copy_idesc(&mut e, &d);
                            assert_eq!(gxio_mpipe_equeue_put(&mut t.1, e), 0);
                        }
                        sent += 1;
                    } else {
                        std::thread::yield_now();
                    }
                }
                sent
            })
        })
        .collect();
    for i in 0..N {
        let mut f = [0u8; 80];
        f[12..14].copy_from_slice(&[0x08, 0x06]); // not IP: the MAC pair is hashed
        f[6..8].copy_from_slice(&(i as u16).to_be_bytes());
        // Keep buffers in stock so that no packet gets `be`.
        // SAFETY: `c` points to the live shared handle.
        while unsafe { mpipe_emu_stack_len(c, 0) } < 2 {
            std::thread::yield_now();
        }
        // SAFETY: `c` points to the live shared handle; `f` is readable.
        while unsafe { mpipe_emu_inject(c, 16, f.as_ptr().cast(), f.len(), 0) } != 1 {
            // Dropped (buffers or ring space ran out): the tiles catch up.
            std::thread::yield_now();
        }
    }
    done.store(true, std::sync::atomic::Ordering::Release);
    let sent: Vec<usize> = workers.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(sent.iter().sum::<usize>(), N);
    assert!(
        sent.iter().all(|&n| n > 0),
        "every tile got traffic: {sent:?}"
    );
    let mut ctx = handle.lock().unwrap();
    assert_eq!(ctx.stats().rx_buffer_errors, 0);
    for e in e0..e0 + 4 {
        let st = ctx.edma_stats(e).unwrap();
        assert_eq!((st.no_send, st.return_errors), (0, 0));
    }
    assert_eq!(ctx.stack_len(0), Ok(512));
    assert_eq!(ctx.drain_egress(16, |fr| assert_eq!(fr.len(), 80)), Ok(N));
}
