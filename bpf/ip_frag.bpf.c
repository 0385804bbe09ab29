/* ip_frag tuner hook. Upstream watches every fragment with fentry on ip_defrag/ipv6_frag_rcv;
 * neither fentry nor kprobes exist here (kernel-hooks-and-caps.md §1), so this watches fragments
 * being dropped instead:
 *   tp_btf/kfree_skb -> a dropped IPv4/IPv6 fragment while its namespace's reassembly memory
 *                       (fqdir->mem) is NEARLY_FULL of fqdir->high_thresh.
 * The drop at the memory limit (inet_frag_find refuses a queue) carries no specific reason
 * (NOT_SPECIFIED), so the fragment is recognised by its IP header. The reassembly reasons
 * (timeout, too far, duplicate) are fragments by definition and count as well.
 * The decision logic lives in userspace (tuners/ip_frag); this only reports the limit hit. */
#include <bpf/bpf_endian.h>

#include "bpftune.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* include/uapi/linux/if_ether.h, include/net/ip.h, include/net/ipv6.h; macros, not in BTF. */
#define ETH_P_IP         0x0800
#define ETH_P_IPV6       0x86DD
#define IP_MF            0x2000
#define IP_OFFSET        0x1FFF
#define NEXTHDR_FRAGMENT 44
/* skb->network_header when never set (skb_reset_network_header was not called). */
#define NETWORK_HEADER_UNSET 0xFFFF

/* Whether a drop reason can belong to a reassembly drop. Values come from the running kernel's
 * BTF (CO-RE): they move between kernel versions. */
static __always_inline bool fragment_reason(__u32 reason) {
  if (reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_NOT_SPECIFIED))
    return true;
  if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_FRAG_REASM_TIMEOUT) &&
      reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_FRAG_REASM_TIMEOUT))
    return true;
  if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_FRAG_TOO_FAR) &&
      reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_FRAG_TOO_FAR))
    return true;
  if (bpf_core_enum_value_exists(enum skb_drop_reason, SKB_DROP_REASON_DUP_FRAG) &&
      reason == bpf_core_enum_value(enum skb_drop_reason, SKB_DROP_REASON_DUP_FRAG))
    return true;
  return false;
}

/* The event kind for a fragment (IPv4: MF set or offset != 0; IPv6: the first next header is the
 * fragment header), 0 for anything else. The first 8 bytes of both headers hold what is needed:
 * version in the high nibble of byte 0, IPv4 frag_off at 6..7, IPv6 nexthdr at 6. */
static __always_inline __u32 fragment_kind(const struct sk_buff* skb) {
  __u16 nh = skb->network_header;
  __u16 proto = skb->protocol;
  __u8 hdr[8];
  __u16 frag_off;

  if (nh == NETWORK_HEADER_UNSET) return 0;
  if (bpf_probe_read_kernel(hdr, sizeof(hdr), skb->head + nh)) return 0;
  if (proto == bpf_htons(ETH_P_IP) && (hdr[0] >> 4) == 4) {
    frag_off = ((__u16)hdr[6] << 8) | hdr[7];
    return frag_off & (IP_MF | IP_OFFSET) ? IP_FRAG_EV_V4_NEAR_THRESH : 0;
  }
  if (proto == bpf_htons(ETH_P_IPV6) && (hdr[0] >> 4) == 6)
    return hdr[6] == NEXTHDR_FRAGMENT ? IP_FRAG_EV_V6_NEAR_THRESH : 0;
  return 0;
}

/* The skb's namespace. skb->dev may be NULL, and for a fragment already queued for reassembly it
 * shares its storage with skb->rbnode (a tree pointer, not a device): a namespace is accepted only
 * if its own fqdir points back to it, which a pointer read through a non-device cannot fake. */
static __always_inline struct net* skb_netns(const struct sk_buff* skb) {
  const struct net_device* dev = skb->dev;
  struct net* net;
  struct fqdir* fq4;

  if (!dev) return NULL;
  net = dev->nd_net.net;
  if (!net) return NULL;
  fq4 = net->ipv4.fqdir;
  if (!fq4 || fq4->net != net) return NULL;
  return net;
}

static __always_inline struct fqdir* family_fqdir(const struct net* net, __u32 kind) {
  return kind == IP_FRAG_EV_V4_NEAR_THRESH ? net->ipv4.fqdir : net->ipv6.fqdir;
}

/* Both thresholds of the namespace: the collector cannot read another namespace's /proc/sys.
 * IPv6 may be absent (its fqdir NULL): the slot is then 0 and only IPv4 events name it. */
static __always_inline void fill_event(struct bpftune_event* ev,
                                       const struct net* net,
                                       const struct fqdir* fq,
                                       __u32 kind,
                                       __u32 reason,
                                       long mem,
                                       long high) {
  const struct fqdir* fq6 = net->ipv6.fqdir;

  bpftune_event_head(
      ev, BPFTUNE_TUNER_IP_FRAG, kind, net->net_cookie, net->ns.inum, bpf_ktime_get_ns());
  ev->value = mem;
  ev->limit = high;
  ev->ns_values[IP_FRAG_NS_IPFRAG_HIGH_THRESH] = net->ipv4.fqdir->high_thresh;
  ev->ns_values[IP_FRAG_NS_IP6FRAG_HIGH_THRESH] = fq6 ? fq6->high_thresh : 0;
  ev->detail[IP_FRAG_DETAIL_LOW_THRESH] = fq->low_thresh;
  ev->detail[IP_FRAG_DETAIL_DROP_REASON] = reason;
}

SEC("tp_btf/kfree_skb")
int BPF_PROG(ip_frag_kfree_skb, struct sk_buff* skb, void* location, enum skb_drop_reason reason) {
  struct bpftune_sample* s = &bpftune_samples[IP_FRAG_HOOK_KFREE_SKB];
  struct bpftune_event* ev;
  struct fqdir* fq;
  struct net* net;
  long mem, high;
  __u32 kind;

  /* Every drop in the system passes here: the cheap reason test comes first. Not sampled (a
   * dropped fragment is rare and each one counts), so s->rate stays unused. */
  __sync_fetch_and_add(&s->calls, 1);
  if (!fragment_reason(reason)) return 0;
  kind = fragment_kind(skb);
  if (!kind) return 0;
  __sync_fetch_and_add(&s->collected, 1);
  net = skb_netns(skb);
  if (!net) return 0;
  fq = family_fqdir(net, kind);
  if (!fq || fq->dead) return 0;
  mem = fq->mem.counter;
  high = fq->high_thresh;
  /* 0 disables reassembly: an administrator's choice, and nothing grows from 0. */
  if (high <= 0 || !NEARLY_FULL(mem, high)) return 0;
  ev = bpftune_scratch_event(IP_FRAG_HOOK_KFREE_SKB);
  if (!ev) return 0;
  fill_event(ev, net, fq, kind, reason, mem, high);
  bpftune_send(ev);
  return 0;
}
