/* net_buffer: hook indexes into bpftune_samples[] and the meaning of its events' detail[] slots.
 * Shared by BPF C and C++. */
#ifndef BPFTUNE_NET_BUFFER_H
#define BPFTUNE_NET_BUFFER_H

/* NOLINTBEGIN(readability-identifier-naming,modernize-use-using) */

enum bpftune_net_buffer_hook {
  NET_BUFFER_HOOK_BACKLOG_DROP = 0, /* kfree_skb, counted only for reason CPU_BACKLOG */
  NET_BUFFER_HOOK_NAPI_POLL = 1,    /* napi_poll, adaptively sampled */
  NET_BUFFER_HOOK_COUNT = 2,
};

/* NET_BUFFER_EV_BACKLOG_DROP detail[] slots. Totals are cumulative since the BPF object was
 * loaded, so an event lost to de-duplication loses no drop: the next one carries it. */
enum bpftune_net_buffer_drop_slot {
  NET_BUFFER_DROP_TOTAL = 0,     /* CPU_BACKLOG drops, each counted once */
  NET_BUFFER_DROP_CPUS = 1,      /* bit n: CPU n (< 64) enqueued a dropped packet */
  NET_BUFFER_DROP_DEV_NETNS = 2, /* netns cookie of the last drop's device (0: none) */
};

/* NET_BUFFER_EV_BUDGET_EXHAUSTED detail[] slots. */
enum bpftune_net_buffer_napi_slot {
  NET_BUFFER_NAPI_WORK = 0,    /* packets this poll processed */
  NET_BUFFER_NAPI_WEIGHT = 1,  /* the most it was allowed (the tracepoint's budget argument) */
  NET_BUFFER_NAPI_SQUEEZE = 2, /* this CPU's softnet time_squeeze (-1: not readable here) */
  NET_BUFFER_NAPI_WHY = 3,     /* NET_BUFFER_WHY_* bits */
};

#define NET_BUFFER_WHY_WEIGHT  1 /* work >= weight: the device had more than one poll may take */
#define NET_BUFFER_WHY_SQUEEZE 2 /* this CPU's time_squeeze grew since its previous sample */

/* NOLINTEND(readability-identifier-naming,modernize-use-using) */

#endif
