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

use crate::buffer_stack::{buffer_stack_capacity, calc_buffer_stack_bytes};
use crate::context::{Config, Context, Delivery, InjectErrors, Stats};
use crate::error::Error;
use crate::lb::BucketMode;
use crate::link::Link;
use crate::rules::Rules;
use mpipe_desc::{BDesc, BufferSize, EDesc, IDesc};
use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr};
use std::sync::{Mutex, MutexGuard};

mod buffers;
mod desc;
mod emu;
mod equeue;
mod link;
mod notif;
mod rules;

pub use buffers::*;
pub use desc::*;
pub use emu::*;
pub use equeue::*;
pub use link::*;
pub use notif::*;
pub use rules::*;

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

// SAFETY: the handle is a pointer to a heap `Mutex<Context>`; `Context` is
// `Send`, so the mutex is `Send + Sync`, and the handle only ever reaches the
// context through `lock`. Moving or sharing the handle between threads is
// what C callers do with `gxio_mpipe_context_t` (one iqueue per tile).
unsafe impl Send for CContext {}
// SAFETY: as above; `&CContext` gives access only through the mutex.
unsafe impl Sync for CContext {}

impl CContext {
    /// A C handle owning `ctx`: lets a Rust owner hand the context to code
    /// written against the C face (a `*mut CContext` is a
    /// `gxio_mpipe_context_t *`) while it keeps using the safe API through
    /// [`CContext::lock`], e.g. to inject frames and drain the wire.
    pub fn new(ctx: Context) -> CContext {
        let mut c = CContext::default();
        install(&mut c, ctx);
        c
    }

    /// The context behind the handle, locked; `None` when the handle is not
    /// initialized or was destroyed (`gxio_mpipe_destroy`).
    pub fn lock(&self) -> Option<MutexGuard<'_, Context>> {
        // SAFETY: a non-null `emu` was made by `Box::into_raw` in `install`
        // and is freed only by `gxio_mpipe_destroy` or `Drop`, which null it
        // (`destroy` requires that no copy of the handle is used afterwards).
        let m = unsafe { self.emu.as_ref() }?;
        Some(m.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Drop for CContext {
    /// Frees the context unless `gxio_mpipe_destroy` already did. (Handles
    /// living in C memory are never dropped by Rust.)
    fn drop(&mut self) {
        if !self.emu.is_null() {
            // SAFETY: `emu` came from `Box::into_raw` and is released once.
            drop(unsafe { Box::from_raw(self.emu) });
            self.emu = std::ptr::null_mut();
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

/// Reads `*idesc`.
///
/// # Safety
/// `idesc` must be null or readable.
unsafe fn read_idesc(idesc: *const IDesc) -> Option<IDesc> {
    // SAFETY: forwarded contract; `IDesc` is plain data, any bits are valid.
    unsafe { idesc.as_ref() }.copied()
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
