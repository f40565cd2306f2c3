//! eDMA rings and equeues.

use super::*;

/// `gxio_mpipe_alloc_edma_rings`.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_alloc_edma_rings(
    ctx: *mut CContext,
    count: c_uint,
    first: c_uint,
    flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            code_u32(c.alloc_edma_rings(count, first, flags))
        })
    }
}

/// `gxio_mpipe_init_edma_ring`: ring memory `mem` (1 KB aligned, 512 /
/// 2048 / 8192 / 65536 entries of 16 bytes) sending on `channel`.
///
/// # Safety
/// `ctx` null or initialized; `mem` valid for reads and writes of
/// `mem_size` bytes until the context is destroyed.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_init_edma_ring(
    ctx: *mut CContext,
    ering: c_uint,
    channel: c_uint,
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
        .and_then(|va| c.init_edma_ring_at(ering, channel, va, mem_size));
    code(r)
}

/// `gxio_mpipe_equeue_init`: initializes eDMA ring `ering` over `mem` and
/// the equeue `*eq` that posts to it.
///
/// # Safety
/// `eq` writable; `ctx` null or initialized; `mem` as for
/// `gxio_mpipe_init_edma_ring`.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_equeue_init(
    eq: *mut CEqueue,
    ctx: *mut CContext,
    ering: c_uint,
    channel: c_uint,
    mem: *mut c_void,
    mem_size: usize,
    flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    let Some(q) = (unsafe { eq.as_mut() }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    let r = unsafe { gxio_mpipe_init_edma_ring(ctx, ering, channel, mem, mem_size, flags) };
    if r == 0 {
        *q = CEqueue {
            context: ctx,
            ering,
            channel,
            reserved: [0; 4],
        };
    }
    r
}

/// The context and ring of an equeue.
///
/// # Safety
/// `eq` must be null or point to an equeue set up by `gxio_mpipe_equeue_init`.
unsafe fn eq_parts(eq: *const CEqueue) -> Option<(*const CContext, u32)> {
    // SAFETY: forwarded contract.
    let q = unsafe { eq.as_ref() }?;
    Some((q.context, q.ering))
}

/// Reserve helper.
///
/// # Safety
/// As for [`eq_parts`].
unsafe fn reserve(eq: *mut CEqueue, num: c_uint, fast: bool) -> i64 {
    // SAFETY: forwarded contract.
    let Some((ctx, ering)) = (unsafe { eq_parts(eq) }) else {
        return i64::from(BAD_CONFIG);
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, i64::from(NO_DEVICE), |c| {
            match c.equeue_reserve(ering, num) {
                Ok(s) if fast => (s & 0xFF_FFFF) as i64,
                Ok(s) => s as i64,
                Err(e) => i64::from(e.code()),
            }
        })
    }
}

/// `gxio_mpipe_equeue_try_reserve`: the first of `num` slots (63-bit), or
/// `GXIO_ERR_BUSY` when the ring lacks room.
///
/// # Safety
/// `eq` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_equeue_try_reserve(eq: *mut CEqueue, num: c_uint) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { reserve(eq, num, false) }
}

/// `gxio_mpipe_equeue_reserve`: as `try_reserve` (posted descriptors
/// complete at once in the emulator, so waiting could not help).
///
/// # Safety
/// `eq` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_equeue_reserve(eq: *mut CEqueue, num: c_uint) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { reserve(eq, num, false) }
}

/// `gxio_mpipe_equeue_try_reserve_fast`: a 24-bit slot.
///
/// # Safety
/// `eq` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_equeue_try_reserve_fast(eq: *mut CEqueue, num: c_uint) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { reserve(eq, num, true) }
}

/// `gxio_mpipe_equeue_reserve_fast`: a 24-bit slot.
///
/// # Safety
/// `eq` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_equeue_reserve_fast(eq: *mut CEqueue, num: c_uint) -> i64 {
    // SAFETY: forwarded contract.
    unsafe { reserve(eq, num, true) }
}

/// `gxio_mpipe_equeue_put_at`: posts `edesc` in reserved `slot` (63- or
/// 24-bit) with its generation bit; 0 or an error code.
///
/// # Safety
/// `eq` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_equeue_put_at(
    eq: *mut CEqueue,
    edesc: EDesc,
    slot: u64,
) -> c_int {
    // SAFETY: forwarded contract.
    let Some((ctx, ering)) = (unsafe { eq_parts(eq) }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            code(c.equeue_put_at(ering, edesc, slot))
        })
    }
}

/// `gxio_mpipe_equeue_put`: reserves one slot and posts `edesc` in it.
///
/// # Safety
/// `eq` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_equeue_put(eq: *mut CEqueue, edesc: EDesc) -> c_int {
    // SAFETY: forwarded contract.
    let Some((ctx, ering)) = (unsafe { eq_parts(eq) }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe { with(ctx, NO_DEVICE, |c| code(c.equeue_put(ering, edesc))) }
}

/// `gxio_mpipe_equeue_is_complete`: 1 when the descriptor in `slot` has
/// been processed (`update` is accepted; the count is always current).
///
/// # Safety
/// `eq` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_equeue_is_complete(
    eq: *mut CEqueue,
    slot: i64,
    _update: c_int,
) -> c_int {
    // SAFETY: forwarded contract.
    let Some((ctx, ering)) = (unsafe { eq_parts(eq) }) else {
        return BAD_CONFIG;
    };
    let Ok(slot) = u64::try_from(slot) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            match c.equeue_is_complete(ering, slot) {
                Ok(b) => c_int::from(b),
                Err(e) => e.code(),
            }
        })
    }
}
