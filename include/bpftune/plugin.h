/* bpftune plugin ABI: a tuner built outside the tree and loaded by bpftune-collector from its
 * plugin directory. C, so a plugin may be written in C or C++ with any compiler.
 *
 * A plugin is pure decision logic, like the built-in tuners: every period the collector reads the
 * values of the tunables and the kernel counters the plugin declared, calls tick(), and sends each
 * proposal it returns to bpftune-actuator as a typed request. The actuator's policy decides, as for
 * any tuner (bounds, step, rate, the administrator's overrides). A plugin names tunables by the
 * ids below, never by a sysctl path, and acts in the collector's own (init) network namespace.
 * It loads no BPF program: see docs/THREAT_MODEL.md.
 *
 * The plugin exports one symbol, BPFTUNE_PLUGIN_ENTRY, returning a descriptor that lives as long
 * as the library is loaded. The collector refuses a descriptor whose abi_version differs from the
 * BPFTUNE_PLUGIN_ABI_VERSION it was built with. */
#ifndef BPFTUNE_PLUGIN_H
#define BPFTUNE_PLUGIN_H

/* NOLINTBEGIN(modernize-use-using,modernize-deprecated-headers) */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BPFTUNE_PLUGIN_ABI_VERSION 1
#define BPFTUNE_PLUGIN_ENTRY       bpftune_plugin_v1
#define BPFTUNE_PLUGIN_ENTRY_NAME  "bpftune_plugin_v1"

/* Limits the collector enforces on a descriptor and on what tick() returns. */
#define BPFTUNE_PLUGIN_NAME_MAX       32 /* [a-z0-9_], 1..32 characters */
#define BPFTUNE_PLUGIN_MAX_TUNABLES   8
#define BPFTUNE_PLUGIN_MAX_COUNTERS   8
#define BPFTUNE_PLUGIN_MAX_STRATEGIES 4
#define BPFTUNE_PLUGIN_MAX_PROPOSALS  4
#define BPFTUNE_PLUGIN_WHY_LEN        128
#define BPFTUNE_PLUGIN_MIN_PERIOD_MS  100

/* Tunables a plugin may propose changes to (the numbers of proto::TunableId). */
enum bpftune_plugin_tunable {
  BPFTUNE_TUNABLE_TCP_RMEM = 0,
  BPFTUNE_TUNABLE_TCP_WMEM = 1,
  BPFTUNE_TUNABLE_TCP_MEM = 2,
  BPFTUNE_TUNABLE_TCP_MODERATE_RCVBUF = 3,
  BPFTUNE_TUNABLE_TCP_NO_METRICS_SAVE = 4,
  BPFTUNE_TUNABLE_TCP_NO_SSTHRESH_METRICS_SAVE = 5,
  BPFTUNE_TUNABLE_HIGH_ORDER_ALLOC_DISABLE = 6,
  BPFTUNE_TUNABLE_TCP_SYNCOOKIES = 7,
  BPFTUNE_TUNABLE_TCP_MAX_SYN_BACKLOG = 8,
  BPFTUNE_TUNABLE_NEIGH_ARP_GC_THRESH = 9,
  BPFTUNE_TUNABLE_NEIGH_NDISC_GC_THRESH = 10,
  BPFTUNE_TUNABLE_NETDEV_MAX_BACKLOG = 11,
  BPFTUNE_TUNABLE_FLOW_LIMIT_CPU_BITMAP = 12,
  BPFTUNE_TUNABLE_NETDEV_BUDGET = 13,
  BPFTUNE_TUNABLE_NETDEV_BUDGET_USECS = 14,
  BPFTUNE_TUNABLE_IPFRAG_HIGH_THRESH = 15,
  BPFTUNE_TUNABLE_IP6FRAG_HIGH_THRESH = 16,
  BPFTUNE_TUNABLE_UDP_MEM = 17,
  BPFTUNE_TUNABLE_RMEM_MAX = 18,
  BPFTUNE_TUNABLE_RMEM_DEFAULT = 19,
  /* 20, 21 (per-host congestion control) are not offered to plugins. */
};

/* Kernel counters a plugin may ask for (cumulative, as the kernel keeps them). */
enum bpftune_plugin_counter {
  BPFTUNE_COUNTER_TCPEXT_SYNCOOKIES_SENT = 0,
  BPFTUNE_COUNTER_TCPEXT_SYNCOOKIES_RECV = 1,
  BPFTUNE_COUNTER_TCPEXT_SYNCOOKIES_FAILED = 2,
  BPFTUNE_COUNTER_TCPEXT_LISTEN_DROPS = 3,
  BPFTUNE_COUNTER_TCPEXT_REQQ_FULL_DROP = 4,
  BPFTUNE_COUNTER_TCP_PASSIVE_OPENS = 5,
  BPFTUNE_COUNTER_IP_REASM_REQDS = 6,
  BPFTUNE_COUNTER_IP_REASM_FAILS = 7,
  BPFTUNE_COUNTER_IP6_REASM_REQDS = 8,
  BPFTUNE_COUNTER_IP6_REASM_FAILS = 9,
  BPFTUNE_COUNTER_UDP_IN_DATAGRAMS = 10,
  BPFTUNE_COUNTER_UDP_RCVBUF_ERRORS = 11,
  BPFTUNE_COUNTER_SOFTNET_DROPPED = 12,
  BPFTUNE_COUNTER_SOFTNET_TIME_SQUEEZE = 13,
  BPFTUNE_COUNTER_SCHED_RUN_NS = 14,
  BPFTUNE_COUNTER_SCHED_WAIT_NS = 15,
};

struct bpftune_plugin_values {
  uint32_t count; /* 1 or 3, as the tunable has; 0: not readable now */
  int64_t v[3];
};

/* What tick() and evaluate() see. Arrays follow the order of the descriptor's lists. */
struct bpftune_plugin_input {
  uint64_t now_ns;   /* CLOCK_MONOTONIC */
  uint32_t strategy; /* index of the active strategy (0 when the plugin has none) */
  struct bpftune_plugin_values tunables[BPFTUNE_PLUGIN_MAX_TUNABLES];
  int64_t counters[BPFTUNE_PLUGIN_MAX_COUNTERS];
  uint8_t counter_valid[BPFTUNE_PLUGIN_MAX_COUNTERS]; /* 0: unavailable (no IPv6, ...) */
};

struct bpftune_plugin_proposal {
  uint32_t tunable; /* one of the descriptor's tunables */
  struct bpftune_plugin_values new_values;
  char why[BPFTUNE_PLUGIN_WHY_LEN]; /* one sentence for the log, NUL terminated */
};

struct bpftune_plugin {
  uint32_t abi_version; /* BPFTUNE_PLUGIN_ABI_VERSION */
  const char* name;
  uint32_t period_ms;       /* how often tick() runs; at least BPFTUNE_PLUGIN_MIN_PERIOD_MS */
  const uint32_t* tunables; /* enum bpftune_plugin_tunable */
  uint32_t n_tunables;
  const uint32_t* counters; /* enum bpftune_plugin_counter */
  uint32_t n_counters;
  /* Per-instance state: create() may return NULL for a plugin that keeps none, or on failure
   * set *error to a static message (the plugin is then not loaded). */
  void* (*create)(const char** error);
  void (*destroy)(void* state);
  /* Fills out[0..max) and returns how many proposals it made. */
  uint32_t (*tick)(void* state,
                   const struct bpftune_plugin_input* input,
                   struct bpftune_plugin_proposal* out,
                   uint32_t max);
  /* Optional (may be NULL): told whether the actuator applied a proposal. */
  void (*result)(void* state, const struct bpftune_plugin_proposal* proposal, int applied);
  /* Strategies (optional; n_strategies 0 or 1 means none): alternative ways of detecting the
   * same condition. Every strategy_period_ms the collector calls evaluate() for each strategy
   * and makes the highest score active (ties keep the active one); tick() sees it in
   * input->strategy. */
  const char* const* strategy_names;
  uint32_t n_strategies;
  uint32_t strategy_period_ms;
  int32_t (*evaluate)(void* state, const struct bpftune_plugin_input* input, uint32_t strategy);
};

/* The one symbol a plugin exports (default visibility even under -fvisibility=hidden). */
__attribute__((visibility("default"))) const struct bpftune_plugin* BPFTUNE_PLUGIN_ENTRY(void);

#ifdef __cplusplus
}
#endif

/* NOLINTEND(modernize-use-using,modernize-deprecated-headers) */

#endif
