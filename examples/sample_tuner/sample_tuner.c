/* sample_tuner: an out-of-tree bpftune tuner plugin, built against the installed ABI header
 * (pkg-config bpftune-plugin). When UDP receive-buffer drops keep rising between two ticks, it
 * proposes a quarter more net.core.rmem_max; the actuator's policy bounds what is applied. */
#include <stdio.h>
#include <stdlib.h>

#include <bpftune/plugin.h>

struct sample_state {
  int64_t last_drops;
  int have_last;
};

static const uint32_t sample_tunables[] = {BPFTUNE_TUNABLE_RMEM_MAX};
static const uint32_t sample_counters[] = {BPFTUNE_COUNTER_UDP_RCVBUF_ERRORS};

static void* sample_create(const char** error) {
  struct sample_state* s = calloc(1, sizeof(*s));
  if (s == NULL) {
    *error = "out of memory";
  }
  return s;
}

static void sample_destroy(void* state) {
  free(state);
}

static uint32_t sample_tick(void* state,
                            const struct bpftune_plugin_input* in,
                            struct bpftune_plugin_proposal* out,
                            uint32_t max) {
  struct sample_state* s = state;
  const struct bpftune_plugin_values* rmem_max = &in->tunables[0];
  if (!in->counter_valid[0] || rmem_max->count != 1 || max == 0) {
    return 0;
  }
  int64_t drops = in->counters[0];
  int rising = s->have_last && drops > s->last_drops;
  s->last_drops = drops;
  s->have_last = 1;
  if (!rising) {
    return 0;
  }
  out[0].tunable = BPFTUNE_TUNABLE_RMEM_MAX;
  out[0].new_values.count = 1;
  out[0].new_values.v[0] = rmem_max->v[0] + rmem_max->v[0] / 4;
  snprintf(
      out[0].why, sizeof(out[0].why), "UDP receive buffer drops rose to %lld", (long long)drops);
  return 1;
}

static const struct bpftune_plugin sample_plugin = {
    .abi_version = BPFTUNE_PLUGIN_ABI_VERSION,
    .name = "sample",
    .period_ms = 1000,
    .tunables = sample_tunables,
    .n_tunables = 1,
    .counters = sample_counters,
    .n_counters = 1,
    .create = sample_create,
    .destroy = sample_destroy,
    .tick = sample_tick,
};

const struct bpftune_plugin* BPFTUNE_PLUGIN_ENTRY(void) {
  return &sample_plugin;
}
