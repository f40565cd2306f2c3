//! Buffer stacks: allocation, initialization, pages, push and pop.

use super::*;

/// `gxio_mpipe_alloc_buffer_stacks`.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_alloc_buffer_stacks(
    ctx: *mut CContext,
    count: c_uint,
    first: c_uint,
    flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, NO_DEVICE, |c| {
            code_u32(c.alloc_buffer_stacks(count, first, flags))
        })
    }
}

/// `gxio_mpipe_calc_buffer_stack_bytes`: `ceil(buffers / 12) * 64`.
#[no_mangle]
pub extern "C" fn gxio_mpipe_calc_buffer_stack_bytes(buffers: c_ulong) -> usize {
    calc_buffer_stack_bytes(buffers as usize)
}

/// `gxio_mpipe_buffer_size_to_buffer_size_enum`.
#[no_mangle]
pub extern "C" fn gxio_mpipe_buffer_size_to_buffer_size_enum(size: usize) -> c_int {
    BufferSize::for_bytes(size) as c_int
}

/// `gxio_mpipe_buffer_size_enum_to_buffer_size` (0 for an invalid enum).
#[no_mangle]
pub extern "C" fn gxio_mpipe_buffer_size_enum_to_buffer_size(size_enum: c_int) -> usize {
    u32::try_from(size_enum)
        .ok()
        .and_then(|v| BufferSize::from_enum(v).ok())
        .map_or(0, |s| s.bytes())
}

/// `gxio_mpipe_init_buffer_stack`: stack memory `mem` (64 KB aligned,
/// `calc_buffer_stack_bytes(n)` bytes for `n` buffers) is zeroed and owned
/// by the emulated hardware from now on.
///
/// # Safety
/// `ctx` null or initialized; `mem` null or writable for `mem_size` bytes
/// until the context is destroyed.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_init_buffer_stack(
    ctx: *mut CContext,
    stack: c_uint,
    buffer_size_enum: c_int,
    mem: *mut c_void,
    mem_size: usize,
    _flags: c_uint,
) -> c_int {
    let Ok(size) = u32::try_from(buffer_size_enum)
        .map_err(|_| ())
        .and_then(|v| BufferSize::from_enum(v).map_err(|_| ()))
    else {
        return Error::InvalBufferSize.code();
    };
    if mem.is_null()
        || !(mem as usize).is_multiple_of(65536)
        || buffer_stack_capacity(mem_size) == 0
    {
        return Error::InvalMemorySize.code();
    }
    // SAFETY: forwarded contract.
    let Some(mut c) = (unsafe { lock(ctx) }) else {
        return NO_DEVICE;
    };
    let r = c.init_buffer_stack(stack, size, buffer_stack_capacity(mem_size));
    if r.is_ok() {
        // SAFETY: the caller guarantees `mem` is writable for `mem_size`
        // bytes; the emulator keeps the stack itself in its own storage, so
        // zeroing is all it does with it.
        unsafe { std::ptr::write_bytes(mem.cast::<u8>(), 0, mem_size) };
    }
    code(r)
}

/// `gxio_mpipe_register_page`: buffers of `stack` may live in
/// `[page, page + page_size)`.
///
/// # Safety
/// `ctx` null or initialized; `page` valid for reads and writes of
/// `page_size` bytes until the context is destroyed.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_register_page(
    ctx: *mut CContext,
    stack: c_uint,
    page: *mut c_void,
    page_size: usize,
    _flags: c_uint,
) -> c_int {
    // SAFETY: forwarded contract.
    let Some(mut c) = (unsafe { lock(ctx) }) else {
        return NO_DEVICE;
    };
    // SAFETY: forwarded contract on `page`.
    let r = unsafe { add_external(&mut c, page, page_size) }
        .and_then(|va| c.register_page(stack, va, page_size as u64));
    code(r)
}

/// `gxio_mpipe_push_buffer` (a `static inline` MMIO store in Tilera's
/// header): refused pushes are counted in the stack's statistics.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_push_buffer(
    ctx: *mut CContext,
    stack: c_uint,
    buffer: *mut c_void,
) {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, (), |c| {
            let _ = c.push_buffer(stack, buffer as u64);
        })
    }
}

/// `gxio_mpipe_pop_buffer`: a buffer, or NULL when the stack is empty.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_pop_buffer(ctx: *mut CContext, stack: c_uint) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, std::ptr::null_mut(), |c| match c.pop_buffer(stack) {
            Ok(Some(va)) => va as *mut c_void,
            _ => std::ptr::null_mut(),
        })
    }
}

/// `gxio_mpipe_pop_buffer_bdesc`: `c` = 0 for a buffer, 3 when empty.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_pop_buffer_bdesc(ctx: *mut CContext, stack: c_uint) -> BDesc {
    let mut empty = BDesc(0);
    empty.set_c(mpipe_desc::Chain::Invalid);
    // SAFETY: forwarded contract.
    unsafe { with(ctx, empty, |c| c.pop_buffer_bdesc(stack).unwrap_or(empty)) }
}

/// `gxio_mpipe_push_buffer_bdesc`: pushes `bdesc.va` to `bdesc.stack_idx`.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_push_buffer_bdesc(ctx: *mut CContext, bdesc: BDesc) {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, (), |c| {
            let _ = c.push_buffer_bdesc(bdesc);
        })
    }
}
