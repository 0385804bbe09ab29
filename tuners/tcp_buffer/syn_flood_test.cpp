// SYN-flood policy through the tcp_buffer tuner: backlog growth only with evidence of real load,
// shrinking on floods, syncookies on under low memory and off when they fail.
#include "syn_flood.h"

#include <algorithm>
#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "change_limits.h"
#include "tcp_buffer_tuner.h"

namespace bpftune::tuners {
namespace {

constexpr uint64_t COOKIE = 77;
constexpr int64_t NORMAL = 1000;  // pages; tcp_mem below is 100000 150000 400000

Values one(int64_t v) {
  return Values{1, {v, 0, 0}};
}

struct World {
  int64_t backlog = 512;
  int64_t syncookies = 1;
  int64_t accepted = 0;  // Tcp: PassiveOpens
  int64_t retransmits = 0;
  int64_t cookiesFailed = 0;
  int64_t cookiesGood = 0;
  bool countersReadable = true;

  CurrentValues current() const {
    CurrentValues c;
    c.sysctls[TunableId::TCP_RMEM] = Values{3, {4096, 131072, 6291456}};
    c.sysctls[TunableId::TCP_WMEM] = Values{3, {4096, 16384, 4194304}};
    c.sysctls[TunableId::TCP_MEM] = Values{3, {100000, 150000, 400000}};
    c.sysctls[TunableId::TCP_MODERATE_RCVBUF] = one(1);
    c.sysctls[TunableId::TCP_NO_METRICS_SAVE] = one(1);  // low-memory mode has nothing to do
    c.sysctls[TunableId::TCP_NO_SSTHRESH_METRICS_SAVE] = one(1);
    c.sysctls[TunableId::TCP_MAX_SYN_BACKLOG] = one(backlog);
    c.sysctls[TunableId::TCP_SYNCOOKIES] = one(syncookies);
    c.freeBufferPages = 4000000;
    if (countersReadable) {
      c.counters[CounterId::TCP_PASSIVE_OPENS] = accepted;
      c.counters[CounterId::TCPEXT_SYNCOOKIES_FAILED] = cookiesFailed;
      c.counters[CounterId::TCPEXT_SYNCOOKIES_RECV] = cookiesGood;
    }
    return c;
  }
};

class SynFlood : public ::testing::TestWithParam<int> {
protected:
  int64_t grow(int64_t v) const { return clampStep(v, v + (v >> (6 - GetParam()))); }
  int64_t shrink(int64_t v) const {
    return std::max<int64_t>(128, clampStep(v, v - (v >> (6 - GetParam()))));
  }

  // A listener retransmitted SYN-ACKs; `accepted` more handshakes completed since the last one.
  std::vector<Proposal> retransmit(int64_t accepted, int64_t allocated = NORMAL) {
    world.retransmits += 3;
    world.accepted += accepted;
    bpftune_event ev{};
    ev.tuner = BPFTUNE_TUNER_TCP_BUFFER;
    ev.kind = TCP_BUFFER_EV_SYNACK_RETRANS;
    ev.netns_cookie = cookie;
    ev.mem_allocated = allocated;
    ev.detail[0] = world.retransmits;
    auto out = tuner->onEvent(ev, world.current());
    for (const Proposal& p : out) {
      if (p.tunable == TunableId::TCP_MAX_SYN_BACKLOG) {
        world.backlog = p.newValues.v[0];
      } else if (p.tunable == TunableId::TCP_SYNCOOKIES) {
        world.syncookies = p.newValues.v[0];
      }
      tuner->onResult(p, true);
    }
    return out;
  }

  // MIN_SAMPLES events; the proposals of the last one. Real load is not perfectly regular.
  std::vector<Proposal> window(int64_t acceptedPerEvent, int64_t allocated = NORMAL) {
    for (uint64_t i = 1; i < Correlation::MIN_SAMPLES; ++i) {
      const int64_t jitter = acceptedPerEvent > 0 ? int64_t(i % 2) : 0;
      EXPECT_TRUE(retransmit(acceptedPerEvent + jitter, allocated).empty())
          << "decided before " << Correlation::MIN_SAMPLES << " samples";
    }
    return retransmit(acceptedPerEvent, allocated);
  }

  std::unique_ptr<Tuner> tuner = makeTcpBufferTuner(GetParam());
  World world;
  uint64_t cookie = COOKIE;
};

TEST_P(SynFlood, RetransmitsWithAcceptedConnectionsGrowTheBacklog) {
  world.syncookies = 0;
  auto out = window(5);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::SYN_BACKLOG_INCREASE);
  EXPECT_EQ(out[0].tunable, TunableId::TCP_MAX_SYN_BACKLOG);
  EXPECT_EQ(out[0].netnsCookie, COOKIE);
  EXPECT_EQ(out[0].oldValues, one(512));
  EXPECT_EQ(out[0].newValues, one(grow(512)));
  EXPECT_TRUE(fitsPolicy(out[0].oldValues, out[0].newValues));
  EXPECT_NE(out[0].why.find("accepted connections so far (r=0.9"), std::string::npos) << out[0].why;
}

// Upstream grows at every retransmit until it has ten samples; a flood's first retransmits
// must not buy it a bigger backlog.
TEST_P(SynFlood, FloodNeverGrowsAndShrinksToTheFloor) {
  auto out = window(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::SYN_BACKLOG_DECREASE);
  EXPECT_EQ(out[0].newValues, one(shrink(512)));
  EXPECT_NE(out[0].why.find("a flood"), std::string::npos) << out[0].why;
  for (int i = 0; i < 2000 && world.backlog > 128; ++i) {
    for (const Proposal& p : retransmit(0)) {
      EXPECT_EQ(p.scenario, ScenarioId::SYN_BACKLOG_DECREASE);
      EXPECT_LT(p.newValues.v[0], p.oldValues.v[0]);
    }
  }
  EXPECT_EQ(world.backlog, 128);
  for (uint64_t i = 0; i < 3 * Correlation::MIN_SAMPLES; ++i) {
    EXPECT_TRUE(retransmit(0).empty());  // at the floor
  }
}

TEST_P(SynFlood, EachDecisionRestsOnFreshSamples) {
  ASSERT_EQ(window(5).size(), 1u);
  // A flood right after real load: the old samples do not keep it growing.
  auto out = window(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::SYN_BACKLOG_DECREASE);
}

TEST_P(SynFlood, NoGrowthWhileMemoryIsShort) {
  world.syncookies = 1;
  EXPECT_TRUE(window(5, 150000).empty());  // pressure: correlated, yet no growth
  EXPECT_EQ(world.backlog, 512);
  auto out = window(0, 150000);  // shrinking is still right
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::SYN_BACKLOG_DECREASE);
}

TEST_P(SynFlood, WithoutAcceptedConnectionsCounterThereIsNoBacklogDecision) {
  world.countersReadable = false;
  for (int i = 0; i < 30; ++i) {
    EXPECT_TRUE(retransmit(0).empty());
  }
}

TEST_P(SynFlood, CorrelationIsPerNamespace) {
  for (uint64_t i = 1; i < Correlation::MIN_SAMPLES; ++i) {
    cookie = i % 2 ? COOKIE : COOKIE + 1;
    EXPECT_TRUE(retransmit(0).empty());
  }
  cookie = COOKIE;
  EXPECT_TRUE(retransmit(0).empty());  // 6 samples here, 4 there
}

TEST_P(SynFlood, SyncookiesOffWhenTheyOnlyFail) {
  world.cookiesFailed = 1023;
  EXPECT_TRUE(retransmit(0).empty());
  world.cookiesFailed = 1024;
  world.cookiesGood = 1;
  EXPECT_TRUE(retransmit(0).empty());
  world.cookiesGood = 0;
  auto out = retransmit(0);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::SYNCOOKIES_DISABLE);
  EXPECT_EQ(out[0].oldValues, one(1));
  EXPECT_EQ(out[0].newValues, one(0));
  EXPECT_NE(out[0].why.find("1024 syncookies failed"), std::string::npos) << out[0].why;
  EXPECT_TRUE(retransmit(0).empty());  // now off
}

TEST_P(SynFlood, SyncookiesOnUnderLowMemoryUnlessTheyFailHere) {
  world.syncookies = 0;
  EXPECT_TRUE(retransmit(0).empty());  // memory is fine
  auto out = retransmit(0, 150000);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::SYNCOOKIES_ENABLE);
  EXPECT_EQ(out[0].newValues, one(1));

  world.syncookies = 0;
  world.cookiesFailed = 5000;  // they were turned off for failing: do not flip them back on
  EXPECT_TRUE(retransmit(0, 150000).empty());
}

TEST_P(SynFlood, AdministratorsAlwaysCookiesAreLeftAlone) {
  world.syncookies = 2;
  world.cookiesFailed = 5000;
  EXPECT_TRUE(retransmit(0, 150000).empty());
}

INSTANTIATE_TEST_SUITE_P(Rates, SynFlood, ::testing::Range(0, 5));

}  // namespace
}  // namespace bpftune::tuners
