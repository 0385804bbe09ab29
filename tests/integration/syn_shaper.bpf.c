/* tc-bpf for the SYN tests, attached to a receiver's ingress (no netem on our kernels, see
 * kernel-hooks-and-caps.md §5). IPv4 only.
 *   BURST_PORT: the first pure ACK from each client address and port is dropped, so every
 *     handshake completes only on the server's SYN-ACK retransmit (about 1 s later), answered
 *     by the client's second ACK: a benign burst on a slow path, as upstream's netem-delayed
 *     good_syn_flood_test.
 *   FLOOD_PORT: everything but SYN and RST is dropped, so no handshake ever completes (an ACK
 *     carrying data or a FIN would complete it just as well).
 * Other traffic passes untouched. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/tcp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

char LICENSE[] SEC("license") = "GPL";

#define BURST_PORT 7101
#define FLOOD_PORT 7102

/* (saddr << 16 | sport) of clients whose first ACK was dropped already. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, __u8);
} acked_once SEC(".maps");

static __always_inline int first_ack(const struct iphdr* ip, const struct tcphdr* tcp) {
  __u32 payload = bpf_ntohs(ip->tot_len) - ip->ihl * 4 - tcp->doff * 4;
  __u64 key = ((__u64)ip->saddr << 16) | tcp->source;
  __u8 one = 1;

  if (!tcp->ack || tcp->syn || tcp->fin || tcp->rst || payload) return TC_ACT_OK;
  if (bpf_map_lookup_elem(&acked_once, &key)) return TC_ACT_OK;
  bpf_map_update_elem(&acked_once, &key, &one, BPF_NOEXIST);
  return TC_ACT_SHOT;
}

SEC("tc")
int shape(struct __sk_buff* skb) {
  void* data = (void*)(long)skb->data;
  void* end = (void*)(long)skb->data_end;
  struct ethhdr* eth = data;
  struct iphdr* ip;
  struct tcphdr* tcp;
  __u16 dport;

  if ((void*)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP)) return TC_ACT_OK;
  ip = (void*)(eth + 1);
  if ((void*)(ip + 1) > end || ip->protocol != IPPROTO_TCP || ip->ihl != 5) return TC_ACT_OK;
  tcp = (void*)(ip + 1);
  if ((void*)(tcp + 1) > end) return TC_ACT_OK;
  dport = bpf_ntohs(tcp->dest);
  if (dport == FLOOD_PORT) return tcp->syn || tcp->rst ? TC_ACT_OK : TC_ACT_SHOT;
  if (dport == BURST_PORT) return first_ack(ip, tcp);
  return TC_ACT_OK;
}
