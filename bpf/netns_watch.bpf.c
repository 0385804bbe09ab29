/* Network namespace tracking (collector infrastructure, not a tuner). There is no tracepoint for
 * netns creation or destruction and no kprobes here (kernel-hooks-and-caps.md §1), so:
 *   iter/task   -> every namespace a process holds, read on demand (start, then every 2 s)
 *   tp_btf/sys_exit -> a task that just ran unshare/setns/clone/clone3 and sits in a namespace
 *                  not in known_netns: one INFRA_EV_NETNS_SEEN event, right away.
 * sys_exit fires on every system call, so it filters on the syscall number first. */
#include "bpftune.bpf.h"

char LICENSE[] SEC("license") = "GPL";

/* Syscalls that can put a task into another network namespace. */
#if defined(__TARGET_ARCH_x86)
#define NR_CLONE         56
#define NR_UNSHARE       272
#define NR_SETNS         308
#define NR_CLONE3        435
#define SYSCALL_NR(regs) ((regs)->orig_ax)
#elif defined(__TARGET_ARCH_arm64)
#define NR_UNSHARE       97
#define NR_SETNS         268
#define NR_CLONE         220
#define NR_CLONE3        435
#define SYSCALL_NR(regs) ((regs)->syscallno)
#else
#error "netns_watch: syscall numbers for this architecture are missing"
#endif

#define NETNS_WATCH_HOOK 0
#define MAX_KNOWN_NETNS  65536

/* Cookies the collector already knows: it fills it from its start-up scan and deletes namespaces
 * it found gone, the sys_exit hook adds the ones it reports. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MAX_KNOWN_NETNS);
  __type(key, __u64);
  __type(value, __u8);
} known_netns SEC(".maps");

/* One record per process (thread-group leader) for the task iterator. */
struct netns_task_record {
  __u64 cookie;
  __u32 inum;
  __u32 pid;
};

static __always_inline bool enters_netns(long nr) {
  return nr == NR_UNSHARE || nr == NR_SETNS || nr == NR_CLONE || nr == NR_CLONE3;
}

SEC("tp_btf/sys_exit")
int BPF_PROG(netns_sys_exit, struct pt_regs* regs, long ret) {
  struct task_struct* task;
  struct bpftune_event* ev;
  struct net* net;
  __u64 cookie;
  __u8 one = 1;

  if (!enters_netns(SYSCALL_NR(regs))) return 0;
  /* The parent of a clone returns the child's pid; the child returns 0 (and the hook fires for it
   * too), so ret == 0 covers every case where the caller's own namespace may have changed. */
  if (ret != 0) return 0;
  bpftune_count(NETNS_WATCH_HOOK);
  task = bpf_get_current_task_btf();
  net = task->nsproxy->net_ns;
  cookie = net->net_cookie;
  if (!cookie || bpf_map_lookup_elem(&known_netns, &cookie)) return 0;
  /* NOEXIST: of two CPUs racing on the same new namespace, only one reports it. */
  if (bpf_map_update_elem(&known_netns, &cookie, &one, BPF_NOEXIST)) return 0;
  ev = bpftune_scratch_event(NETNS_WATCH_HOOK);
  if (!ev) return 0;
  ev->tuner = BPFTUNE_INFRA;
  ev->kind = INFRA_EV_NETNS_SEEN;
  ev->netns_cookie = cookie;
  ev->netns_inum = net->ns.inum;
  ev->ts_ns = bpf_ktime_get_ns();
  ev->pid = bpf_get_current_pid_tgid() >> 32;
  ev->uid = (__u32)bpf_get_current_uid_gid();
  bpf_get_current_comm(ev->comm, sizeof(ev->comm));
  bpftune_send_now(ev);
  return 0;
}

SEC("iter/task")
int netns_tasks(struct bpf_iter__task* ctx) {
  struct task_struct* task = ctx->task;
  struct netns_task_record rec = {};
  struct nsproxy* ns;
  struct net* net;

  /* Threads share their leader's nsproxy unless they unshared alone, which is rare enough to be
   * picked up by the sys_exit hook instead; a record per leader keeps the read small. */
  if (!task || task->pid != task->tgid) return 0;
  ns = BPF_CORE_READ(task, nsproxy);
  if (!ns) return 0; /* exiting (zombie) */
  net = BPF_CORE_READ(ns, net_ns);
  if (!net) return 0;
  rec.cookie = BPF_CORE_READ(net, net_cookie);
  rec.inum = BPF_CORE_READ(net, ns.inum);
  rec.pid = task->tgid;
  bpf_seq_write(ctx->meta->seq, &rec, sizeof(rec));
  return 0;
}
