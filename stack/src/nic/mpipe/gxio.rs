//! Safe wrappers over the gxio calls of [`super::ffi`]: the only module of
//! the backend that calls into C. Each wrapper keeps the C side's
//! contract: pointers are to live, correctly sized storage; handles are
//! initialized before use (the queue handle types exist only after a
//! successful `*_init`); memory given to the mPIPE comes from
//! [`Gxio::alloc_memory`] and lives as long as the context.

use core::ffi::{c_uint, c_void, CStr};
use core::ptr::NonNull;

use super::ffi::{
    self, Handle, CONTEXT_BYTES, EQUEUE_BYTES, IQUEUE_BYTES, LINK_BYTES, RULES_BYTES,
};
use mpipe_desc::{BDesc, EDesc, IDesc};

/// A gxio error code (negative), and the call that returned it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GxioError {
    /// The gxio function.
    pub call: &'static str,
    /// Its return value (`GXIO_ERR_*` / `GXIO_MPIPE_ERR_*`).
    pub code: i32,
}

impl core::fmt::Display for GxioError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{} failed with gxio error {}", self.call, self.code)
    }
}

impl std::error::Error for GxioError {}

/// `Ok` for a non-negative return value.
fn check(call: &'static str, rc: i64) -> Result<u32, GxioError> {
    u32::try_from(rc).map_err(|_| GxioError {
        call,
        code: i32::try_from(rc).unwrap_or(i32::MIN),
    })
}

/// Who owns the context handle.
enum Owner {
    /// Storage we initialized with `gxio_mpipe_init` (from `Box::into_raw`):
    /// destroyed and freed on drop.
    Storage(*mut Handle<CONTEXT_BYTES>),
    /// An emulated context handed over by its owner (from `Box::into_raw`).
    #[cfg(feature = "mpipe")]
    Emulator(*mut mpipe_emu::c_abi::CContext),
}

/// An initialized mPIPE context.
pub struct Gxio {
    ctx: *mut ffi::Context,
    owner: Owner,
}

impl Gxio {
    /// `gxio_mpipe_link_instance`: the mPIPE instance of a link.
    pub fn link_instance(name: &CStr) -> Result<u32, GxioError> {
        // SAFETY: `name` is a NUL-terminated string, read during the call.
        let rc = unsafe { ffi::gxio_mpipe_link_instance(name.as_ptr()) };
        check("gxio_mpipe_link_instance", rc.into())
    }

    /// `gxio_mpipe_init`: opens instance `instance`.
    pub fn init(instance: u32) -> Result<Gxio, GxioError> {
        let storage = Box::into_raw(Handle::<CONTEXT_BYTES>::boxed());
        // SAFETY: `storage` is live, zeroed and larger than the real and the
        // emulated `gxio_mpipe_context_t` (checked by the shim and a test);
        // its address is stable until `Drop` frees it.
        let rc = unsafe { ffi::gxio_mpipe_init(storage.cast(), instance) };
        if let Err(e) = check("gxio_mpipe_init", rc.into()) {
            // SAFETY: from `Box::into_raw` above, never used again.
            drop(unsafe { Box::from_raw(storage) });
            return Err(e);
        }
        Ok(Gxio {
            ctx: storage.cast(),
            owner: Owner::Storage(storage),
        })
    }

    /// A context the emulator's owner made (`CContext::new`), handed to the
    /// backend, which uses it only through the C face.
    #[cfg(feature = "mpipe")]
    pub fn emulated(ctx: mpipe_emu::c_abi::CContext) -> Gxio {
        let raw = Box::into_raw(Box::new(ctx));
        Gxio {
            ctx: raw.cast(),
            owner: Owner::Emulator(raw),
        }
    }

    /// The emulated context, for its owner's safe API (the wire, the
    /// clock); `None` for a context opened with [`Gxio::init`].
    #[cfg(feature = "mpipe")]
    pub fn emulator(&self) -> Option<&mpipe_emu::c_abi::CContext> {
        match self.owner {
            // SAFETY: from `Box::into_raw` in `emulated`, freed only in
            // `Drop`; the C calls never write the handle itself (only
            // `gxio_mpipe_destroy` would, and it is not called on it), so a
            // shared reference is sound.
            Owner::Emulator(raw) => Some(unsafe { &*raw }),
            Owner::Storage(_) => None,
        }
    }

    /// DMA-able memory owned by the context, `align`-aligned.
    pub fn alloc_memory(&self, size: usize, align: usize) -> Option<NonNull<u8>> {
        // SAFETY: `ctx` is an initialized context.
        NonNull::new(unsafe { ffi::rusty_alloc_memory(self.ctx, size, align) }.cast())
    }

    /// `gxio_mpipe_link_open` on a new link handle.
    pub fn link_open(&self, name: &CStr, flags: u32) -> Result<LinkHandle, GxioError> {
        let mut link = Handle::<LINK_BYTES>::boxed();
        // SAFETY: `link` is writable storage larger than `gxio_mpipe_link_t`,
        // `ctx` an initialized context, `name` NUL-terminated.
        let rc = unsafe {
            ffi::gxio_mpipe_link_open(link.0.as_mut_ptr().cast(), self.ctx, name.as_ptr(), flags)
        };
        check("gxio_mpipe_link_open", rc.into())?;
        Ok(LinkHandle(link))
    }

    /// `gxio_mpipe_alloc_buffer_stacks`.
    pub fn alloc_buffer_stacks(&self, count: u32) -> Result<u32, GxioError> {
        // SAFETY: `ctx` is an initialized context.
        let rc = unsafe { ffi::gxio_mpipe_alloc_buffer_stacks(self.ctx, count, 0, 0) };
        check("gxio_mpipe_alloc_buffer_stacks", rc.into())
    }

    /// `gxio_mpipe_calc_buffer_stack_bytes`.
    pub fn calc_buffer_stack_bytes(buffers: usize) -> usize {
        // SAFETY: a pure function of its argument.
        unsafe { ffi::gxio_mpipe_calc_buffer_stack_bytes(buffers as core::ffi::c_ulong) }
    }

    /// `gxio_mpipe_init_buffer_stack` over `size` bytes at `mem` (from
    /// [`Gxio::alloc_memory`]: 64 KiB aligned, owned by the context).
    pub fn init_buffer_stack(
        &self,
        stack: u32,
        class: usize,
        mem: NonNull<u8>,
        size: usize,
    ) -> Result<(), GxioError> {
        // SAFETY: `mem..mem + size` is context-owned memory handed to the
        // hardware for good; `ctx` is initialized.
        let rc = unsafe {
            ffi::gxio_mpipe_init_buffer_stack(
                self.ctx,
                stack,
                class as core::ffi::c_int,
                mem.as_ptr().cast(),
                size,
                0,
            )
        };
        check("gxio_mpipe_init_buffer_stack", rc.into()).map(drop)
    }

    /// `gxio_mpipe_register_page`.
    pub fn register_page(
        &self,
        stack: u32,
        page: NonNull<u8>,
        size: usize,
    ) -> Result<(), GxioError> {
        // SAFETY: `page` is context-owned memory; registering it only lets
        // the hardware use buffers we push from it.
        let rc = unsafe {
            ffi::gxio_mpipe_register_page(self.ctx, stack, page.as_ptr().cast(), size, 0)
        };
        check("gxio_mpipe_register_page", rc.into()).map(drop)
    }

    /// `gxio_mpipe_push_buffer`: gives the buffer at `buffer` to `stack`
    /// (the caller no longer uses its bytes).
    pub fn push_buffer(&self, stack: u32, buffer: NonNull<u8>) {
        // SAFETY: `ctx` is initialized; the call stores the address in the
        // stack and touches no memory through it.
        unsafe { ffi::gxio_mpipe_push_buffer(self.ctx, stack, buffer.as_ptr().cast::<c_void>()) }
    }

    /// `gxio_mpipe_pop_buffer_bdesc` (`c` = invalid when empty).
    pub fn pop_buffer_bdesc(&self, stack: u32) -> BDesc {
        // SAFETY: `ctx` is initialized.
        unsafe { ffi::gxio_mpipe_pop_buffer_bdesc(self.ctx, stack) }
    }

    /// `gxio_mpipe_push_buffer_bdesc`.
    pub fn push_buffer_bdesc(&self, bdesc: BDesc) {
        // SAFETY: `ctx` is initialized; the call touches no buffer memory.
        unsafe { ffi::gxio_mpipe_push_buffer_bdesc(self.ctx, bdesc) }
    }

    /// `gxio_mpipe_alloc_notif_rings`.
    pub fn alloc_notif_rings(&self, count: u32) -> Result<u32, GxioError> {
        // SAFETY: `ctx` is initialized.
        let rc = unsafe { ffi::gxio_mpipe_alloc_notif_rings(self.ctx, count, 0, 0) };
        check("gxio_mpipe_alloc_notif_rings", rc.into())
    }

    /// `gxio_mpipe_alloc_notif_groups`.
    pub fn alloc_notif_groups(&self, count: u32) -> Result<u32, GxioError> {
        // SAFETY: `ctx` is initialized.
        let rc = unsafe { ffi::gxio_mpipe_alloc_notif_groups(self.ctx, count, 0, 0) };
        check("gxio_mpipe_alloc_notif_groups", rc.into())
    }

    /// `gxio_mpipe_alloc_buckets`.
    pub fn alloc_buckets(&self, count: u32) -> Result<u32, GxioError> {
        // SAFETY: `ctx` is initialized.
        let rc = unsafe { ffi::gxio_mpipe_alloc_buckets(self.ctx, count, 0, 0) };
        check("gxio_mpipe_alloc_buckets", rc.into())
    }

    /// `gxio_mpipe_init_notif_group_and_buckets` in static flow affinity:
    /// bucket `bucket0 + i` always goes to ring `ring0 + i % rings`.
    pub fn init_static_buckets(
        &self,
        group: u32,
        ring0: u32,
        rings: u32,
        bucket0: u32,
        buckets: u32,
    ) -> Result<(), GxioError> {
        // SAFETY: `ctx` is initialized.
        let rc = unsafe {
            ffi::gxio_mpipe_init_notif_group_and_buckets(
                self.ctx,
                group,
                ring0,
                rings,
                bucket0,
                buckets,
                ffi::BUCKET_STATIC_FLOW_AFFINITY,
            )
        };
        check("gxio_mpipe_init_notif_group_and_buckets", rc.into()).map(drop)
    }

    /// `gxio_mpipe_iqueue_init` on NotifRing `ring` over `size` bytes of
    /// context-owned memory at `mem`.
    pub fn iqueue(
        &self,
        ring: u32,
        mem: NonNull<u8>,
        size: usize,
    ) -> Result<IqueueHandle, GxioError> {
        let mut iq = Handle::<IQUEUE_BYTES>::boxed();
        // SAFETY: `iq` is writable storage larger than `gxio_mpipe_iqueue_t`;
        // `mem` is context-owned memory handed to the ring for good.
        let rc = unsafe {
            ffi::gxio_mpipe_iqueue_init(
                iq.0.as_mut_ptr().cast(),
                self.ctx,
                ring,
                mem.as_ptr().cast(),
                size,
                0,
            )
        };
        check("gxio_mpipe_iqueue_init", rc.into())?;
        Ok(IqueueHandle(iq))
    }

    /// `gxio_mpipe_alloc_edma_rings`.
    pub fn alloc_edma_rings(&self, count: u32) -> Result<u32, GxioError> {
        // SAFETY: `ctx` is initialized.
        let rc = unsafe { ffi::gxio_mpipe_alloc_edma_rings(self.ctx, count, 0, 0) };
        check("gxio_mpipe_alloc_edma_rings", rc.into())
    }

    /// `gxio_mpipe_equeue_init` on eDMA ring `ering` for `channel`, over
    /// `size` bytes of context-owned memory at `mem`.
    pub fn equeue(
        &self,
        ering: u32,
        channel: u32,
        mem: NonNull<u8>,
        size: usize,
    ) -> Result<EqueueHandle, GxioError> {
        let mut eq = Handle::<EQUEUE_BYTES>::boxed();
        // SAFETY: as for `iqueue`.
        let rc = unsafe {
            ffi::gxio_mpipe_equeue_init(
                eq.0.as_mut_ptr().cast(),
                self.ctx,
                ering,
                channel,
                mem.as_ptr().cast(),
                size,
                0,
            )
        };
        check("gxio_mpipe_equeue_init", rc.into())?;
        Ok(EqueueHandle(eq))
    }

    /// One classifier rule: buckets `bucket0..bucket0 + buckets`, buffer
    /// stacks per size class (`None`: the smallest that holds the packet
    /// whole), `headroom` bytes before each packet, frames of `channel`.
    pub fn commit_rule(
        &self,
        bucket0: u32,
        buckets: u32,
        stacks: Option<[u8; 8]>,
        headroom: u8,
        channel: u32,
    ) -> Result<(), GxioError> {
        let mut rules = Handle::<RULES_BYTES>::boxed();
        let r: *mut ffi::Rules = rules.0.as_mut_ptr().cast();
        let mut stacks = stacks;
        let stacks_ptr = stacks
            .as_mut()
            .map_or(core::ptr::null_mut(), |s| s as *mut [u8; 8]);
        // SAFETY: `r` is writable storage larger than `gxio_mpipe_rules_t`,
        // initialized by `rules_init` before the other calls; `stacks_ptr`
        // is null or 8 readable bytes; all live during the calls.
        unsafe {
            ffi::gxio_mpipe_rules_init(r, self.ctx);
            check(
                "gxio_mpipe_rules_begin",
                ffi::gxio_mpipe_rules_begin(r, bucket0, buckets, stacks_ptr).into(),
            )?;
            check(
                "gxio_mpipe_rules_set_headroom",
                ffi::gxio_mpipe_rules_set_headroom(r, headroom).into(),
            )?;
            check(
                "gxio_mpipe_rules_add_channel",
                ffi::gxio_mpipe_rules_add_channel(r, channel as c_uint).into(),
            )?;
            check(
                "gxio_mpipe_rules_commit",
                ffi::gxio_mpipe_rules_commit(r).into(),
            )?;
        }
        Ok(())
    }
}

impl Drop for Gxio {
    fn drop(&mut self) {
        match self.owner {
            Owner::Storage(storage) => {
                // SAFETY: `storage` is the context we initialized and own;
                // nothing uses it after this (every handle naming it lived
                // in an object holding this `Gxio`, now gone).
                unsafe {
                    ffi::gxio_mpipe_destroy(self.ctx);
                    drop(Box::from_raw(storage));
                }
            }
            #[cfg(feature = "mpipe")]
            // SAFETY: from `Box::into_raw` in `emulated`, released once.
            Owner::Emulator(raw) => drop(unsafe { Box::from_raw(raw) }),
        }
    }
}

/// An open link (`gxio_mpipe_link_t`).
pub struct LinkHandle(Box<Handle<LINK_BYTES>>);

impl LinkHandle {
    fn ptr(&mut self) -> *mut ffi::Link {
        self.0 .0.as_mut_ptr().cast()
    }

    /// `gxio_mpipe_link_channel`.
    pub fn channel(&mut self) -> Result<u32, GxioError> {
        // SAFETY: an open link handle.
        check(
            "gxio_mpipe_link_channel",
            unsafe { ffi::gxio_mpipe_link_channel(self.ptr()) }.into(),
        )
    }

    /// `gxio_mpipe_link_get_attr`.
    pub fn get_attr(&mut self, attr: u32) -> Result<u64, GxioError> {
        // SAFETY: an open link handle.
        let v = unsafe { ffi::gxio_mpipe_link_get_attr(self.ptr(), attr) };
        u64::try_from(v).map_err(|_| GxioError {
            call: "gxio_mpipe_link_get_attr",
            code: i32::try_from(v).unwrap_or(i32::MIN),
        })
    }

    /// `gxio_mpipe_link_set_attr`.
    pub fn set_attr(&mut self, attr: u32, value: i64) -> Result<(), GxioError> {
        // SAFETY: an open link handle.
        let rc = unsafe { ffi::gxio_mpipe_link_set_attr(self.ptr(), attr, value) };
        check("gxio_mpipe_link_set_attr", rc.into()).map(drop)
    }
}

/// An initialized iqueue (`gxio_mpipe_iqueue_t`).
pub struct IqueueHandle(Box<Handle<IQUEUE_BYTES>>);

impl IqueueHandle {
    /// `gxio_mpipe_iqueue_try_get`: the next descriptor, consumed and
    /// credited; `None` when the ring is empty.
    #[inline]
    pub fn try_get(&mut self) -> Option<IDesc> {
        let mut idesc = IDesc::default();
        // SAFETY: an initialized iqueue; `idesc` is 64 writable bytes.
        let rc =
            unsafe { ffi::gxio_mpipe_iqueue_try_get(self.0 .0.as_mut_ptr().cast(), &mut idesc) };
        (rc == 0).then_some(idesc)
    }
}

/// `gxio_mpipe_idesc_is_bad`: a frame error, no buffer, a bad IPv4 header
/// or a bad L4 checksum.
#[inline]
pub fn idesc_is_bad(idesc: &IDesc) -> bool {
    let mut copy = *idesc;
    // SAFETY: `copy` is a valid descriptor, only read by the call.
    unsafe { ffi::gxio_mpipe_idesc_is_bad(&mut copy) != 0 }
}

/// An initialized equeue (`gxio_mpipe_equeue_t`).
pub struct EqueueHandle(Box<Handle<EQUEUE_BYTES>>);

impl EqueueHandle {
    fn ptr(&mut self) -> *mut ffi::Equeue {
        self.0 .0.as_mut_ptr().cast()
    }

    /// `gxio_mpipe_equeue_try_reserve_fast`: `n` consecutive slots, or
    /// `None` when the ring has no room.
    #[inline]
    pub fn try_reserve(&mut self, n: u32) -> Option<u64> {
        // SAFETY: an initialized equeue.
        let slot = unsafe { ffi::gxio_mpipe_equeue_try_reserve_fast(self.ptr(), n) };
        u64::try_from(slot).ok()
    }

    /// `gxio_mpipe_equeue_put_at`: posts `edesc` in a reserved slot. The
    /// buffer it names must be the hardware's from now on (`hwb`).
    #[inline]
    pub fn put_at(&mut self, edesc: EDesc, slot: u64) -> Result<(), GxioError> {
        // SAFETY: an initialized equeue; the descriptor is passed by value.
        let rc = unsafe { ffi::gxio_mpipe_equeue_put_at(self.ptr(), edesc, slot) };
        check("gxio_mpipe_equeue_put_at", rc.into()).map(drop)
    }
}
