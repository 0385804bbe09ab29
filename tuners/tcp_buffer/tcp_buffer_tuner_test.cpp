#include "tcp_buffer_tuner.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "change_limits.h"

namespace bpftune::tuners {
namespace {

constexpr int64_t INT_MAX_VALUE = 2147483647;
constexpr int64_t FREE_PAGES = 4000000;  // free/16 = 250000, free/8 = 500000, free/4 = 1000000
constexpr uint64_t COOKIE = 4242;

Values triple(int64_t a, int64_t b, int64_t c) {
  return Values{3, {a, b, c}};
}

struct World {
  Values rmem = triple(4096, 131072, 6291456);
  Values wmem = triple(4096, 16384, 4194304);
  Values mem = triple(100000, 150000, 400000);
  int64_t moderate = 1;
  int64_t free = FREE_PAGES;

  CurrentValues current() const {
    CurrentValues c;
    c.sysctls[TunableId::TCP_RMEM] = rmem;
    c.sysctls[TunableId::TCP_WMEM] = wmem;
    c.sysctls[TunableId::TCP_MEM] = mem;
    c.sysctls[TunableId::TCP_MODERATE_RCVBUF] = Values{1, {moderate, 0, 0}};
    c.freeBufferPages = free;
    return c;
  }
};

bpftune_event event(uint32_t kind,
                    int64_t value,
                    uint32_t srttUs = 100,
                    int64_t memAllocated = 1000) {
  bpftune_event ev{};
  ev.tuner = BPFTUNE_TUNER_TCP_BUFFER;
  ev.kind = kind;
  ev.netns_cookie = COOKIE;
  ev.srtt_us = srttUs;
  ev.value = value;
  ev.mem_allocated = memAllocated;
  return ev;
}

bpftune_event memEvent(uint32_t kind, int64_t allocated) {
  return event(kind, allocated, 0, allocated);
}

int64_t grow(int rate, int64_t v) {
  return v + (v >> (6 - rate));
}
int64_t shrink(int rate, int64_t v) {
  return v - (v >> (6 - rate));
}

void expectAcceptable(const Proposal& p) {
  EXPECT_TRUE(fitsPolicy(p.oldValues, p.newValues)) << p.why;
  EXPECT_NE(p.oldValues, p.newValues) << p.why;
}

TEST(TcpBufferTuner, DescribesItself) {
  auto tuner = makeTcpBufferTuner(4);
  EXPECT_EQ(tuner->id(), TunerId::TCP_BUFFER);
  EXPECT_EQ(tuner->name(), "tcp_buffer");
  EXPECT_EQ(tuner->tunables(),
            (std::vector<TunableId>{TunableId::TCP_RMEM,
                                    TunableId::TCP_WMEM,
                                    TunableId::TCP_MEM,
                                    TunableId::TCP_MODERATE_RCVBUF,
                                    TunableId::TCP_NO_METRICS_SAVE,
                                    TunableId::TCP_NO_SSTHRESH_METRICS_SAVE,
                                    TunableId::HIGH_ORDER_ALLOC_DISABLE,
                                    TunableId::TCP_SYNCOOKIES,
                                    TunableId::TCP_MAX_SYN_BACKLOG}));
  bpftune_event synack{};
  synack.kind = TCP_BUFFER_EV_SYNACK_RETRANS;
  EXPECT_EQ(tuner->counters(synack),
            (std::vector<CounterId>{CounterId::TCPEXT_SYNCOOKIES_FAILED,
                                    CounterId::TCPEXT_SYNCOOKIES_RECV,
                                    CounterId::TCP_PASSIVE_OPENS}));
  bpftune_event buffer{};
  buffer.kind = TCP_BUFFER_EV_RMEM_NEAR_MAX;
  EXPECT_TRUE(tuner->counters(buffer).empty());  // no /proc reads on the buffer path
}

class TcpBufferTunerAtRate : public ::testing::TestWithParam<int> {
protected:
  int rate() const { return GetParam(); }
  int64_t step(int64_t v) const { return v >> (6 - rate()); }
  std::unique_ptr<Tuner> tuner = makeTcpBufferTuner(GetParam());
  World world;
};

TEST_P(TcpBufferTunerAtRate, GrowsRmemByLearningShift) {
  auto out = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 6291456), world.current());
  ASSERT_EQ(out.size(), 1u);
  const Proposal& p = out[0];
  EXPECT_EQ(p.tuner, TunerId::TCP_BUFFER);
  EXPECT_EQ(p.scenario, ScenarioId::BUFFER_INCREASE);
  EXPECT_EQ(p.tunable, TunableId::TCP_RMEM);
  EXPECT_EQ(p.netnsCookie, COOKIE);
  EXPECT_EQ(p.oldValues, world.rmem);
  EXPECT_EQ(p.newValues, triple(4096, 131072, 6291456 + step(6291456)));
  EXPECT_NE(p.why.find("sk_rcvbuf 6291456 reached tcp_rmem max 6291456"), std::string::npos)
      << p.why;
  expectAcceptable(p);
}

TEST_P(TcpBufferTunerAtRate, GrowsWmemByLearningShift) {
  auto out = tuner->onEvent(event(TCP_BUFFER_EV_WMEM_NEAR_MAX, 4194304), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tunable, TunableId::TCP_WMEM);
  EXPECT_EQ(out[0].newValues, triple(4096, 16384, grow(rate(), 4194304)));
  EXPECT_NE(out[0].why.find("sk_sndbuf"), std::string::npos);
}

TEST_P(TcpBufferTunerAtRate, ActsOnlyWhileTheBufferIsNearlyFullOfTheLiveMax) {
  // The event may predate a change already applied: judge it against the max read just now.
  const int64_t threshold = 6291456 - step(6291456);
  EXPECT_TRUE(
      tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, threshold - 1), world.current()).empty());
  EXPECT_EQ(tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, threshold), world.current()).size(),
            1u);
}

TEST_P(TcpBufferTunerAtRate, CapsGrowthAtIntMax) {
  world.rmem = triple(4096, 131072, INT_MAX_VALUE - 1);
  auto out = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, INT_MAX_VALUE - 1), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].newValues.v[2], INT_MAX_VALUE);

  world.rmem = triple(4096, 131072, INT_MAX_VALUE);
  EXPECT_TRUE(
      tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, INT_MAX_VALUE), world.current()).empty());
}

TEST_P(TcpBufferTunerAtRate, SuppressesNoOpGrowth) {
  // 3 >> shift is 0 at every rate: growth would write the same value back.
  world.rmem = triple(1, 1, 3);
  EXPECT_TRUE(tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 3), world.current()).empty());
}

TEST_P(TcpBufferTunerAtRate, LatencyGuardShrinksAfterTenCorrelatedSamples) {
  // The max grows as our proposals are applied, and the socket's srtt grows with it.
  int64_t max = 1 << 22;
  for (int i = 0; i < 9; ++i) {
    world.rmem.v[2] = max;
    auto out =
        tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, max, 100 + 40 * i), world.current());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_INCREASE);
    max = out[0].newValues.v[2];
  }
  world.rmem.v[2] = max;
  auto out = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, max, 100 + 40 * 9), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_DECREASE_LATENCY);
  EXPECT_EQ(out[0].newValues, triple(4096, 131072, shrink(rate(), max)));
  EXPECT_NE(out[0].why.find(" over 10 samples"), std::string::npos) << out[0].why;
  EXPECT_NE(out[0].why.find("(r=0.9"), std::string::npos) << out[0].why;
  expectAcceptable(out[0]);
}

// After an applied latency decrease the old samples no longer count: growth resumes until ten
// fresh samples correlate again. A refused decrease keeps the evidence.
TEST_P(TcpBufferTunerAtRate, AppliedLatencyDecreaseRestartsTheCorrelation) {
  // srtt follows the max exactly (as bufferbloat would), so every sample keeps r near 1.
  auto srttFor = [](int64_t max) {
    return static_cast<uint32_t>(max >> 12);
  };
  int64_t max = 1 << 22;
  std::vector<Proposal> out;
  for (int i = 0; i < 10; ++i) {
    world.rmem.v[2] = max;
    out = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, max, srttFor(max)), world.current());
    ASSERT_EQ(out.size(), 1u);
    max = out[0].newValues.v[2];
  }
  ASSERT_EQ(out[0].scenario, ScenarioId::BUFFER_DECREASE_LATENCY);
  tuner->onResult(out[0], false);
  world.rmem.v[2] = max;
  out = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, max, srttFor(max)), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_DECREASE_LATENCY) << "refused: evidence kept";

  tuner->onResult(out[0], true);
  max = out[0].newValues.v[2];
  world.rmem.v[2] = max;
  out = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, max, srttFor(max)), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_INCREASE) << "applied: evidence restarts";
}

TEST_P(TcpBufferTunerAtRate, LatencyGuardNeverGoesBelowTheDefault) {
  const int64_t dflt = (1 << 20) - ((1 << 20) >> (6 - rate()));
  world.rmem = triple(4096, dflt, 1 << 20);
  for (int i = 0; i < 12; ++i) {
    const int64_t max = int64_t{1 << 20} + int64_t{1024} * i;
    world.rmem.v[2] = max;
    tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, max, max >> 10), world.current());
  }
  // shrink(max) lands exactly on the default: allowed.
  world.rmem.v[2] = 1 << 20;
  auto out = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 1 << 20, 1024), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_DECREASE_LATENCY);
  EXPECT_EQ(out[0].newValues.v[2], dflt);
  // One below and the shrink would cross the default: nothing, and no growth either.
  world.rmem = triple(4096, dflt + 1, 1 << 20);
  EXPECT_TRUE(
      tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 1 << 20, 1024), world.current()).empty());
}

TEST_P(TcpBufferTunerAtRate, UncorrelatedSamplesKeepGrowing) {
  for (int i = 0; i < 30; ++i) {
    world.wmem.v[2] = 4194304 + 4096 * i;
    const uint32_t srtt = i % 2 == 0 ? 100 : 500;
    auto out =
        tuner->onEvent(event(TCP_BUFFER_EV_WMEM_NEAR_MAX, world.wmem.v[2], srtt), world.current());
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_INCREASE) << "sample " << i;
  }
}

TEST_P(TcpBufferTunerAtRate, CorrelationIsKeptPerNetnsAndTunable) {
  for (int i = 0; i < 12; ++i) {
    world.rmem.v[2] = 4194304 + 4096 * i;
    tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, world.rmem.v[2], 100 + 10 * i),
                   world.current());
  }
  auto other = event(TCP_BUFFER_EV_RMEM_NEAR_MAX, world.rmem.v[2], 500);
  other.netns_cookie = COOKIE + 1;
  auto out = tuner->onEvent(other, world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_INCREASE);
  out = tuner->onEvent(event(TCP_BUFFER_EV_WMEM_NEAR_MAX, 4194304, 500), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_INCREASE);
}

TEST_P(TcpBufferTunerAtRate, MemoryPressureGrowsAllThreeThresholds) {
  auto out = tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, 150000), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::MEM_PRESSURE);
  EXPECT_EQ(out[0].tunable, TunableId::TCP_MEM);
  EXPECT_EQ(out[0].newValues,
            triple(grow(rate(), 100000), grow(rate(), 150000), grow(rate(), 400000)));
  EXPECT_NE(out[0].why.find("150000 pages allocated"), std::string::npos) << out[0].why;
  expectAcceptable(out[0]);
}

TEST_P(TcpBufferTunerAtRate, MemoryPressureRespectsFreeMemoryCaps) {
  // [0] is at free/16 and [1] at free/8: they stay; [2] grows but not past free/4.
  world.mem = triple(250000, 500000, 900000);
  auto out = tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, 500000), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].newValues,
            triple(250000, 500000, std::min<int64_t>(1000000, grow(rate(), 900000))));

  // Just below the caps they still take one step (upstream parity).
  world.mem = triple(249999, 499999, 1000000);
  out = tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, 499999), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].newValues, triple(grow(rate(), 249999), grow(rate(), 499999), 1000000));
}

TEST_P(TcpBufferTunerAtRate, MemoryPressureAtEveryCapIsANoOp) {
  world.mem = triple(250000, 500000, 1000000);
  EXPECT_TRUE(
      tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, 500000), world.current()).empty());
}

TEST_P(TcpBufferTunerAtRate, OversizedMemMaxConvergesInQuarterSteps) {
  world.mem = triple(100000, 150000, 2000000000);
  int steps = 0;
  for (; steps < 50; ++steps) {
    auto out =
        tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, world.mem.v[1]), world.current());
    if (out.empty()) {
      break;
    }
    ASSERT_EQ(out.size(), 1u);
    expectAcceptable(out[0]);
    EXPECT_GE(out[0].newValues.v[2], out[0].oldValues.v[2] - out[0].oldValues.v[2] / 4);
    world.mem = out[0].newValues;
  }
  EXPECT_EQ(world.mem.v[2], FREE_PAGES / 4);
  EXPECT_GT(steps, 10);  // 2e9 -> 1e6 is ~27 quarter steps, never one jump
}

TEST_P(TcpBufferTunerAtRate, MemoryExhaustionGrowsMaxUpToFreeQuarter) {
  auto out = tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, 400000), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::MEM_EXHAUSTION);
  EXPECT_EQ(out[0].newValues, triple(100000, 150000, grow(rate(), 400000)));

  world.mem = triple(100000, 150000, 990000);
  out = tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, 990000), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].newValues.v[2], std::min<int64_t>(1000000, grow(rate(), 990000)));
}

TEST_P(TcpBufferTunerAtRate, ExhaustionAtFreeQuarterShrinksBufferMaxima) {
  world.mem = triple(100000, 150000, 1000000);
  auto out = tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, 1000000), world.current());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_DECREASE);
  EXPECT_EQ(out[0].tunable, TunableId::TCP_RMEM);
  EXPECT_EQ(out[0].newValues, triple(4096, 131072, shrink(rate(), 6291456)));
  EXPECT_EQ(out[1].scenario, ScenarioId::BUFFER_DECREASE);
  EXPECT_EQ(out[1].tunable, TunableId::TCP_WMEM);
  EXPECT_EQ(out[1].newValues, triple(4096, 16384, shrink(rate(), 4194304)));
  EXPECT_NE(out[0].why.find("free/4 = 1000000"), std::string::npos) << out[0].why;
  expectAcceptable(out[0]);
  expectAcceptable(out[1]);
}

TEST_P(TcpBufferTunerAtRate, BufferShrinkStopsAtTheDefault) {
  world.mem = triple(100000, 150000, 1000000);
  world.rmem = triple(4096, 131072, 140000);
  world.wmem = triple(4096, 16384, 16384);
  auto out = tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, 1000000), world.current());
  ASSERT_EQ(out.size(), 1u);  // wmem is already at its default
  EXPECT_EQ(out[0].tunable, TunableId::TCP_RMEM);
  EXPECT_EQ(out[0].newValues.v[2], std::max<int64_t>(131072, shrink(rate(), 140000)));
}

// Usage is at the hard limit: lowering it would fail allocations at once, so an oversized [2]
// stays and the per-socket maxima shrink instead.
TEST_P(TcpBufferTunerAtRate, OversizedMemMaxUnderExhaustionKeepsItAndShrinksBuffers) {
  world.mem = triple(100000, 150000, 2000000000);
  auto out = tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, 2000000000), world.current());
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].scenario, ScenarioId::BUFFER_DECREASE);
  EXPECT_EQ(out[1].scenario, ScenarioId::BUFFER_DECREASE);
  for (const auto& p : out) {
    EXPECT_NE(p.tunable, TunableId::TCP_MEM);
  }
}

// Under pressure (usage near [1], far from [2]) an oversized [2] comes down toward free/4 by at
// most 25 % a step, and [1] follows it down so the triple stays ordered.
TEST_P(TcpBufferTunerAtRate, LoweringMemMaxKeepsTheTripleOrdered) {
  world.mem = triple(1000000, 3500000, 4000000);
  world.free = 8000000;  // free/4 = 2000000, free/8 and free/16 below [1] and [0]: no growth
  const int64_t allocated = 3500000 - step(3500000);
  auto out = tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, allocated), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::MEM_PRESSURE);
  EXPECT_EQ(out[0].newValues, triple(1000000, 3000000, 3000000));
  expectAcceptable(out[0]);
}

TEST_P(TcpBufferTunerAtRate, NoGrowthWhileNearMemoryLimitsUntilUsageDrops) {
  auto rmemEvent = [](int64_t allocated) {
    return event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 6291456, 100, allocated);
  };
  ASSERT_EQ(tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, 400000), world.current()).size(),
            1u);
  EXPECT_TRUE(tuner->onEvent(rmemEvent(400000), world.current()).empty());
  EXPECT_TRUE(tuner->onEvent(rmemEvent(150000), world.current()).empty());  // still pressure
  EXPECT_EQ(tuner->onEvent(rmemEvent(1000), world.current()).size(), 1u);

  // Raising tcp_mem past the usage clears the state just as well.
  EXPECT_TRUE(tuner->onEvent(rmemEvent(150000), world.current()).empty());
  world.mem = triple(200000, 300000, 400000);
  EXPECT_EQ(tuner->onEvent(rmemEvent(150000), world.current()).size(), 1u);
}

TEST_P(TcpBufferTunerAtRate, UnorderedLiveTripleIsLeftAlone) {
  world.rmem = triple(4096, 8000000, 6291456);
  EXPECT_TRUE(tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 6291456), world.current()).empty());
}

INSTANTIATE_TEST_SUITE_P(Rates, TcpBufferTunerAtRate, ::testing::Range(0, 5));

TEST(TcpBufferTuner, ModerateRcvbufFollowsAnAppliedRmemChange) {
  auto tuner = makeTcpBufferTuner(4);
  World world;
  world.moderate = 0;
  auto out = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 6291456), world.current());
  ASSERT_EQ(out.size(), 1u);  // not in the same call: the rmem change may yet be refused
  tuner->onResult(out[0], true);
  world.rmem = out[0].newValues;

  out = tuner->onEvent(event(TCP_BUFFER_EV_WMEM_NEAR_MAX, 0), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::MODERATE_RCVBUF_ENABLE);
  EXPECT_EQ(out[0].tunable, TunableId::TCP_MODERATE_RCVBUF);
  EXPECT_EQ(out[0].netnsCookie, COOKIE);
  EXPECT_EQ(out[0].oldValues, (Values{1, {0, 0, 0}}));
  EXPECT_EQ(out[0].newValues, (Values{1, {1, 0, 0}}));

  // Proposed once per applied rmem change.
  EXPECT_TRUE(tuner->onEvent(event(TCP_BUFFER_EV_WMEM_NEAR_MAX, 0), world.current()).empty());
}

TEST(TcpBufferTuner, NoModerateRcvbufFollowUpWhenNotNeeded) {
  auto tuner = makeTcpBufferTuner(4);
  World world;
  world.moderate = 0;
  auto rmem = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 6291456), world.current());
  auto wmem = tuner->onEvent(event(TCP_BUFFER_EV_WMEM_NEAR_MAX, 4194304), world.current());
  ASSERT_EQ(rmem.size(), 1u);
  ASSERT_EQ(wmem.size(), 1u);
  tuner->onResult(rmem[0], false);
  tuner->onResult(wmem[0], true);
  EXPECT_TRUE(tuner->onEvent(event(TCP_BUFFER_EV_WMEM_NEAR_MAX, 0), world.current()).empty());

  tuner->onResult(rmem[0], true);
  auto other = event(TCP_BUFFER_EV_WMEM_NEAR_MAX, 0);
  other.netns_cookie = COOKIE + 1;
  EXPECT_TRUE(tuner->onEvent(other, world.current()).empty());  // another namespace
  world.moderate = 1;
  EXPECT_TRUE(tuner->onEvent(event(TCP_BUFFER_EV_WMEM_NEAR_MAX, 0), world.current()).empty());
}

TEST(TcpBufferTuner, IgnoresForeignUnknownAndUnreadable) {
  auto tuner = makeTcpBufferTuner(4);
  World world;
  auto foreign = event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 6291456);
  foreign.tuner = 7;
  EXPECT_TRUE(tuner->onEvent(foreign, world.current()).empty());
  EXPECT_TRUE(tuner->onEvent(event(99, 6291456), world.current()).empty());
  EXPECT_TRUE(tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 6291456), CurrentValues{}).empty());
  world.free = 0;  // no estimate: every cap would be 0
  EXPECT_TRUE(
      tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, 150000), world.current()).empty());
}

TEST(TcpBufferTuner, StaleMemoryEventBelowLiveThresholdsProposesNothing) {
  auto tuner = makeTcpBufferTuner(4);
  World world;
  world.mem = triple(200000, 300000, 400000);  // raised since the kernel saw pressure
  EXPECT_TRUE(
      tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, 150000), world.current()).empty());
}

// Advice mode: the actuator writes nothing and answers PROPOSED, so the collector keeps reading
// the same live value. A tuner that keeps seeing the limit hit must then propose the same step
// every time (which the actuator answers with its one open proposal), never a bigger one.
TEST_P(TcpBufferTunerAtRate, UnappliedProposalsDoNotRunAway) {
  std::vector<Proposal> seen;
  for (int i = 0; i < 20; ++i) {
    auto out = tuner->onEvent(event(TCP_BUFFER_EV_RMEM_NEAR_MAX, 6291456), world.current());
    ASSERT_EQ(out.size(), 1u) << "event " << i;
    tuner->onResult(out[0], false);
    tuner->onReply(out[0], proto::Status::PROPOSED, world.rmem);
    seen.push_back(out[0]);
  }
  for (const Proposal& p : seen) {
    EXPECT_EQ(p.oldValues, world.rmem);
    EXPECT_EQ(p.newValues, seen.front().newValues);
  }
  EXPECT_EQ(seen.front().newValues, triple(4096, 131072, 6291456 + step(6291456)));
}

}  // namespace
}  // namespace bpftune::tuners
