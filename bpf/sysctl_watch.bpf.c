/* The administrator always wins: a cgroup/sysctl program on the cgroup v2 root sees every sysctl
 * write on the machine, in every namespace. Writes by anyone but the actuator to a tunable
 * bpftune manages become one INFRA_EV_SYSCTL_WRITE event; the collector then stops the tuners
 * that manage it in that namespace. It never denies anything: it always returns 1.
 *
 * The collector fills `watched` (full sysctl name -> proto::TunableId) from the compiled-in
 * tunable table (policy/tunable_table.cpp) after load, so no sysctl name is written here.
 *
 * Limit: the namespace is the writer's current one. A /proc/sys fd opened in netns X and written
 * from netns Y is reported as Y; the actuator's compare-and-set catches those (OVERRIDDEN). */
#include "bpftune.bpf.h"

char LICENSE[] SEC("license") = "GPL";

#define SYSCTL_WATCH_HOOK 0
#define SYSCTL_NAME_LEN   64
#define MAX_WATCHED       64 /* sysctl files of every tunable (gc_thresh triples are three) */

/* The actuator's uid: its writes are bpftune's own. Set before load. */
const volatile __u32 actuator_uid = 0;

struct sysctl_name {
  char name[SYSCTL_NAME_LEN]; /* "net/ipv4/tcp_rmem", NUL padded */
};

/* Full name -> TunableId. A hash lookup on the zero-padded name is the string compare: one
 * probe instead of a byte loop per tunable, and the table comes from userspace. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, MAX_WATCHED);
  __type(key, struct sysctl_name);
  __type(value, __u32);
} watched SEC(".maps");

__u64 sysctl_writes_seen = 0;    /* writes by anyone but the actuator */
__u64 sysctl_writes_watched = 0; /* ... to a watched tunable (events) */

SEC("cgroup/sysctl")
int sysctl_write(struct bpf_sysctl* ctx) {
  struct sysctl_name key = {};
  struct task_struct* task;
  struct bpftune_event* ev;
  struct net* net;
  __u64 uid_gid;
  __u32* tunable;
  long len;

  if (!ctx->write) return 1;
  uid_gid = bpf_get_current_uid_gid();
  if ((__u32)uid_gid == actuator_uid) return 1;
  __sync_fetch_and_add(&sysctl_writes_seen, 1);
  /* -E2BIG means the name is longer than any watched one. */
  if (bpf_sysctl_get_name(ctx, key.name, sizeof(key.name), 0) < 0) return 1;
  tunable = bpf_map_lookup_elem(&watched, &key);
  if (!tunable) return 1;
  ev = bpftune_scratch_event(SYSCTL_WATCH_HOOK);
  if (!ev) return 1;
  ev->tuner = BPFTUNE_INFRA;
  ev->kind = INFRA_EV_SYSCTL_WRITE;
  ev->tunable = *tunable;
  ev->ts_ns = bpf_ktime_get_ns();
  ev->pid = bpf_get_current_pid_tgid() >> 32;
  ev->uid = (__u32)uid_gid;
  bpf_get_current_comm(ev->comm, sizeof(ev->comm));
  task = bpf_get_current_task_btf();
  net = task->nsproxy->net_ns;
  ev->netns_cookie = net->net_cookie;
  ev->netns_inum = net->ns.inum;
  /* Truncated (-E2BIG) text is still NUL terminated; the collector then cannot parse it. */
  len = bpf_sysctl_get_new_value(ctx, ev->text, sizeof(ev->text));
  if (len < 0 && len != -7 /* E2BIG */) ev->text[0] = 0;
  __sync_fetch_and_add(&sysctl_writes_watched, 1);
  bpftune_send_now(ev);
  return 1;
}
