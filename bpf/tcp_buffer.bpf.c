/* tcp_buffer tuner hooks. fentry and kprobes are unavailable here, so the upstream hooks are
 * replaced by BTF tracepoints (kernel-hooks-and-caps.md §1):
 *   tcp_rcv_space_adjust  -> receive buffer near tcp_rmem[2] (sampled)
 *   tcp_sendmsg_locked    -> send buffer near tcp_wmem[2] with a full send queue (sampled)
 *   sock_exceed_buf_limit -> TCP memory accounting near tcp_mem[1]/[2]
 *   tcp_retransmit_synack -> a listener's handshake went unanswered (upstream's
 *                            tcp_syn_flood_action, which has no tracepoint)
 * The decision logic lives in userspace (tuners/tcp_buffer); these only report limits hit. */
#include "bpftune.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Everything the tuner reads, from the socket's namespace: the collector can only read its own
 * namespace's /proc/sys, so for every other one these are the current values. */
static __always_inline void fill_common(struct bpftune_event* ev,
                                        const struct sock* sk,
                                        const struct proto* prot,
                                        __u32 kind) {
  struct tcp_sock* tp = bpf_skc_to_tcp_sock((void*)sk);
  const struct net* net = sk->__sk_common.skc_net.net;

  bpftune_event_head(
      ev, BPFTUNE_TUNER_TCP_BUFFER, kind, net->net_cookie, net->ns.inum, bpf_ktime_get_ns());
  ev->srtt_us = tp ? tp->srtt_us >> 3 : 0;
  ev->rmem[0] = net->ipv4.sysctl_tcp_rmem[0];
  ev->rmem[1] = net->ipv4.sysctl_tcp_rmem[1];
  ev->rmem[2] = net->ipv4.sysctl_tcp_rmem[2];
  ev->wmem[0] = net->ipv4.sysctl_tcp_wmem[0];
  ev->wmem[1] = net->ipv4.sysctl_tcp_wmem[1];
  ev->wmem[2] = net->ipv4.sysctl_tcp_wmem[2];
  ev->moderate_rcvbuf = net->ipv4.sysctl_tcp_moderate_rcvbuf;
  ev->mem_allocated = prot->memory_allocated->counter;
  ev->ns_values[TCP_BUFFER_NS_MAX_SYN_BACKLOG] = net->ipv4.sysctl_max_syn_backlog;
  ev->ns_values[TCP_BUFFER_NS_SYNCOOKIES] = net->ipv4.sysctl_tcp_syncookies;
  ev->ns_values[TCP_BUFFER_NS_NO_METRICS_SAVE] = net->ipv4.sysctl_tcp_nometrics_save;
  ev->ns_values[TCP_BUFFER_NS_NO_SSTHRESH_METRICS_SAVE] =
      net->ipv4.sysctl_tcp_no_ssthresh_metrics_save;
}

/* After TCP memory was low, the sampled hooks say so once it is normal again, so userspace can
 * undo its low-memory settings. Not just once: the first report may reach a tuner that is
 * stopped for a while (an administrator's write), so they repeat every 250 ms for a minute after
 * the last low reading. Racy across CPUs on purpose: a lost update costs one extra report. */
#define MEM_NORMAL_WINDOW_NS (60ULL * 1000 * 1000 * 1000)
#define MEM_NORMAL_GAP_NS    (250ULL * 1000 * 1000)
__u64 low_memory_seen_ns = 0;
__u64 mem_normal_sent_ns = 0;

static __always_inline void report_normal(__u32 hook,
                                          const struct sock* sk,
                                          const struct proto* prot,
                                          const __s64 mem[3],
                                          __s64 allocated) {
  __u64 seen = low_memory_seen_ns;
  struct bpftune_event* ev;
  __u64 now;

  if (!seen) return; /* the common case: memory was never low */
  now = bpf_ktime_get_ns();
  if (now - seen > MEM_NORMAL_WINDOW_NS || now - mem_normal_sent_ns < MEM_NORMAL_GAP_NS) return;
  mem_normal_sent_ns = now;
  ev = bpftune_scratch_event(hook);
  if (!ev) return;
  fill_common(ev, sk, prot, TCP_BUFFER_EV_MEM_NORMAL);
  ev->limit = mem[1];
  ev->sysctl[0] = mem[0];
  ev->sysctl[1] = mem[1];
  ev->sysctl[2] = mem[2];
  ev->value = allocated;
  ev->mem_allocated = allocated;
  bpftune_send(ev);
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

  if (!read_proto_mem(prot, mem)) return false;
  allocated = prot->memory_allocated->counter;
  if (allocated_hint > allocated) allocated = allocated_hint;
  if (NEARLY_FULL(allocated, mem[2])) {
    kind = TCP_BUFFER_EV_MEM_EXHAUSTION;
    i = 2;
  } else if (NEARLY_FULL(allocated, mem[1])) {
    kind = TCP_BUFFER_EV_MEM_PRESSURE;
    i = 1;
  } else {
    report_normal(hook, sk, prot, mem, allocated);
    return false;
  }
  low_memory_seen_ns = bpf_ktime_get_ns();
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

/* Cumulative SYN-ACK retransmits per namespace: the x of the tuner's correlation with accepted
 * connections (Tcp: PassiveOpens). Events are de-duplicated, so userspace cannot count them. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, __u64);
} synack_retransmits SEC(".maps");

static __always_inline __u64 count_synack_retransmit(__u64 cookie) {
  __u64 one = 1;
  __u64* n = bpf_map_lookup_elem(&synack_retransmits, &cookie);

  if (n) return __sync_fetch_and_add(n, 1) + 1;
  bpf_map_update_elem(&synack_retransmits, &cookie, &one, BPF_NOEXIST);
  return 1;
}

/* sk is the listener (a fast-open child also retransmits SYN-ACKs: not a backlog matter).
 * detail[0]: cumulative SYN-ACK retransmits in the namespace; [1]: the listener's request queue
 * length; [2]/[3]: its accept queue length and listen() backlog. */
SEC("tp_btf/tcp_retransmit_synack")
int BPF_PROG(tcp_retransmit_synack, const struct sock* sk, const struct request_sock* req) {
  const struct net* net = sk->__sk_common.skc_net.net;
  struct tcp_sock* listener;
  struct bpftune_event* ev;
  __u64 retransmits;

  bpftune_count(TCP_BUFFER_HOOK_RETRANSMIT_SYNACK);
  if (sk->__sk_common.skc_state != TCP_LISTEN) return 0;
  retransmits = count_synack_retransmit(net->net_cookie);
  ev = bpftune_scratch_event(TCP_BUFFER_HOOK_RETRANSMIT_SYNACK);
  if (!ev) return 0;
  fill_common(ev, sk, sk->__sk_common.skc_prot, TCP_BUFFER_EV_SYNACK_RETRANS);
  listener = bpf_skc_to_tcp_sock((void*)sk);
  ev->detail[0] = retransmits;
  if (listener) ev->detail[1] = listener->inet_conn.icsk_accept_queue.qlen.counter;
  ev->detail[2] = sk->sk_ack_backlog;
  ev->detail[3] = sk->sk_max_ack_backlog;
  ev->value = ev->detail[1];
  ev->limit = net->ipv4.sysctl_max_syn_backlog;
  bpftune_send(ev);
  return 0;
}
