/*
 * hello_mpipe: opens a link on the emulated mPIPE, receives an injected UDP
 * frame from an iqueue and sends replies through an equeue, using only the
 * gxio API plus the emulator's mpipe_emu_* "wire" entry points.
 *
 * Build: gcc -std=c11 -I mpipe-emu/include hello_mpipe.c libmpipe_emu.a -lpthread -ldl -lm
 * Prints one line per step and "OK" at the end; exits non-zero on failure.
 */
#include <gxio/mpipe.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                   \
  do {                                                                \
    if (!(cond)) {                                                    \
      fprintf(stderr, "FAIL line %d: %s\n", __LINE__, #cond);         \
      exit(1);                                                        \
    }                                                                 \
  } while (0)

#define NUM_BUFFERS 256
#define BUFFER_BYTES 1664
#define PAGE_BYTES 65536

static uint16_t ip_checksum(const uint8_t *h, size_t n) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < n; i += 2) sum += (uint32_t)(h[i] << 8 | h[i + 1]);
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return (uint16_t)~sum;
}

/* An Ethernet + IPv4 + UDP frame (UDP checksum 0: none) with `payload`. */
static size_t build_frame(uint8_t *f, const uint8_t dst_mac[6], const char *payload) {
  static const uint8_t src_mac[6] = {0x02, 0x11, 0x22, 0x33, 0x44, 0x55};
  size_t plen = strlen(payload);
  size_t ip_len = 20 + 8 + plen;
  memcpy(f, dst_mac, 6);
  memcpy(f + 6, src_mac, 6);
  f[12] = 0x08, f[13] = 0x00;
  uint8_t *ip = f + 14;
  memset(ip, 0, 20);
  ip[0] = 0x45;
  ip[2] = (uint8_t)(ip_len >> 8), ip[3] = (uint8_t)ip_len;
  ip[8] = 64, ip[9] = 17;
  const uint8_t sip[4] = {10, 0, 0, 2}, dip[4] = {10, 0, 0, 1};
  memcpy(ip + 12, sip, 4);
  memcpy(ip + 16, dip, 4);
  uint16_t c = ip_checksum(ip, 20);
  ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
  uint8_t *udp = ip + 20;
  udp[0] = 0x30, udp[1] = 0x39; /* 12345 */
  udp[2] = 0x00, udp[3] = 0x07; /* 7 (echo) */
  udp[4] = (uint8_t)((8 + plen) >> 8), udp[5] = (uint8_t)(8 + plen);
  udp[6] = udp[7] = 0;
  memcpy(udp + 8, payload, plen);
  return 14 + ip_len;
}

int main(void) {
  gxio_mpipe_context_t ctx;
  CHECK(gxio_mpipe_link_instance("gbe0") == 0);
  CHECK(gxio_mpipe_init(&ctx, 0) == 0);

  gxio_mpipe_link_t link;
  CHECK(gxio_mpipe_link_open(&link, &ctx, "gbe0", 0) == 0);
  int channel = gxio_mpipe_link_channel(&link);
  int64_t mac = gxio_mpipe_link_get_attr(&link, GXIO_MPIPE_LINK_MAC);
  CHECK(mac >= 0);
  uint8_t my_mac[6];
  for (int i = 0; i < 6; i++) my_mac[i] = (uint8_t)(mac >> (40 - 8 * i));
  CHECK(gxio_mpipe_link_set_attr(&link, GXIO_MPIPE_LINK_MAC, 1) == GXIO_ERR_PERM);
  printf("link gbe0 channel=%d mac=%02x:%02x:%02x:%02x:%02x:%02x up=%d\n", channel, my_mac[0],
         my_mac[1], my_mac[2], my_mac[3], my_mac[4], my_mac[5],
         gxio_mpipe_link_get_attr(&link, GXIO_MPIPE_LINK_CURRENT_STATE) != 0);

  /* One buffer stack of 1664-byte buffers, in emulator memory pages. */
  int stack = gxio_mpipe_alloc_buffer_stacks(&ctx, 1, 0, 0);
  CHECK(stack >= 0);
  size_t stack_bytes = gxio_mpipe_calc_buffer_stack_bytes(NUM_BUFFERS);
  void *stack_mem = aligned_alloc(65536, 65536);
  CHECK(stack_mem != NULL && stack_bytes <= 65536);
  int size_enum = gxio_mpipe_buffer_size_to_buffer_size_enum(BUFFER_BYTES);
  CHECK(size_enum == GXIO_MPIPE_BUFFER_SIZE_1664);
  CHECK(gxio_mpipe_init_buffer_stack(&ctx, stack, size_enum, stack_mem, stack_bytes, 0) == 0);
  size_t pages = (NUM_BUFFERS * BUFFER_BYTES + PAGE_BYTES - 1) / PAGE_BYTES;
  uint8_t *buffers = mpipe_emu_alloc_memory(&ctx, pages * PAGE_BYTES, PAGE_BYTES);
  CHECK(buffers != NULL);
  for (size_t p = 0; p < pages; p++)
    CHECK(gxio_mpipe_register_page(&ctx, stack, buffers + p * PAGE_BYTES, PAGE_BYTES, 0) == 0);
  for (int i = 0; i < NUM_BUFFERS; i++) gxio_mpipe_push_buffer(&ctx, stack, buffers + i * BUFFER_BYTES);
  CHECK(mpipe_emu_stack_len(&ctx, stack) == NUM_BUFFERS);

  /* One NotifRing (C memory), one group, 16 static buckets, one rule. */
  int ring = gxio_mpipe_alloc_notif_rings(&ctx, 1, 0, 0);
  CHECK(ring >= 0);
  size_t ring_bytes = 128 * sizeof(gxio_mpipe_idesc_t);
  void *ring_mem = aligned_alloc(4096, ring_bytes);
  CHECK(ring_mem != NULL);
  gxio_mpipe_iqueue_t iq;
  CHECK(gxio_mpipe_iqueue_init(&iq, &ctx, ring, ring_mem, ring_bytes, 0) == 0);
  int group = gxio_mpipe_alloc_notif_groups(&ctx, 1, 0, 0);
  int bucket = gxio_mpipe_alloc_buckets(&ctx, 16, 0, 0);
  CHECK(group >= 0 && bucket >= 0);
  CHECK(gxio_mpipe_init_notif_group_and_buckets(&ctx, group, ring, 1, bucket, 16,
                                                GXIO_MPIPE_BUCKET_STATIC_FLOW_AFFINITY) == 0);
  static gxio_mpipe_rules_t rules;
  gxio_mpipe_rules_init(&rules, &ctx);
  CHECK(gxio_mpipe_rules_set_headroom(&rules, 2) == GXIO_MPIPE_ERR_RULES_EMPTY);
  CHECK(gxio_mpipe_rules_begin(&rules, bucket, 16, NULL) == 0);
  CHECK(gxio_mpipe_rules_add_channel(&rules, channel) == 0);
  CHECK(gxio_mpipe_rules_commit(&rules) == 0);

  /* One eDMA ring (C memory) on the link's channel. */
  int ering = gxio_mpipe_alloc_edma_rings(&ctx, 1, 0, 0);
  CHECK(ering >= 0);
  size_t eq_bytes = 512 * sizeof(gxio_mpipe_edesc_t);
  void *eq_mem = aligned_alloc(1024, eq_bytes);
  CHECK(eq_mem != NULL);
  gxio_mpipe_equeue_t eq;
  CHECK(gxio_mpipe_equeue_init(&eq, &ctx, ering, channel, eq_mem, eq_bytes, 0) == 0);

  /* The wire: a frame arrives at t = 2.25 s. */
  gxio_mpipe_idesc_t idesc;
  CHECK(gxio_mpipe_iqueue_try_get(&iq, &idesc) == GXIO_MPIPE_ERR_IQUEUE_EMPTY);
  CHECK(mpipe_emu_set_time(&ctx, 2250000000ull) == 0);
  uint8_t frame[256];
  size_t len = build_frame(frame, my_mac, "hello, mpipe");
  CHECK(mpipe_emu_inject(&ctx, channel, frame, len, 0) == 1);

  gxio_mpipe_idesc_t *peeked;
  CHECK(gxio_mpipe_iqueue_try_peek(&iq, &peeked) == 1);
  CHECK((uint8_t *)peeked == (uint8_t *)ring_mem + 64); /* slot 1: slot 0 holds the tail */
  CHECK(gxio_mpipe_iqueue_try_get(&iq, &idesc) == 0);
  /* Bit-fields and words agree. */
  CHECK(idesc.l2_size == ((idesc.words[0] >> 16) & 0x3FFF));
  CHECK(idesc.channel == ((idesc.words[0] >> 8) & 0x1F));
  CHECK(idesc.custom0 == (idesc.words[1] >> 32));
  CHECK(idesc.c == (idesc.words[7] >> 62));
  CHECK(idesc.channel == (unsigned)channel && idesc.notif_ring == (unsigned)ring);
  CHECK(gxio_mpipe_idesc_get_xfer_size(&idesc) == len);
  uint8_t *data = gxio_mpipe_idesc_get_va(&idesc);
  CHECK(data == (uint8_t *)(uintptr_t)idesc.va);
  CHECK(data >= buffers && data < buffers + pages * PAGE_BYTES);
  CHECK(((uintptr_t)data & 127) == 2); /* default headroom */
  CHECK(memcmp(data, frame, len) == 0);
  CHECK(gxio_mpipe_idesc_is_bad(&idesc) == 0);
  CHECK(gxio_mpipe_iqueue_drop_if_bad(&iq, &idesc) == 0);
  const uint8_t sip[4] = {10, 0, 0, 2}, dip[4] = {10, 0, 0, 1};
  CHECK(idesc.custom0 == mpipe_emu_flow_hash_ipv4(&ctx, sip, dip, 12345, 7));
  CHECK(idesc.bucket_id == (unsigned)bucket + (idesc.custom0 & 15));
  CHECK(mpipe_emu_stack_len(&ctx, stack) == NUM_BUFFERS - 1);
  printf("rx len=%u hash=0x%08x bucket=%u ts=%u.%09u stack_idx=%u size=%u\n",
         (unsigned)idesc.l2_size, (unsigned)idesc.custom0, (unsigned)idesc.bucket_id,
         (unsigned)idesc.time_stamp_sec, (unsigned)idesc.time_stamp_ns, (unsigned)idesc.stack_idx,
         (unsigned)idesc.size);

  /* Reply 1, zero-copy: swap the MACs in the received buffer and send it
   * with hwb, so the eDMA returns the buffer to its stack. */
  uint8_t tmp[6];
  memcpy(tmp, data, 6);
  memcpy(data, data + 6, 6);
  memcpy(data + 6, tmp, 6);
  gxio_mpipe_edesc_t edesc;
  gxio_mpipe_edesc_copy_idesc(&edesc, &idesc);
  CHECK(edesc.bound == 1 && edesc.hwb == 1 && edesc.ns == 0 && edesc.xfer_size == len);
  CHECK(gxio_mpipe_equeue_put(&eq, edesc) == 0);
  CHECK(mpipe_emu_stack_len(&ctx, stack) == NUM_BUFFERS);

  /* Reply 2: a fresh buffer from the stack, a reserved slot, put_at. */
  gxio_mpipe_bdesc_t b = gxio_mpipe_pop_buffer_bdesc(&ctx, stack);
  CHECK(b.c == GXIO_MPIPE_BDESC_C_UNCHAINED && b.stack_idx == (unsigned)stack);
  uint8_t *out = (uint8_t *)(uintptr_t)(b.word & ((1ull << 42) - 1));
  size_t len2 = build_frame(out, frame + 6, "second reply");
  memcpy(out + 6, my_mac, 6);
  gxio_mpipe_edesc_t e2 = {{0}};
  gxio_mpipe_edesc_set_bdesc(&e2, b);
  e2.xfer_size = len2;
  e2.bound = 1;
  e2.hwb = 1;
  int64_t slot = gxio_mpipe_equeue_reserve(&eq, 1);
  CHECK(slot == 1);
  CHECK(gxio_mpipe_equeue_is_complete(&eq, slot, 0) == 0);
  CHECK(gxio_mpipe_equeue_put_at(&eq, e2, slot) == 0);
  CHECK(gxio_mpipe_equeue_is_complete(&eq, slot, 1) == 1);
  CHECK(mpipe_emu_stack_len(&ctx, stack) == NUM_BUFFERS);

  /* Collect both frames from the wire. */
  uint8_t got[2048];
  int n = mpipe_emu_egress_pop(&ctx, channel, got, sizeof got);
  CHECK(n == (int)len);
  CHECK(memcmp(got, frame + 6, 6) == 0 && memcmp(got + 6, my_mac, 6) == 0);
  CHECK(memcmp(got + 12, frame + 12, len - 12) == 0);
  printf("tx 1 len=%d dst=%02x:%02x:%02x:%02x:%02x:%02x\n", n, got[0], got[1], got[2], got[3],
         got[4], got[5]);
  n = mpipe_emu_egress_pop(&ctx, channel, got, sizeof got);
  CHECK(n == (int)len2 && memcmp(got + len2 - 12, "second reply", 12) == 0);
  printf("tx 2 len=%d payload=%.12s\n", n, (const char *)got + len2 - 12);
  CHECK(mpipe_emu_egress_pop(&ctx, channel, got, sizeof got) == 0);

  mpipe_emu_stats_t st;
  CHECK(mpipe_emu_get_stats(&ctx, &st) == 0);
  printf("stats rx=%llu delivered=%llu tx=%llu\n", (unsigned long long)st.rx_frames,
         (unsigned long long)st.rx_delivered, (unsigned long long)st.tx_frames);
  CHECK(st.rx_delivered == 1 && st.tx_frames == 2);

  CHECK(gxio_mpipe_link_close(&link) == 0);
  CHECK(gxio_mpipe_destroy(&ctx) == 0);
  free(stack_mem);
  free(ring_mem);
  free(eq_mem);
  printf("OK\n");
  return 0;
}
