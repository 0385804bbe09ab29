/* tcp_conn tuner hooks (kernel-hooks-and-caps.md §1, docs/design/tcp_conn_spike.md §4):
 *   tp_btf/inet_sock_set_state -> ->ESTABLISHED: remember when (and whether it was accepted);
 *                                 ->CLOSE: one TCP_CONN_EV_CLOSED with the connection's
 *                                 measurements, for connections that sent data
 *   iter/tcp                   -> run by the collector on its clock, in its own netns only: an
 *                                 established connection in distress (retransmits above 1/64 of
 *                                 segments sent) is switched to bbr with bpf_setsockopt, and one
 *                                 TCP_CONN_EV_LIVE_SWITCH reports it (the collector journals it)
 * No sockops: nothing here runs unless a socket changes state or the collector reads the
 * iterator, so nothing of ours keeps acting once the collector is gone. Slots: tcp_conn.h. The
 * decision logic lives in userspace (tuners/tcp_conn). */
#include "tcp_conn.h"

#include <bpf/bpf_endian.h>

#include "bpftune.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Not in BTF (uapi macros). */
#define AF_INET        2
#define AF_INET6       10
#define SOL_TCP        6
#define TCP_CONGESTION 13
#define TCP_ECN_OK     1

/* Set by the collector before load: a connection is switched only once it sent this many
 * segments, so that one early loss of a short flow does not count as distress. */
const volatile __u32 live_switch_min_segs = 1000;
/* Set by the collector before each iterator run: how many switches this run may make (every
 * switch is journaled, and the actuator's rate limit applies to the reports). */
__u32 live_switch_budget = 0;

struct conn_start {
  __u64 ts_ns;
  __u32 passive;
  __u32 pad;
};

/* ESTABLISHED time per socket, deleted at CLOSE. A connection whose entry was evicted (more
 * than max_entries open at once) or that was established before the collector started reports
 * duration 0 (unknown) and no passive flag. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, struct conn_start);
} conn_starts SEC(".maps");

static __always_inline bool name_is(const char* name, const char* want) {
  int i;

#pragma unroll
  for (i = 0; i < 8; i++) {
    if (name[i] != want[i]) return false;
    if (!want[i]) return true;
  }
  return false;
}

/* The algorithm's proto::CongAlg: the kernel names it, the wire never carries the name. */
static __always_inline __u32 cong_alg(const struct tcp_congestion_ops* ops) {
  char name[16] = {};

  if (!ops || bpf_probe_read_kernel_str(name, sizeof(name), ops->name) < 0) return BPFTUNE_CA_NONE;
  if (name_is(name, "cubic")) return BPFTUNE_CA_CUBIC;
  if (name_is(name, "bbr")) return BPFTUNE_CA_BBR;
  if (name_is(name, "reno")) return BPFTUNE_CA_RENO;
  if (name_is(name, "htcp")) return BPFTUNE_CA_HTCP;
  if (name_is(name, "dctcp")) return BPFTUNE_CA_DCTCP;
  return BPFTUNE_CA_NONE;
}

/* The remote host and ports; an IPv4 peer of a dual-stack socket (::ffff:a.b.c.d) is reported
 * as AF_INET, so one host has one key whichever socket family reached it. */
static __always_inline void fill_host(struct bpftune_event* ev, const struct sock_common* skc) {
  const __u32* a6 = skc->skc_v6_daddr.in6_u.u6_addr32;

  ev->dport = bpf_ntohs(skc->skc_dport);
  ev->sport = skc->skc_num;
  if (skc->skc_family == AF_INET) {
    ev->family = AF_INET;
    __builtin_memcpy(ev->daddr, &skc->skc_daddr, 4);
    return;
  }
  if (a6[0] == 0 && a6[1] == 0 && a6[2] == bpf_htonl(0xffff)) {
    ev->family = AF_INET;
    __builtin_memcpy(ev->daddr, &a6[3], 4);
    return;
  }
  ev->family = AF_INET6;
  __builtin_memcpy(ev->daddr, a6, 16);
}

static __always_inline void fill_head(struct bpftune_event* ev,
                                      const struct sock_common* skc,
                                      __u32 kind) {
  const struct net* net = skc->skc_net.net;

  bpftune_event_head(
      ev, BPFTUNE_TUNER_TCP_CONN, kind, net->net_cookie, net->ns.inum, bpf_ktime_get_ns());
  fill_host(ev, skc);
}

/* Every closing connection is reported (not de-duplicated): each is one sample of its
 * algorithm's cost for the host. */
static __always_inline void report_closed(const struct sock* sk, struct tcp_sock* tp) {
  const struct sock_common* skc = &sk->__sk_common;
  const struct net* net = skc->skc_net.net;
  __u64 key = (__u64)sk;
  struct conn_start* start = bpf_map_lookup_elem(&conn_starts, &key);
  struct bpftune_event* ev;
  __s64 flags = 0;

  ev = bpftune_scratch_event(TCP_CONN_HOOK_STATE);
  if (!ev) return;
  fill_head(ev, skc, TCP_CONN_EV_CLOSED);
  if (start) {
    ev->limit = (ev->ts_ns - start->ts_ns) / 1000;
    if (start->passive) flags |= TCP_CONN_FLAG_PASSIVE;
  }
  if (tp->ecn_flags & TCP_ECN_OK) flags |= TCP_CONN_FLAG_ECN;
  ev->value = tp->bytes_acked;
  ev->srtt_us = tp->srtt_us >> 3;
  ev->ns_values[TCP_CONN_NS_DELIVERED] = tp->delivered;
  ev->ns_values[TCP_CONN_NS_TOTAL_RETRANS] = tp->total_retrans;
  ev->ns_values[TCP_CONN_NS_SEGS_OUT] = tp->segs_out;
  ev->ns_values[TCP_CONN_NS_DATA_SEGS_OUT] = tp->data_segs_out;
  ev->detail[TCP_CONN_DETAIL_RTT_MIN] = tp->rtt_min.s[0].v;
  ev->detail[TCP_CONN_DETAIL_RATE_DELIVERED] = tp->rate_delivered;
  ev->detail[TCP_CONN_DETAIL_RATE_INTERVAL_US] = tp->rate_interval_us;
  ev->detail[TCP_CONN_DETAIL_MSS] = tp->mss_cache;
  ev->sysctl[TCP_CONN_ALG] = cong_alg(tp->inet_conn.icsk_ca_ops);
  ev->sysctl[TCP_CONN_NS_DEFAULT] = cong_alg(net->ipv4.tcp_congestion_control);
  ev->sysctl[TCP_CONN_FLAGS] = flags;
  bpftune_send_now(ev);
  __sync_fetch_and_add(&bpftune_samples[TCP_CONN_HOOK_STATE].collected, 1);
}

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(inet_sock_set_state, const struct sock* sk, int oldstate, int newstate) {
  struct conn_start start = {};
  struct tcp_sock* tp;
  __u64 key = (__u64)sk;

  if (sk->sk_protocol != IPPROTO_TCP) return 0;
  if (newstate == TCP_ESTABLISHED) {
    start.ts_ns = bpf_ktime_get_ns();
    start.passive = oldstate == TCP_SYN_RECV;
    bpf_map_update_elem(&conn_starts, &key, &start, BPF_ANY);
    return 0;
  }
  if (newstate != TCP_CLOSE) return 0;
  /* A listener closing (LISTEN -> CLOSE) never carried data: rtt_min ~0, delivered 0. */
  if (oldstate != TCP_LISTEN) {
    __sync_fetch_and_add(&bpftune_samples[TCP_CONN_HOOK_STATE].calls, 1);
    tp = bpf_skc_to_tcp_sock((void*)sk);
    if (tp && tp->rtt_min.s[0].v != ~0U && tp->delivered > 0 && tp->data_segs_out > 0)
      report_closed(sk, tp);
  }
  bpf_map_delete_elem(&conn_starts, &key);
  return 0;
}

/* Upstream's loss fast path (tcp_conn_tuner RETRANS_CB): more than 1/64 of the segments sent
 * were retransmitted. The socket must not have had its algorithm chosen by its application
 * (TCP_CONGESTION setsockopt) or locked by an administrator's route (congctl lock): both win. */
static __always_inline bool in_distress(const struct tcp_sock* tp) {
  const struct inet_connection_sock* icsk = &tp->inet_conn;

  if (tp->segs_out < live_switch_min_segs) return false;
  if (tp->total_retrans <= (tp->segs_out >> 6)) return false;
  if (BPF_CORE_READ_BITFIELD(icsk, icsk_ca_setsockopt)) return false;
  return !BPF_CORE_READ_BITFIELD(icsk, icsk_ca_dst_locked);
}

/* The event's ring buffer slot is reserved before the switch: a switch is made only if its
 * report can be sent, so the journal misses none. */
SEC("iter/tcp")
int live_switch(struct bpf_iter__tcp* ctx) {
  char bbr[4] = "bbr";
  struct sock_common* skc = ctx->sk_common;
  __u64 key = (__u64)skc;
  struct conn_start* start;
  struct bpftune_event* ev;
  struct tcp_sock* tp;
  __u32 from;

  if (!skc || skc->skc_state != TCP_ESTABLISHED) return 0;
  tp = bpf_skc_to_tcp_sock(skc);
  if (!tp) return 0;
  __sync_fetch_and_add(&bpftune_samples[TCP_CONN_HOOK_ITER].calls, 1);
  if (!in_distress(tp)) return 0;
  from = cong_alg(tp->inet_conn.icsk_ca_ops);
  /* An algorithm outside the enum was chosen deliberately by someone (and could not be named in
   * the journal): left alone, like bbr itself. */
  if (from == BPFTUNE_CA_NONE || from == BPFTUNE_CA_BBR) return 0;
  if (live_switch_budget == 0) return 0;
  ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
  if (!ev) {
    __sync_fetch_and_add(&bpftune_events_lost, 1);
    return 0;
  }
  if (bpf_setsockopt(tp, SOL_TCP, TCP_CONGESTION, bbr, sizeof(bbr))) {
    bpf_ringbuf_discard(ev, 0);
    return 0;
  }
  live_switch_budget--;
  __builtin_memset(ev, 0, sizeof(*ev));
  fill_head(ev, skc, TCP_CONN_EV_LIVE_SWITCH);
  start = bpf_map_lookup_elem(&conn_starts, &key);
  if (start) ev->limit = (ev->ts_ns - start->ts_ns) / 1000;
  ev->srtt_us = tp->srtt_us >> 3;
  ev->sysctl[TCP_CONN_SWITCH_FROM] = from;
  ev->sysctl[TCP_CONN_SWITCH_TO] = cong_alg(tp->inet_conn.icsk_ca_ops);
  ev->ns_values[TCP_CONN_NS_TOTAL_RETRANS] = tp->total_retrans;
  ev->ns_values[TCP_CONN_NS_SEGS_OUT] = tp->segs_out;
  bpf_ringbuf_submit(ev, 0);
  __sync_fetch_and_add(&bpftune_samples[TCP_CONN_HOOK_ITER].collected, 1);
  __sync_fetch_and_add(&bpftune_events_sent, 1);
  return 0;
}
