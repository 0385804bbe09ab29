/* neigh_table tuner hooks (kernel-hooks-and-caps.md §1):
 *   raw_tp/neigh_create                -> a table nearly full of gc_thresh3, or a create refused
 *   tp_btf/neigh_cleanup_and_release   -> a table nearly empty after a removal
 * neigh_create is a raw tracepoint on purpose: as tp_btf the verifier trusts `n` to be non-NULL
 * and deletes the `if (!n)` branch, which is exactly the table-full case (upstream loses it).
 * Every event describes the table and the neighbour's device, including the device's prefix
 * lengths, which bound the thresholds (neigh_table_event.h has the layout). */
#include "bpftune.bpf.h"
#include "neigh_table_event.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET  2
#define AF_INET6 10

/* The kernel's defaults: a table whose thresholds are all at or below them has nothing to
 * shrink, so its removals need no event. */
#define NEIGH_DEFAULT_THRESH1 128
#define NEIGH_DEFAULT_THRESH2 512
#define NEIGH_DEFAULT_THRESH3 1024

/* Per table (keyed by its address; one arp and one ndisc table exist): when each kind of event
 * was last sent. Replaces the shared per-netns de-duplication, whose key has no table, so a full
 * arp table would silence a full ndisc table in the same namespace. */
struct neigh_table_state {
  __u64 last_event_ns[3]; /* indexed by kind (NEIGH_TABLE_EV_FULL, NEIGH_TABLE_EV_EMPTY) */
};

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16);
  __type(key, __u64);
  __type(value, struct neigh_table_state);
} neigh_tables SEC(".maps");

static __always_inline bool nearly_empty(__s64 v, __s64 limit) {
  return v <= (limit >> bpftune_shift());
}

/* True when this table sent an event of this kind < 25 ms ago; otherwise stamps `now`. Racy
 * across CPUs like upstream's de-duplication: at worst two events pass. */
static __always_inline bool table_recent(const struct neigh_table* tbl, __u32 kind, __u64 now) {
  __u64 key = (__u64)tbl;
  struct neigh_table_state fresh = {};
  struct neigh_table_state* state;

  if (kind >= 3) return true;
  state = bpf_map_lookup_elem(&neigh_tables, &key);
  if (!state) {
    bpf_map_update_elem(&neigh_tables, &key, &fresh, BPF_NOEXIST);
    state = bpf_map_lookup_elem(&neigh_tables, &key);
    if (!state) return true;
  }
  if (state->last_event_ns[kind] && now - state->last_event_ns[kind] < BPFTUNE_DEDUP_NS)
    return true;
  state->last_event_ns[kind] = now;
  return false;
}

static __always_inline __u64 add_prefix(__u64 packed, __u32 i, __u32 prefixlen) {
  return packed | ((__u64)(prefixlen & 0xff) << (8 * i));
}

/* The device's IPv4 prefix lengths (in_device->ifa_list). Returns the flags for detail[2]. */
static __always_inline __s64 ipv4_prefixes(const struct net_device* dev, __s64* packed) {
  struct in_device* in_dev = BPF_CORE_READ(dev, ip_ptr);
  struct in_ifaddr* ifa;
  __u64 out = 0;
  __u32 n = 0;

  if (!in_dev) return NEIGH_TABLE_FLAG_NO_INET_DEV;
  ifa = BPF_CORE_READ(in_dev, ifa_list);
  for (int i = 0; i < NEIGH_TABLE_MAX_PREFIXES && ifa; i++) {
    out = add_prefix(out, n++, BPF_CORE_READ(ifa, ifa_prefixlen));
    ifa = BPF_CORE_READ(ifa, ifa_next);
  }
  *packed = (__s64)out;
  return ((__s64)n << NEIGH_TABLE_ADDR_COUNT_SHIFT) | (ifa ? NEIGH_TABLE_FLAG_MORE_ADDRS : 0);
}

/* The device's IPv6 prefix lengths (inet6_dev->addr_list of inet6_ifaddr.if_list). */
static __always_inline __s64 ipv6_prefixes(const struct net_device* dev, __s64* packed) {
  struct inet6_dev* idev = BPF_CORE_READ(dev, ip6_ptr);
  struct list_head* head;
  struct list_head* pos;
  __u64 out = 0;
  __u32 n = 0;

  if (!idev) return NEIGH_TABLE_FLAG_NO_INET_DEV;
  head = &idev->addr_list;
  pos = BPF_CORE_READ(idev, addr_list.next);
  for (int i = 0; i < NEIGH_TABLE_MAX_PREFIXES && pos && pos != head; i++) {
    struct inet6_ifaddr* ifa =
        (void*)((char*)pos - bpf_core_field_offset(struct inet6_ifaddr, if_list));

    out = add_prefix(out, n++, BPF_CORE_READ(ifa, prefix_len));
    pos = BPF_CORE_READ(pos, next);
  }
  *packed = (__s64)out;
  return ((__s64)n << NEIGH_TABLE_ADDR_COUNT_SHIFT) |
         (pos && pos != head ? NEIGH_TABLE_FLAG_MORE_ADDRS : 0);
}

/* Fills and sends one event; thresholds and counts are re-read here so the event is one
 * consistent look at the table. */
static __always_inline void report(__u32 hook,
                                   const struct neigh_table* tbl,
                                   const struct net_device* dev,
                                   __u32 kind,
                                   __s64 flags,
                                   __u64 now) {
  struct bpftune_event* ev;
  const struct net* net;
  __s64 family;

  if (table_recent(tbl, kind, now)) {
    __sync_fetch_and_add(&bpftune_events_deduped, 1);
    return;
  }
  ev = bpftune_scratch_event(hook);
  if (!ev) return;
  family = BPF_CORE_READ(tbl, family);
  net = BPF_CORE_READ(dev, nd_net.net);
  bpftune_event_head(ev,
                     BPFTUNE_TUNER_NEIGH_TABLE,
                     kind,
                     BPF_CORE_READ(net, net_cookie),
                     BPF_CORE_READ(net, ns.inum),
                     now);
  ev->value = BPF_CORE_READ(tbl, gc_entries.counter);
  ev->sysctl[0] = BPF_CORE_READ(tbl, gc_thresh1);
  ev->sysctl[1] = BPF_CORE_READ(tbl, gc_thresh2);
  ev->sysctl[2] = BPF_CORE_READ(tbl, gc_thresh3);
  ev->limit = ev->sysctl[2];
  ev->ifindex = BPF_CORE_READ(dev, ifindex);
  BPF_CORE_READ_STR_INTO(&ev->dev, dev, name);
  ev->detail[NEIGH_TABLE_DETAIL_FAMILY] = family;
  ev->detail[NEIGH_TABLE_DETAIL_ENTRIES] = BPF_CORE_READ(tbl, entries.counter);
  if (family == AF_INET)
    flags |= ipv4_prefixes(dev, &ev->detail[NEIGH_TABLE_DETAIL_PREFIXES]);
  else
    flags |= ipv6_prefixes(dev, &ev->detail[NEIGH_TABLE_DETAIL_PREFIXES]);
  ev->detail[NEIGH_TABLE_DETAIL_FLAGS] = flags;
  bpftune_send_now(ev);
}

static __always_inline bool tuned_family(const struct neigh_table* tbl) {
  int family = BPF_CORE_READ(tbl, family);

  return family == AF_INET || family == AF_INET6;
}

/* TP_PROTO(struct neigh_table *tbl, struct net_device *dev, const void *pkey,
 *          const struct neighbour *n, bool exempt_from_gc); n is NULL when the create failed. */
SEC("raw_tp/neigh_create")
int neigh_create(struct bpf_raw_tracepoint_args* ctx) {
  const struct neigh_table* tbl = (const void*)ctx->args[0];
  const struct net_device* dev = (const void*)ctx->args[1];
  bool failed = ctx->args[3] == 0;
  bool exempt = ctx->args[4] != 0;
  __s64 gc_entries, thresh3;

  bpftune_count(NEIGH_TABLE_HOOK_CREATE);
  if (failed) bpftune_count(NEIGH_TABLE_HOOK_CREATE_FAILED);
  /* Permanent and externally learned entries are exempt from gc_thresh3: they never fill it. */
  if (exempt || !tbl || !dev || !tuned_family(tbl)) return 0;
  gc_entries = BPF_CORE_READ(tbl, gc_entries.counter);
  thresh3 = BPF_CORE_READ(tbl, gc_thresh3);
  if (!failed && !NEARLY_FULL(gc_entries, thresh3)) return 0;
  report(NEIGH_TABLE_HOOK_CREATE,
         tbl,
         dev,
         NEIGH_TABLE_EV_FULL,
         failed ? NEIGH_TABLE_FLAG_CREATE_FAILED : 0,
         bpf_ktime_get_ns());
  return 0;
}

SEC("tp_btf/neigh_cleanup_and_release")
int BPF_PROG(neigh_cleanup_and_release, struct neighbour* n, int rc) {
  const struct neigh_table* tbl = n->tbl;
  const struct net_device* dev = n->dev;
  __s64 t1, t2, t3;

  bpftune_count(NEIGH_TABLE_HOOK_CLEANUP);
  if (!tbl || !dev || !tuned_family(tbl)) return 0;
  t1 = BPF_CORE_READ(tbl, gc_thresh1);
  t2 = BPF_CORE_READ(tbl, gc_thresh2);
  t3 = BPF_CORE_READ(tbl, gc_thresh3);
  if (t1 <= NEIGH_DEFAULT_THRESH1 && t2 <= NEIGH_DEFAULT_THRESH2 && t3 <= NEIGH_DEFAULT_THRESH3)
    return 0;
  if (!nearly_empty(BPF_CORE_READ(tbl, gc_entries.counter), t3)) return 0;
  report(NEIGH_TABLE_HOOK_CLEANUP, tbl, dev, NEIGH_TABLE_EV_EMPTY, 0, bpf_ktime_get_ns());
  return 0;
}
