//! The gxio mPIPE C API, as the backend uses it: every `extern "C"`
//! declaration of the backend is here, and nothing else.
//!
//! On x86 (feature `mpipe`) the symbols come from `mpipe-emu`, which
//! exports every function with its gxio name, the ones Tilera's header
//! defines `static inline` included. On a TILE-Gx (feature `mpipe-gxio`
//! without `mpipe`) they come from Tilera's `libgxio`, except the
//! `static inline` fast paths, which have no symbol there: the shim
//! `shim/rusty_gxio_shim.c`, compiled against the real `<gxio/mpipe.h>`,
//! exports each of them under a `rusty_gxio_` name, and the declarations
//! below switch to those names (`link_name`).
//!
//! Handles (`gxio_mpipe_context_t` and the queue, link and rules structs)
//! are opaque to the backend: it stores each in an aligned byte block of a
//! generous size ([`Handle`]); the shim checks with `_Static_assert` that
//! the real structs fit, and a test checks the emulator's.

use core::ffi::{c_int, c_uint, c_ulong, c_void};

use mpipe_desc::{BDesc, EDesc, IDesc};

/// Storage for one opaque gxio struct of at most `N` bytes.
#[repr(C, align(64))]
pub struct Handle<const N: usize>(pub [u8; N]);

impl<const N: usize> Handle<N> {
    /// Zeroed storage, on the heap so that its address never changes (the
    /// C side keeps pointers to the context).
    pub fn boxed() -> Box<Handle<N>> {
        Box::new(Handle([0; N]))
    }
}

/// Bytes reserved for a `gxio_mpipe_context_t`.
pub const CONTEXT_BYTES: usize = 4096;
/// Bytes reserved for a `gxio_mpipe_iqueue_t`.
pub const IQUEUE_BYTES: usize = 256;
/// Bytes reserved for a `gxio_mpipe_equeue_t`.
pub const EQUEUE_BYTES: usize = 256;
/// Bytes reserved for a `gxio_mpipe_link_t`.
pub const LINK_BYTES: usize = 128;
/// Bytes reserved for a `gxio_mpipe_rules_t`.
pub const RULES_BYTES: usize = 8192;

/// `gxio_mpipe_context_t`, opaque.
pub type Context = c_void;
/// `gxio_mpipe_iqueue_t`, opaque.
pub type Iqueue = c_void;
/// `gxio_mpipe_equeue_t`, opaque.
pub type Equeue = c_void;
/// `gxio_mpipe_link_t`, opaque.
pub type Link = c_void;
/// `gxio_mpipe_rules_t`, opaque.
pub type Rules = c_void;

/// `GXIO_MPIPE_BUCKET_STATIC_FLOW_AFFINITY`.
pub const BUCKET_STATIC_FLOW_AFFINITY: c_uint = 1;
/// `GXIO_MPIPE_LINK_MAC`: the link's MAC address attribute.
pub const LINK_MAC: u32 = 0x04_0000;
/// `GXIO_MPIPE_LINK_RECEIVE_JUMBO`: accept frames up to 10240 bytes.
pub const LINK_RECEIVE_JUMBO: u32 = 0x01_0000;

// The emulator: its rlib holds the symbols; naming the crate makes the
// linker pull them in.
#[cfg(feature = "mpipe")]
use mpipe_emu as _;

#[cfg_attr(
    all(feature = "mpipe-gxio", not(feature = "mpipe")),
    link(name = "gxio")
)]
extern "C" {
    pub fn gxio_mpipe_init(context: *mut Context, instance: c_uint) -> c_int;
    pub fn gxio_mpipe_destroy(context: *mut Context) -> c_int;
    pub fn gxio_mpipe_link_instance(link_name: *const core::ffi::c_char) -> c_int;

    pub fn gxio_mpipe_link_open(
        link: *mut Link,
        context: *mut Context,
        link_name: *const core::ffi::c_char,
        flags: c_uint,
    ) -> c_int;
    pub fn gxio_mpipe_link_channel(link: *mut Link) -> c_int;
    pub fn gxio_mpipe_link_get_attr(link: *mut Link, attr: u32) -> i64;
    pub fn gxio_mpipe_link_set_attr(link: *mut Link, attr: u32, value: i64) -> c_int;

    pub fn gxio_mpipe_alloc_buffer_stacks(
        context: *mut Context,
        count: c_uint,
        first: c_uint,
        flags: c_uint,
    ) -> c_int;
    pub fn gxio_mpipe_calc_buffer_stack_bytes(buffers: c_ulong) -> usize;
    pub fn gxio_mpipe_init_buffer_stack(
        context: *mut Context,
        stack: c_uint,
        buffer_size_enum: c_int,
        mem: *mut c_void,
        mem_size: usize,
        mem_flags: c_uint,
    ) -> c_int;
    pub fn gxio_mpipe_register_page(
        context: *mut Context,
        stack: c_uint,
        page: *mut c_void,
        page_size: usize,
        page_flags: c_uint,
    ) -> c_int;

    pub fn gxio_mpipe_alloc_notif_rings(
        context: *mut Context,
        count: c_uint,
        first: c_uint,
        flags: c_uint,
    ) -> c_int;
    pub fn gxio_mpipe_alloc_notif_groups(
        context: *mut Context,
        count: c_uint,
        first: c_uint,
        flags: c_uint,
    ) -> c_int;
    pub fn gxio_mpipe_alloc_buckets(
        context: *mut Context,
        count: c_uint,
        first: c_uint,
        flags: c_uint,
    ) -> c_int;
    pub fn gxio_mpipe_init_notif_group_and_buckets(
        context: *mut Context,
        group: c_uint,
        ring: c_uint,
        num_rings: c_uint,
        bucket: c_uint,
        num_buckets: c_uint,
        mode: c_uint,
    ) -> c_int;
    pub fn gxio_mpipe_iqueue_init(
        iqueue: *mut Iqueue,
        context: *mut Context,
        ring: c_uint,
        mem: *mut c_void,
        mem_size: usize,
        mem_flags: c_uint,
    ) -> c_int;

    pub fn gxio_mpipe_alloc_edma_rings(
        context: *mut Context,
        count: c_uint,
        first: c_uint,
        flags: c_uint,
    ) -> c_int;
    pub fn gxio_mpipe_equeue_init(
        equeue: *mut Equeue,
        context: *mut Context,
        ering: c_uint,
        channel: c_uint,
        mem: *mut c_void,
        mem_size: usize,
        mem_flags: c_uint,
    ) -> c_int;

    pub fn gxio_mpipe_rules_init(rules: *mut Rules, context: *mut Context);
    pub fn gxio_mpipe_rules_begin(
        rules: *mut Rules,
        bucket: c_uint,
        num_buckets: c_uint,
        stacks: *mut [u8; 8],
    ) -> c_int;
    pub fn gxio_mpipe_rules_set_headroom(rules: *mut Rules, headroom: u8) -> c_int;
    pub fn gxio_mpipe_rules_add_channel(rules: *mut Rules, channel: c_uint) -> c_int;
    pub fn gxio_mpipe_rules_commit(rules: *mut Rules) -> c_int;
}

// The fast paths: `static inline` in Tilera's header, exported by the shim
// under `rusty_gxio_` names on the hardware, by mpipe-emu under their own.
#[cfg_attr(
    all(feature = "mpipe-gxio", not(feature = "mpipe")),
    link(name = "rusty_gxio_shim", kind = "static")
)]
extern "C" {
    #[cfg_attr(
        all(feature = "mpipe-gxio", not(feature = "mpipe")),
        link_name = "rusty_gxio_mpipe_push_buffer"
    )]
    pub fn gxio_mpipe_push_buffer(context: *mut Context, stack: c_uint, buffer: *mut c_void);
    #[cfg_attr(
        all(feature = "mpipe-gxio", not(feature = "mpipe")),
        link_name = "rusty_gxio_mpipe_pop_buffer_bdesc"
    )]
    pub fn gxio_mpipe_pop_buffer_bdesc(context: *mut Context, stack: c_uint) -> BDesc;
    #[cfg_attr(
        all(feature = "mpipe-gxio", not(feature = "mpipe")),
        link_name = "rusty_gxio_mpipe_push_buffer_bdesc"
    )]
    pub fn gxio_mpipe_push_buffer_bdesc(context: *mut Context, bdesc: BDesc);
    #[cfg_attr(
        all(feature = "mpipe-gxio", not(feature = "mpipe")),
        link_name = "rusty_gxio_mpipe_iqueue_try_get"
    )]
    pub fn gxio_mpipe_iqueue_try_get(iqueue: *mut Iqueue, idesc: *mut IDesc) -> c_int;
    #[cfg_attr(
        all(feature = "mpipe-gxio", not(feature = "mpipe")),
        link_name = "rusty_gxio_mpipe_idesc_is_bad"
    )]
    pub fn gxio_mpipe_idesc_is_bad(idesc: *mut IDesc) -> c_int;
    #[cfg_attr(
        all(feature = "mpipe-gxio", not(feature = "mpipe")),
        link_name = "rusty_gxio_mpipe_equeue_try_reserve_fast"
    )]
    pub fn gxio_mpipe_equeue_try_reserve_fast(equeue: *mut Equeue, num: c_uint) -> i64;
    #[cfg_attr(
        all(feature = "mpipe-gxio", not(feature = "mpipe")),
        link_name = "rusty_gxio_mpipe_equeue_put_at"
    )]
    pub fn gxio_mpipe_equeue_put_at(equeue: *mut Equeue, edesc: EDesc, slot: u64) -> c_int;

    /// DMA-able memory for buffers and rings, homed for the mPIPE: the
    /// emulator's `mpipe_emu_alloc_memory` (memory the context owns and
    /// unmaps in `gxio_mpipe_destroy`), or on the hardware the shim's
    /// `rusty_gxio_alloc_memory` (`tmc_alloc_map`, hash-for-home, pages of
    /// at least `align` bytes; never unmapped, as the process owns the
    /// mPIPE until it exits). Null on failure.
    #[cfg_attr(
        all(feature = "mpipe-gxio", not(feature = "mpipe")),
        link_name = "rusty_gxio_alloc_memory"
    )]
    #[cfg_attr(feature = "mpipe", link_name = "mpipe_emu_alloc_memory")]
    pub fn rusty_alloc_memory(context: *mut Context, size: usize, align: usize) -> *mut c_void;
}
