//! Links: open, close, channel, attributes.

use super::*;

/// `gxio_mpipe_link_open`: opens `link_name` into `*link`.
///
/// # Safety
/// `link` writable; `ctx` null or initialized; `link_name` null or a
/// NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_link_open(
    link: *mut CLink,
    ctx: *mut CContext,
    link_name: *const c_char,
    flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    let (Some(out), Some(name)) = (unsafe { link.as_mut() }, unsafe { cstr(link_name) }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| match c.link_open(name, flags) {
            Ok(l) => {
                *out = CLink {
                    context: ctx,
                    channel: c_uint::from(l.channel),
                    flags: l.flags,
                };
                0
            }
            Err(e) => e.code(),
        })
    }
}

/// The context and [`Link`] of a C link.
///
/// # Safety
/// `link` must be null or opened by `gxio_mpipe_link_open`.
unsafe fn link_parts(link: *const CLink) -> Option<(*const CContext, Link)> {
    // SAFETY: forwarded contract.
    let l = unsafe { link.as_ref() }?;
    Some((
        l.context,
        Link {
            channel: u8::try_from(l.channel).ok()?,
            flags: l.flags,
        },
    ))
}

/// `gxio_mpipe_link_close`.
///
/// # Safety
/// `link` must be null or opened.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_link_close(link: *mut CLink) -> c_int {
    // SAFETY: forwarded contract.
    let Some((ctx, l)) = (unsafe { link_parts(link) }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe { with(ctx, NO_DEVICE, |c| code(c.link_close(l))) }
}

/// `gxio_mpipe_link_channel`: the link's channel.
///
/// # Safety
/// `link` must be null or opened.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_link_channel(link: *const CLink) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { link_parts(link) }.map_or(BAD_CONFIG, |(_, l)| c_int::from(l.channel))
}

/// `gxio_mpipe_link_get_attr`: the value (≥ 0) or an error code.
///
/// # Safety
/// `link` must be null or opened.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_link_get_attr(link: *mut CLink, attr: u32) -> i64 {
    // SAFETY: forwarded contract.
    let Some((ctx, l)) = (unsafe { link_parts(link) }) else {
        return i64::from(BAD_CONFIG);
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, i64::from(NO_DEVICE), |c| {
            match c.link_get_attr(&l, attr) {
                Ok(v) => v as i64,
                Err(e) => i64::from(e.code()),
            }
        })
    }
}

/// `gxio_mpipe_link_set_attr`.
///
/// # Safety
/// `link` must be null or opened.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_link_set_attr(link: *mut CLink, attr: u32, val: i64) -> c_int {
    // SAFETY: forwarded contract.
    let Some((ctx, l)) = (unsafe { link_parts(link) }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            code(c.link_set_attr(&l, attr, val as u64))
        })
    }
}
