#include <cstdint>
#include <limits>

#include <gtest/gtest.h>

#include "change_limits.h"
#include "correlation.h"
#include "learning_rate.h"

namespace bpftune::tuners {
namespace {

class LearningRateAtEachRate : public ::testing::TestWithParam<int> {};

TEST_P(LearningRateAtEachRate, ShiftIsSixMinusRate) {
  const LearningRate rate(GetParam());
  EXPECT_EQ(rate.rate(), GetParam());
  EXPECT_EQ(rate.shift(), 6 - GetParam());
}

TEST_P(LearningRateAtEachRate, GrowsAndShrinksByOneStep) {
  const LearningRate rate(GetParam());
  const int64_t step = int64_t{6291456} >> (6 - GetParam());
  EXPECT_EQ(rate.grow(6291456), 6291456 + step);
  EXPECT_EQ(rate.shrink(6291456), 6291456 - step);
  // Integer arithmetic: values below 2^shift do not move at all.
  EXPECT_EQ(rate.grow(3), 3);
}

TEST_P(LearningRateAtEachRate, NearlyFullWithinOneStepOfLimit) {
  const LearningRate rate(GetParam());
  const int64_t limit = 1 << 20;
  const int64_t threshold = limit - (limit >> rate.shift());
  EXPECT_TRUE(rate.nearlyFull(threshold, limit));
  EXPECT_FALSE(rate.nearlyFull(threshold - 1, limit));
  EXPECT_TRUE(rate.nearlyFull(limit, limit));
  EXPECT_TRUE(rate.nearlyFull(limit * 2, limit));
}

TEST_P(LearningRateAtEachRate, NearlyEmptyBelowOneStep) {
  const LearningRate rate(GetParam());
  const int64_t limit = 1 << 20;
  EXPECT_TRUE(rate.nearlyEmpty(limit >> rate.shift(), limit));
  EXPECT_TRUE(rate.nearlyEmpty(0, limit));
  EXPECT_FALSE(rate.nearlyEmpty((limit >> rate.shift()) + 1, limit));
}

INSTANTIATE_TEST_SUITE_P(Rates, LearningRateAtEachRate, ::testing::Range(0, 5));

TEST(LearningRate, StepsArePowersOfTwo) {
  EXPECT_EQ(LearningRate(0).grow(6400), 6500);  // 1/64
  EXPECT_EQ(LearningRate(1).grow(6400), 6600);  // 1/32
  EXPECT_EQ(LearningRate(2).grow(6400), 6800);  // 1/16
  EXPECT_EQ(LearningRate(3).grow(6400), 7200);  // 1/8
  EXPECT_EQ(LearningRate(4).grow(6400), 8000);  // 1/4
}

TEST(LearningRate, ClampsOutOfRangeRates) {
  EXPECT_EQ(LearningRate(-3).shift(), 6);
  EXPECT_EQ(LearningRate(9).shift(), 2);
}

TEST(LearningRate, GrowSaturatesInsteadOfWrapping) {
  constexpr int64_t MAX = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(LearningRate(4).grow(MAX - 1), MAX);
}

TEST(Correlation, MatchesHandComputedPearson) {
  // n=10, sum x=55, sum x^2=385, sum y=66, sum y^2=524, sum xy=446:
  // r = (10*446 - 55*66) / sqrt((10*385 - 55^2) * (10*524 - 66^2)) = 830 / sqrt(825 * 884).
  const uint64_t ys[] = {2, 4, 5, 4, 5, 7, 8, 9, 10, 12};
  Correlation corr;
  for (uint64_t i = 0; i < 10; ++i) {
    corr.add(i + 1, ys[i]);
  }
  EXPECT_EQ(corr.samples(), 10u);
  EXPECT_NEAR(corr.r(), 0.9719076166, 1e-9);
}

TEST(Correlation, PerfectlyLinearIsOneAndInverseIsMinusOne) {
  Correlation up;
  Correlation down;
  for (uint64_t i = 0; i < 12; ++i) {
    up.add(1000 * i, 3 * i + 7);
    down.add(1000 * i, 100 - 3 * i);
  }
  EXPECT_NEAR(up.r(), 1.0, 1e-12);
  EXPECT_NEAR(down.r(), -1.0, 1e-12);
}

TEST(Correlation, ZeroBelowTenSamples) {
  Correlation corr;
  for (uint64_t i = 0; i < 9; ++i) {
    corr.add(i, i);
  }
  EXPECT_EQ(corr.r(), 0.0);
  corr.add(9, 9);
  EXPECT_NEAR(corr.r(), 1.0, 1e-12);
}

TEST(Correlation, ZeroWhenOneVariableIsConstant) {
  Correlation corr;
  for (uint64_t i = 0; i < 20; ++i) {
    corr.add(131072, i * 10);
  }
  EXPECT_EQ(corr.r(), 0.0);
}

TEST(Correlation, SumOverflowResetsAndKeepsTheNewSample) {
  // x^2 = 9223372030926249001 < 2^63; three of them overflow a u64 sum.
  constexpr uint64_t BIG = 3037000499ULL;
  Correlation corr;
  corr.add(BIG, 1);
  corr.add(BIG, 2);
  EXPECT_EQ(corr.samples(), 2u);
  corr.add(BIG, 3);
  EXPECT_EQ(corr.samples(), 1u);
}

TEST(Correlation, ProductOverflowResetsEverything) {
  Correlation corr;
  for (uint64_t i = 0; i < 12; ++i) {
    corr.add(i, i);
  }
  corr.add(uint64_t{1} << 32, 1);  // x^2 = 2^64
  EXPECT_EQ(corr.samples(), 0u);
  EXPECT_EQ(corr.r(), 0.0);
}

TEST(CorrelationTable, KeysAreIndependentPerNetnsAndTunable) {
  CorrelationTable table;
  for (uint64_t i = 0; i < 10; ++i) {
    table.add(7, TunableId::TCP_RMEM, i, i);
    table.add(7, TunableId::TCP_WMEM, i, 100 - i);
  }
  table.add(8, TunableId::TCP_RMEM, 1, 1);
  EXPECT_NEAR(table.r(7, TunableId::TCP_RMEM), 1.0, 1e-12);
  EXPECT_NEAR(table.r(7, TunableId::TCP_WMEM), -1.0, 1e-12);
  EXPECT_EQ(table.samples(8, TunableId::TCP_RMEM), 1u);
  EXPECT_EQ(table.r(9, TunableId::TCP_RMEM), 0.0);
  EXPECT_EQ(table.size(), 3u);
}

TEST(CorrelationTable, FullTableEvictsLeastRecentlyFed) {
  CorrelationTable table(2);
  table.add(1, TunableId::TCP_RMEM, 1, 1);
  table.add(2, TunableId::TCP_RMEM, 1, 1);
  table.add(1, TunableId::TCP_RMEM, 2, 2);
  table.add(3, TunableId::TCP_RMEM, 1, 1);
  EXPECT_EQ(table.size(), 2u);
  EXPECT_EQ(table.samples(1, TunableId::TCP_RMEM), 2u);
  EXPECT_EQ(table.samples(2, TunableId::TCP_RMEM), 0u);
  EXPECT_EQ(table.samples(3, TunableId::TCP_RMEM), 1u);
}

Values triple(int64_t a, int64_t b, int64_t c) {
  return Values{3, {a, b, c}};
}

TEST(ChangeLimits, ClampStepLimitsToAQuarter) {
  EXPECT_EQ(clampStep(1000, 5000), 1250);
  EXPECT_EQ(clampStep(1000, 10), 750);
  EXPECT_EQ(clampStep(1000, 1100), 1100);
  EXPECT_EQ(clampStep(0, 100), 0);
}

TEST(ChangeLimits, OrderTriplePullsLowerElementsDown) {
  EXPECT_EQ(orderTriple(triple(100, 300, 200)), triple(100, 200, 200));
  EXPECT_EQ(orderTriple(triple(300, 250, 200)), triple(200, 200, 200));
  EXPECT_EQ(orderTriple(triple(1, 2, 3)), triple(1, 2, 3));
}

TEST(ChangeLimits, LimitTripleClampsThenOrders) {
  // [2] may only drop to 750; [1] must follow it down and stays within its own quarter.
  EXPECT_EQ(limitTriple(triple(500, 900, 1000), triple(500, 900, 100)), triple(500, 750, 750));
}

TEST(ChangeLimits, FitsPolicyChecksOrderStepAndCount) {
  EXPECT_TRUE(fitsPolicy(triple(4, 8, 100), triple(4, 8, 125)));
  EXPECT_FALSE(fitsPolicy(triple(4, 8, 100), triple(4, 8, 126)));
  EXPECT_FALSE(fitsPolicy(triple(4, 8, 100), triple(4, 8, 74)));
  EXPECT_FALSE(fitsPolicy(triple(80, 90, 100), triple(80, 110, 100)));
  EXPECT_FALSE(fitsPolicy(triple(4, 8, 100), Values{1, {1, 0, 0}}));
  EXPECT_TRUE(fitsPolicy(Values{1, {0, 0, 0}}, Values{1, {1, 0, 0}}));
}

}  // namespace
}  // namespace bpftune::tuners
