/* tc-bpf random loss for the tcp_conn tests and bench, attached to the RECEIVER's ingress: a drop
 * on the sender's own egress comes back to TCP as local congestion (NET_XMIT_DROP), not as loss
 * (kernel-hooks-and-caps.md §5; there is no netem on our kernels).
 * Only TCP segments carrying data are dropped, IPv4 and IPv6: a lost SYN or FIN would cost a
 * whole retransmission timeout (1 s for a SYN) and turn a throughput sample into a timer sample;
 * pure ACKs from this side do not pass here anyway. The drops are per skb, so the sender's
 * device needs `gso_max_segs 1` for the loss to be per segment.
 * One program per rate (tc's object loader cannot set a variable): attach with
 * `tc filter add dev X ingress bpf direct-action obj loss_drop.bpf.o sec loss_<per 10 000>`. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

/* Bytes of TCP payload in the packet, 0 for anything that is not TCP over IPv4/IPv6 without
 * extension headers (nothing else is sent on the test paths). */
static __always_inline __u32 tcp_payload(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct tcphdr* tcp;
  __u32 l3_len, l3_hdr;

  if ((void*)(eth + 1) > end) return 0;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr* ip = (void*)(eth + 1);
    if ((void*)(ip + 1) > end || ip->protocol != IPPROTO_TCP || ip->ihl < 5) return 0;
    l3_len = bpf_ntohs(ip->tot_len);
    l3_hdr = ip->ihl * 4;
  } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr* ip6 = (void*)(eth + 1);
    if ((void*)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_TCP) return 0;
    l3_len = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
    l3_hdr = sizeof(*ip6);
  } else {
    return 0;
  }
  /* l3_hdr is at most 60: bounded for the verifier. */
  if (l3_hdr > 60) return 0;
  tcp = (void*)eth + sizeof(*eth) + l3_hdr;
  if ((void*)(tcp + 1) > end || tcp->syn || tcp->fin || tcp->rst) return 0;
  if (l3_len <= l3_hdr + tcp->doff * 4) return 0;
  return l3_len - l3_hdr - tcp->doff * 4;
}

static __always_inline int drop_data(struct __sk_buff* skb, __u32 per_10k) {
  if (!tcp_payload(skb)) return TC_ACT_OK;
  return bpf_get_prandom_u32() % 10000 < per_10k ? TC_ACT_SHOT : TC_ACT_OK;
}

#define LOSS(per_10k)                         \
  SEC("loss_" #per_10k)                       \
  int drop_##per_10k(struct __sk_buff* skb) { \
    return drop_data(skb, per_10k);           \
  }

/* 0.5 %, 1 %, 2 %, 3 %, 5 %, 10 %, 20 %. */
LOSS(50)
LOSS(100)
LOSS(200)
LOSS(300)
LOSS(500)
LOSS(1000)
LOSS(2000)
