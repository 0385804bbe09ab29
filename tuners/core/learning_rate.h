// Upstream bpftune's step arithmetic: every change moves a value by 1/2^shift of itself, and
// "near the limit" means within that same fraction of it.
#pragma once

#include <cstdint>

namespace bpftune::tuners {

class LearningRate {
public:
  static constexpr int MIN_RATE = 0;
  static constexpr int MAX_RATE = 4;
  static constexpr int DEFAULT_RATE = MAX_RATE;

  // Rates outside 0..4 are clamped: the CLI validates, this only keeps the shift meaningful.
  explicit LearningRate(int rate);

  int rate() const { return learningRate; }
  // 6 - rate: 6 (1/64) ... 2 (1/4).
  int shift() const { return stepShift; }

  // Saturates at INT64_MAX rather than wrapping.
  int64_t grow(int64_t v) const;
  int64_t shrink(int64_t v) const;
  bool nearlyFull(int64_t v, int64_t limit) const;
  bool nearlyEmpty(int64_t v, int64_t limit) const;

private:
  int learningRate;
  int stepShift;
};

}  // namespace bpftune::tuners
