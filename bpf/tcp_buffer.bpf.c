/* tcp_buffer tuner hooks. fentry and kprobes are unavailable here, so the upstream hooks are
 * replaced by BTF tracepoints (kernel-hooks-and-caps.md §1):
 *   tcp_rcv_space_adjust  -> receive buffer near tcp_rmem[2] (sampled)
 *   tcp_sendmsg_locked    -> send buffer near tcp_wmem[2] with a full send queue (sampled)
 *   sock_exceed_buf_limit -> TCP memory accounting near tcp_mem[1]/[2]
 * The decision logic lives in userspace (tuners/tcp_buffer); these only report limits hit. */
#include "bpftune.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* include/net/sock.h; not in BTF. */
#define SOCK_SNDBUF_LOCK 1
#define SOCK_RCVBUF_LOCK 2

/* sk_userlocks was a bitfield before 6.9 and is a plain u8 since; this read works for both. */
static __always_inline __u32 sk_userlocks(const struct sock* sk) {
  return BPF_CORE_READ_BITFIELD(sk, sk_userlocks);
}

/* tcp_mem as the kernel sees it; prot->sysctl_mem points at a global long[3], read by copy
 * because the verifier types it as a single long. */
static __always_inline bool read_tcp_mem(const struct proto* prot, __s64 mem[3]) {
  long vals[3] = {};

  if (bpf_probe_read_kernel(vals, sizeof(vals), prot->sysctl_mem)) return false;
  mem[0] = vals[0];
  mem[1] = vals[1];
  mem[2] = vals[2];
  return true;
}

/* Everything the tuner reads, from the socket's namespace: the collector can only read its own
 * namespace's /proc/sys, so for every other one these are the current values. */
static __always_inline void fill_common(struct bpftune_event* ev,
                                        const struct sock* sk,
                                        const struct proto* prot,
                                        __u32 kind) {
  struct tcp_sock* tp = bpf_skc_to_tcp_sock((void*)sk);
  const struct net* net = sk->__sk_common.skc_net.net;

  ev->tuner = BPFTUNE_TUNER_TCP_BUFFER;
  ev->kind = kind;
  ev->netns_cookie = net->net_cookie;
  ev->netns_inum = net->ns.inum;
  ev->ts_ns = bpf_ktime_get_ns();
  ev->pid = bpf_get_current_pid_tgid() >> 32;
  ev->srtt_us = tp ? tp->srtt_us >> 3 : 0;
  ev->rmem[0] = net->ipv4.sysctl_tcp_rmem[0];
  ev->rmem[1] = net->ipv4.sysctl_tcp_rmem[1];
  ev->rmem[2] = net->ipv4.sysctl_tcp_rmem[2];
  ev->wmem[0] = net->ipv4.sysctl_tcp_wmem[0];
  ev->wmem[1] = net->ipv4.sysctl_tcp_wmem[1];
  ev->wmem[2] = net->ipv4.sysctl_tcp_wmem[2];
  ev->moderate_rcvbuf = net->ipv4.sysctl_tcp_moderate_rcvbuf;
  ev->mem_allocated = prot->memory_allocated->counter;
}

/* Reports MEM_EXHAUSTION or MEM_PRESSURE; returns true if memory is low (then buffer growth
 * must not be suggested, as upstream). */
static __always_inline bool check_memory(__u32 hook,
                                         const struct sock* sk,
                                         const struct proto* prot,
                                         __s64 allocated_hint) {
  __s64 mem[3] = {};
  __s64 allocated;
  struct bpftune_event* ev;
  __u32 kind;
  int i;

  if (!read_tcp_mem(prot, mem)) return false;
  allocated = prot->memory_allocated->counter;
  if (allocated_hint > allocated) allocated = allocated_hint;
  if (NEARLY_FULL(allocated, mem[2])) {
    kind = TCP_BUFFER_EV_MEM_EXHAUSTION;
    i = 2;
  } else if (NEARLY_FULL(allocated, mem[1])) {
    kind = TCP_BUFFER_EV_MEM_PRESSURE;
    i = 1;
  } else {
    return false;
  }
  ev = bpftune_scratch_event(hook);
  if (!ev) return true;
  fill_common(ev, sk, prot, kind);
  ev->limit = mem[i];
  ev->sysctl[0] = mem[0];
  ev->sysctl[1] = mem[1];
  ev->sysctl[2] = mem[2];
  ev->value = allocated;
  ev->mem_allocated = allocated;
  bpftune_send(ev);
  return true;
}

static __always_inline void report_buffer(__u32 hook,
                                          const struct sock* sk,
                                          const struct proto* prot,
                                          __u32 kind,
                                          int buf,
                                          const int* sysctl) {
  struct bpftune_event* ev = bpftune_scratch_event(hook);

  if (!ev) return;
  fill_common(ev, sk, prot, kind);
  ev->value = buf;
  ev->limit = sysctl[2];
  ev->sysctl[0] = sysctl[0];
  ev->sysctl[1] = sysctl[1];
  ev->sysctl[2] = sysctl[2];
  bpftune_send(ev);
}

SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(tcp_rcv_space_adjust, struct sock* sk) {
  const struct proto* prot;
  struct net* net;
  int rmem[3];

  if (!bpftune_sample(TCP_BUFFER_HOOK_RCV_SPACE_ADJUST)) return 0;
  if (sk_userlocks(sk) & SOCK_RCVBUF_LOCK) return 0;
  prot = sk->__sk_common.skc_prot;
  if (check_memory(TCP_BUFFER_HOOK_RCV_SPACE_ADJUST, sk, prot, 0)) return 0;
  net = sk->__sk_common.skc_net.net;
  rmem[0] = net->ipv4.sysctl_tcp_rmem[0];
  rmem[1] = net->ipv4.sysctl_tcp_rmem[1];
  rmem[2] = net->ipv4.sysctl_tcp_rmem[2];
  if (NEARLY_FULL(sk->sk_rcvbuf, rmem[2]))
    report_buffer(TCP_BUFFER_HOOK_RCV_SPACE_ADJUST,
                  sk,
                  prot,
                  TCP_BUFFER_EV_RMEM_NEAR_MAX,
                  sk->sk_rcvbuf,
                  rmem);
  return 0;
}

SEC("tp_btf/tcp_sendmsg_locked")
int BPF_PROG(tcp_sendmsg_locked,
             const struct sock* sk,
             const struct msghdr* msg,
             const struct sk_buff* skb,
             int size_goal) {
  const struct proto* prot;
  struct net* net;
  int wmem[3];
  int sndbuf;

  if (!bpftune_sample(TCP_BUFFER_HOOK_SENDMSG_LOCKED)) return 0;
  if (sk_userlocks(sk) & SOCK_SNDBUF_LOCK) return 0;
  prot = sk->__sk_common.skc_prot;
  if (check_memory(TCP_BUFFER_HOOK_SENDMSG_LOCKED, sk, prot, 0)) return 0;
  net = sk->__sk_common.skc_net.net;
  wmem[0] = net->ipv4.sysctl_tcp_wmem[0];
  wmem[1] = net->ipv4.sysctl_tcp_wmem[1];
  wmem[2] = net->ipv4.sysctl_tcp_wmem[2];
  sndbuf = sk->sk_sndbuf;
  /* A big sk_sndbuf alone is not a need: the queue must actually be using it. */
  if (NEARLY_FULL(sndbuf, wmem[2]) && NEARLY_FULL(sk->sk_wmem_queued, sndbuf))
    report_buffer(
        TCP_BUFFER_HOOK_SENDMSG_LOCKED, sk, prot, TCP_BUFFER_EV_WMEM_NEAR_MAX, sndbuf, wmem);
  return 0;
}

SEC("tp_btf/sock_exceed_buf_limit")
int BPF_PROG(sock_exceed_buf_limit, struct sock* sk, struct proto* prot, long allocated, int kind) {
  bpftune_count(TCP_BUFFER_HOOK_EXCEED_BUF_LIMIT);
  if (sk->sk_protocol != IPPROTO_TCP) return 0;
  check_memory(TCP_BUFFER_HOOK_EXCEED_BUF_LIMIT, sk, prot, allocated);
  return 0;
}
