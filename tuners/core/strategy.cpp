#include "strategy.h"

#include <vector>

namespace bpftune::tuners {

std::optional<StrategyChange> StrategySwitch::poll(Tuner& tuner, Clock::time_point now) {
  const std::vector<std::string> names = tuner.strategies();
  if (names.size() < 2) {
    return std::nullopt;
  }
  const auto period = override.count() > 0 ? override : tuner.strategyPeriod();
  if (!next) {
    tuner.useStrategy(current);
    next = now + period;
    return std::nullopt;
  }
  if (now < *next) {
    return std::nullopt;
  }
  next = now + period;
  // Ties keep the active strategy: only a strictly better score switches.
  size_t best = current;
  const int32_t currentScore = tuner.evaluateStrategy(current);
  int32_t bestScore = currentScore;
  std::string scores;
  for (size_t i = 0; i < names.size(); ++i) {
    int32_t score = i == current ? currentScore : tuner.evaluateStrategy(i);
    scores += (i == 0 ? "" : ", ") + std::to_string(score);
    if (score > bestScore) {
      best = i;
      bestScore = score;
    }
  }
  if (best == current) {
    return std::nullopt;
  }
  StrategyChange change{current,
                        best,
                        "strategy " + names[current] + " -> " + names[best] + " (scores " + scores +
                            ")"};
  current = best;
  tuner.useStrategy(best);
  return change;
}

}  // namespace bpftune::tuners
