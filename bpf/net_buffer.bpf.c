/* net_buffer tuner hooks (kernel-hooks-and-caps.md §1; fentry, kprobes and __ksym data are
 * unavailable here):
 *   kfree_skb (reason CPU_BACKLOG) -> a CPU's input backlog (netdev_max_backlog) overflowed
 *   napi_poll (sampled)            -> NAPI polls run out of budget (time_squeeze grows)
 * Both tunable families are machine-wide, so every event names the collector's own namespace:
 * one de-duplication key per kind however many containers drop, and the decision is taken once,
 * at home. Decisions live in userspace (tuners/net_buffer). */
#include "net_buffer.h"

#include "bpftune.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Set by the collector before load: the cookie of the namespace it runs in. */
const volatile __u64 bpftune_home_netns_cookie = 0;

/* Upstream counts each drop twice; here each is counted exactly once. */
__u64 backlog_drops = 0;
__u64 backlog_drop_cpus = 0;

/* The last time_squeeze seen per CPU and where this CPU's softnet_data is. */
struct squeeze_state {
  __u64 softnet; /* address of this CPU's struct softnet_data (0: not found yet) */
  __u32 last;
  __u32 known;
};

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct squeeze_state);
} squeeze_seen SEC(".maps");

/* A scratch event for kind, or NULL when the same kind fired < 25 ms ago: checked before the
 * 336-byte event is cleared, because drops come in storms. */
static __always_inline struct bpftune_event* start_event(__u32 hook, __u32 kind, __u64 now) {
  struct bpftune_dedup_key key = {
      .netns_cookie = bpftune_home_netns_cookie, .tuner = BPFTUNE_TUNER_NET_BUFFER, .kind = kind};
  struct bpftune_event* ev;

  if (bpftune_recent(&key, now)) {
    __sync_fetch_and_add(&bpftune_events_deduped, 1);
    return NULL;
  }
  ev = bpftune_scratch_event(hook);
  if (!ev) return NULL;
  /* The tunables are machine-wide: the event names the collector's own namespace. */
  bpftune_event_head(ev, BPFTUNE_TUNER_NET_BUFFER, kind, bpftune_home_netns_cookie, 0, now);
  return ev;
}

static __always_inline void fill_device(struct bpftune_event* ev, const struct net_device* dev) {
  if (!dev) return;
  ev->ifindex = dev->ifindex;
  bpf_probe_read_kernel_str(ev->dev, sizeof(ev->dev), dev->name);
}

/* The CPU that enqueues is the one whose flow limit table applies (skb_flow_limit uses
 * this_cpu), so its bit is the one flow_limit_cpu_bitmap needs. Only CPU n sets bit n and a
 * program never nests on one CPU, so a plain add of a clear bit is exact without atomic OR. */
static __always_inline void note_dropping_cpu(__u32 cpu) {
  __u64 bit;

  if (cpu >= 64) return;
  bit = 1ULL << cpu;
  if (!(backlog_drop_cpus & bit)) __sync_fetch_and_add(&backlog_drop_cpus, bit);
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(net_buffer_kfree_skb,
             struct sk_buff* skb,
             void* location,
             enum skb_drop_reason reason,
             struct sock* rx_sk) {
  struct bpftune_event* ev;
  struct net_device* dev;
  __u64 drops;

  /* Kernels without the reason cannot tell a backlog drop apart: do nothing there. */
  if (!bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_CPU_BACKLOG)) return 0;
  if (reason != bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_CPU_BACKLOG)) return 0;
  bpftune_count(NET_BUFFER_HOOK_BACKLOG_DROP);
  drops = __sync_fetch_and_add(&backlog_drops, 1) + 1;
  note_dropping_cpu(bpf_get_smp_processor_id());
  ev = start_event(NET_BUFFER_HOOK_BACKLOG_DROP, NET_BUFFER_EV_BACKLOG_DROP, bpf_ktime_get_ns());
  if (!ev) return 0;
  ev->value = drops;
  ev->detail[NET_BUFFER_DROP_TOTAL] = drops;
  ev->detail[NET_BUFFER_DROP_CPUS] = backlog_drop_cpus;
  dev = skb->dev;
  if (dev) {
    ev->detail[NET_BUFFER_DROP_DEV_NETNS] = dev->nd_net.net->net_cookie;
    fill_device(ev, dev);
  }
  bpftune_send(ev);
  return 0;
}

/* softnet_data cannot be reached as a __ksym here, but the per-CPU backlog NAPI (the only one
 * without a device) is embedded in it: remember where, once the CPU it names is this one. */
static __always_inline void find_softnet(struct squeeze_state* st, const struct napi_struct* napi) {
  __u64 softnet = (__u64)napi - bpf_core_field_offset(struct softnet_data, backlog);
  const struct softnet_data* sd = (const struct softnet_data*)softnet;
  unsigned int cpu = 0;

  if (st->softnet == softnet) return;
  if (bpf_core_field_exists(struct softnet_data, cpu)) {
    if (bpf_core_read(&cpu, sizeof(cpu), &sd->cpu)) return;
    if (cpu != bpf_get_smp_processor_id()) return;
  }
  st->softnet = softnet;
  st->known = 0;
}

/* This CPU's time_squeeze (-1 when unknown); *grew is set when it rose since the last sample. */
static __always_inline __s64 read_squeeze(struct squeeze_state* st, bool* grew) {
  const struct softnet_data* sd = (const struct softnet_data*)st->softnet;
  unsigned int squeeze = 0;

  /* Through a local pointer: a CO-RE read must start from a kernel type, not our map value. */
  if (!sd || bpf_core_read(&squeeze, sizeof(squeeze), &sd->time_squeeze)) return -1;
  *grew = st->known && squeeze != st->last;
  st->last = squeeze;
  st->known = 1;
  return squeeze;
}

SEC("tp_btf/napi_poll")
int BPF_PROG(net_buffer_napi_poll, struct napi_struct* napi, int work, int budget) {
  struct squeeze_state* st;
  struct bpftune_event* ev;
  struct net_device* dev;
  __u32 zero = 0, why = 0;
  bool grew = false;
  __s64 squeeze = -1;

  /* Fires for every poll (10^5/s under load): sampled, and at most two probe reads after. */
  if (!bpftune_sample(NET_BUFFER_HOOK_NAPI_POLL)) return 0;
  dev = napi->dev;
  st = bpf_map_lookup_elem(&squeeze_seen, &zero);
  if (st) {
    if (!dev) find_softnet(st, napi);
    squeeze = read_squeeze(st, &grew);
  }
  if (work >= budget) why |= NET_BUFFER_WHY_WEIGHT;
  if (grew) why |= NET_BUFFER_WHY_SQUEEZE;
  if (!why) return 0;
  ev = start_event(NET_BUFFER_HOOK_NAPI_POLL, NET_BUFFER_EV_BUDGET_EXHAUSTED, bpf_ktime_get_ns());
  if (!ev) return 0;
  ev->value = work;
  ev->limit = budget;
  ev->detail[NET_BUFFER_NAPI_WORK] = work;
  ev->detail[NET_BUFFER_NAPI_WEIGHT] = budget;
  ev->detail[NET_BUFFER_NAPI_SQUEEZE] = squeeze;
  ev->detail[NET_BUFFER_NAPI_WHY] = why;
  fill_device(ev, dev);
  bpftune_send(ev);
  return 0;
}
