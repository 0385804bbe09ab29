// A protocol's memory limits (tcp_mem, udp_mem: low, pressure, high in pages) against its
// memory_allocated. Targets are what upstream's formulas ask for; the tuner then applies the
// actuator's step and ordering limits (change_limits.h).
#pragma once

#include <cstdint>

#include "learning_rate.h"
#include "tuner.h"

namespace bpftune::tuners::mem_rules {

enum class MemoryState {
  NORMAL,
  PRESSURE,    // memory_allocated nearly full of limits[1]
  EXHAUSTION,  // memory_allocated nearly full of limits[2]
};

MemoryState classifyMemory(const LearningRate& rate, int64_t allocatedPages, const Values& limits);

// Upstream's caps: limits[0] grows only while below free/16, [1] below free/8, and [2] is
// min(free/4, grow([2])) — which lowers an oversized [2].
Values pressureTarget(const LearningRate& rate, const Values& limits, int64_t freePages);
// Only [2] moves: [0] and [1] keep their live values (upstream's UDP version left them 0).
Values exhaustionTarget(const LearningRate& rate, const Values& limits, int64_t freePages);

// limits[2] already reached free/4: raising the protocol's memory is off the table, so the
// per-socket maxima have to come down instead.
bool memMaxAtCap(const Values& limits, int64_t freePages);

}  // namespace bpftune::tuners::mem_rules
