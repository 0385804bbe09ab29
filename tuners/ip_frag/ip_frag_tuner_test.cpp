#include "ip_frag_tuner.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "change_limits.h"
#include "reasm_history.h"

namespace bpftune::tuners {
namespace {

using ip_frag::failsPerMille;
using ip_frag::ReasmCounters;
using ip_frag::ReasmHistory;

constexpr uint64_t COOKIE = 4242;
constexpr uint64_t OTHER_COOKIE = 4343;
constexpr uint64_t MS = 1000ULL * 1000;
constexpr uint64_t SECOND = 1000 * MS;

Values one(int64_t v) {
  return Values{1, {v, 0, 0}};
}

// One namespace as the collector would present it: both thresholds, the low threshold the
// event carries, and the cumulative reassembly counters of both families.
struct World {
  int64_t high4 = 262144;
  int64_t high6 = 262144;
  int64_t low = 4096;
  int64_t reqds4 = 0;
  int64_t fails4 = 0;
  int64_t reqds6 = 0;
  int64_t fails6 = 0;
  bool withCounters = true;
  uint64_t now = SECOND;

  CurrentValues current() const {
    CurrentValues c;
    c.sysctls[TunableId::IPFRAG_HIGH_THRESH] = one(high4);
    c.sysctls[TunableId::IP6FRAG_HIGH_THRESH] = one(high6);
    if (withCounters) {
      c.counters[CounterId::IP_REASM_REQDS] = reqds4;
      c.counters[CounterId::IP_REASM_FAILS] = fails4;
      c.counters[CounterId::IP6_REASM_REQDS] = reqds6;
      c.counters[CounterId::IP6_REASM_FAILS] = fails6;
    }
    return c;
  }

  // A fragment dropped with memory at the live threshold, 25 ms after the previous one.
  bpftune_event event(uint32_t kind, uint64_t cookie = COOKIE) {
    now += 25 * MS;
    const int64_t high = kind == IP_FRAG_EV_V4_NEAR_THRESH ? high4 : high6;
    bpftune_event ev{};
    ev.tuner = BPFTUNE_TUNER_IP_FRAG;
    ev.kind = kind;
    ev.netns_cookie = cookie;
    ev.ts_ns = now;
    ev.value = high + 2304;  // one more fragment's truesize than the limit
    ev.limit = high;
    ev.ns_values[IP_FRAG_NS_IPFRAG_HIGH_THRESH] = high4;
    ev.ns_values[IP_FRAG_NS_IP6FRAG_HIGH_THRESH] = high6;
    ev.detail[IP_FRAG_DETAIL_LOW_THRESH] = low;
    return ev;
  }

  // The next interval: `reqds` fragments arrived and `fails` reassemblies failed.
  void traffic4(int64_t reqds, int64_t fails) {
    reqds4 += reqds;
    fails4 += fails;
  }
  void traffic6(int64_t reqds, int64_t fails) {
    reqds6 += reqds;
    fails6 += fails;
  }
};

int64_t grow(int rate, int64_t v) {
  return v + (v >> (6 - rate));
}
int64_t shrink(int rate, int64_t v) {
  return v - (v >> (6 - rate));
}

TEST(IpFragTuner, DescribesItself) {
  auto tuner = makeIpFragTuner(4);
  EXPECT_EQ(tuner->id(), TunerId::IP_FRAG);
  EXPECT_EQ(tuner->name(), "ip_frag");
  EXPECT_EQ(
      tuner->tunables(),
      (std::vector<TunableId>{TunableId::IPFRAG_HIGH_THRESH, TunableId::IP6FRAG_HIGH_THRESH}));
  EXPECT_EQ(tuner->counters(bpftune_event{}),
            (std::vector<CounterId>{CounterId::IP_REASM_REQDS,
                                    CounterId::IP_REASM_FAILS,
                                    CounterId::IP6_REASM_REQDS,
                                    CounterId::IP6_REASM_FAILS}));
}

class IpFragTunerAtRate : public ::testing::TestWithParam<int> {
protected:
  int rate() const { return GetParam(); }
  std::unique_ptr<Tuner> tuner = makeIpFragTuner(GetParam());
  World world;

  // Feeds one v4 event, applies an increase as the actuator would, returns the proposal.
  Proposal step4(int64_t reqds, int64_t fails) {
    world.traffic4(reqds, fails);
    auto out = tuner->onEvent(world.event(IP_FRAG_EV_V4_NEAR_THRESH), world.current());
    EXPECT_EQ(out.size(), 1u);
    if (out.empty()) {
      return Proposal{};
    }
    EXPECT_TRUE(fitsPolicy(out[0].oldValues, out[0].newValues)) << out[0].why;
    tuner->onResult(out[0], true);
    world.high4 = out[0].newValues.v[0];
    return out[0];
  }
};

TEST_P(IpFragTunerAtRate, GrowsIpv4ThresholdByLearningShift) {
  auto out = tuner->onEvent(world.event(IP_FRAG_EV_V4_NEAR_THRESH), world.current());
  ASSERT_EQ(out.size(), 1u);
  const Proposal& p = out[0];
  EXPECT_EQ(p.tuner, TunerId::IP_FRAG);
  EXPECT_EQ(p.scenario, ScenarioId::FRAG_THRESH_INCREASE);
  EXPECT_EQ(p.tunable, TunableId::IPFRAG_HIGH_THRESH);
  EXPECT_EQ(p.netnsCookie, COOKIE);
  EXPECT_EQ(p.oldValues, one(262144));
  EXPECT_EQ(p.newValues, one(grow(rate(), 262144)));
  EXPECT_NE(p.why.find("reassembly memory at 264448 bytes"), std::string::npos) << p.why;
  EXPECT_NE(p.why.find("ipfrag_high_thresh 262144;"), std::string::npos) << p.why;
  EXPECT_TRUE(fitsPolicy(p.oldValues, p.newValues));
}

TEST_P(IpFragTunerAtRate, GrowsIpv6ThresholdOnIpv6Events) {
  world.high6 = 8192;
  auto out = tuner->onEvent(world.event(IP_FRAG_EV_V6_NEAR_THRESH), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tunable, TunableId::IP6FRAG_HIGH_THRESH);
  EXPECT_EQ(out[0].oldValues, one(8192));
  EXPECT_EQ(out[0].newValues, one(grow(rate(), 8192)));
  EXPECT_NE(out[0].why.find("ip6frag_high_thresh 8192"), std::string::npos) << out[0].why;
}

TEST_P(IpFragTunerAtRate, ActsOnlyWhileMemoryIsNearlyFullOfTheLiveThreshold) {
  // The event may predate a change already applied: judge it against the threshold read now.
  const int64_t threshold = world.high4 - (world.high4 >> (6 - rate()));
  bpftune_event ev = world.event(IP_FRAG_EV_V4_NEAR_THRESH);
  ev.value = threshold - 1;
  EXPECT_TRUE(tuner->onEvent(ev, world.current()).empty());
  ev.value = threshold;
  EXPECT_EQ(tuner->onEvent(ev, world.current()).size(), 1u);
}

TEST_P(IpFragTunerAtRate, SuppressesNoOpGrowth) {
  // 3 >> shift is 0 at every rate: growth would write the same value back.
  world.high4 = 3;
  EXPECT_TRUE(tuner->onEvent(world.event(IP_FRAG_EV_V4_NEAR_THRESH), world.current()).empty());
}

TEST_P(IpFragTunerAtRate, LeavesADisabledReassemblyAlone) {
  world.high4 = 0;  // the administrator turned IPv4 reassembly off
  EXPECT_TRUE(tuner->onEvent(world.event(IP_FRAG_EV_V4_NEAR_THRESH), world.current()).empty());
}

// A fragment flood: the more memory reassembly gets, the larger the share of fragments that
// never make a datagram. After ten correlated samples the threshold comes down instead.
TEST_P(IpFragTunerAtRate, FloodGuardShrinksWhenFailuresRiseWithTheThreshold) {
  world.high4 = 8192;  // small: 1/64 steps of it must still register in the correlation
  step4(1000, 100);    // the first event only sets the counters' baseline
  for (int i = 1; i < 10; ++i) {
    EXPECT_EQ(step4(1000, 100 + 50 * i).scenario, ScenarioId::FRAG_THRESH_INCREASE) << i;
  }
  const int64_t high = world.high4;
  world.traffic4(1000, 600);
  auto out = tuner->onEvent(world.event(IP_FRAG_EV_V4_NEAR_THRESH), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::FRAG_THRESH_DECREASE);
  EXPECT_EQ(out[0].oldValues, one(high));
  EXPECT_EQ(out[0].newValues, one(shrink(rate(), high)));
  EXPECT_NE(out[0].why.find(" over 10 samples"), std::string::npos) << out[0].why;
  EXPECT_NE(out[0].why.find("600 failures per 1000 fragments"), std::string::npos) << out[0].why;
  EXPECT_NE(out[0].why.find("(r=0.9"), std::string::npos) << out[0].why;
  EXPECT_TRUE(fitsPolicy(out[0].oldValues, out[0].newValues));
}

// Legitimate traffic that outgrew the threshold: growth lowers the failure rate, so the
// threshold keeps growing as long as fragments are dropped.
TEST_P(IpFragTunerAtRate, KeepsGrowingWhileGrowthLowersTheFailureRate) {
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(step4(1000, 900 - 25 * i).scenario, ScenarioId::FRAG_THRESH_INCREASE) << i;
  }
  const Proposal p = step4(1000, 120);
  EXPECT_NE(p.why.find(", 120 failures per 1000 fragments lately; raise it"), std::string::npos)
      << p.why;
}

// Upstream divides ReasmFails by ReasmReqds without a check. No fragment arriving between two
// events (counters unchanged, or only failures from timeouts) gives no sample at all.
TEST_P(IpFragTunerAtRate, NoFragmentsInAnIntervalIsNoSample) {
  for (int i = 0; i < 30; ++i) {
    EXPECT_EQ(step4(0, 100 * i).scenario, ScenarioId::FRAG_THRESH_INCREASE) << i;
  }
}

TEST_P(IpFragTunerAtRate, GrowsWithoutCountersToJudgeBy) {
  world.withCounters = false;
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(step4(1000, 100 + 50 * i).scenario, ScenarioId::FRAG_THRESH_INCREASE) << i;
  }
}

TEST_P(IpFragTunerAtRate, FloodGuardNeverGoesBelowTheLowThreshold) {
  for (int i = 0; i < 10; ++i) {
    step4(1000, 100 + 50 * i);
  }
  world.low = world.high4 - 1;  // the kernel refuses a high threshold below this
  world.traffic4(1000, 600);
  auto out = tuner->onEvent(world.event(IP_FRAG_EV_V4_NEAR_THRESH), world.current());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::FRAG_THRESH_DECREASE);
  EXPECT_EQ(out[0].newValues, one(world.low));

  world.low = world.high4;
  world.traffic4(1000, 650);
  EXPECT_TRUE(tuner->onEvent(world.event(IP_FRAG_EV_V4_NEAR_THRESH), world.current()).empty());
}

// An applied decrease keeps the evidence: while failures still rise with the threshold it keeps
// coming down, and lower thresholds that fail more weaken the correlation until growth resumes.
TEST_P(IpFragTunerAtRate, FloodGuardHoldsWhileTheEvidenceDoes) {
  for (int i = 0; i < 10; ++i) {
    step4(1000, 100 + 50 * i);
  }
  world.traffic4(1000, 600);
  EXPECT_EQ(step4(0, 0).scenario, ScenarioId::FRAG_THRESH_DECREASE);
  int decreases = 1;
  for (int i = 0; i < 40; ++i) {
    const Proposal p = step4(1000, 900);
    if (p.scenario == ScenarioId::FRAG_THRESH_INCREASE) {
      break;
    }
    ++decreases;
  }
  EXPECT_GE(decreases, 2);
  EXPECT_EQ(step4(1000, 900).scenario, ScenarioId::FRAG_THRESH_INCREASE)
      << "failing more at a lower threshold must end the guard";
}

TEST_P(IpFragTunerAtRate, AQuietMinuteStartsANewEpisode) {
  for (int i = 0; i < 10; ++i) {
    step4(1000, 100 + 50 * i);
  }
  world.now += ReasmHistory::EPISODE_GAP_NS + SECOND;
  for (int i = 0; i < 10; ++i) {
    EXPECT_EQ(step4(1000, 600 + 50 * i).scenario, ScenarioId::FRAG_THRESH_INCREASE)
        << "old samples must not count: " << i;
  }
}

TEST_P(IpFragTunerAtRate, JudgesEachNamespaceAndFamilyOnItsOwnEvidence) {
  for (int i = 0; i < 10; ++i) {
    step4(1000, 100 + 50 * i);
  }
  world.traffic4(1000, 600);
  world.traffic6(1000, 600);
  auto other =
      tuner->onEvent(world.event(IP_FRAG_EV_V4_NEAR_THRESH, OTHER_COOKIE), world.current());
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].scenario, ScenarioId::FRAG_THRESH_INCREASE);
  EXPECT_EQ(other[0].netnsCookie, OTHER_COOKIE);
  auto v6 = tuner->onEvent(world.event(IP_FRAG_EV_V6_NEAR_THRESH), world.current());
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].scenario, ScenarioId::FRAG_THRESH_INCREASE);
}

INSTANTIATE_TEST_SUITE_P(Rates, IpFragTunerAtRate, ::testing::Values(0, 1, 2, 3, 4));

TEST(IpFragTuner, IgnoresOtherTunersAndUnknownKinds) {
  auto tuner = makeIpFragTuner(4);
  World world;
  bpftune_event ev = world.event(IP_FRAG_EV_V4_NEAR_THRESH);
  ev.tuner = BPFTUNE_TUNER_TCP_BUFFER;
  EXPECT_TRUE(tuner->onEvent(ev, world.current()).empty());
  ev = world.event(IP_FRAG_EV_V4_NEAR_THRESH);
  ev.kind = 99;
  EXPECT_TRUE(tuner->onEvent(ev, world.current()).empty());
}

TEST(IpFragTuner, DecidesNothingWithoutTheLiveThreshold) {
  auto tuner = makeIpFragTuner(4);
  World world;
  CurrentValues current = world.current();
  current.sysctls.erase(TunableId::IP6FRAG_HIGH_THRESH);  // e.g. IPv6 disabled
  EXPECT_TRUE(tuner->onEvent(world.event(IP_FRAG_EV_V6_NEAR_THRESH), current).empty());
  EXPECT_EQ(tuner->onEvent(world.event(IP_FRAG_EV_V4_NEAR_THRESH), current).size(), 1u);
}

TEST(ReasmHistory, FailsPerMilleGuardsItsDivision) {
  EXPECT_EQ(failsPerMille(250, 1000), 250u);
  EXPECT_EQ(failsPerMille(3, 2), 1500u);  // timeouts of earlier fragments can outnumber new ones
  EXPECT_EQ(failsPerMille(5, 0), std::nullopt);
  EXPECT_EQ(failsPerMille(5, -10), std::nullopt);
  EXPECT_EQ(failsPerMille(-1, 10), std::nullopt);
  EXPECT_EQ(failsPerMille(INT64_MAX / 10, 1), std::nullopt);
}

TEST(ReasmHistory, RatesAreOverTheIntervalSinceThePreviousObservation) {
  ReasmHistory h;
  const auto key = TunableId::IPFRAG_HIGH_THRESH;
  auto s = h.observe(COOKIE, key, {1000, 900}, SECOND);
  EXPECT_TRUE(s.newEpisode);
  EXPECT_EQ(s.failsPerMille, std::nullopt);
  s = h.observe(COOKIE, key, {2000, 1000}, 2 * SECOND);
  EXPECT_FALSE(s.newEpisode);
  EXPECT_EQ(s.failsPerMille, 100u) << "900 old failures since boot must not count";
  EXPECT_EQ(h.lastFailsPerMille(COOKIE, key), 100u);
  // Counters going backwards (never, per netns; but no reason to trust it): no sample.
  s = h.observe(COOKIE, key, {10, 1}, 3 * SECOND);
  EXPECT_EQ(s.failsPerMille, std::nullopt);
  s = h.observe(COOKIE, key, {20, 6}, 4 * SECOND);
  EXPECT_EQ(s.failsPerMille, 500u);
}

TEST(ReasmHistory, AGapEndsTheEpisode) {
  ReasmHistory h;
  const auto key = TunableId::IP6FRAG_HIGH_THRESH;
  h.observe(COOKIE, key, {0, 0}, SECOND);
  h.observe(COOKIE, key, {100, 10}, 2 * SECOND);
  auto s = h.observe(COOKIE, key, {200, 20}, 2 * SECOND + ReasmHistory::EPISODE_GAP_NS + 1);
  EXPECT_TRUE(s.newEpisode);
  EXPECT_EQ(s.failsPerMille, std::nullopt);
  EXPECT_EQ(h.lastFailsPerMille(COOKIE, key), std::nullopt);
}

TEST(ReasmHistory, IsBounded) {
  ReasmHistory h(2);
  h.observe(1, TunableId::IPFRAG_HIGH_THRESH, {0, 0}, 1);
  h.observe(2, TunableId::IPFRAG_HIGH_THRESH, {0, 0}, 2);
  h.observe(3, TunableId::IPFRAG_HIGH_THRESH, {0, 0}, 3);
  EXPECT_EQ(h.size(), 2u);
  // The oldest (cookie 1) went: it starts over.
  EXPECT_TRUE(h.observe(1, TunableId::IPFRAG_HIGH_THRESH, {10, 1}, 4).newEpisode);
  EXPECT_FALSE(h.observe(3, TunableId::IPFRAG_HIGH_THRESH, {10, 1}, 5).newEpisode);
}

}  // namespace
}  // namespace bpftune::tuners
