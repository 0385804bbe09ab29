/* Event records shared by the BPF programs (C, clang -target bpf) and the collector (C++).
 * Fixed size, no pointers. Every event names the network namespace it came from. */
#ifndef BPFTUNE_EVENTS_H
#define BPFTUNE_EVENTS_H

/* NOLINTBEGIN(readability-identifier-naming,modernize-use-using) */

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Tuner ids: equal to proto::TunerId. */
enum bpftune_tuner_id {
  BPFTUNE_TUNER_TCP_BUFFER = 0,
};

/* tcp_buffer event kinds. */
enum bpftune_tcp_buffer_event {
  TCP_BUFFER_EV_RMEM_NEAR_MAX = 1, /* sk_rcvbuf is NEARLY_FULL of tcp_rmem[2] */
  TCP_BUFFER_EV_WMEM_NEAR_MAX =
      2, /* sk_sndbuf is NEARLY_FULL of tcp_wmem[2] and the queue is full */
  TCP_BUFFER_EV_MEM_PRESSURE = 3,   /* memory_allocated is NEARLY_FULL of tcp_mem[1] */
  TCP_BUFFER_EV_MEM_EXHAUSTION = 4, /* memory_allocated is NEARLY_FULL of tcp_mem[2] */
};

struct bpftune_event {
  __u32 tuner;         /* enum bpftune_tuner_id */
  __u32 kind;          /* per tuner */
  __u64 netns_cookie;  /* net->net_cookie of the socket's namespace */
  __u64 ts_ns;         /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) when the limit was hit */
  __u32 pid;           /* tgid current when the hook fired (may be a softirq's victim) */
  __u32 srtt_us;       /* smoothed RTT of the socket, microseconds (tp->srtt_us >> 3) */
  __s64 value;         /* the socket's buffer (bytes) or memory_allocated (pages) */
  __s64 limit;         /* the limit it was compared with, as the kernel saw it */
  __s64 sysctl[3];     /* the tunable's three values as the kernel saw them (rmem/wmem/mem) */
  __s64 mem_allocated; /* prot->memory_allocated (pages) at the time of the event */
};

/* NOLINTEND(readability-identifier-naming,modernize-use-using) */

#endif
