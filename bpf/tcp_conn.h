/* tcp_conn: hook indexes into bpftune_samples[] and the event slots (the contract between
 * bpf/tcp_conn.bpf.c and tuners/tcp_conn). Shared by BPF C and C++. */
#ifndef BPFTUNE_TCP_CONN_H
#define BPFTUNE_TCP_CONN_H

/* NOLINTBEGIN(readability-identifier-naming,modernize-use-using) */

enum bpftune_tcp_conn_hook {
  /* inet_sock_set_state: calls = connections that closed, collected = CLOSED events sent */
  TCP_CONN_HOOK_STATE = 0,
  /* iter/tcp: calls = established sockets looked at, collected = switched to bbr */
  TCP_CONN_HOOK_ITER = 1,
  TCP_CONN_HOOK_COUNT = 2,
};

/* TCP_CONN_EV_CLOSED: value = bytes_acked, limit = µs from ESTABLISHED to CLOSE (0: unknown),
 * srtt_us as usual, and: */
enum bpftune_tcp_conn_ns_slot {
  TCP_CONN_NS_DELIVERED = 0,     /* tp->delivered (segments) */
  TCP_CONN_NS_TOTAL_RETRANS = 1, /* tp->total_retrans (both kinds) */
  TCP_CONN_NS_SEGS_OUT = 2,      /* tp->segs_out (both kinds) */
  TCP_CONN_NS_DATA_SEGS_OUT = 3, /* tp->data_segs_out */
};

enum bpftune_tcp_conn_detail_slot {
  TCP_CONN_DETAIL_RTT_MIN = 0,          /* tp->rtt_min (µs) */
  TCP_CONN_DETAIL_RATE_DELIVERED = 1,   /* tp->rate_delivered (segments in the last sample) */
  TCP_CONN_DETAIL_RATE_INTERVAL_US = 2, /* tp->rate_interval_us (the last sample's length) */
  TCP_CONN_DETAIL_MSS = 3,              /* tp->mss_cache */
};

/* sysctl[] slots. TCP_CONN_EV_LIVE_SWITCH: [0] from, [1] to (always bbr); its limit is the µs
 * since ESTABLISHED (0: unknown) and ns_values[1], [2] total_retrans and segs_out. */
enum bpftune_tcp_conn_sysctl_slot {
  TCP_CONN_ALG = 0,         /* the connection's proto::CongAlg (0: outside the enum) */
  TCP_CONN_NS_DEFAULT = 1,  /* its namespace's tcp_congestion_control as a CongAlg */
  TCP_CONN_FLAGS = 2,       /* TCP_CONN_FLAG_* */
  TCP_CONN_SWITCH_FROM = 0, /* LIVE_SWITCH */
  TCP_CONN_SWITCH_TO = 1,   /* LIVE_SWITCH */
};

#define TCP_CONN_FLAG_ECN     1 /* ECN was negotiated (tp->ecn_flags & TCP_ECN_OK) */
#define TCP_CONN_FLAG_PASSIVE 2 /* the connection was accepted (SYN_RECV -> ESTABLISHED) */

/* proto::CongAlg, for BPF C (the capnp enum is C++ only). */
enum bpftune_cong_alg {
  BPFTUNE_CA_NONE = 0,
  BPFTUNE_CA_RENO = 1,
  BPFTUNE_CA_CUBIC = 2,
  BPFTUNE_CA_BBR = 3,
  BPFTUNE_CA_HTCP = 4,
  BPFTUNE_CA_DCTCP = 5,
};

/* NOLINTEND(readability-identifier-naming,modernize-use-using) */

#endif
