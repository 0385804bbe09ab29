#include "learning_rate.h"

#include <algorithm>
#include <limits>

namespace bpftune::tuners {

LearningRate::LearningRate(int rate)
    : learningRate(std::clamp(rate, MIN_RATE, MAX_RATE)), stepShift(6 - learningRate) {}

int64_t LearningRate::grow(int64_t v) const {
  int64_t result = 0;
  if (__builtin_add_overflow(v, v >> stepShift, &result)) {
    return std::numeric_limits<int64_t>::max();
  }
  return result;
}

int64_t LearningRate::shrink(int64_t v) const {
  return v - (v >> stepShift);
}

bool LearningRate::nearlyFull(int64_t v, int64_t limit) const {
  // v >= limit first, so the addition below only runs with v < limit and cannot overflow
  // for non-negative limits.
  return v >= limit || v + (limit >> stepShift) >= limit;
}

bool LearningRate::nearlyEmpty(int64_t v, int64_t limit) const {
  return v <= (limit >> stepShift);
}

}  // namespace bpftune::tuners
