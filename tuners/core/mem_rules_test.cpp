#include "mem_rules.h"

#include <gtest/gtest.h>

namespace bpftune::tuners::mem_rules {
namespace {

constexpr int64_t FREE = 1600000;  // free/16 = 100000, free/8 = 200000, free/4 = 400000

Values triple(int64_t a, int64_t b, int64_t c) {
  return Values{3, {a, b, c}};
}

TEST(MemRules, ClassifiesAgainstPressureAndMax) {
  const LearningRate rate(4);  // within 1/4
  const Values limits = triple(1000, 2000, 4000);
  EXPECT_EQ(classifyMemory(rate, 1499, limits), MemoryState::NORMAL);
  EXPECT_EQ(classifyMemory(rate, 1500, limits), MemoryState::PRESSURE);
  EXPECT_EQ(classifyMemory(rate, 2999, limits), MemoryState::PRESSURE);
  EXPECT_EQ(classifyMemory(rate, 3000, limits), MemoryState::EXHAUSTION);
  EXPECT_EQ(classifyMemory(rate, 9000, limits), MemoryState::EXHAUSTION);
}

TEST(MemRules, PressureGrowsEachThresholdOnlyBelowItsCap) {
  const LearningRate rate(4);
  EXPECT_EQ(pressureTarget(rate, triple(1000, 2000, 4000), FREE), triple(1250, 2500, 5000));
  EXPECT_EQ(pressureTarget(rate, triple(100000, 200000, 390000), FREE),
            triple(100000, 200000, 400000));
  // An oversized max comes down to free/4 under pressure (usage is far below it then).
  EXPECT_EQ(pressureTarget(rate, triple(100000, 200000, 900000), FREE).v[2], 400000);
}

TEST(MemRules, ExhaustionMovesOnlyTheMaxAndNeverLowersIt) {
  const LearningRate rate(4);
  // Above their caps, [0] and [1] keep their values (upstream's UDP version wrote 0 0 X).
  EXPECT_EQ(exhaustionTarget(rate, triple(300000, 350000, 380000), FREE),
            triple(300000, 350000, 400000));
  EXPECT_EQ(exhaustionTarget(rate, triple(20, 45, 50), FREE), triple(20, 45, 62));
  EXPECT_EQ(exhaustionTarget(rate, triple(20, 45, 900000), FREE), triple(20, 45, 900000));
}

TEST(MemRules, MaxAtCapIsAQuarterOfFree) {
  EXPECT_FALSE(memMaxAtCap(triple(1, 2, 399999), FREE));
  EXPECT_TRUE(memMaxAtCap(triple(1, 2, 400000), FREE));
}

}  // namespace
}  // namespace bpftune::tuners::mem_rules
