/*
 * rusty_gxio_shim.c: the C shim of Rusty's mPIPE backend on a TILE-Gx.
 *
 * Tilera's <gxio/mpipe.h> defines the mPIPE fast paths (buffer push/pop,
 * iqueue get, equeue reserve/put, descriptor helpers) as `static inline`
 * functions, so libgxio has no symbols for them. The backend's Rust
 * declarations (stack/src/nic/mpipe/ffi.rs, feature `mpipe-gxio`) call them
 * under the `rusty_gxio_` names below; this file, compiled against the real
 * header with the MDE's GCC, exports each as an ordinary function. It also
 * maps the DMA memory the backend needs (tmc_alloc, hash-for-home) and checks
 * that the backend's opaque handle storage is large enough for the real
 * structs.
 *
 * Build (MDE 4.x, on the TILE-Gx or with its cross compiler):
 *   tile-gcc -O2 -c rusty_gxio_shim.c -o rusty_gxio_shim.o
 *   tile-ar rcs librusty_gxio_shim.a rusty_gxio_shim.o
 * and link the program with -lrusty_gxio_shim -lgxio -ltmc.
 *
 * NOT VERIFIED: no MDE and no TILE-Gx were available when this was written;
 * it has never been compiled. The signatures follow the fact sheet
 * (shared/mpipe.md) and the Linux kernel's copy of <gxio/mpipe.h>.
 */
#include <gxio/mpipe.h>
#include <tmc/alloc.h>

#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

/* The backend stores each handle in a block of these sizes (ffi.rs). */
_Static_assert(sizeof(gxio_mpipe_context_t) <= 4096, "CONTEXT_BYTES too small");
_Static_assert(sizeof(gxio_mpipe_iqueue_t) <= 256, "IQUEUE_BYTES too small");
_Static_assert(sizeof(gxio_mpipe_equeue_t) <= 256, "EQUEUE_BYTES too small");
_Static_assert(sizeof(gxio_mpipe_link_t) <= 128, "LINK_BYTES too small");
_Static_assert(sizeof(gxio_mpipe_rules_t) <= 8192, "RULES_BYTES too small");
/* The backend's descriptor layouts (desc.rs). */
_Static_assert(sizeof(gxio_mpipe_idesc_t) == 64, "idesc is 64 bytes");
_Static_assert(sizeof(gxio_mpipe_edesc_t) == 16, "edesc is 16 bytes");
_Static_assert(sizeof(gxio_mpipe_bdesc_t) == 8, "bdesc is 8 bytes");

void rusty_gxio_mpipe_push_buffer(gxio_mpipe_context_t *context, unsigned int stack,
                                  void *buffer) {
  gxio_mpipe_push_buffer(context, stack, buffer);
}

gxio_mpipe_bdesc_t rusty_gxio_mpipe_pop_buffer_bdesc(gxio_mpipe_context_t *context,
                                                     unsigned int stack) {
  return gxio_mpipe_pop_buffer_bdesc(context, stack);
}

void rusty_gxio_mpipe_push_buffer_bdesc(gxio_mpipe_context_t *context,
                                        gxio_mpipe_bdesc_t bdesc) {
  gxio_mpipe_push_buffer_bdesc(context, bdesc);
}

int rusty_gxio_mpipe_iqueue_try_get(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc) {
  return gxio_mpipe_iqueue_try_get(iqueue, idesc);
}

int rusty_gxio_mpipe_idesc_is_bad(gxio_mpipe_idesc_t *idesc) {
  return gxio_mpipe_idesc_is_bad(idesc);
}

int64_t rusty_gxio_mpipe_equeue_try_reserve_fast(gxio_mpipe_equeue_t *equeue,
                                                 unsigned int num) {
  return gxio_mpipe_equeue_try_reserve_fast(equeue, num);
}

int rusty_gxio_mpipe_equeue_put_at(gxio_mpipe_equeue_t *equeue, gxio_mpipe_edesc_t edesc,
                                   uint64_t slot) {
  /* The payload must be visible to the eDMA before the descriptor is. */
  __insn_mf();
  return gxio_mpipe_equeue_put_at(equeue, edesc, slot);
}

/*
 * DMA memory for buffer stacks, buffers and rings: hash-for-home, in pages
 * of at least `align` bytes (so every page the backend registers is one
 * IOTLB entry). Never unmapped: the process owns the mPIPE until it exits,
 * when the hypervisor cleans up. `context` is unused (the emulator's
 * equivalent, mpipe_emu_alloc_memory, takes it).
 */
void *rusty_gxio_alloc_memory(gxio_mpipe_context_t *context, size_t size, size_t align) {
  (void)context;
  tmc_alloc_t alloc = TMC_ALLOC_INIT;
  tmc_alloc_set_home(&alloc, TMC_ALLOC_HOME_HASH);
  if (align > (size_t)getpagesize() && tmc_alloc_set_pagesize(&alloc, align) == NULL)
    return NULL;
  if (tmc_alloc_get_pagesize(&alloc) < align)
    return NULL;
  return tmc_alloc_map(&alloc, size);
}
