//! The C face: `#[no_mangle] extern "C"` functions with the gxio names and
//! the emulator-only `mpipe_emu_*` entry points, declared in
//! `include/gxio/mpipe.h`. Functions the real header defines `static inline`
//! (iqueue/equeue fast paths, push/pop, credit, descriptor helpers) are
//! exported as ordinary symbols here.
//!
//! A `gxio_mpipe_context_t` holds a pointer to a heap-allocated
//! `Mutex<Context>`, so several threads may use one context (each call
//! locks it). The iqueue, equeue, link and rules structs are plain C structs
//! that name their context; queue state lives in the context. Memory the C
//! program hands in (`register_page`, ring memory) becomes an external
//! region of the context: it must stay valid until `gxio_mpipe_destroy` and
//! live below 2 TiB (the 42-bit `va` fields); `mpipe_emu_alloc_memory`
//! returns such memory.
//!
//! Every function checks its pointers for null and returns an error code
//! (or does nothing, for the `void` ones) rather than crashing; the safety
//! contract is that non-null pointers are valid for the documented use.

use crate::buffer_stack::{buffer_stack_capacity, calc_buffer_stack_bytes, BufferSize};
use crate::context::{Config, Context, Delivery, InjectErrors, Stats};
use crate::desc::{BDesc, EDesc, IDesc};
use crate::error::Error;
use crate::lb::BucketMode;
use crate::link::Link;
use crate::rules::Rules;
use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};
use std::sync::{Mutex, MutexGuard};

/// `gxio_mpipe_context_t`: the C handle of a [`Context`].
#[repr(C)]
pub struct CContext {
    emu: *mut Mutex<Context>,
    instance: u32,
    reserved: u32,
}

/// `gxio_mpipe_iqueue_t`: names the context and NotifRing of an iqueue.
#[repr(C)]
pub struct CIqueue {
    context: *mut CContext,
    ring: c_uint,
    reserved0: c_uint,
    reserved: [u64; 4],
}

/// `gxio_mpipe_equeue_t`: names the context and eDMA ring of an equeue.
#[repr(C)]
pub struct CEqueue {
    context: *mut CContext,
    ering: c_uint,
    channel: c_uint,
    reserved: [u64; 4],
}

/// `gxio_mpipe_link_t`: an open link.
#[repr(C)]
pub struct CLink {
    context: *mut CContext,
    channel: c_uint,
    flags: c_uint,
}

/// `gxio_mpipe_rules_t`: a rule list being built, and its context.
#[repr(C)]
pub struct CRules {
    context: *mut CContext,
    rules: Rules,
}

/// `gxio_mpipe_rules_stacks_t`: a stack per buffer size class.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CRulesStacks {
    stacks: [u8; 8],
}

/// `gxio_mpipe_rules_dmac_t`: a destination MAC.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct CRulesDmac {
    octets: [u8; 6],
}

/// `struct timespec` on 64-bit Linux.
#[repr(C)]
pub struct CTimespec {
    tv_sec: i64,
    tv_nsec: i64,
}

/// `mpipe_emu_config_t`: [`Config`] with byte-sized flags.
#[repr(C)]
pub struct CConfig {
    instance: u8,
    mac_base: [u8; 6],
    hash_key: [u8; 40],
    drop_bad: u8,
    timestamps: u8,
    egress_queue_bytes: u32,
    egress_queue_frames: u32,
}

impl Default for CContext {
    /// A zeroed handle: not initialized (calls return `GXIO_ERR_NO_DEVICE`).
    fn default() -> Self {
        CContext {
            emu: std::ptr::null_mut(),
            instance: 0,
            reserved: 0,
        }
    }
}

impl Default for CIqueue {
    /// A zeroed iqueue, to be set up by `gxio_mpipe_iqueue_init`.
    fn default() -> Self {
        CIqueue {
            context: std::ptr::null_mut(),
            ring: 0,
            reserved0: 0,
            reserved: [0; 4],
        }
    }
}

impl Default for CEqueue {
    /// A zeroed equeue, to be set up by `gxio_mpipe_equeue_init`.
    fn default() -> Self {
        CEqueue {
            context: std::ptr::null_mut(),
            ering: 0,
            channel: 0,
            reserved: [0; 4],
        }
    }
}

impl Default for CLink {
    /// A zeroed link, to be set up by `gxio_mpipe_link_open`.
    fn default() -> Self {
        CLink {
            context: std::ptr::null_mut(),
            channel: 0,
            flags: 0,
        }
    }
}

impl Default for CRules {
    /// An empty list with no context (`gxio_mpipe_rules_init` sets one).
    fn default() -> Self {
        CRules {
            context: std::ptr::null_mut(),
            rules: Rules::new(),
        }
    }
}

impl CRulesStacks {
    /// A stack per size class.
    pub fn new(stacks: [u8; 8]) -> Self {
        CRulesStacks { stacks }
    }
}

impl CRulesDmac {
    /// A MAC address.
    pub fn new(octets: [u8; 6]) -> Self {
        CRulesDmac { octets }
    }
}

impl CTimespec {
    /// Seconds and nanoseconds.
    pub fn new(tv_sec: i64, tv_nsec: i64) -> Self {
        CTimespec { tv_sec, tv_nsec }
    }

    /// (seconds, nanoseconds).
    pub fn get(&self) -> (i64, i64) {
        (self.tv_sec, self.tv_nsec)
    }
}

const _: () = assert!(std::mem::size_of::<CContext>() == 16);
const _: () = assert!(std::mem::size_of::<CIqueue>() == 48);
const _: () = assert!(std::mem::size_of::<CEqueue>() == 48);
const _: () = assert!(std::mem::size_of::<CLink>() == 16);
const _: () = assert!(std::mem::size_of::<CRules>() == 4112);
const _: () = assert!(std::mem::size_of::<CConfig>() == 60);
const _: () = assert!(std::mem::size_of::<Stats>() == 17 * 8);

/// The context behind a C handle, locked; `None` for null/uninitialized.
///
/// # Safety
/// `ctx` must be null or point to a `gxio_mpipe_context_t` that is either
/// zeroed or initialized by `gxio_mpipe_init`/`mpipe_emu_init` and not
/// destroyed.
unsafe fn lock<'a>(ctx: *const CContext) -> Option<MutexGuard<'a, Context>> {
    // SAFETY: the caller guarantees `ctx` is null or valid for reads.
    let c = unsafe { ctx.as_ref() }?;
    // SAFETY: a non-null `emu` was made by `Box::into_raw` in `install` and
    // stays valid until `gxio_mpipe_destroy` nulls it.
    let m = unsafe { c.emu.as_ref() }?;
    Some(m.lock().unwrap_or_else(|p| p.into_inner()))
}

/// Runs `f` on the context, or returns `GXIO_ERR_NO_DEVICE`'s code.
///
/// # Safety
/// As for [`lock`].
unsafe fn with<R>(ctx: *const CContext, err: R, f: impl FnOnce(&mut Context) -> R) -> R {
    // SAFETY: forwarded contract.
    match unsafe { lock(ctx) } {
        Some(mut g) => f(&mut g),
        None => err,
    }
}

fn code(r: crate::Result<()>) -> c_int {
    match r {
        Ok(()) => 0,
        Err(e) => e.code(),
    }
}

fn code_u32(r: crate::Result<u32>) -> c_int {
    match r {
        Ok(v) => v as c_int,
        Err(e) => e.code(),
    }
}

const NO_DEVICE: c_int = Error::NoDevice.code();
const BAD_CONFIG: c_int = Error::BadConfig.code();

fn install(ctx: &mut CContext, c: Context) {
    ctx.instance = u32::from(c.config().instance);
    ctx.reserved = 0;
    ctx.emu = Box::into_raw(Box::new(Mutex::new(c)));
}

// ---- context --------------------------------------------------------------

/// `gxio_mpipe_init`: creates an emulated mPIPE `instance` (0 or 1) with
/// default settings in `*ctx`.
///
/// # Safety
/// `ctx` must be null or valid for writes of a `gxio_mpipe_context_t`.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_init(ctx: *mut CContext, instance: c_uint) -> c_int {
    // SAFETY: the caller guarantees `ctx` is null or writable.
    let Some(c) = (unsafe { ctx.as_mut() }) else {
        return BAD_CONFIG;
    };
    match Context::init(instance) {
        Ok(e) => {
            install(c, e);
            0
        }
        Err(e) => e.code(),
    }
}

/// `mpipe_emu_config_default`: fills `*cfg` with the default settings.
///
/// # Safety
/// `cfg` must be null or valid for writes.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_config_default(cfg: *mut CConfig) {
    let d = Config::default();
    // SAFETY: the caller guarantees `cfg` is null or writable.
    if let Some(c) = unsafe { cfg.as_mut() } {
        *c = CConfig {
            instance: d.instance,
            mac_base: d.mac_base,
            hash_key: d.hash_key,
            drop_bad: u8::from(d.drop_bad),
            timestamps: u8::from(d.timestamps),
            egress_queue_bytes: d.egress_queue_bytes,
            egress_queue_frames: d.egress_queue_frames,
        };
    }
}

/// `mpipe_emu_init`: as `gxio_mpipe_init`, with explicit settings.
///
/// # Safety
/// `ctx` must be null or writable; `cfg` null or readable.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_init(ctx: *mut CContext, cfg: *const CConfig) -> c_int {
    // SAFETY: the caller guarantees both pointers are null or valid.
    let (Some(c), Some(k)) = (unsafe { ctx.as_mut() }, unsafe { cfg.as_ref() }) else {
        return BAD_CONFIG;
    };
    let config = Config {
        instance: k.instance,
        mac_base: k.mac_base,
        hash_key: k.hash_key,
        drop_bad: k.drop_bad != 0,
        timestamps: k.timestamps != 0,
        egress_queue_bytes: k.egress_queue_bytes,
        egress_queue_frames: k.egress_queue_frames,
    };
    match Context::new(config) {
        Ok(e) => {
            install(c, e);
            0
        }
        Err(e) => e.code(),
    }
}

/// `gxio_mpipe_destroy`: frees the context and all its memory.
///
/// # Safety
/// `ctx` must be null or initialized; no other thread may use it any more,
/// and no pointer into its memory may be used afterwards.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_destroy(ctx: *mut CContext) -> c_int {
    // SAFETY: the caller guarantees `ctx` is null or valid.
    let Some(c) = (unsafe { ctx.as_mut() }) else {
        return BAD_CONFIG;
    };
    if c.emu.is_null() {
        return NO_DEVICE;
    }
    // SAFETY: `emu` came from `Box::into_raw` and is released exactly once
    // (nulled right after).
    drop(unsafe { Box::from_raw(c.emu) });
    c.emu = std::ptr::null_mut();
    0
}

/// Reads a C string, or `None` for null / non-UTF-8.
///
/// # Safety
/// `s` must be null or a NUL-terminated string.
unsafe fn cstr<'a>(s: *const c_char) -> Option<&'a str> {
    if s.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a NUL-terminated string.
    unsafe { CStr::from_ptr(s) }.to_str().ok()
}

/// `gxio_mpipe_link_instance`: the instance a link belongs to (0 here for
/// every known link), or `GXIO_ERR_NO_DEVICE`.
///
/// # Safety
/// `name` must be null or a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_link_instance(name: *const c_char) -> c_int {
    // SAFETY: forwarded contract.
    match unsafe { cstr(name) }.and_then(crate::link::channel_of) {
        Some(_) => 0,
        None => NO_DEVICE,
    }
}

// ---- memory (emulator only) ------------------------------------------------

/// `mpipe_emu_alloc_memory`: `size` zeroed bytes aligned to `align`, owned
/// by the context and addressable by descriptors; NULL on failure.
///
/// # Safety
/// `ctx` must be null or initialized.
#[no_mangle]
pub unsafe extern "C" fn mpipe_emu_alloc_memory(
    ctx: *mut CContext,
    size: usize,
    align: usize,
) -> *mut c_void {
    // SAFETY: forwarded contract.
    unsafe {
        with(ctx, std::ptr::null_mut(), |c| {
            c.alloc_memory(size, align)
                .map_or(std::ptr::null_mut(), |va| va as *mut c_void)
        })
    }
}

/// Adds C memory to the context (if not already inside its memory).
///
/// # Safety
/// `p` must be valid for reads and writes of `len` bytes until the context
/// is destroyed.
unsafe fn add_external(c: &mut Context, p: *mut c_void, len: usize) -> crate::Result<u64> {
    // SAFETY: forwarded contract.
    unsafe { c.mem.add_external(p.cast(), len) }?;
    Ok(p as u64)
}

// ---- buffer stacks ---------------------------------------------------------

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
    empty.set_c(crate::desc::Chain::Invalid);
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

// ---- NotifRings, groups, buckets -------------------------------------------

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

// ---- iqueues ---------------------------------------------------------------

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

/// Reads `*idesc`.
///
/// # Safety
/// `idesc` must be null or readable.
unsafe fn read_idesc(idesc: *const IDesc) -> Option<IDesc> {
    // SAFETY: forwarded contract; `IDesc` is plain data, any bits are valid.
    unsafe { idesc.as_ref() }.copied()
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

// ---- descriptor helpers (static inline in Tilera's header) -----------------

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

// ---- eDMA rings and equeues --------------------------------------------------

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

// ---- links -------------------------------------------------------------------

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

// ---- rules -------------------------------------------------------------------

/// `gxio_mpipe_rules_init`: an empty list for `ctx`.
///
/// # Safety
/// `rules` must be null or writable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_rules_init(rules: *mut CRules, ctx: *mut CContext) {
    if rules.is_null() {
        return;
    }
    // SAFETY: `rules` is non-null and writable per the contract; `write`
    // does not read the (possibly uninitialized) old contents.
    unsafe {
        rules.write(CRules {
            context: ctx,
            rules: Rules::new(),
        })
    };
}

/// The rule list of a C rules struct.
///
/// # Safety
/// `rules` must be null or initialized by `gxio_mpipe_rules_init`.
unsafe fn rules_mut<'a>(rules: *mut CRules) -> Option<&'a mut CRules> {
    // SAFETY: forwarded contract; `Rules` is plain bytes, any value is valid.
    unsafe { rules.as_mut() }
}

macro_rules! rules_op {
    ($(#[$doc:meta])* $name:ident, $arg:ident: $ty:ty, $body:expr) => {
        $(#[$doc])*
        ///
        /// # Safety
        /// `rules` must be null or initialized by `gxio_mpipe_rules_init`.
        #[no_mangle]
        pub unsafe extern "C" fn $name(rules: *mut CRules, $arg: $ty) -> c_int {
            // SAFETY: forwarded contract.
            match unsafe { rules_mut(rules) } {
                Some(r) => code($body(&mut r.rules, $arg)),
                None => BAD_CONFIG,
            }
        }
    };
}

rules_op!(/// `gxio_mpipe_rules_set_headroom`.
    gxio_mpipe_rules_set_headroom, headroom: u8, |r: &mut Rules, v| r.set_headroom(v));
rules_op!(/// `gxio_mpipe_rules_set_tailroom`.
    gxio_mpipe_rules_set_tailroom, tailroom: u8, |r: &mut Rules, v| r.set_tailroom(v));
rules_op!(/// `gxio_mpipe_rules_set_capacity`.
    gxio_mpipe_rules_set_capacity, capacity: u16, |r: &mut Rules, v| r.set_capacity(v));
rules_op!(/// `gxio_mpipe_rules_add_channel`.
    gxio_mpipe_rules_add_channel, channel: c_uint, |r: &mut Rules, v| r.add_channel(v));
rules_op!(/// `gxio_mpipe_rules_add_vlan`.
    gxio_mpipe_rules_add_vlan, vlan: u16, |r: &mut Rules, v| r.add_vlan(v));
rules_op!(/// `gxio_mpipe_rules_add_dmac`.
    gxio_mpipe_rules_add_dmac, dmac: CRulesDmac, |r: &mut Rules, v: CRulesDmac| r.add_dmac(v.octets));

/// `gxio_mpipe_rules_begin`: a rule for `num_buckets` (a power of two)
/// buckets from `bucket`, with `stacks` (NULL = automatic choice).
///
/// # Safety
/// `rules` null or initialized; `stacks` null or readable.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_rules_begin(
    rules: *mut CRules,
    bucket: c_uint,
    num_buckets: c_uint,
    stacks: *const CRulesStacks,
) -> c_int {
    // SAFETY: forwarded contract.
    let (Some(r), s) = (unsafe { rules_mut(rules) }, unsafe { stacks.as_ref() }) else {
        return BAD_CONFIG;
    };
    code(r.rules.begin(bucket, num_buckets, s.map(|s| &s.stacks)))
}

/// `gxio_mpipe_rules_commit`: installs the list in its context.
///
/// # Safety
/// `rules` must be null or initialized, naming a live context.
#[no_mangle]
pub unsafe extern "C" fn gxio_mpipe_rules_commit(rules: *mut CRules) -> c_int {
    // SAFETY: forwarded contract.
    let Some(r) = (unsafe { rules_mut(rules) }) else {
        return BAD_CONFIG;
    };
    // SAFETY: forwarded contract on the context the list names.
    unsafe { with(r.context, NO_DEVICE, |c| code(c.commit_rules(&r.rules))) }
}

// ---- timestamps ----------------------------------------------------------------

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

// ---- emulator-only entry points ---------------------------------------------

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
