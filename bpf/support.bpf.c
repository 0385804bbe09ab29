/* Tiny programs the support probe loads one at a time (autoload toggled from userspace) to find
 * out which program types work on this kernel. They do nothing useful when they run. */
#include "vmlinux.h"

#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} probe_ring SEC(".maps");

__u64 probe_hits = 0;

SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(probe_tp_btf, struct sock* sk) {
  __sync_fetch_and_add(&probe_hits, 1);
  return 0;
}

SEC("raw_tp/tcp_rcv_space_adjust")
int probe_raw_tp(struct bpf_raw_tracepoint_args* ctx) {
  __sync_fetch_and_add(&probe_hits, 1);
  return 0;
}

SEC("iter/tcp")
int probe_iter_tcp(struct bpf_iter__tcp* ctx) {
  if (ctx->sk_common) __sync_fetch_and_add(&probe_hits, 1);
  return 0;
}

SEC("tp_btf/tcp_rcv_space_adjust")
int BPF_PROG(probe_ringbuf, struct sock* sk) {
  __u64* slot = bpf_ringbuf_reserve(&probe_ring, sizeof(*slot), 0);

  if (slot) bpf_ringbuf_discard(slot, 0);
  return 0;
}

SEC("fentry/tcp_rcv_space_adjust")
int BPF_PROG(probe_fentry, struct sock* sk) {
  return 0;
}

SEC("kprobe/tcp_rcv_space_adjust")
int BPF_KPROBE(probe_kprobe, struct sock* sk) {
  return 0;
}
