#include "net_buffer_tuner.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "change_limits.h"
#include "drop_window.h"
#include "net_buffer.h"

namespace bpftune::tuners {
namespace {

using net_buffer::BUDGET_USECS_MAX;
using net_buffer::DropWindow;
using net_buffer::MIN_CHANGE_INTERVAL_NS;

constexpr uint64_t HOME = 4242;
constexpr uint64_t CONTAINER = 777;
constexpr uint64_t SECOND = 1000ULL * 1000 * 1000;

Values one(int64_t v) {
  return Values{1, {v, 0, 0}};
}

struct World {
  int64_t backlog = 1000;
  int64_t bitmap = 0;
  int64_t budget = 300;
  int64_t usecs = 8000;
  int64_t squeeze = 100;
  int64_t runNs = 1000000000;
  int64_t waitNs = 1000000;

  CurrentValues current() const {
    CurrentValues c;
    c.sysctls[TunableId::NETDEV_MAX_BACKLOG] = one(backlog);
    c.sysctls[TunableId::FLOW_LIMIT_CPU_BITMAP] = one(bitmap);
    c.sysctls[TunableId::NETDEV_BUDGET] = one(budget);
    c.sysctls[TunableId::NETDEV_BUDGET_USECS] = one(usecs);
    c.counters[CounterId::SOFTNET_TIME_SQUEEZE] = squeeze;
    c.counters[CounterId::SCHED_RUN_NS] = runNs;
    c.counters[CounterId::SCHED_WAIT_NS] = waitNs;
    c.homeNetns = true;
    return c;
  }
};

bpftune_event netBufferEvent(uint32_t kind, uint64_t tsNs) {
  bpftune_event ev{};
  ev.tuner = BPFTUNE_TUNER_NET_BUFFER;
  ev.kind = kind;
  ev.netns_cookie = HOME;
  ev.ts_ns = tsNs;
  return ev;
}

// totalDrops: the cumulative count the BPF program carries; cpus: CPUs that dropped.
bpftune_event dropEvent(uint64_t tsNs, int64_t totalDrops, int64_t cpus = 1) {
  bpftune_event ev = netBufferEvent(NET_BUFFER_EV_BACKLOG_DROP, tsNs);
  ev.detail[NET_BUFFER_DROP_TOTAL] = totalDrops;
  ev.detail[NET_BUFFER_DROP_CPUS] = cpus;
  ev.detail[NET_BUFFER_DROP_DEV_NETNS] = static_cast<int64_t>(CONTAINER);
  ev.dev[0] = 'v';
  ev.dev[1] = 'b';
  return ev;
}

bpftune_event napiEvent(uint64_t tsNs, int64_t why) {
  bpftune_event ev = netBufferEvent(NET_BUFFER_EV_BUDGET_EXHAUSTED, tsNs);
  ev.detail[NET_BUFFER_NAPI_WORK] = 64;
  ev.detail[NET_BUFFER_NAPI_WEIGHT] = 64;
  ev.detail[NET_BUFFER_NAPI_SQUEEZE] = 7;
  ev.detail[NET_BUFFER_NAPI_WHY] = why;
  return ev;
}

const Proposal* find(const std::vector<Proposal>& out, TunableId id) {
  for (const Proposal& p : out) {
    if (p.tunable == id) {
      return &p;
    }
  }
  return nullptr;
}

void expectAcceptable(const std::vector<Proposal>& out) {
  for (const Proposal& p : out) {
    EXPECT_EQ(p.tuner, TunerId::NET_BUFFER);
    EXPECT_NE(p.oldValues, p.newValues) << p.why;
    EXPECT_TRUE(fitsPolicy(p.oldValues, p.newValues)) << p.why;
    if (p.tunable != TunableId::FLOW_LIMIT_CPU_BITMAP) {
      EXPECT_LE(std::abs(p.newValues.v[0] - p.oldValues.v[0]), p.oldValues.v[0] / 4) << p.why;
    }
    EXPECT_FALSE(p.why.empty());
  }
}

TEST(NetBufferTuner, DescribesItself) {
  auto tuner = makeNetBufferTuner(4);
  EXPECT_EQ(tuner->id(), TunerId::NET_BUFFER);
  EXPECT_EQ(tuner->name(), "net_buffer");
  EXPECT_EQ(tuner->tunables(),
            (std::vector<TunableId>{TunableId::NETDEV_MAX_BACKLOG,
                                    TunableId::FLOW_LIMIT_CPU_BITMAP,
                                    TunableId::NETDEV_BUDGET,
                                    TunableId::NETDEV_BUDGET_USECS}));
  bpftune_event budget{};
  budget.kind = NET_BUFFER_EV_BUDGET_EXHAUSTED;
  EXPECT_EQ(tuner->counters(budget),
            (std::vector<CounterId>{CounterId::SOFTNET_TIME_SQUEEZE,
                                    CounterId::SCHED_RUN_NS,
                                    CounterId::SCHED_WAIT_NS}));
  bpftune_event drop{};
  drop.kind = NET_BUFFER_EV_BACKLOG_DROP;
  EXPECT_TRUE(tuner->counters(drop).empty());
}

TEST(NetBufferTuner, IgnoresOtherTunersAndKinds) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.backlog = 8;
  bpftune_event ev = dropEvent(SECOND, 100);
  ev.tuner = BPFTUNE_TUNER_TCP_BUFFER;
  EXPECT_TRUE(tuner->onEvent(ev, w.current()).empty());
  ev = dropEvent(SECOND, 100);
  ev.kind = 99;
  EXPECT_TRUE(tuner->onEvent(ev, w.current()).empty());
}

// --- DropWindow -------------------------------------------------------------------------------

TEST(DropWindow, CountsEachDropOnceFromCumulativeTotals) {
  DropWindow w;
  w.observe(SECOND, 1);
  EXPECT_EQ(w.drops(), 1U);
  // Three de-duplicated drops later, the next event carries total 5: 5 drops, not 1 + 5.
  w.observe(2 * SECOND, 5);
  EXPECT_EQ(w.drops(), 5U);
  w.observe(3 * SECOND, 5);
  EXPECT_EQ(w.drops(), 5U);
}

TEST(DropWindow, ConsumeStartsCountingAgain) {
  DropWindow w;
  w.observe(SECOND, 10);
  w.consume();
  EXPECT_EQ(w.drops(), 0U);
  w.observe(2 * SECOND, 13);
  EXPECT_EQ(w.drops(), 3U);
}

TEST(DropWindow, ExpiresAfterAMinute) {
  DropWindow w;
  w.observe(SECOND, 10);
  w.observe(30 * SECOND, 20);
  EXPECT_EQ(w.drops(), 20U);
  EXPECT_EQ(w.age(30 * SECOND), 29 * SECOND);
  // 61 s after the window opened: only drops since the last observation count.
  w.observe(62 * SECOND, 23);
  EXPECT_EQ(w.drops(), 3U);
  EXPECT_EQ(w.age(62 * SECOND), 0U);
}

TEST(DropWindow, AShrinkingTotalStartsANewSeries) {
  DropWindow w;
  w.observe(SECOND, 100);
  w.observe(2 * SECOND, 4);
  EXPECT_EQ(w.drops(), 4U);
}

// --- netdev_max_backlog and flow_limit_cpu_bitmap -----------------------------------------------

TEST(NetBufferTuner, TinyBacklogGrowsOnTheFirstDrop) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.backlog = 8;
  auto out = tuner->onEvent(dropEvent(SECOND, 1, 0b10), w.current());
  expectAcceptable(out);
  const Proposal* backlog = find(out, TunableId::NETDEV_MAX_BACKLOG);
  ASSERT_NE(backlog, nullptr);
  EXPECT_EQ(backlog->scenario, ScenarioId::NETDEV_BACKLOG_INCREASE);
  EXPECT_EQ(backlog->oldValues, one(8));
  EXPECT_EQ(backlog->newValues, one(10));
  // The dropping device's namespace is the cause; the collector routes the change home.
  EXPECT_EQ(backlog->netnsCookie, CONTAINER);
  EXPECT_NE(backlog->why.find("last on vb"), std::string::npos) << backlog->why;
  const Proposal* flow = find(out, TunableId::FLOW_LIMIT_CPU_BITMAP);
  ASSERT_NE(flow, nullptr);
  EXPECT_EQ(flow->scenario, ScenarioId::FLOW_LIMIT_CPU_SET);
  EXPECT_EQ(flow->oldValues, one(0));
  EXPECT_EQ(flow->newValues, one(0b10));
  EXPECT_NE(flow->why.find("CPU(s) 1 "), std::string::npos) << flow->why;
}

// Upstream counts every drop twice, so it grows at 1/64 of the backlog; 1/32 is the rule.
TEST(NetBufferTuner, GrowsAtOneThirtySecondOfTheBacklogCountingEachDropOnce) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.backlog = 1024;  // threshold 32
  EXPECT_TRUE(tuner->onEvent(dropEvent(SECOND, 16), w.current()).empty());
  EXPECT_TRUE(tuner->onEvent(dropEvent(2 * SECOND, 31), w.current()).empty());
  auto out = tuner->onEvent(dropEvent(3 * SECOND, 32), w.current());
  const Proposal* backlog = find(out, TunableId::NETDEV_MAX_BACKLOG);
  ASSERT_NE(backlog, nullptr);
  EXPECT_EQ(backlog->newValues, one(1280));
  EXPECT_NE(backlog->why.find("32 CPU backlog drops in 2 s"), std::string::npos) << backlog->why;
}

// Upstream never resets its counter after acting: every further drop re-proposes growth.
TEST(NetBufferTuner, ADecisionConsumesItsDrops) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.backlog = 320;  // threshold 10
  ASSERT_FALSE(tuner->onEvent(dropEvent(SECOND, 10), w.current()).empty());
  w.backlog = 400;
  w.bitmap = 1;
  // 2 s later: 9 new drops are below the new threshold (12), however many came before.
  EXPECT_TRUE(tuner->onEvent(dropEvent(3 * SECOND, 19), w.current()).empty());
  auto out = tuner->onEvent(dropEvent(4 * SECOND, 22), w.current());
  const Proposal* backlog = find(out, TunableId::NETDEV_MAX_BACKLOG);
  ASSERT_NE(backlog, nullptr);
  EXPECT_EQ(backlog->newValues, one(500));
  EXPECT_EQ(find(out, TunableId::FLOW_LIMIT_CPU_BITMAP), nullptr);  // bit 0 already set
}

TEST(NetBufferTuner, OneBacklogChangePerSecond) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.backlog = 8;
  ASSERT_FALSE(tuner->onEvent(dropEvent(SECOND, 1), w.current()).empty());
  w.backlog = 10;
  w.bitmap = 1;
  EXPECT_TRUE(tuner->onEvent(dropEvent(SECOND + SECOND / 2, 5), w.current()).empty());
  // The drops held back by pacing still count once the second is over.
  auto out = tuner->onEvent(dropEvent(SECOND + MIN_CHANGE_INTERVAL_NS, 5), w.current());
  const Proposal* backlog = find(out, TunableId::NETDEV_MAX_BACKLOG);
  ASSERT_NE(backlog, nullptr);
  EXPECT_EQ(backlog->newValues, one(12));
}

TEST(NetBufferTuner, DropsOlderThanAMinuteDoNotCount) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.backlog = 1024;  // threshold 32
  EXPECT_TRUE(tuner->onEvent(dropEvent(SECOND, 30), w.current()).empty());
  // 70 s later two more drops: the old 30 are outside the window.
  EXPECT_TRUE(tuner->onEvent(dropEvent(71 * SECOND, 32), w.current()).empty());
  EXPECT_FALSE(tuner->onEvent(dropEvent(72 * SECOND, 62), w.current()).empty());
}

TEST(NetBufferTuner, FlowLimitKeepsOtherBitsAndSkipsCpu63) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.backlog = 8;
  w.bitmap = 0b100;
  const int64_t cpus = static_cast<int64_t>((1ULL << 63) | 0b1001);
  auto out = tuner->onEvent(dropEvent(SECOND, 1, cpus), w.current());
  const Proposal* flow = find(out, TunableId::FLOW_LIMIT_CPU_BITMAP);
  ASSERT_NE(flow, nullptr);
  EXPECT_EQ(flow->newValues, one(0b1101));
  EXPECT_NE(flow->why.find("CPU(s) 0,3 "), std::string::npos) << flow->why;
}

TEST(NetBufferTuner, WithoutABitmapTheBacklogStillGrows) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.backlog = 8;
  CurrentValues c = w.current();
  c.sysctls.erase(TunableId::FLOW_LIMIT_CPU_BITMAP);
  auto out = tuner->onEvent(dropEvent(SECOND, 1), c);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].tunable, TunableId::NETDEV_MAX_BACKLOG);
}

TEST(NetBufferTuner, WithoutTheBacklogValueNothingIsProposed) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  CurrentValues c = w.current();
  c.sysctls.erase(TunableId::NETDEV_MAX_BACKLOG);
  EXPECT_TRUE(tuner->onEvent(dropEvent(SECOND, 1000), c).empty());
}

TEST(NetBufferTuner, BacklogTooSmallToStepOnlySetsFlowLimits) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.backlog = 3;  // a 25 % step of 3 rounds to 0
  auto out = tuner->onEvent(dropEvent(SECOND, 1), w.current());
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].tunable, TunableId::FLOW_LIMIT_CPU_BITMAP);
}

class NetBufferTunerAtRate : public ::testing::TestWithParam<int> {};

TEST_P(NetBufferTunerAtRate, BacklogStepFollowsTheLearningRate) {
  const int rate = GetParam();
  auto tuner = makeNetBufferTuner(rate);
  World w;
  w.backlog = 6400;  // threshold 200
  auto out = tuner->onEvent(dropEvent(SECOND, 200), w.current());
  expectAcceptable(out);
  const Proposal* backlog = find(out, TunableId::NETDEV_MAX_BACKLOG);
  ASSERT_NE(backlog, nullptr);
  EXPECT_EQ(backlog->newValues, one(6400 + (6400 >> (6 - rate))));
}

INSTANTIATE_TEST_SUITE_P(Rates, NetBufferTunerAtRate, ::testing::Values(0, 1, 2, 3, 4));

// --- netdev_budget and netdev_budget_usecs ----------------------------------------------------

TEST(NetBufferTuner, AFullNapiWeightAloneIsNotBudgetExhaustion) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  EXPECT_TRUE(tuner->onEvent(napiEvent(SECOND, NET_BUFFER_WHY_WEIGHT), w.current()).empty());
  // time_squeeze did not move either.
  EXPECT_TRUE(tuner->onEvent(napiEvent(3 * SECOND, NET_BUFFER_WHY_WEIGHT), w.current()).empty());
}

TEST(NetBufferTuner, SqueezeSeenInTheKernelGrowsBothBudgets) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.budget = 5;
  w.usecs = 2000;
  auto out = tuner->onEvent(napiEvent(SECOND, NET_BUFFER_WHY_SQUEEZE), w.current());
  expectAcceptable(out);
  ASSERT_EQ(out.size(), 2U);
  const Proposal* budget = find(out, TunableId::NETDEV_BUDGET);
  ASSERT_NE(budget, nullptr);
  EXPECT_EQ(budget->scenario, ScenarioId::NETDEV_BUDGET_INCREASE);
  EXPECT_EQ(budget->newValues, one(6));  // grow(5) is 5: at least one more packet
  EXPECT_EQ(budget->netnsCookie, HOME);
  const Proposal* usecs = find(out, TunableId::NETDEV_BUDGET_USECS);
  ASSERT_NE(usecs, nullptr);
  EXPECT_EQ(usecs->newValues, one(2500));
}

TEST(NetBufferTuner, SqueezeGrowthInSoftnetStatGrowsTheBudget) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  EXPECT_TRUE(tuner->onEvent(napiEvent(SECOND, NET_BUFFER_WHY_WEIGHT), w.current()).empty());
  w.squeeze += 3;
  auto out = tuner->onEvent(napiEvent(2 * SECOND, NET_BUFFER_WHY_WEIGHT), w.current());
  const Proposal* budget = find(out, TunableId::NETDEV_BUDGET);
  ASSERT_NE(budget, nullptr);
  EXPECT_EQ(budget->newValues, one(375));
  // The squeezes are consumed by that decision.
  w.budget = 375;
  w.usecs = 10000;
  EXPECT_TRUE(tuner->onEvent(napiEvent(4 * SECOND, NET_BUFFER_WHY_WEIGHT), w.current()).empty());
}

TEST(NetBufferTuner, OneBudgetChangePerSecond) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  ASSERT_FALSE(tuner->onEvent(napiEvent(SECOND, NET_BUFFER_WHY_SQUEEZE), w.current()).empty());
  w.budget = 375;
  EXPECT_TRUE(
      tuner->onEvent(napiEvent(SECOND + 25000000, NET_BUFFER_WHY_SQUEEZE), w.current()).empty());
  EXPECT_FALSE(
      tuner
          ->onEvent(napiEvent(SECOND + MIN_CHANGE_INTERVAL_NS, NET_BUFFER_WHY_SQUEEZE), w.current())
          .empty());
}

TEST(NetBufferTuner, BudgetUsecsStopAtFiftyMilliseconds) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.usecs = 45000;
  auto out = tuner->onEvent(napiEvent(SECOND, NET_BUFFER_WHY_SQUEEZE), w.current());
  const Proposal* usecs = find(out, TunableId::NETDEV_BUDGET_USECS);
  ASSERT_NE(usecs, nullptr);
  EXPECT_EQ(usecs->newValues, one(BUDGET_USECS_MAX));
  // At the ceiling nothing grows any more (upstream refuses as well).
  w.usecs = BUDGET_USECS_MAX;
  EXPECT_TRUE(tuner->onEvent(napiEvent(3 * SECOND, NET_BUFFER_WHY_SQUEEZE), w.current()).empty());
}

TEST(NetBufferTuner, WithoutUsecsOnlyTheBudgetGrows) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  CurrentValues c = w.current();
  c.sysctls.erase(TunableId::NETDEV_BUDGET_USECS);
  auto out = tuner->onEvent(napiEvent(SECOND, NET_BUFFER_WHY_SQUEEZE), c);
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].tunable, TunableId::NETDEV_BUDGET);
}

// Each decision's budget and the wait/run ratio since the previous one go into a Pearson
// correlation; once r > 0.75 over 10+ samples the budgets come back down, never below where the
// tuner found them, and the series restarts.
TEST(NetBufferTuner, BacksOffWhenSchedulerWaitFollowsTheBudget) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.usecs = 2000;  // 12 steps of 25 % stay below the 50 ms ceiling
  const int64_t startBudget = w.budget;
  const int64_t startUsecs = w.usecs;
  uint64_t ts = SECOND;
  std::vector<Proposal> out;
  for (int step = 0; step < 12; ++step) {
    out = tuner->onEvent(napiEvent(ts, NET_BUFFER_WHY_SQUEEZE), w.current());
    expectAcceptable(out);
    ASSERT_FALSE(out.empty()) << "step " << step;
    if (out[0].scenario == ScenarioId::NETDEV_BUDGET_DECREASE) {
      break;
    }
    for (const Proposal& p : out) {
      (p.tunable == TunableId::NETDEV_BUDGET ? w.budget : w.usecs) = p.newValues.v[0];
    }
    // Tasks wait in proportion to the budget: wait/run = budget per mille.
    w.runNs += 1000000000;
    w.waitNs += w.budget * 1000000;
    ts += MIN_CHANGE_INTERVAL_NS;
  }
  ASSERT_FALSE(out.empty());
  const Proposal* budget = find(out, TunableId::NETDEV_BUDGET);
  ASSERT_NE(budget, nullptr);
  EXPECT_EQ(budget->scenario, ScenarioId::NETDEV_BUDGET_DECREASE);
  EXPECT_LT(budget->newValues.v[0], w.budget);
  EXPECT_GE(budget->newValues.v[0], startBudget);
  const Proposal* usecs = find(out, TunableId::NETDEV_BUDGET_USECS);
  ASSERT_NE(usecs, nullptr);
  EXPECT_EQ(usecs->scenario, ScenarioId::NETDEV_BUDGET_DECREASE);
  EXPECT_GE(usecs->newValues.v[0], startUsecs);
  // The next decision starts a fresh series: growth again.
  w.budget = budget->newValues.v[0];
  w.usecs = usecs->newValues.v[0];
  w.runNs += 1000000000;
  w.waitNs += w.budget * 1000000;
  out = tuner->onEvent(napiEvent(ts + MIN_CHANGE_INTERVAL_NS, NET_BUFFER_WHY_SQUEEZE), w.current());
  ASSERT_FALSE(out.empty());
  EXPECT_EQ(out[0].scenario, ScenarioId::NETDEV_BUDGET_INCREASE);
}

TEST(NetBufferTuner, UncorrelatedWaitKeepsGrowing) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  w.usecs = 1000;
  uint64_t ts = SECOND;
  for (int step = 0; step < 15; ++step) {
    auto out = tuner->onEvent(napiEvent(ts, NET_BUFFER_WHY_SQUEEZE), w.current());
    ASSERT_FALSE(out.empty());
    EXPECT_EQ(out[0].scenario, ScenarioId::NETDEV_BUDGET_INCREASE) << "step " << step;
    for (const Proposal& p : out) {
      (p.tunable == TunableId::NETDEV_BUDGET ? w.budget : w.usecs) = p.newValues.v[0];
    }
    w.runNs += 1000000000;
    w.waitNs += (step % 3) * 5000000;  // wait/run varies, but not with the budget
    ts += MIN_CHANGE_INTERVAL_NS;
  }
}

TEST(NetBufferTuner, DecreaseNeverGoesBelowWhereTheTunerStarted) {
  auto tuner = makeNetBufferTuner(4);
  World w;
  uint64_t ts = SECOND;
  const Proposal* decrease = nullptr;
  std::vector<Proposal> out;
  // The budget creeps up one packet per decision (someone else's writes) while the wait/run
  // ratio follows it; usecs stays where the tuner found it.
  for (int step = 0; step < 15 && decrease == nullptr; ++step) {
    w.budget = 300 + step;
    out = tuner->onEvent(napiEvent(ts, NET_BUFFER_WHY_SQUEEZE), w.current());
    decrease = find(out, TunableId::NETDEV_BUDGET);
    if (decrease != nullptr && decrease->scenario != ScenarioId::NETDEV_BUDGET_DECREASE) {
      decrease = nullptr;
    }
    w.runNs += 1000000000;
    w.waitNs += (100 + step * 10) * 1000000;
    ts += MIN_CHANGE_INTERVAL_NS;
  }
  ASSERT_NE(decrease, nullptr) << "no decrease within 15 correlated decisions";
  // shrink(310) would be 233: the floor is the 300 the tuner first saw.
  EXPECT_EQ(decrease->newValues, one(300));
  EXPECT_EQ(find(out, TunableId::NETDEV_BUDGET_USECS), nullptr);  // nothing to undo there
}

}  // namespace
}  // namespace bpftune::tuners
