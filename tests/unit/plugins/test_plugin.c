/* Plugins for plugin_test (tests/unit): built from this one file with different definitions.
 *   TEST_PLUGIN_NAME   descriptor name
 *   TEST_ABI_VERSION   the abi_version it claims (a wrong one must be refused)
 *   TEST_STRATEGIES    two strategies, "a" and "b", whose evaluate() always prefers the one not
 *                      active: upstream's strategy test tuner, so the active one flips every
 *                      period.
 * tick() proposes ipfrag_high_thresh + 4096 (per netns) whenever it can read it. */
#include <stdio.h>
#include <stdlib.h>

#include <bpftune/plugin.h>

#ifndef TEST_ABI_VERSION
#define TEST_ABI_VERSION BPFTUNE_PLUGIN_ABI_VERSION
#endif

static const uint32_t test_tunables[] = {BPFTUNE_TUNABLE_IPFRAG_HIGH_THRESH};
static const uint32_t test_counters[] = {BPFTUNE_COUNTER_UDP_RCVBUF_ERRORS};
#ifdef TEST_STRATEGIES
static const char* const test_strategy_names[] = {"a", "b"};
#endif

static int results; /* applied results told */

static void* test_create(const char** error) {
  (void)error;
  return &results;
}

static uint32_t test_tick(void* state,
                          const struct bpftune_plugin_input* in,
                          struct bpftune_plugin_proposal* out,
                          uint32_t max) {
  (void)state;
  if (in->tunables[0].count != 1 || max == 0) {
    return 0;
  }
  out[0].tunable = BPFTUNE_TUNABLE_IPFRAG_HIGH_THRESH;
  out[0].new_values.count = 1;
  out[0].new_values.v[0] = in->tunables[0].v[0] + 4096;
  snprintf(out[0].why,
           sizeof(out[0].why),
           "strategy %u\ncounter %lld",
           in->strategy,
           (long long)in->counters[0]);
  return 1;
}

static void test_result(void* state, const struct bpftune_plugin_proposal* p, int applied) {
  (void)p;
  *(int*)state += applied ? 1 : 0;
}

#ifdef TEST_STRATEGIES
static int32_t test_evaluate(void* state, const struct bpftune_plugin_input* in, uint32_t s) {
  (void)state;
  return s == in->strategy ? 0 : 1;
}
#endif

static const struct bpftune_plugin test_plugin = {
    .abi_version = TEST_ABI_VERSION,
    .name = TEST_PLUGIN_NAME,
    .period_ms = 100,
    .tunables = test_tunables,
    .n_tunables = 1,
    .counters = test_counters,
    .n_counters = 1,
    .create = test_create,
    .tick = test_tick,
    .result = test_result,
#ifdef TEST_STRATEGIES
    .strategy_names = test_strategy_names,
    .n_strategies = 2,
    .strategy_period_ms = 30000,
    .evaluate = test_evaluate,
#endif
};

const struct bpftune_plugin* BPFTUNE_PLUGIN_ENTRY(void) {
  return &test_plugin;
}
