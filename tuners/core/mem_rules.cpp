#include "mem_rules.h"

#include <algorithm>

namespace bpftune::tuners::mem_rules {

MemoryState classifyMemory(const LearningRate& rate, int64_t allocatedPages, const Values& limits) {
  if (rate.nearlyFull(allocatedPages, limits.v[2])) {
    return MemoryState::EXHAUSTION;
  }
  if (rate.nearlyFull(allocatedPages, limits.v[1])) {
    return MemoryState::PRESSURE;
  }
  return MemoryState::NORMAL;
}

Values pressureTarget(const LearningRate& rate, const Values& limits, int64_t freePages) {
  Values out = limits;
  if (limits.v[0] < freePages / 16) {
    out.v[0] = rate.grow(limits.v[0]);
  }
  if (limits.v[1] < freePages / 8) {
    out.v[1] = rate.grow(limits.v[1]);
  }
  out.v[2] = std::min(freePages / 4, rate.grow(limits.v[2]));
  return out;
}

// Usage is at the hard limit: lowering it now would fail allocations at once, so under
// exhaustion [2] only ever grows (up to a quarter of free memory). An oversized [2] is brought
// down only under pressure, when usage is far below it (upstream's mem_pressure scenario).
Values exhaustionTarget(const LearningRate& rate, const Values& limits, int64_t freePages) {
  Values out = limits;
  out.v[2] = std::max(limits.v[2], std::min(freePages / 4, rate.grow(limits.v[2])));
  return out;
}

bool memMaxAtCap(const Values& limits, int64_t freePages) {
  return limits.v[2] >= freePages / 4;
}

}  // namespace bpftune::tuners::mem_rules
