//! The mPIPE clock and the emulator-only `mpipe_emu_*` entry points.

use super::*;

/// `gxio_mpipe_get_timestamp`: the mPIPE clock.
///
/// # Safety
/// `ctx` null or initialized; `ts` null or writable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_get_timestamp(ctx: *mut CContext, ts: *mut CTimespec) -> c_int {
    // SAFETY: forwarded contract.
    let Some(out) = (unsafe { ts.as_mut() }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            let (s, ns) = c.get_timestamp();
            *out = CTimespec {
                tv_sec: s as i64,
                tv_nsec: i64::from(ns),
            };
            0
        })
    }
}

/// `gxio_mpipe_set_timestamp`: sets the mPIPE clock.
///
/// # Safety
/// `ctx` null or initialized; `ts` null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_set_timestamp(
    ctx: *mut CContext,
    ts: *const CTimespec,
) -> c_int {
    // SAFETY: forwarded contract.
    let Some(t) = (unsafe { ts.as_ref() }) else {
        return BAD_CONFIG;
    };
    let (Ok(s), Ok(ns)) = (u64::try_from(t.tv_sec), u32::try_from(t.tv_nsec)) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe { with(ctx, NO_DEVICE, |c| code(c.set_timestamp(s, ns))) }
}

/// `gxio_mpipe_adjust_timestamp`: moves the clock by `delta` ns (≤ 1 s).
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_adjust_timestamp(ctx: *mut CContext, delta: i64) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { with(ctx, NO_DEVICE, |c| code(c.adjust_timestamp(delta))) }
}

/// `mpipe_emu_set_time`: the owner's time in nanoseconds.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_set_time(ctx: *mut CContext, ns: u64) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            c.set_time(ns);
            0
        })
    }
}

/// `mpipe_emu_inject`: a frame arrives on `channel`; `errors` is a mask of
/// `MPIPE_EMU_ERR_ME` (1), `_TR` (2), `_CE` (4). Returns 1 when delivered,
/// 0 when dropped (see `mpipe_emu_get_stats`), or an error code.
///
/// # Safety
/// `ctx` null or initialized; `frame` null or readable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_inject(
    ctx: *mut CContext,
    channel: c_uint,
    frame: *const c_void,
    len: usize,
    errors: c_uint,
) -> c_int {
    if frame.is_null() {
        return BAD_CONFIG;
    }
    let Ok(ch) = u8::try_from(channel) else {
        return Error::BadChannel.code();
    };
    // SAFETY: `frame` is non-null and readable for `len` bytes per the
    // contract, and not written during the call.
    let bytes = unsafe { std::slice::from_raw_parts(frame.cast::<u8>(), len) };
    let errs = InjectErrors {
        me: errors & 1 != 0,
        tr: errors & 2 != 0,
        ce: errors & 4 != 0,
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            match c.inject_with_errors(ch, bytes, errs) {
                Ok(Delivery::Delivered { .. }) => 1,
                Ok(Delivery::Dropped(_)) => 0,
                Err(e) => e.code(),
            }
        })
    }
}

/// `mpipe_emu_egress_pop`: moves the oldest egress frame of `channel` into
/// `buf`; returns its length, 0 when there is none, or an error code
/// (`GXIO_MPIPE_ERR_BAD_CONFIG` when `buf` is too small; the frame stays).
///
/// # Safety
/// `ctx` null or initialized; `buf` null or writable for `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_egress_pop(
    ctx: *mut CContext,
    channel: c_uint,
    buf: *mut c_void,
    len: usize,
) -> c_int {
    if buf.is_null() {
        return BAD_CONFIG;
    }
    let Ok(ch) = u8::try_from(channel) else {
        return Error::BadChannel.code();
    };
    // SAFETY: `buf` is non-null and writable for `len` bytes per the
    // contract, and nothing else accesses it during the call.
    let out = unsafe { std::slice::from_raw_parts_mut(buf.cast::<u8>(), len) };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| match c.egress_pop(ch, out) {
            Ok(Some(n)) => c_int::try_from(n).unwrap_or(BAD_CONFIG),
            Ok(None) => 0,
            Err(e) => e.code(),
        })
    }
}

/// `mpipe_emu_set_carrier`: plugs (non-zero) or unplugs a link's cable.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_set_carrier(
    ctx: *mut CContext,
    channel: c_uint,
    plugged: c_int,
) -> c_int {
    let Ok(ch) = u8::try_from(channel) else {
        return Error::BadChannel.code();
    };
    // SAFETY: forwarded contract.
    unsafe { with(ctx, NO_DEVICE, |c| code(c.set_carrier(ch, plugged != 0))) }
}

/// `mpipe_emu_get_stats`: copies the context's counters.
///
/// # Safety
/// `ctx` null or initialized; `out` null or writable.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_get_stats(ctx: *mut CContext, out: *mut Stats) -> c_int {
    // SAFETY: forwarded contract.
    let Some(o) = (unsafe { out.as_mut() }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            *o = *c.stats();
            0
        })
    }
}

/// `mpipe_emu_stack_len`: buffers on a stack now, or an error code.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_stack_len(ctx: *mut CContext, stack: c_uint) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| match c.stack_len(stack) {
            Ok(n) => c_int::try_from(n).unwrap_or(c_int::MAX),
            Err(e) => e.code(),
        })
    }
}

/// `mpipe_emu_flow_hash_ipv4`: the flow hash the classifier computes for
/// a TCP/UDP over IPv4 packet with these fields (addresses as 4 bytes in
/// network order, ports in host order); 0 if a pointer is null.
///
/// # Safety
/// `ctx` null or initialized; `src`, `dst` null or readable for 4 bytes.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_flow_hash_ipv4(
    ctx: *mut CContext,
    src: *const u8,
    dst: *const u8,
    sport: u16,
    dport: u16,
) -> u32 {
    // SAFETY: forwarded contract: each is null or readable for 4 bytes.
    let (Some(s), Some(d)) = (unsafe { src.cast::<[u8; 4]>().as_ref() }, unsafe {
        dst.cast::<[u8; 4]>().as_ref()
    }) else {
        return 0;
    };
    // SAFETY: forwarded contract.
    unsafe { with(ctx, 0, |c| c.flow_hasher().ipv4_ports(*s, *d, sport, dport)) }
}
