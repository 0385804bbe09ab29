#include "neigh_table_tuner.h"

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <vector>

#include <gtest/gtest.h>

#include "neigh_bounds.h"
#include "neigh_table_event.h"

namespace bpftune::tuners {
namespace {

using neigh_table::AF_INET6_FAMILY;
using neigh_table::AF_INET_FAMILY;
using neigh_table::INT_MAX_VALUE;
using neigh_table::prefixBound;

constexpr uint64_t HOME = 4096;
constexpr uint64_t CONTAINER = 8193;
constexpr uint64_t SECOND_NS = 1000ULL * 1000 * 1000;

Values triple(int64_t a, int64_t b, int64_t c) {
  return Values{3, {a, b, c}};
}

// An event as bpf/neigh_table.bpf.c fills it.
bpftune_event event(uint32_t kind,
                    int family,
                    int64_t gcEntries,
                    const Values& thresholds,
                    std::initializer_list<uint8_t> prefixes,
                    uint64_t netns = HOME,
                    uint32_t ifindex = 5) {
  bpftune_event ev{};
  ev.tuner = BPFTUNE_TUNER_NEIGH_TABLE;
  ev.kind = kind;
  ev.netns_cookie = netns;
  ev.ts_ns = 100 * SECOND_NS;
  ev.value = gcEntries;
  ev.limit = thresholds.v[2];
  for (size_t i = 0; i < 3; ++i) {
    ev.sysctl[i] = thresholds.v[i];
  }
  ev.ifindex = ifindex;
  std::strncpy(ev.dev, "veth0", sizeof(ev.dev));
  ev.detail[NEIGH_TABLE_DETAIL_FAMILY] = family;
  ev.detail[NEIGH_TABLE_DETAIL_ENTRIES] = gcEntries;
  uint64_t packed = 0;
  uint64_t n = 0;
  for (uint8_t len : prefixes) {
    packed |= uint64_t{len} << (8 * n++);
  }
  ev.detail[NEIGH_TABLE_DETAIL_FLAGS] = static_cast<int64_t>(n << NEIGH_TABLE_ADDR_COUNT_SHIFT);
  ev.detail[NEIGH_TABLE_DETAIL_PREFIXES] = static_cast<int64_t>(packed);
  return ev;
}

bpftune_event full(int family,
                   int64_t gcEntries,
                   const Values& t,
                   std::initializer_list<uint8_t> prefixes,
                   uint64_t netns = HOME) {
  return event(NEIGH_TABLE_EV_FULL, family, gcEntries, t, prefixes, netns);
}

bpftune_event empty(int family, int64_t gcEntries, const Values& t) {
  return event(NEIGH_TABLE_EV_EMPTY, family, gcEntries, t, {64});
}

CurrentValues current(std::optional<Values> arp, std::optional<Values> ndisc, bool home = true) {
  CurrentValues c;
  if (arp) {
    c.sysctls[TunableId::NEIGH_ARP_GC_THRESH] = *arp;
  }
  if (ndisc) {
    c.sysctls[TunableId::NEIGH_NDISC_GC_THRESH] = *ndisc;
  }
  c.homeNetns = home;
  return c;
}

CurrentValues arpOnly(const Values& arp, bool home = true) {
  return current(arp, std::nullopt, home);
}

TEST(NeighBound, UpstreamRulePerAddress) {
  const std::vector<uint8_t> slash24{24};
  const std::vector<uint8_t> slash22{22};
  const std::vector<uint8_t> slash32{32};
  const std::vector<uint8_t> two24{24, 24};
  const std::vector<uint8_t> slash16{16};
  const std::vector<uint8_t> slash1{1};
  EXPECT_EQ(prefixBound(AF_INET_FAMILY, slash24), 1024);  // the /24 of the issue
  EXPECT_EQ(prefixBound(AF_INET_FAMILY, slash22), 4096);
  EXPECT_EQ(prefixBound(AF_INET_FAMILY, slash32), 1024);  // at least 256 addresses each
  EXPECT_EQ(prefixBound(AF_INET_FAMILY, two24), 2048);    // summed over addresses
  EXPECT_EQ(prefixBound(AF_INET_FAMILY, slash16), 262144);
  EXPECT_EQ(prefixBound(AF_INET_FAMILY, slash1), INT_MAX_VALUE);  // capped at INT_MAX
  EXPECT_EQ(prefixBound(AF_INET_FAMILY, {}), 0);
}

TEST(NeighBound, SixtyFourHostBitsMeanNoBound) {
  const std::vector<uint8_t> slash64{64};
  const std::vector<uint8_t> slash65{65};
  const std::vector<uint8_t> slash120{120};
  EXPECT_EQ(prefixBound(AF_INET6_FAMILY, slash64), INT_MAX_VALUE);
  EXPECT_EQ(prefixBound(AF_INET6_FAMILY, slash65), INT_MAX_VALUE);  // 2^63 * 4 saturates
  EXPECT_EQ(prefixBound(AF_INET6_FAMILY, slash120), 1024);
}

TEST(NeighBound, DecodesWhatTheBpfProgramPacks) {
  bpftune_event ev = full(AF_INET_FAMILY, 0, triple(128, 512, 1024), {24, 32, 16});
  ev.detail[NEIGH_TABLE_DETAIL_FLAGS] |= NEIGH_TABLE_FLAG_MORE_ADDRS;
  auto prefixes = neigh_table::decodePrefixes(ev);
  EXPECT_EQ(prefixes.family, AF_INET_FAMILY);
  EXPECT_EQ(prefixes.prefixLens, (std::vector<uint8_t>{24, 32, 16}));
  EXPECT_TRUE(prefixes.truncated);
}

TEST(NeighBound, SumsDevicesAndForgetsQuietOnes) {
  neigh_table::TableBound bound;
  bound.note(HOME, 2, 1024, 1 * SECOND_NS);
  bound.note(CONTAINER, 2, 4096, 2 * SECOND_NS);  // same ifindex, other netns: another device
  EXPECT_EQ(bound.total(), 5120);
  bound.note(HOME, 2, 2048, 3 * SECOND_NS);  // the device's prefixes changed
  EXPECT_EQ(bound.total(), 6144);
  bound.note(CONTAINER, 3, 1024, 2 * SECOND_NS + neigh_table::TableBound::FORGET_NS + 1);
  EXPECT_EQ(bound.total(), 2048 + 1024);  // CONTAINER/2 was quiet for too long
  EXPECT_EQ(bound.devices(), 2U);
}

TEST(NeighBound, KeepsAtMostMaxDevices) {
  neigh_table::TableBound bound;
  for (uint32_t i = 0; i < neigh_table::TableBound::MAX_DEVICES + 10; ++i) {
    bound.note(HOME, i, 1024, SECOND_NS + i);
  }
  EXPECT_EQ(bound.devices(), neigh_table::TableBound::MAX_DEVICES);
}

TEST(NeighTableTuner, GrowsAllThreeThresholdsOfTheFullTable) {
  auto tuner = makeNeighTableTuner(4);
  const Values arp = triple(128, 192, 256);
  auto out = tuner->onEvent(full(AF_INET_FAMILY, 200, arp, {24}), arpOnly(arp));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].tuner, TunerId::NEIGH_TABLE);
  EXPECT_EQ(out[0].scenario, ScenarioId::NEIGH_TABLE_FULL);
  EXPECT_EQ(out[0].tunable, TunableId::NEIGH_ARP_GC_THRESH);
  EXPECT_EQ(out[0].netnsCookie, HOME);
  EXPECT_EQ(out[0].oldValues, arp);
  EXPECT_EQ(out[0].newValues, triple(160, 240, 320));
  EXPECT_NE(out[0].why.find("arp_cache"), std::string::npos) << out[0].why;
  EXPECT_NE(out[0].why.find("prefix bound 1024"), std::string::npos) << out[0].why;
  EXPECT_EQ(out[0].why.find("init netns"), std::string::npos) << out[0].why;
}

TEST(NeighTableTuner, NdiscTableIsTunedSeparately) {
  auto tuner = makeNeighTableTuner(4);
  const Values arp = triple(128, 512, 1024);
  const Values ndisc = triple(128, 192, 256);
  auto out = tuner->onEvent(full(AF_INET6_FAMILY, 256, ndisc, {64, 64}), current(arp, ndisc));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].tunable, TunableId::NEIGH_NDISC_GC_THRESH);
  EXPECT_EQ(out[0].newValues, triple(160, 240, 320));
  EXPECT_NE(out[0].why.find("ndisc_cache"), std::string::npos);
}

TEST(NeighTableTuner, StopsExactlyAtTheSlash24Bound) {
  auto tuner = makeNeighTableTuner(4);
  const Values near = triple(487, 781, 976);
  auto out = tuner->onEvent(full(AF_INET_FAMILY, 976, near, {24}), arpOnly(near));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].newValues, triple(608, 976, 1024));
  const Values at = triple(608, 976, 1024);
  EXPECT_TRUE(tuner->onEvent(full(AF_INET_FAMILY, 1024, at, {24}), arpOnly(at)).empty());
}

TEST(NeighTableTuner, GrowsAcrossTheWholeSequenceUntilTheBound) {
  auto tuner = makeNeighTableTuner(4);
  Values t = triple(128, 192, 256);
  std::vector<int64_t> thresh3;
  for (int i = 0; i < 20; ++i) {
    auto out = tuner->onEvent(full(AF_INET_FAMILY, t.v[2], t, {24}), arpOnly(t));
    if (out.empty()) {
      break;
    }
    t = out[0].newValues;
    thresh3.push_back(t.v[2]);
  }
  EXPECT_EQ(thresh3, (std::vector<int64_t>{320, 400, 500, 625, 781, 976, 1024}));
}

TEST(NeighTableTuner, SecondDeviceRaisesTheBound) {
  auto tuner = makeNeighTableTuner(4);
  const Values at = triple(608, 976, 1024);
  // Upstream judged every neighbour by the first device it saw; here both devices count.
  EXPECT_TRUE(tuner->onEvent(full(AF_INET_FAMILY, 1024, at, {24}), arpOnly(at)).empty());
  bpftune_event other = event(NEIGH_TABLE_EV_FULL, AF_INET_FAMILY, 1024, at, {24}, HOME, 9);
  auto out = tuner->onEvent(other, arpOnly(at));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].newValues.v[2], 1280);
  EXPECT_NE(out[0].why.find("prefix bound 2048 over 2 device(s)"), std::string::npos) << out[0].why;
}

TEST(NeighTableTuner, ADeviceWithoutAddressesGivesNoRoomToGrow) {
  auto tuner = makeNeighTableTuner(4);
  const Values arp = triple(128, 192, 256);
  EXPECT_TRUE(tuner->onEvent(full(AF_INET_FAMILY, 256, arp, {}), arpOnly(arp)).empty());
}

TEST(NeighTableTuner, StaleEventDoesNotCompound) {
  auto tuner = makeNeighTableTuner(4);
  // The event saw 256 full; the collector already raised the live value to 320.
  const Values live = triple(160, 240, 320);
  EXPECT_TRUE(tuner->onEvent(full(AF_INET_FAMILY, 200, triple(128, 192, 256), {24}), arpOnly(live))
                  .empty());
  // Still nearly full of the live value: grows from the live value.
  auto out = tuner->onEvent(full(AF_INET_FAMILY, 300, triple(128, 192, 256), {24}), arpOnly(live));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].oldValues, live);
  EXPECT_EQ(out[0].newValues, triple(200, 300, 400));
}

TEST(NeighTableTuner, FailedCreateIsNamed) {
  auto tuner = makeNeighTableTuner(4);
  const Values arp = triple(128, 192, 256);
  bpftune_event ev = full(AF_INET_FAMILY, 256, arp, {24});
  ev.detail[NEIGH_TABLE_DETAIL_FLAGS] |= NEIGH_TABLE_FLAG_CREATE_FAILED;
  auto out = tuner->onEvent(ev, arpOnly(arp));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_NE(out[0].why.find("create failed (table full)"), std::string::npos) << out[0].why;
}

TEST(NeighTableTuner, ContainerEventSaysTheChangeIsHostWide) {
  auto tuner = makeNeighTableTuner(4);
  const Values arp = triple(128, 192, 256);
  auto out =
      tuner->onEvent(full(AF_INET_FAMILY, 200, arp, {24}, CONTAINER), arpOnly(arp, /*home=*/false));
  ASSERT_EQ(out.size(), 1U);
  // The collector's routing moves it home and records CONTAINER as the cause.
  EXPECT_EQ(out[0].netnsCookie, CONTAINER);
  EXPECT_NE(out[0].why.find("exists only in the init netns, so netns 8193 changes it for the "
                            "whole host"),
            std::string::npos)
      << out[0].why;
}

TEST(NeighTableTuner, Ipv6DisabledStillTunesIpv4) {
  auto tuner = makeNeighTableTuner(4);
  const Values arp = triple(128, 192, 256);
  // No ndisc values at all (ipv6.disable=1: /proc/sys/net/ipv6 does not exist).
  auto out = tuner->onEvent(full(AF_INET_FAMILY, 200, arp, {24}), current(arp, std::nullopt));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].tunable, TunableId::NEIGH_ARP_GC_THRESH);
}

TEST(NeighTableTuner, UnreadableThresholdsFallBackToTheEvent) {
  auto tuner = makeNeighTableTuner(4);
  const Values ndisc = triple(128, 192, 256);
  auto out = tuner->onEvent(full(AF_INET6_FAMILY, 200, ndisc, {64}), current(std::nullopt, {}));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].oldValues, ndisc);
}

TEST(NeighTableTuner, ShrinksTowardTheKernelDefaults) {
  auto tuner = makeNeighTableTuner(4);
  Values t = triple(400, 1600, 3200);
  std::vector<Values> steps;
  for (int i = 0; i < 20; ++i) {
    auto out = tuner->onEvent(empty(AF_INET6_FAMILY, 3, t), current(std::nullopt, t));
    if (out.empty()) {
      break;
    }
    EXPECT_EQ(out[0].scenario, ScenarioId::NEIGH_TABLE_EMPTY);
    t = out[0].newValues;
    steps.push_back(t);
  }
  ASSERT_FALSE(steps.empty());
  EXPECT_EQ(steps.front(), triple(300, 1200, 2400));
  EXPECT_EQ(steps.back(), triple(128, 512, 1024));
}

TEST(NeighTableTuner, NeverRaisesASmallTableWhenShrinking) {
  auto tuner = makeNeighTableTuner(4);
  const Values small = triple(128, 192, 256);
  EXPECT_TRUE(
      tuner->onEvent(empty(AF_INET_FAMILY, 0, small), current(small, std::nullopt)).empty());
  // thresh2 alone above its default comes down; the others stay.
  const Values mixed = triple(128, 800, 900);
  auto out = tuner->onEvent(empty(AF_INET_FAMILY, 0, mixed), current(mixed, std::nullopt));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].newValues, triple(128, 600, 900));
}

TEST(NeighTableTuner, NoShrinkWhileTheTableIsInUse) {
  auto tuner = makeNeighTableTuner(4);
  const Values t = triple(400, 1600, 3200);
  EXPECT_TRUE(tuner->onEvent(empty(AF_INET_FAMILY, 801, t), current(t, std::nullopt)).empty());
  EXPECT_FALSE(tuner->onEvent(empty(AF_INET_FAMILY, 800, t), current(t, std::nullopt)).empty());
}

TEST(NeighTableTuner, IgnoresForeignEventsAndUnorderedThresholds) {
  auto tuner = makeNeighTableTuner(4);
  const Values arp = triple(128, 192, 256);
  bpftune_event other = full(AF_INET_FAMILY, 256, arp, {24});
  other.tuner = BPFTUNE_TUNER_TCP_BUFFER;
  EXPECT_TRUE(tuner->onEvent(other, arpOnly(arp)).empty());
  bpftune_event decnet = full(12, 256, arp, {24});
  EXPECT_TRUE(tuner->onEvent(decnet, arpOnly(arp)).empty());
  const Values unordered = triple(300, 192, 256);
  EXPECT_TRUE(
      tuner->onEvent(full(AF_INET_FAMILY, 256, unordered, {24}), arpOnly(unordered)).empty());
}

TEST(NeighTableTuner, LearningRateSetsTheStep) {
  auto tuner = makeNeighTableTuner(0);  // 1/64
  const Values arp = triple(128, 512, 1000);
  auto out = tuner->onEvent(full(AF_INET_FAMILY, 990, arp, {16}), arpOnly(arp));
  ASSERT_EQ(out.size(), 1U);
  EXPECT_EQ(out[0].newValues, triple(130, 520, 1015));
  // Within 1/64 of 1000 means >= 985 entries.
  EXPECT_TRUE(tuner->onEvent(full(AF_INET_FAMILY, 980, arp, {16}), arpOnly(arp)).empty());
}

}  // namespace
}  // namespace bpftune::tuners
