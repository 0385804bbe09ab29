// StrategySwitch with a test tuner that proves the switch (upstream's test/strategy tuner: its
// evaluate() prefers whichever strategy is not active, so it flips every period).
#include "strategy.h"

#include <gtest/gtest.h>

namespace bpftune::tuners {
namespace {

using namespace std::chrono_literals;

class FlipTuner : public Tuner {
public:
  TunerId id() const override { return TunerId::PLUGIN; }
  std::string_view name() const override { return "flip"; }
  std::vector<TunableId> tunables() const override { return {}; }
  std::vector<Proposal> onEvent(const bpftune_event&, const CurrentValues&) override { return {}; }
  std::vector<std::string> strategies() const override { return {"a", "b", "c"}; }
  std::chrono::milliseconds strategyPeriod() const override { return 30s; }
  int32_t evaluateStrategy(size_t index) override {
    ++evaluations;
    return fixed >= 0 ? (static_cast<int32_t>(index) == fixed ? 5 : 1) : (index == used ? 0 : 1);
  }
  void useStrategy(size_t index) override { used = index; }

  size_t used = 99;
  int fixed = -1;  // >= 0: that strategy always scores best
  int evaluations = 0;
};

TEST(StrategySwitch, FlipsEveryTunerPeriodAndTiesKeepTheActiveOne) {
  FlipTuner tuner;
  StrategySwitch strategy;
  const StrategySwitch::Clock::time_point t0{};
  EXPECT_FALSE(strategy.poll(tuner, t0));
  EXPECT_EQ(tuner.used, 0U);  // the first strategy is active from the start
  EXPECT_FALSE(strategy.poll(tuner, t0 + 29s));
  EXPECT_EQ(tuner.evaluations, 0);
  auto change = strategy.poll(tuner, t0 + 30s);
  ASSERT_TRUE(change);
  // b and c both score 1: the first better one wins, ties never move off it.
  EXPECT_EQ(change->text, "strategy a -> b (scores 0, 1, 1)");
  EXPECT_EQ(tuner.used, 1U);
  EXPECT_EQ(strategy.active(), 1U);
  auto back = strategy.poll(tuner, t0 + 60s);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->to, 0U);
}

TEST(StrategySwitch, PeriodOverrideAndStableBest) {
  FlipTuner tuner;
  tuner.fixed = 2;
  StrategySwitch strategy(100ms);
  const StrategySwitch::Clock::time_point t0{};
  strategy.poll(tuner, t0);
  auto change = strategy.poll(tuner, t0 + 100ms);
  ASSERT_TRUE(change);
  EXPECT_EQ(change->to, 2U);
  EXPECT_FALSE(strategy.poll(tuner, t0 + 200ms));  // still the best: no switch
  EXPECT_EQ(strategy.active(), 2U);
}

class PlainTuner : public FlipTuner {
public:
  std::vector<std::string> strategies() const override { return {}; }
};

TEST(StrategySwitch, TunerWithoutStrategiesIsNeverEvaluated) {
  PlainTuner tuner;
  StrategySwitch strategy(100ms);
  const StrategySwitch::Clock::time_point t0{};
  for (int i = 0; i < 5; ++i) {
    EXPECT_FALSE(strategy.poll(tuner, t0 + i * 100ms));
  }
  EXPECT_EQ(tuner.evaluations, 0);
}

}  // namespace
}  // namespace bpftune::tuners
