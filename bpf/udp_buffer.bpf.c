/* udp_buffer tuner hooks (kernel-hooks-and-caps.md §1, UDP row):
 *   udp_fail_queue_rcv_skb(ret, sk, skb) -> -ENOMEM: the socket's receive buffer was full;
 *                                           -ENOBUFS: UDP memory accounting refused it
 *   sock_exceed_buf_limit (UDP sockets)  -> UDP memory accounting refused a datagram. Measured
 *                                           on 6.18: 26200 calls for udp_mem refusals while
 *                                           udp_fail_queue_rcv_skb saw none of them.
 * Both fire once per refused datagram, so both are sampled. kfree_skb with reason SOCKET_RCVBUFF
 * sees the same -ENOMEM drops a second time (measured: equal counts), so it is not attached.
 * net.core.rmem_max/rmem_default are global variables this kernel does not expose to BPF (no
 * KALLSYMS_ALL): events carry the socket's buffer and lock, and userspace compares them with the
 * live values. The decision logic lives in userspace (tuners/udp_buffer). */
#include "bpftune.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* errno.h; not in BTF. */
#define ERR_NOMEM  12
#define ERR_NOBUFS 105

static __always_inline bool is_udp(const struct sock* sk) {
  return sk->sk_protocol == IPPROTO_UDP || sk->sk_protocol == IPPROTO_UDPLITE;
}

/* Fields every udp_buffer event has: the socket's namespace, udp_mem and memory_allocated (the
 * tuner does not grow buffers while UDP memory is short). */
static __always_inline bool fill_common(struct bpftune_event* ev,
                                        const struct sock* sk,
                                        const struct proto* prot,
                                        __u32 kind) {
  const struct net* net = sk->__sk_common.skc_net.net;

  if (!read_proto_mem(prot, ev->sysctl)) return false;
  bpftune_event_head(
      ev, BPFTUNE_TUNER_UDP_BUFFER, kind, net->net_cookie, net->ns.inum, bpf_ktime_get_ns());
  ev->mem_allocated = prot->memory_allocated->counter;
  return true;
}

/* value: sk_rcvbuf; detail[0]: sk_rmem_alloc, [1]: the datagram's truesize, [2]: local port. */
static __always_inline void report_rcvbuf_drop(const struct sock* sk, const struct sk_buff* skb) {
  struct bpftune_event* ev = bpftune_scratch_event(UDP_BUFFER_HOOK_FAIL_QUEUE_RCV_SKB);
  bool locked = sk_userlocks(sk) & SOCK_RCVBUF_LOCK;

  if (!ev) return;
  if (!fill_common(ev,
                   sk,
                   sk->__sk_common.skc_prot,
                   locked ? UDP_BUFFER_EV_RCVBUF_DROP_LOCKED : UDP_BUFFER_EV_RCVBUF_DROP))
    return;
  ev->value = sk->sk_rcvbuf;
  ev->detail[0] = sk->sk_backlog.rmem_alloc.counter;
  ev->detail[1] = skb->truesize;
  ev->detail[2] = sk->__sk_common.skc_num;
  bpftune_send(ev);
}

/* UDP has no memory-pressure flag: above udp_mem[0] the kernel already refuses datagrams to
 * sockets holding udp_rmem_min or more, above udp_mem[2] to every socket. value: allocated
 * pages; limit: the highest threshold it passed; detail[0]: which hook saw it (1: exceed_buf_limit,
 * 2: udp_fail_queue_rcv_skb). */
static __always_inline void check_memory(
    __u32 hook, const struct sock* sk, const struct proto* prot, __s64 allocated, __s64 source) {
  struct bpftune_event* ev;
  __s64 mem[3] = {};

  if (!read_proto_mem(prot, mem)) return;
  if (allocated <= mem[0]) return;
  ev = bpftune_scratch_event(hook);
  if (!ev) return;
  if (!fill_common(ev, sk, prot, UDP_BUFFER_EV_MEM)) return;
  ev->value = allocated;
  ev->limit = allocated > mem[2] ? mem[2] : allocated > mem[1] ? mem[1] : mem[0];
  ev->mem_allocated = allocated;
  ev->detail[0] = source;
  bpftune_send(ev);
}

SEC("tp_btf/udp_fail_queue_rcv_skb")
int BPF_PROG(udp_fail_queue_rcv_skb, int ret, struct sock* sk, struct sk_buff* skb) {
  const struct proto* prot;

  if (!sk || !bpftune_sample(UDP_BUFFER_HOOK_FAIL_QUEUE_RCV_SKB)) return 0;
  if (ret == -ERR_NOMEM) {
    report_rcvbuf_drop(sk, skb);
  } else if (ret == -ERR_NOBUFS) {
    prot = sk->__sk_common.skc_prot;
    check_memory(UDP_BUFFER_HOOK_FAIL_QUEUE_RCV_SKB, sk, prot, prot->memory_allocated->counter, 2);
  }
  return 0;
}

SEC("tp_btf/sock_exceed_buf_limit")
int BPF_PROG(sock_exceed_buf_limit, struct sock* sk, struct proto* prot, long allocated, int kind) {
  if (!is_udp(sk)) return 0;
  if (!bpftune_sample(UDP_BUFFER_HOOK_EXCEED_BUF_LIMIT)) return 0;
  check_memory(UDP_BUFFER_HOOK_EXCEED_BUF_LIMIT, sk, prot, allocated, 1);
  return 0;
}
