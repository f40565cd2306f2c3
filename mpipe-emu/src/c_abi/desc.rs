//! Descriptor helpers that Tilera's header defines `static inline`.

use super::*;

/// `gxio_mpipe_idesc_get_va`: the address of the first packet byte.
///
/// # Safety
/// `idesc` must be null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_idesc_get_va(idesc: *const IDesc) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe { read_idesc(idesc) }.map_or(std::ptr::null_mut(), |d| d.va() as *mut c_void)
}

/// `gxio_mpipe_idesc_get_xfer_size`: `l2_size`.
///
/// # Safety
/// `idesc` must be null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_idesc_get_xfer_size(idesc: *const IDesc) -> c_uint {
    // SAFETY: forwarded contract.
    unsafe { read_idesc(idesc) }.map_or(0, |d| d.l2_size())
}

/// `gxio_mpipe_idesc_get_l2_start`: `va + l2_offset`.
///
/// # Safety
/// `idesc` must be null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_idesc_get_l2_start(idesc: *const IDesc) -> *mut u8 {
    // SAFETY: forwarded contract.
    unsafe { read_idesc(idesc) }.map_or(std::ptr::null_mut(), |d| d.l2_start() as *mut u8)
}

/// `gxio_mpipe_idesc_get_l2_length`: `l2_size - l2_offset`.
///
/// # Safety
/// `idesc` must be null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_idesc_get_l2_length(idesc: *const IDesc) -> c_uint {
    // SAFETY: forwarded contract.
    unsafe { read_idesc(idesc) }.map_or(0, |d| d.l2_length() as c_uint)
}

/// `gxio_mpipe_idesc_has_error`: me | tr | ce | be.
///
/// # Safety
/// `idesc` must be null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_idesc_has_error(idesc: *const IDesc) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { read_idesc(idesc) }.map_or(1, |d| c_int::from(d.has_error()))
}

/// `gxio_mpipe_idesc_is_bad`: an error, bad status, or a failed L4 sum.
///
/// # Safety
/// `idesc` must be null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_idesc_is_bad(idesc: *const IDesc) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { read_idesc(idesc) }.map_or(1, |d| c_int::from(d.is_bad()))
}

/// `gxio_mpipe_edesc_copy_idesc`: an edesc sending the received packet
/// (`ns = has_error`, `bound = 1`, `xfer_size = l2_size`, word 1 = idesc
/// word 7).
///
/// # Safety
/// `edesc` null or writable; `idesc` null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_edesc_copy_idesc(edesc: *mut EDesc, idesc: *const IDesc) {
    // SAFETY: forwarded contract.
    if let (Some(e), Some(d)) = (unsafe { edesc.as_mut() }, unsafe { read_idesc(idesc) }) {
        *e = EDesc::copy_idesc(&d);
    }
}

/// `gxio_mpipe_edesc_set_bdesc`: word 1 = `bdesc`.
///
/// # Safety
/// `edesc` must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_edesc_set_bdesc(edesc: *mut EDesc, bdesc: BDesc) {
    // SAFETY: forwarded contract.
    if let Some(e) = unsafe { edesc.as_mut() } {
        e.set_bdesc(bdesc);
    }
}
