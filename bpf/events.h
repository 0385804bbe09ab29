/* Event records shared by the BPF programs (C, clang -target bpf) and the collector (C++).
 * Fixed size, no pointers, one layout for every producer (the ring buffer is shared). Every event
 * names the network namespace it came from. */
#ifndef BPFTUNE_EVENTS_H
#define BPFTUNE_EVENTS_H

/* NOLINTBEGIN(readability-identifier-naming,modernize-use-using) */

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

/* Tuner ids: equal to proto::TunerId. */
enum bpftune_tuner_id {
  BPFTUNE_TUNER_TCP_BUFFER = 0,
  BPFTUNE_TUNER_NEIGH_TABLE = 3,
  BPFTUNE_TUNER_NET_BUFFER = 4,
  BPFTUNE_TUNER_IP_FRAG = 5,
  BPFTUNE_TUNER_UDP_BUFFER = 6,
  BPFTUNE_TUNER_TCP_CONN = 7,
  /* Not a tuner: the collector's own infrastructure (netns tracking, sysctl watch). Outside the
   * range of proto::TunerId on purpose, so it can never be mistaken for one. */
  BPFTUNE_INFRA = 0x100,
};

/* tcp_buffer event kinds. */
enum bpftune_tcp_buffer_event {
  TCP_BUFFER_EV_RMEM_NEAR_MAX = 1, /* sk_rcvbuf is NEARLY_FULL of tcp_rmem[2] */
  TCP_BUFFER_EV_WMEM_NEAR_MAX =
      2, /* sk_sndbuf is NEARLY_FULL of tcp_wmem[2] and the queue is full */
  TCP_BUFFER_EV_MEM_PRESSURE = 3,   /* memory_allocated is NEARLY_FULL of tcp_mem[1] */
  TCP_BUFFER_EV_MEM_EXHAUSTION = 4, /* memory_allocated is NEARLY_FULL of tcp_mem[2] */
  TCP_BUFFER_EV_MEM_NORMAL = 5,     /* memory_allocated is below both: low-memory mode may end */
  TCP_BUFFER_EV_SYNACK_RETRANS = 6, /* a listener retransmitted a SYN-ACK (unACKed handshakes) */
};

/* tcp_buffer ns_values[] slots: its other per-netns tunables as the kernel saw them. */
enum bpftune_tcp_buffer_slot {
  TCP_BUFFER_NS_MAX_SYN_BACKLOG = 0,
  TCP_BUFFER_NS_SYNCOOKIES = 1,
  TCP_BUFFER_NS_NO_METRICS_SAVE = 2,
  TCP_BUFFER_NS_NO_SSTHRESH_METRICS_SAVE = 3,
};

/* neigh_table event kinds (global thresholds; details in neigh). */
enum bpftune_neigh_table_event {
  NEIGH_TABLE_EV_FULL = 1,  /* entries NEARLY_FULL of gc_thresh3 (or a create failed: table full) */
  NEIGH_TABLE_EV_EMPTY = 2, /* entries NEARLY_EMPTY of gc_thresh3 on removal */
};

/* net_buffer event kinds (global tunables). */
enum bpftune_net_buffer_event {
  NET_BUFFER_EV_BACKLOG_DROP = 1,     /* CPU_BACKLOG drops reached netdev_max_backlog/32 */
  NET_BUFFER_EV_BUDGET_EXHAUSTED = 2, /* a NAPI poll used its whole budget */
};

/* ip_frag event kinds. */
enum bpftune_ip_frag_event {
  IP_FRAG_EV_V4_NEAR_THRESH = 1, /* ipv4 fqdir->mem NEARLY_FULL of high_thresh */
  IP_FRAG_EV_V6_NEAR_THRESH = 2, /* ipv6 fqdir->mem NEARLY_FULL of high_thresh */
};

/* ip_frag ns_values[] slots. */
enum bpftune_ip_frag_slot {
  IP_FRAG_NS_IPFRAG_HIGH_THRESH = 0,
  IP_FRAG_NS_IP6FRAG_HIGH_THRESH = 1,
};

/* ip_frag detail[] slots (both kinds), for the event's family. */
enum bpftune_ip_frag_detail {
  IP_FRAG_DETAIL_LOW_THRESH = 0,  /* fqdir->low_thresh: the kernel refuses a high_thresh below it */
  IP_FRAG_DETAIL_DROP_REASON = 1, /* the kfree_skb reason (enum skb_drop_reason, this kernel's) */
};

/* udp_buffer event kinds. */
enum bpftune_udp_buffer_event {
  UDP_BUFFER_EV_RCVBUF_DROP = 1, /* a datagram was dropped at a full receive buffer (-ENOMEM) */
  UDP_BUFFER_EV_MEM = 2,         /* -ENOBUFS / memory accounting above udp_mem[0] */
  /* As RCVBUF_DROP, on a socket whose size was set with SO_RCVBUF (its own kind, so the
   * de-duplication of one kind of socket never silences the other). */
  UDP_BUFFER_EV_RCVBUF_DROP_LOCKED = 3,
};

/* udp_buffer ns_values[] slots: unused. net.core.rmem_max/rmem_default are global variables
 * (no __ksym here to read them); a child netns shows them read-only, live. */
enum bpftune_udp_buffer_slot {
  UDP_BUFFER_NS_RMEM_MAX = 0,
  UDP_BUFFER_NS_RMEM_DEFAULT = 1,
};

/* tcp_conn event kinds. Both carry the remote host in daddr/family/dport and the local port in
 * sport; the measurements' slots are documented in bpf/tcp_conn.bpf.c. */
enum bpftune_tcp_conn_event {
  TCP_CONN_EV_CLOSED = 1,      /* a connection that carried data closed: its measurements */
  TCP_CONN_EV_LIVE_SWITCH = 2, /* the iterator switched a live connection in distress to bbr */
};

/* BPFTUNE_INFRA event kinds. */
enum bpftune_infra_event {
  INFRA_EV_NETNS_SEEN = 1,   /* a task entered a netns not in known_netns (netns_watch) */
  INFRA_EV_SYSCTL_WRITE = 2, /* someone other than the actuator wrote a watched sysctl */
};

#define BPFTUNE_COMM_LEN       16
#define BPFTUNE_VALUE_TEXT_LEN 64

struct bpftune_event {
  __u32 tuner;         /* enum bpftune_tuner_id */
  __u32 kind;          /* per tuner */
  __u64 netns_cookie;  /* net->net_cookie: the socket's namespace (sysctl writes: the writer's) */
  __u64 ts_ns;         /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) when the limit was hit */
  __u32 pid;           /* tgid current when the hook fired (may be a softirq's victim) */
  __u32 srtt_us;       /* smoothed RTT of the socket, microseconds (tp->srtt_us >> 3) */
  __s64 value;         /* the socket's buffer (bytes) or memory_allocated (pages) */
  __s64 limit;         /* the limit it was compared with, as the kernel saw it */
  __s64 sysctl[3];     /* the tunable's three values as the kernel saw them (rmem/wmem/mem) */
  __s64 mem_allocated; /* prot->memory_allocated (pages) at the time of the event */
  /* tcp_buffer: every tunable the tuner reads, as the kernel saw them in netns_cookie's
   * namespace. The collector cannot read another namespace's /proc/sys. */
  __s64 rmem[3];         /* net->ipv4.sysctl_tcp_rmem */
  __s64 wmem[3];         /* net->ipv4.sysctl_tcp_wmem */
  __s32 moderate_rcvbuf; /* net->ipv4.sysctl_tcp_moderate_rcvbuf */
  __u32 netns_inum;      /* ns.inum of netns_cookie's namespace (0: not read) */
  /* BPFTUNE_INFRA */
  __u32 uid;                         /* sysctl writes: the writer's uid */
  __u32 tunable;                     /* sysctl writes: proto::TunableId */
  char comm[BPFTUNE_COMM_LEN];       /* the current task's comm, NUL padded */
  char text[BPFTUNE_VALUE_TEXT_LEN]; /* sysctl writes: the value written, NUL terminated */
  /* Tuners other than tcp_buffer's buffer limits: their per-netns tunables as the kernel saw them
   * in netns_cookie's namespace (slots per tuner, enum bpftune_*_slot above), and details. */
  __s64 ns_values[4];
  __s64 detail[4];            /* per tuner and kind; documented where it is filled */
  __u32 cpu;                  /* bpf_get_smp_processor_id() when the hook fired */
  __u32 ifindex;              /* neigh_table: the device of the neighbour */
  char dev[BPFTUNE_COMM_LEN]; /* neigh_table: its name, NUL padded */
  /* tcp_conn: the connection's remote host (IPv4 in bytes 0..3, as skc_daddr) and ports */
  __u8 daddr[16];
  __u16 family; /* AF_INET or AF_INET6 */
  __u16 dport;  /* host byte order */
  __u16 sport;  /* host byte order (0 once the port is released, at close) */
  __u16 pad_conn;
};

/* NOLINTEND(readability-identifier-naming,modernize-use-using) */

#endif
