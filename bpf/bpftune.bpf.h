/* Helpers shared by every bpftune BPF object: learning rate, NEARLY_FULL, per-key event
 * de-duplication, adaptive sampling for hot hooks and the one ring buffer the collector polls.
 * Numbers follow upstream bpftune (see upstream-bpftune.md §0.1). */
#ifndef BPFTUNE_BPF_H
#define BPFTUNE_BPF_H

#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "events.h"
#include "sample.h"

/* 0..4, set by the collector before load; shift = 6 - rate (1/64 .. 1/4 of the limit). */
const volatile __u32 bpftune_learning_rate = 4;

static __always_inline __u32 bpftune_shift(void) {
  __u32 rate = bpftune_learning_rate;

  return rate > 4 ? 2 : 6 - rate;
}

/* v is within 1/2^shift of limit (or over it). */
static __always_inline bool bpftune_nearly_full(__s64 v, __s64 limit) {
  return v >= limit || v + (limit >> bpftune_shift()) >= limit;
}

#define NEARLY_FULL(v, limit) bpftune_nearly_full((__s64)(v), (__s64)(limit))

/* include/net/sock.h; not in BTF. */
#define SOCK_SNDBUF_LOCK 1
#define SOCK_RCVBUF_LOCK 2

/* sk_userlocks was a bitfield before 6.9 and is a plain u8 since; this read works for both. */
static __always_inline __u32 sk_userlocks(const struct sock* sk) {
  return BPF_CORE_READ_BITFIELD(sk, sk_userlocks);
}

/* A protocol's memory limits (tcp_mem, udp_mem) as the kernel sees them; prot->sysctl_mem
 * points at a global long[3], read by copy because the verifier types it as a single long. */
static __always_inline bool read_proto_mem(const struct proto* prot, __s64 mem[3]) {
  long vals[3] = {};

  if (bpf_probe_read_kernel(vals, sizeof(vals), prot->sysctl_mem)) return false;
  mem[0] = vals[0];
  mem[1] = vals[1];
  mem[2] = vals[2];
  return true;
}

/* The collector maps this ring buffer's fd into every object (bpf_map__reuse_fd), so one poll
 * serves all tuners. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 256 * 1024);
} events SEC(".maps");

#define BPFTUNE_DEDUP_NS (25ULL * 1000 * 1000)

struct bpftune_dedup_key {
  __u64 netns_cookie;
  __u32 tuner;
  __u32 kind;
};

/* A limit that is hit keeps being hit until the sysctl changes; one event per 25 ms per key is
 * enough for the collector and keeps the ring buffer from flooding. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, struct bpftune_dedup_key);
  __type(value, __u64);
} last_event SEC(".maps");

/* Counters the collector reads from .bss (status file). */
__u64 bpftune_events_sent = 0;
__u64 bpftune_events_deduped = 0;
__u64 bpftune_events_lost = 0;

static __always_inline bool bpftune_recent(const struct bpftune_dedup_key* key, __u64 now) {
  __u64* last = bpf_map_lookup_elem(&last_event, key);

  return last && now - *last < BPFTUNE_DEDUP_NS;
}

/* Copies *ev into the ring buffer unless the same key fired < 25 ms ago. The key is stamped only
 * once the event is in the ring buffer, so a full buffer does not also silence the key. */
static __always_inline void bpftune_send(const struct bpftune_event* ev) {
  struct bpftune_dedup_key key = {
      .netns_cookie = ev->netns_cookie, .tuner = ev->tuner, .kind = ev->kind};
  struct bpftune_event* slot;

  if (bpftune_recent(&key, ev->ts_ns)) {
    __sync_fetch_and_add(&bpftune_events_deduped, 1);
    return;
  }
  slot = bpf_ringbuf_reserve(&events, sizeof(*slot), 0);
  if (!slot) {
    __sync_fetch_and_add(&bpftune_events_lost, 1);
    return;
  }
  __builtin_memcpy(slot, ev, sizeof(*slot));
  bpf_ringbuf_submit(slot, 0);
  bpf_map_update_elem(&last_event, &key, &ev->ts_ns, BPF_ANY);
  __sync_fetch_and_add(&bpftune_events_sent, 1);
}

/* A zeroed event to fill, one per hook: struct bpftune_event is too big to keep two on the
 * 512-byte BPF stack. Per hook because a softirq program can interrupt a process-context one on
 * the same CPU, while the same program never nests (tracing programs have recursion guards). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, BPFTUNE_MAX_HOOKS);
  __type(key, __u32);
  __type(value, struct bpftune_event);
} event_scratch SEC(".maps");

static __always_inline struct bpftune_event* bpftune_scratch_event(__u32 hook) {
  struct bpftune_event* ev = bpf_map_lookup_elem(&event_scratch, &hook);

  if (ev) __builtin_memset(ev, 0, sizeof(*ev));
  return ev;
}

/* The fields every tuner event starts with: which tuner and kind, the namespace it is about,
 * when (CLOCK_MONOTONIC), and the task and CPU the hook ran on. */
static __always_inline void bpftune_event_head(struct bpftune_event* ev,
                                               __u32 tuner,
                                               __u32 kind,
                                               __u64 netns_cookie,
                                               __u32 netns_inum,
                                               __u64 ts_ns) {
  ev->tuner = tuner;
  ev->kind = kind;
  ev->netns_cookie = netns_cookie;
  ev->netns_inum = netns_inum;
  ev->ts_ns = ts_ns;
  ev->pid = bpf_get_current_pid_tgid() >> 32;
  ev->cpu = bpf_get_smp_processor_id();
}

/* Sends an event as it is, without de-duplication: for rare events where every one counts
 * (netns appearance, sysctl writes by others). */
static __always_inline void bpftune_send_now(const struct bpftune_event* ev) {
  struct bpftune_event* slot = bpf_ringbuf_reserve(&events, sizeof(*slot), 0);

  if (!slot) {
    __sync_fetch_and_add(&bpftune_events_lost, 1);
    return;
  }
  __builtin_memcpy(slot, ev, sizeof(*slot));
  bpf_ringbuf_submit(slot, 0);
  __sync_fetch_and_add(&bpftune_events_sent, 1);
}

/* Per-hook sampling state lives in .bss: bpftune_samples[hook]. */
struct bpftune_sample bpftune_samples[BPFTUNE_MAX_HOOKS] = {};

#define BPFTUNE_SAMPLE_RATE_MIN 4
#define BPFTUNE_SAMPLE_RATE_MAX (1U << 20)
#define BPFTUNE_SAMPLE_GAP_NS   (10ULL * 1000 * 1000)

/* Counts a call of a hook that is not sampled. */
static __always_inline void bpftune_count(__u32 hook) {
  if (hook >= BPFTUNE_MAX_HOOKS) return;
  __sync_fetch_and_add(&bpftune_samples[hook].calls, 1);
  __sync_fetch_and_add(&bpftune_samples[hook].collected, 1);
  bpftune_samples[hook].rate = 1;
}

/* Adaptive sampling as upstream: only every N-th call proceeds; two collected samples < 10 ms
 * apart double N, otherwise N halves back toward 4. Racy across CPUs on purpose (as upstream):
 * a lost update only shifts the sampling phase. */
static __always_inline bool bpftune_sample(__u32 hook) {
  struct bpftune_sample* s;
  __u64 calls, now;
  __u32 rate;

  if (hook >= BPFTUNE_MAX_HOOKS) return false;
  s = &bpftune_samples[hook];
  calls = __sync_fetch_and_add(&s->calls, 1) + 1;
  rate = s->rate;
  if (rate < BPFTUNE_SAMPLE_RATE_MIN) rate = BPFTUNE_SAMPLE_RATE_MIN;
  if (calls % rate) return false;
  now = bpf_ktime_get_ns();
  if (s->last_ns && now - s->last_ns < BPFTUNE_SAMPLE_GAP_NS) {
    if (rate < BPFTUNE_SAMPLE_RATE_MAX) rate *= 2;
  } else if (rate > BPFTUNE_SAMPLE_RATE_MIN) {
    rate /= 2;
  }
  s->rate = rate;
  s->last_ns = now;
  __sync_fetch_and_add(&s->collected, 1);
  return true;
}

#endif
