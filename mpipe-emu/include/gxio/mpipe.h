/*
 * gxio/mpipe.h for mpipe-emu: the subset of Tilera's gxio mPIPE API that the
 * emulator implements, written from the project's fact sheet
 * (shared/mpipe.md), not from Tilera or Linux sources.
 *
 * Functions that Tilera's header defines `static inline` (push/pop, credit,
 * the iqueue/equeue fast paths, descriptor helpers) are ordinary exported
 * functions here. Entry points that only the emulator has are prefixed
 * `mpipe_emu_`.
 *
 * Bit-fields follow the fact sheet's layouts (bit 0 = least significant bit
 * of a little-endian 64-bit word), as GCC lays out bit-fields on x86-64 and
 * on the TILE-Gx.
 */
#ifndef MPIPE_EMU_GXIO_MPIPE_H
#define MPIPE_EMU_GXIO_MPIPE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef __cplusplus
#define MPIPE_EMU_STATIC_ASSERT(cond, msg) static_assert(cond, msg)
extern "C" {
#else
#define MPIPE_EMU_STATIC_ASSERT(cond, msg) _Static_assert(cond, msg)
#endif

/* ---- error codes ------------------------------------------------------- */
#define GXIO_ERR_IOTLB_ENTRY             (-1111)
#define GXIO_ERR_INVAL_MEMORY_SIZE       (-1112)
#define GXIO_ERR_TIMEOUT                 (-1115)
#define GXIO_ERR_NO_DEVICE               (-1116)
#define GXIO_ERR_BUSY                    (-1117)
#define GXIO_ERR_PERM                    (-1119)
#define GXIO_MPIPE_ERR_INVAL_BUFFER_SIZE (-1131)
#define GXIO_MPIPE_ERR_NO_BUFFER_STACK   (-1140)
#define GXIO_MPIPE_ERR_BAD_BUFFER_STACK  (-1141)
#define GXIO_MPIPE_ERR_NO_NOTIF_RING     (-1142)
#define GXIO_MPIPE_ERR_BAD_NOTIF_RING    (-1143)
#define GXIO_MPIPE_ERR_NO_NOTIF_GROUP    (-1144)
#define GXIO_MPIPE_ERR_BAD_NOTIF_GROUP   (-1145)
#define GXIO_MPIPE_ERR_NO_BUCKET         (-1146)
#define GXIO_MPIPE_ERR_BAD_BUCKET        (-1147)
#define GXIO_MPIPE_ERR_NO_EDMA_RING      (-1148)
#define GXIO_MPIPE_ERR_BAD_EDMA_RING     (-1149)
#define GXIO_MPIPE_ERR_BAD_CHANNEL       (-1150)
#define GXIO_MPIPE_ERR_BAD_CONFIG        (-1151)
#define GXIO_MPIPE_ERR_IQUEUE_EMPTY      (-1152)
#define GXIO_MPIPE_ERR_RULES_EMPTY       (-1160)
#define GXIO_MPIPE_ERR_RULES_FULL        (-1161)
#define GXIO_MPIPE_ERR_RULES_CORRUPT     (-1162)
#define GXIO_MPIPE_ERR_RULES_INVALID     (-1163)

/* ---- allocation -------------------------------------------------------- */
#define GXIO_MPIPE_ALLOC_FIXED 0x1

/* ---- buffer sizes ------------------------------------------------------- */
typedef enum {
  GXIO_MPIPE_BUFFER_SIZE_128 = 0,
  GXIO_MPIPE_BUFFER_SIZE_256 = 1,
  GXIO_MPIPE_BUFFER_SIZE_512 = 2,
  GXIO_MPIPE_BUFFER_SIZE_1024 = 3,
  GXIO_MPIPE_BUFFER_SIZE_1664 = 4,
  GXIO_MPIPE_BUFFER_SIZE_4096 = 5,
  GXIO_MPIPE_BUFFER_SIZE_10368 = 6,
  GXIO_MPIPE_BUFFER_SIZE_16384 = 7
} gxio_mpipe_buffer_size_enum_t;

/* ---- bucket modes ------------------------------------------------------- */
typedef enum {
  GXIO_MPIPE_BUCKET_DYNAMIC_FLOW_AFFINITY = 0,
  GXIO_MPIPE_BUCKET_STATIC_FLOW_AFFINITY = 1,
  GXIO_MPIPE_BUCKET_ROUND_ROBIN = 2,
  GXIO_MPIPE_BUCKET_STICKY_FLOW_LOCALITY = 3,
  /* Refused by the emulator (random-timer moves; broken below 64 tiles). */
  GXIO_MPIPE_BUCKET_PREFER_FLOW_LOCALITY = 7
} gxio_mpipe_bucket_mode_t;

/* ---- chaining values of the `c` field ------------------------------------ */
#define GXIO_MPIPE_BDESC_C_UNCHAINED 0
#define GXIO_MPIPE_BDESC_C_CHAINED   1
#define GXIO_MPIPE_BDESC_C_NOT_RDY   2
#define GXIO_MPIPE_BDESC_C_INVALID   3

/* ---- descriptors ---------------------------------------------------------- */

/* Buffer descriptor, 8 bytes. */
typedef union {
  struct {
    uint64_t __reserved_0 : 7; /* data offset in the buffer */
    uint64_t va : 35;          /* address >> 7 */
    uint64_t __reserved_1 : 6;
    uint64_t stack_idx : 5;
    uint64_t __reserved_2 : 3;
    uint64_t inst : 2;
    uint64_t hwb : 1;
    uint64_t size : 3;
    uint64_t c : 2;
  };
  uint64_t word;
} gxio_mpipe_bdesc_t;

/* Ingress descriptor, 64 bytes. */
typedef union {
  struct {
    /* word 0 */
    uint64_t notif_ring : 8;
    uint64_t channel : 5;
    uint64_t __reserved_0 : 1;
    uint64_t me : 1;
    uint64_t tr : 1;
    uint64_t l2_size : 14;
    uint64_t ce : 1;
    uint64_t ct : 1;
    uint64_t bucket_id : 13;
    uint64_t __reserved_1 : 3;
    uint64_t cs : 1;
    uint64_t nr : 1;
    uint64_t dest : 2;
    uint64_t sq : 1;
    uint64_t ts : 1;
    uint64_t ps : 1;
    uint64_t be : 1;
    uint64_t ctr0 : 5;
    uint64_t __reserved_2 : 2;
    uint64_t sw_inst : 1;
    /* word 1 */
    uint64_t ctr1 : 5;
    uint64_t __reserved_3 : 3;
    uint64_t csum_start : 8;
    uint64_t csum_seed_val : 16;
    uint64_t custom0 : 32; /* flow hash */
    /* words 2-4 */
    uint64_t custom1;
    uint64_t custom2;
    uint64_t custom3;
    /* word 5 */
    uint64_t gp_sqn : 16;
    uint64_t packet_sqn : 48;
    /* word 6 */
    uint64_t time_stamp_ns : 32;
    uint64_t time_stamp_sec : 32;
    /* word 7: the first buffer */
    uint64_t va : 42;
    uint64_t __reserved_4 : 6;
    uint64_t stack_idx : 5;
    uint64_t __reserved_5 : 3;
    uint64_t inst : 2;
    uint64_t hwb : 1;
    uint64_t size : 3;
    uint64_t c : 2;
  };
  uint64_t words[8];
} gxio_mpipe_idesc_t;

/* Egress descriptor, 16 bytes. */
typedef union {
  struct {
    /* word 0 */
    uint64_t gen : 1;
    uint64_t efifo_sel : 6;
    uint64_t __reserved_0 : 1;
    uint64_t csum : 1;
    uint64_t ns : 1;
    uint64_t notif : 1;
    uint64_t bound : 1;
    uint64_t __reserved_1 : 4;
    uint64_t xfer_size : 14;
    uint64_t __reserved_2 : 2;
    uint64_t csum_dest : 8;
    uint64_t csum_start : 8;
    uint64_t csum_seed : 16; /* network byte order */
    /* word 1: as idesc word 7 */
    uint64_t va : 42;
    uint64_t __reserved_3 : 6;
    uint64_t stack_idx : 5;
    uint64_t __reserved_4 : 3;
    uint64_t inst : 2;
    uint64_t hwb : 1;
    uint64_t size : 3;
    uint64_t c : 2;
  };
  uint64_t words[2];
} gxio_mpipe_edesc_t;

MPIPE_EMU_STATIC_ASSERT(sizeof(gxio_mpipe_bdesc_t) == 8, "bdesc is 8 bytes");
MPIPE_EMU_STATIC_ASSERT(sizeof(gxio_mpipe_idesc_t) == 64, "idesc is 64 bytes");
MPIPE_EMU_STATIC_ASSERT(sizeof(gxio_mpipe_edesc_t) == 16, "edesc is 16 bytes");

/* ---- handles ---------------------------------------------------------------- */

typedef struct {
  void *__emu;
  uint32_t __instance;
  uint32_t __reserved;
} gxio_mpipe_context_t;

typedef struct {
  gxio_mpipe_context_t *context;
  unsigned int ring;
  unsigned int __reserved0;
  uint64_t __reserved[4];
} gxio_mpipe_iqueue_t;

typedef struct {
  gxio_mpipe_context_t *context;
  unsigned int ering;
  unsigned int channel;
  uint64_t __reserved[4];
} gxio_mpipe_equeue_t;

typedef struct {
  gxio_mpipe_context_t *context;
  unsigned int channel;
  unsigned int flags;
} gxio_mpipe_link_t;

#define GXIO_MPIPE_RULES_LIST_BYTES 4092
typedef struct {
  gxio_mpipe_context_t *context;
  uint32_t head;
  uint32_t tail;
  uint8_t list[GXIO_MPIPE_RULES_LIST_BYTES];
} gxio_mpipe_rules_t;

typedef struct {
  uint8_t stacks[8];
} gxio_mpipe_rules_stacks_t;

typedef struct {
  uint8_t octets[6];
} gxio_mpipe_rules_dmac_t;

MPIPE_EMU_STATIC_ASSERT(sizeof(gxio_mpipe_context_t) == 16, "context layout");
MPIPE_EMU_STATIC_ASSERT(sizeof(gxio_mpipe_iqueue_t) == 48, "iqueue layout");
MPIPE_EMU_STATIC_ASSERT(sizeof(gxio_mpipe_equeue_t) == 48, "equeue layout");
MPIPE_EMU_STATIC_ASSERT(sizeof(gxio_mpipe_link_t) == 16, "link layout");
MPIPE_EMU_STATIC_ASSERT(sizeof(gxio_mpipe_rules_t) == 4112, "rules layout");

/* ---- link open flags and attributes ----------------------------------------- */
#define GXIO_MPIPE_LINK_DATA        0x0001
#define GXIO_MPIPE_LINK_NO_DATA     0x0002
#define GXIO_MPIPE_LINK_EXCL_DATA   0x0004
#define GXIO_MPIPE_LINK_STATS       0x0008
#define GXIO_MPIPE_LINK_NO_STATS    0x0010
#define GXIO_MPIPE_LINK_EXCL_STATS  0x0020
#define GXIO_MPIPE_LINK_CTL         0x0040
#define GXIO_MPIPE_LINK_NO_CTL      0x0080
#define GXIO_MPIPE_LINK_EXCL_CTL    0x0100
#define GXIO_MPIPE_LINK_AUTO_UP     0x0200
#define GXIO_MPIPE_LINK_AUTO_UPDOWN 0x0400
#define GXIO_MPIPE_LINK_AUTO_DOWN   0x0800
#define GXIO_MPIPE_LINK_AUTO_NONE   0x1000
#define GXIO_MPIPE_LINK_WAIT        0x2000

#define GXIO_MPIPE_LINK_RECEIVE_JUMBO   0x010000
#define GXIO_MPIPE_LINK_SEND_PAUSE      0x020000
#define GXIO_MPIPE_LINK_RECEIVE_PAUSE   0x030000
#define GXIO_MPIPE_LINK_MAC             0x040000
#define GXIO_MPIPE_LINK_DISCARD_IF_DOWN 0x050000
#define GXIO_MPIPE_LINK_POSSIBLE_STATE  0x060000
#define GXIO_MPIPE_LINK_CURRENT_STATE   0x070000
#define GXIO_MPIPE_LINK_DESIRED_STATE   0x080000

#define GXIO_MPIPE_LINK_10M      0x0001
#define GXIO_MPIPE_LINK_100M     0x0002
#define GXIO_MPIPE_LINK_1G       0x0004
#define GXIO_MPIPE_LINK_10G      0x0008
#define GXIO_MPIPE_LINK_ANYSPEED 0x0800
#define GXIO_MPIPE_LINK_SPEED_MASK 0x0FFF
#define GXIO_MPIPE_LINK_LOOP_MAC 0x1000
#define GXIO_MPIPE_LINK_LOOP_PHY 0x2000

/* ---- context ------------------------------------------------------------------ */
int gxio_mpipe_init(gxio_mpipe_context_t *context, unsigned int mpipe_instance);
int gxio_mpipe_destroy(gxio_mpipe_context_t *context);
int gxio_mpipe_link_instance(const char *link_name);

/* ---- buffer stacks --------------------------------------------------------------- */
int gxio_mpipe_alloc_buffer_stacks(gxio_mpipe_context_t *context, unsigned int count,
                                   unsigned int first, unsigned int flags);
size_t gxio_mpipe_calc_buffer_stack_bytes(unsigned long buffers);
int gxio_mpipe_buffer_size_to_buffer_size_enum(size_t size);
size_t gxio_mpipe_buffer_size_enum_to_buffer_size(int buffer_size_enum);
int gxio_mpipe_init_buffer_stack(gxio_mpipe_context_t *context, unsigned int stack,
                                 int buffer_size_enum, void *mem, size_t mem_size,
                                 unsigned int mem_flags);
int gxio_mpipe_register_page(gxio_mpipe_context_t *context, unsigned int stack,
                             void *page, size_t page_size, unsigned int page_flags);
void gxio_mpipe_push_buffer(gxio_mpipe_context_t *context, unsigned int stack, void *buffer);
void *gxio_mpipe_pop_buffer(gxio_mpipe_context_t *context, unsigned int stack);
gxio_mpipe_bdesc_t gxio_mpipe_pop_buffer_bdesc(gxio_mpipe_context_t *context, unsigned int stack);
void gxio_mpipe_push_buffer_bdesc(gxio_mpipe_context_t *context, gxio_mpipe_bdesc_t bdesc);

/* ---- NotifRings, groups, buckets --------------------------------------------------- */
int gxio_mpipe_alloc_notif_rings(gxio_mpipe_context_t *context, unsigned int count,
                                 unsigned int first, unsigned int flags);
int gxio_mpipe_alloc_notif_groups(gxio_mpipe_context_t *context, unsigned int count,
                                  unsigned int first, unsigned int flags);
int gxio_mpipe_alloc_buckets(gxio_mpipe_context_t *context, unsigned int count,
                             unsigned int first, unsigned int flags);
int gxio_mpipe_init_notif_ring(gxio_mpipe_context_t *context, unsigned int ring,
                               void *mem, size_t mem_size, unsigned int mem_flags);
int gxio_mpipe_init_notif_group_and_buckets(gxio_mpipe_context_t *context, unsigned int group,
                                            unsigned int ring, unsigned int num_rings,
                                            unsigned int bucket, unsigned int num_buckets,
                                            gxio_mpipe_bucket_mode_t mode);
void gxio_mpipe_credit(gxio_mpipe_context_t *context, int ring, int bucket, unsigned long count);

/* ---- iqueues ----------------------------------------------------------------------- */
int gxio_mpipe_iqueue_init(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_context_t *context,
                           unsigned int ring, void *mem, size_t mem_size, unsigned int mem_flags);
int gxio_mpipe_iqueue_try_get(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc);
int gxio_mpipe_iqueue_try_peek(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t **idesc_ref);
void gxio_mpipe_iqueue_consume(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc);
void gxio_mpipe_iqueue_advance(gxio_mpipe_iqueue_t *iqueue, int count);
void gxio_mpipe_iqueue_release(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc);
void gxio_mpipe_iqueue_drop(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc);
int gxio_mpipe_iqueue_drop_if_bad(gxio_mpipe_iqueue_t *iqueue, gxio_mpipe_idesc_t *idesc);

/* ---- descriptor helpers -------------------------------------------------------------- */
void *gxio_mpipe_idesc_get_va(gxio_mpipe_idesc_t *idesc);
unsigned int gxio_mpipe_idesc_get_xfer_size(gxio_mpipe_idesc_t *idesc);
unsigned char *gxio_mpipe_idesc_get_l2_start(gxio_mpipe_idesc_t *idesc);
unsigned int gxio_mpipe_idesc_get_l2_length(gxio_mpipe_idesc_t *idesc);
int gxio_mpipe_idesc_has_error(gxio_mpipe_idesc_t *idesc);
int gxio_mpipe_idesc_is_bad(gxio_mpipe_idesc_t *idesc);
void gxio_mpipe_edesc_copy_idesc(gxio_mpipe_edesc_t *edesc, gxio_mpipe_idesc_t *idesc);
void gxio_mpipe_edesc_set_bdesc(gxio_mpipe_edesc_t *edesc, gxio_mpipe_bdesc_t bdesc);

/* ---- eDMA rings and equeues ------------------------------------------------------------ */
int gxio_mpipe_alloc_edma_rings(gxio_mpipe_context_t *context, unsigned int count,
                                unsigned int first, unsigned int flags);
int gxio_mpipe_init_edma_ring(gxio_mpipe_context_t *context, unsigned int ering,
                              unsigned int channel, void *mem, size_t mem_size,
                              unsigned int mem_flags);
int gxio_mpipe_equeue_init(gxio_mpipe_equeue_t *equeue, gxio_mpipe_context_t *context,
                           unsigned int ering, unsigned int channel, void *mem,
                           size_t mem_size, unsigned int mem_flags);
int64_t gxio_mpipe_equeue_reserve(gxio_mpipe_equeue_t *equeue, unsigned int num);
int64_t gxio_mpipe_equeue_try_reserve(gxio_mpipe_equeue_t *equeue, unsigned int num);
int64_t gxio_mpipe_equeue_reserve_fast(gxio_mpipe_equeue_t *equeue, unsigned int num);
int64_t gxio_mpipe_equeue_try_reserve_fast(gxio_mpipe_equeue_t *equeue, unsigned int num);
int gxio_mpipe_equeue_put_at(gxio_mpipe_equeue_t *equeue, gxio_mpipe_edesc_t edesc,
                             uint64_t slot);
int gxio_mpipe_equeue_put(gxio_mpipe_equeue_t *equeue, gxio_mpipe_edesc_t edesc);
int gxio_mpipe_equeue_is_complete(gxio_mpipe_equeue_t *equeue, int64_t completion_slot,
                                  int update);

/* ---- links ------------------------------------------------------------------------------ */
int gxio_mpipe_link_open(gxio_mpipe_link_t *link, gxio_mpipe_context_t *context,
                         const char *link_name, unsigned int flags);
int gxio_mpipe_link_close(gxio_mpipe_link_t *link);
int gxio_mpipe_link_channel(gxio_mpipe_link_t *link);
int64_t gxio_mpipe_link_get_attr(gxio_mpipe_link_t *link, uint32_t attr);
int gxio_mpipe_link_set_attr(gxio_mpipe_link_t *link, uint32_t attr, int64_t val);

/* ---- rules -------------------------------------------------------------------------------- */
void gxio_mpipe_rules_init(gxio_mpipe_rules_t *rules, gxio_mpipe_context_t *context);
int gxio_mpipe_rules_begin(gxio_mpipe_rules_t *rules, unsigned int bucket,
                           unsigned int num_buckets, gxio_mpipe_rules_stacks_t *stacks);
int gxio_mpipe_rules_set_headroom(gxio_mpipe_rules_t *rules, uint8_t headroom);
int gxio_mpipe_rules_set_tailroom(gxio_mpipe_rules_t *rules, uint8_t tailroom);
int gxio_mpipe_rules_set_capacity(gxio_mpipe_rules_t *rules, uint16_t capacity);
int gxio_mpipe_rules_add_channel(gxio_mpipe_rules_t *rules, unsigned int channel);
int gxio_mpipe_rules_add_dmac(gxio_mpipe_rules_t *rules, gxio_mpipe_rules_dmac_t dmac);
int gxio_mpipe_rules_add_vlan(gxio_mpipe_rules_t *rules, uint16_t vlan);
int gxio_mpipe_rules_commit(gxio_mpipe_rules_t *rules);

/* ---- timestamps ---------------------------------------------------------------------------- */
int gxio_mpipe_get_timestamp(gxio_mpipe_context_t *context, struct timespec *ts);
int gxio_mpipe_set_timestamp(gxio_mpipe_context_t *context, const struct timespec *ts);
int gxio_mpipe_adjust_timestamp(gxio_mpipe_context_t *context, int64_t delta);

/* ---- emulator only ---------------------------------------------------------------------------- */
typedef struct {
  uint8_t instance;
  uint8_t mac_base[6];  /* link MAC = this, plus the channel in the last octet */
  uint8_t hash_key[40]; /* Toeplitz key of the flow hash */
  uint8_t drop_bad;     /* drop bad IPv4 headers and me/tr/ce (default 1) */
  uint8_t timestamps;   /* insert idesc timestamps (default 1) */
  uint32_t egress_queue_bytes;
  uint32_t egress_queue_frames;
} mpipe_emu_config_t;
MPIPE_EMU_STATIC_ASSERT(sizeof(mpipe_emu_config_t) == 60, "config layout");

typedef struct {
  uint64_t rx_frames, rx_delivered, rx_bytes, rx_buffer_errors;
  uint64_t drop_not_open, drop_link_down, drop_runt, drop_oversize, drop_errors;
  uint64_t drop_bad_l3, drop_no_rule, drop_no_stack, drop_capacity, drop_no_bucket;
  uint64_t drop_ring_full;
  uint64_t tx_frames, tx_bytes;
} mpipe_emu_stats_t;
MPIPE_EMU_STATIC_ASSERT(sizeof(mpipe_emu_stats_t) == 17 * 8, "stats layout");

#define MPIPE_EMU_ERR_ME 0x1
#define MPIPE_EMU_ERR_TR 0x2
#define MPIPE_EMU_ERR_CE 0x4

void mpipe_emu_config_default(mpipe_emu_config_t *cfg);
int mpipe_emu_init(gxio_mpipe_context_t *context, const mpipe_emu_config_t *cfg);
void *mpipe_emu_alloc_memory(gxio_mpipe_context_t *context, size_t size, size_t align);
int mpipe_emu_set_time(gxio_mpipe_context_t *context, uint64_t ns);
int mpipe_emu_inject(gxio_mpipe_context_t *context, unsigned int channel, const void *frame,
                     size_t len, unsigned int errors);
int mpipe_emu_egress_pop(gxio_mpipe_context_t *context, unsigned int channel, void *buf,
                         size_t len);
int mpipe_emu_set_carrier(gxio_mpipe_context_t *context, unsigned int channel, int plugged);
int mpipe_emu_get_stats(gxio_mpipe_context_t *context, mpipe_emu_stats_t *out);
int mpipe_emu_stack_len(gxio_mpipe_context_t *context, unsigned int stack);
uint32_t mpipe_emu_flow_hash_ipv4(gxio_mpipe_context_t *context, const uint8_t *src,
                                  const uint8_t *dst, uint16_t sport, uint16_t dport);

#ifdef __cplusplus
}
#endif

#endif /* MPIPE_EMU_GXIO_MPIPE_H */
