//! NotifRings, groups, buckets, credits and iqueues.

use super::*;

/// `gxio_mpipe_alloc_notif_rings` (chunks of 8).
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_alloc_notif_rings(
    ctx: *mut CContext,
    count: c_uint,
    first: c_uint,
    flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            code_u32(c.alloc_notif_rings(count, first, flags))
        })
    }
}

/// `gxio_mpipe_alloc_notif_groups`.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_alloc_notif_groups(
    ctx: *mut CContext,
    count: c_uint,
    first: c_uint,
    flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            code_u32(c.alloc_notif_groups(count, first, flags))
        })
    }
}

/// `gxio_mpipe_alloc_buckets`.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_alloc_buckets(
    ctx: *mut CContext,
    count: c_uint,
    first: c_uint,
    flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            code_u32(c.alloc_buckets(count, first, flags))
        })
    }
}

/// `gxio_mpipe_init_notif_ring`: ring memory `mem` (4 KB aligned, 128 /
/// 512 / 2048 / 65536 entries of 64 bytes).
///
/// # Safety
/// `ctx` null or initialized; `mem` valid for reads and writes of
/// `mem_size` bytes until the context is destroyed.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_init_notif_ring(
    ctx: *mut CContext,
    ring: c_uint,
    mem: *mut c_void,
    mem_size: usize,
    _flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    let Some(mut c) = (unsafe { lock(ctx) }) else {
        return NO_DEVICE;
    };
    // SAFETY: forwarded contract on `mem`.
    let r = unsafe { add_external(&mut c, mem, mem_size) }
        .and_then(|va| c.init_notif_ring_at(ring, va, mem_size));
    code(r)
}

/// `gxio_mpipe_init_notif_group_and_buckets`.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_init_notif_group_and_buckets(
    ctx: *mut CContext,
    group: c_uint,
    ring: c_uint,
    num_rings: c_uint,
    bucket: c_uint,
    num_buckets: c_uint,
    mode: c_uint,
) -> c_int {
    let Ok(mode) = BucketMode::from_value(mode) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            code(c.init_notif_group_and_buckets(group, ring, num_rings, bucket, num_buckets, mode))
        })
    }
}

/// `gxio_mpipe_credit`: `ring` and/or `bucket` (−1 = none) get `count`
/// credits; refused credits are counted in the ring's statistics.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_credit(
    ctx: *mut CContext,
    ring: c_int,
    bucket: c_int,
    count: c_ulong,
) {
    let n = u32::try_from(count).unwrap_or(u32::MAX);
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, (), |c| {
            let _ = c.credit(u32::try_from(ring).ok(), u32::try_from(bucket).ok(), n);
        })
    }
}

/// The context and ring of an iqueue.
///
/// # Safety
/// `iq` must be null or point to an iqueue set up by `gxio_mpipe_iqueue_init`.
unsafe fn iq_parts(iq: *const CIqueue) -> Option<(*const CContext, u32)> {
    // SAFETY: forwarded contract.
    let q = unsafe { iq.as_ref() }?;
    Some((q.context, q.ring))
}

/// `gxio_mpipe_iqueue_init`: initializes NotifRing `ring` over `mem` and
/// the iqueue `*iq` that reads it.
///
/// # Safety
/// `iq` writable; `ctx` null or initialized; `mem` as for
/// `gxio_mpipe_init_notif_ring`.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_iqueue_init(
    iq: *mut CIqueue,
    ctx: *mut CContext,
    ring: c_uint,
    mem: *mut c_void,
    mem_size: usize,
    flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    let Some(q) = (unsafe { iq.as_mut() }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    let r = unsafe { gxio_mpipe_init_notif_ring(ctx, ring, mem, mem_size, flags) };
    if r == 0 {
        *q = CIqueue {
            context: ctx,
            ring,
            reserved0: 0,
            reserved: [0; 4],
        };
    }
    r
}

/// `gxio_mpipe_iqueue_try_get`: copies the next descriptor into `*idesc`
/// and consumes it; `GXIO_MPIPE_ERR_IQUEUE_EMPTY` when none is ready.
///
/// # Safety
/// `iq` null or initialized; `idesc` null or writable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_iqueue_try_get(iq: *mut CIqueue, idesc: *mut IDesc) -> c_int {
    // SAFETY: forwarded contract.
    let (Some((ctx, ring)), Some(out)) = (unsafe { iq_parts(iq) }, unsafe { idesc.as_mut() })
    else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| match c.iqueue_try_get(ring) {
            Ok(d) => {
                *out = d;
                0
            }
            Err(e) => e.code(),
        })
    }
}

/// `gxio_mpipe_iqueue_try_peek`: the number of ready descriptors contiguous
/// in ring memory from the head, with `*idesc_ref` pointing at the first;
/// `GXIO_MPIPE_ERR_IQUEUE_EMPTY` when none. The pointer stays valid until
/// the descriptors are credited.
///
/// # Safety
/// `iq` null or initialized; `idesc_ref` null or writable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_iqueue_try_peek(
    iq: *mut CIqueue,
    idesc_ref: *mut *mut IDesc,
) -> c_int {
    // SAFETY: forwarded contract.
    let (Some((ctx, ring)), Some(out)) = (unsafe { iq_parts(iq) }, unsafe { idesc_ref.as_mut() })
    else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            let n = match c.iqueue_try_peek(ring) {
                Ok(n) => n,
                Err(e) => return e.code(),
            };
            let Ok(r) = c.ring_ref(ring) else {
                return Error::BadNotifRing.code();
            };
            match c.mem.ptr(r.slot_va(r.head), n * crate::notif::IDESC_BYTES) {
                Some(p) => {
                    *out = p.cast::<IDesc>();
                    n as c_int
                }
                None => Error::BadNotifRing.code(),
            }
        })
    }
}

/// `gxio_mpipe_iqueue_consume`: advance by one and release `idesc`.
///
/// # Safety
/// `iq` null or initialized; `idesc` null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_iqueue_consume(iq: *mut CIqueue, idesc: *const IDesc) {
    // SAFETY: forwarded contract.
    if let (Some((ctx, ring)), Some(d)) = (unsafe { iq_parts(iq) }, unsafe { read_idesc(idesc) }) {
        // SAFETY: forwarded contract.
        unsafe {
            with(ctx, (), |c| {
                let _ = c.iqueue_consume(ring, &d);
            })
        }
    }
}

/// `gxio_mpipe_iqueue_advance`: moves the head by `count` (no credit).
///
/// # Safety
/// `iq` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_iqueue_advance(iq: *mut CIqueue, count: c_int) {
    // SAFETY: forwarded contract.
    if let (Some((ctx, ring)), Ok(n)) = (unsafe { iq_parts(iq) }, usize::try_from(count)) {
        // SAFETY: forwarded contract.
        unsafe {
            with(ctx, (), |c| {
                let _ = c.iqueue_advance(ring, n);
            })
        }
    }
}

/// `gxio_mpipe_iqueue_release`: credits the descriptor's ring (and bucket
/// unless `nr`).
///
/// # Safety
/// `iq` null or initialized; `idesc` null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_iqueue_release(iq: *mut CIqueue, idesc: *const IDesc) {
    // SAFETY: forwarded contract.
    if let (Some((ctx, _)), Some(d)) = (unsafe { iq_parts(iq) }, unsafe { read_idesc(idesc) }) {
        // SAFETY: forwarded contract.
        unsafe {
            with(ctx, (), |c| {
                let _ = c.iqueue_release(&d);
            })
        }
    }
}

/// `gxio_mpipe_iqueue_drop`: returns the packet's buffers (whole chain).
///
/// # Safety
/// `iq` null or initialized; `idesc` null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_iqueue_drop(iq: *mut CIqueue, idesc: *const IDesc) {
    // SAFETY: forwarded contract.
    if let (Some((ctx, _)), Some(d)) = (unsafe { iq_parts(iq) }, unsafe { read_idesc(idesc) }) {
        // SAFETY: forwarded contract.
        unsafe {
            with(ctx, (), |c| {
                let _ = c.iqueue_drop(&d);
            })
        }
    }
}

/// `gxio_mpipe_iqueue_drop_if_bad`: 1 (and the buffers returned) when the
/// descriptor is bad, else 0; the caller still consumes it.
///
/// # Safety
/// `iq` null or initialized; `idesc` null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_iqueue_drop_if_bad(
    iq: *mut CIqueue,
    idesc: *const IDesc,
) -> c_int {
    // SAFETY: forwarded contract.
    let (Some((ctx, _)), Some(d)) = (unsafe { iq_parts(iq) }, unsafe { read_idesc(idesc) }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe { with(ctx, NO_DEVICE, |c| c_int::from(c.iqueue_drop_if_bad(&d))) }
}
