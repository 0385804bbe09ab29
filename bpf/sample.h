/* Per-hook sampling counters in each BPF object's .bss, read by the collector for the status
 * file. Shared by BPF C and C++. */
#ifndef BPFTUNE_SAMPLE_H
#define BPFTUNE_SAMPLE_H

/* NOLINTBEGIN(readability-identifier-naming,modernize-use-using) */

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BPFTUNE_MAX_HOOKS 4

struct bpftune_sample {
  __u64 calls;     /* times the hook ran */
  __u64 collected; /* times it passed sampling (and was looked at) */
  __u64 last_ns;   /* when the last sample was collected */
  __u32 rate;      /* current N: every N-th call is collected */
  __u32 pad;
};

/* tcp_buffer hook indexes into bpftune_samples[]. */
enum bpftune_tcp_buffer_hook {
  TCP_BUFFER_HOOK_RCV_SPACE_ADJUST = 0,
  TCP_BUFFER_HOOK_SENDMSG_LOCKED = 1,
  TCP_BUFFER_HOOK_EXCEED_BUF_LIMIT = 2,
  TCP_BUFFER_HOOK_RETRANSMIT_SYNACK = 3,
};

/* ip_frag hook indexes into bpftune_samples[]. */
enum bpftune_ip_frag_hook {
  IP_FRAG_HOOK_KFREE_SKB = 0,
};

/* udp_buffer hook indexes into its object's bpftune_samples[]. */
enum bpftune_udp_buffer_hook {
  UDP_BUFFER_HOOK_FAIL_QUEUE_RCV_SKB = 0,
  UDP_BUFFER_HOOK_EXCEED_BUF_LIMIT = 1,
};

/* NOLINTEND(readability-identifier-naming,modernize-use-using) */

#endif
