// Strategy evaluation (upstream's bpftuner_strategy timers, without the timer threads): a tuner
// that offers alternative detection strategies is asked every period to score each one, and
// the highest score becomes active. Pure: the caller passes the clock.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include "tuner.h"

namespace bpftune::tuners {

struct StrategyChange {
  size_t from = 0;
  size_t to = 0;
  std::string text;  // "strategy a -> b (scores 0, 1)", for the log
};

class StrategySwitch {
public:
  using Clock = std::chrono::steady_clock;

  // `period` overrides the tuner's own strategyPeriod() when non-zero (tests, --strategy-period).
  explicit StrategySwitch(std::chrono::milliseconds period = {}) : override(period) {}

  // Evaluates when the period has passed since the last evaluation (the first call only starts
  // the clock, with strategy 0 active). Returns the change when the active strategy changed.
  std::optional<StrategyChange> poll(Tuner& tuner, Clock::time_point now);

  size_t active() const { return current; }

private:
  std::chrono::milliseconds override;
  std::optional<Clock::time_point> next;
  size_t current = 0;
};

}  // namespace bpftune::tuners
