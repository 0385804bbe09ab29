#include "udp_buffer_tuner.h"

#include <cstdint>
#include <vector>

#include <gtest/gtest.h>

#include "change_limits.h"

namespace bpftune::tuners {
namespace {

constexpr int64_t FREE_PAGES = 4000000;  // free/16 = 250000, free/8 = 500000, free/4 = 1000000
constexpr int64_t CEILING = 268435456;   // policy max of rmem_max / rmem_default
constexpr uint64_t HOME = 4242;
constexpr uint64_t CONTAINER = 777;

Values one(int64_t v) {
  return Values{1, {v, 0, 0}};
}
Values triple(int64_t a, int64_t b, int64_t c) {
  return Values{3, {a, b, c}};
}

struct World {
  Values udpMem = triple(100000, 150000, 200000);
  int64_t rmemMax = 16384;
  int64_t rmemDefault = 16384;
  int64_t free = FREE_PAGES;

  CurrentValues current(bool home = true) const {
    CurrentValues c;
    c.sysctls[TunableId::UDP_MEM] = udpMem;
    c.sysctls[TunableId::RMEM_MAX] = one(rmemMax);
    c.sysctls[TunableId::RMEM_DEFAULT] = one(rmemDefault);
    c.freeBufferPages = free;
    c.homeNetns = home;
    return c;
  }
  // What the actuator would have done with an applied proposal.
  void apply(const Proposal& p) {
    if (p.tunable == TunableId::RMEM_MAX) {
      rmemMax = p.newValues.v[0];
    } else if (p.tunable == TunableId::RMEM_DEFAULT) {
      rmemDefault = p.newValues.v[0];
    } else {
      udpMem = p.newValues;
    }
  }
};

bpftune_event dropEvent(int64_t rcvbuf, bool locked = false, int64_t allocated = 10) {
  bpftune_event ev{};
  ev.tuner = BPFTUNE_TUNER_UDP_BUFFER;
  ev.kind = locked ? UDP_BUFFER_EV_RCVBUF_DROP_LOCKED : UDP_BUFFER_EV_RCVBUF_DROP;
  ev.netns_cookie = HOME;
  ev.value = rcvbuf;
  ev.mem_allocated = allocated;
  return ev;
}

bpftune_event memEvent(int64_t allocated, const Values& kernelView = triple(0, 0, 0)) {
  bpftune_event ev{};
  ev.tuner = BPFTUNE_TUNER_UDP_BUFFER;
  ev.kind = UDP_BUFFER_EV_MEM;
  ev.netns_cookie = CONTAINER;
  ev.value = allocated;
  ev.mem_allocated = allocated;
  ev.sysctl[0] = kernelView.v[0];
  ev.sysctl[1] = kernelView.v[1];
  ev.sysctl[2] = kernelView.v[2];
  return ev;
}

void expectAcceptable(const Proposal& p) {
  EXPECT_EQ(p.tuner, TunerId::UDP_BUFFER);
  EXPECT_TRUE(fitsPolicy(p.oldValues, p.newValues)) << p.why;
  EXPECT_NE(p.oldValues, p.newValues) << p.why;
}

TEST(UdpBufferTuner, DescribesItself) {
  auto tuner = makeUdpBufferTuner(4);
  EXPECT_EQ(tuner->id(), TunerId::UDP_BUFFER);
  EXPECT_EQ(tuner->name(), "udp_buffer");
  EXPECT_EQ(
      tuner->tunables(),
      (std::vector<TunableId>{TunableId::UDP_MEM, TunableId::RMEM_MAX, TunableId::RMEM_DEFAULT}));
  bpftune_event drop{};
  drop.kind = UDP_BUFFER_EV_RCVBUF_DROP;
  EXPECT_EQ(tuner->counters(drop),
            (std::vector<CounterId>{CounterId::UDP_IN_DATAGRAMS, CounterId::UDP_RCVBUF_ERRORS}));
  bpftune_event mem{};
  mem.kind = UDP_BUFFER_EV_MEM;
  EXPECT_TRUE(tuner->counters(mem).empty());
}

class UdpBufferTunerAtRate : public ::testing::TestWithParam<int> {
protected:
  int64_t grow(int64_t v) const { return v + (v >> (6 - GetParam())); }
  std::vector<Proposal> on(const bpftune_event& ev, bool home = true) {
    return tuner->onEvent(ev, world.current(home));
  }
  std::unique_ptr<Tuner> tuner = makeUdpBufferTuner(GetParam());
  World world;
};

TEST_P(UdpBufferTunerAtRate, UnlockedDropGrowsTheDefaultWithinTheMax) {
  world.rmemMax = 1 << 22;
  world.rmemDefault = 212992;
  auto out = on(dropEvent(212992));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::UDP_BUFFER_INCREASE);
  EXPECT_EQ(out[0].tunable, TunableId::RMEM_DEFAULT);
  EXPECT_EQ(out[0].netnsCookie, HOME);
  EXPECT_EQ(out[0].oldValues, one(212992));
  EXPECT_EQ(out[0].newValues, one(grow(212992)));
  EXPECT_NE(out[0].why.find("sk_rcvbuf 212992"), std::string::npos) << out[0].why;
  expectAcceptable(out[0]);
}

TEST_P(UdpBufferTunerAtRate, DefaultStopsAtTheMaxWhichMovesFirst) {
  world.rmemMax = 20000;
  world.rmemDefault = 19990;
  auto out = on(dropEvent(19990));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tunable, TunableId::RMEM_DEFAULT);
  EXPECT_EQ(out[0].newValues, one(std::min<int64_t>(grow(19990), 20000)));

  world.rmemDefault = 20000;  // default == max: the max has to move first
  out = on(dropEvent(20000));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tunable, TunableId::RMEM_MAX);
  EXPECT_EQ(out[0].newValues, one(grow(20000)));
  EXPECT_NE(out[0].why.find("rmem_default has reached rmem_max"), std::string::npos);
  expectAcceptable(out[0]);
}

TEST_P(UdpBufferTunerAtRate, SocketsSizedBeforeAGrowthStopDrivingIt) {
  // Existing sockets keep the default they were created with: once the default has moved more
  // than one step past their buffer, their drops no longer say anything about it.
  world.rmemMax = 1 << 22;
  world.rmemDefault = 1 << 20;
  const int64_t below = (1 << 20) - ((1 << 20) >> (6 - GetParam()));
  EXPECT_TRUE(on(dropEvent(below - 1)).empty());
  EXPECT_EQ(on(dropEvent(below)).size(), 1u);
}

TEST_P(UdpBufferTunerAtRate, LockedSocketsNeverMoveTheDefault) {
  // iperf3 -w 8192: SO_RCVBUF 8192 -> sk_rcvbuf 16384, exactly rmem_default. Upstream's check
  // would have grown rmem_max here; the request was not cut, so nothing helps this socket.
  EXPECT_TRUE(on(dropEvent(16384, true)).empty());
  world.rmemMax = 1 << 20;
  EXPECT_TRUE(on(dropEvent(16384, true)).empty());
}

TEST_P(UdpBufferTunerAtRate, LockedSocketCutByTheMaxGrowsOnlyTheMax) {
  // SO_RCVBUF 65536 with rmem_max 16384 -> sk_rcvbuf 2 * 16384.
  auto out = on(dropEvent(32768, true));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tunable, TunableId::RMEM_MAX);
  EXPECT_EQ(out[0].newValues, one(grow(16384)));
  EXPECT_NE(out[0].why.find("SO_RCVBUF"), std::string::npos);
  expectAcceptable(out[0]);
  // The same socket after the change: its buffer no longer equals twice the max.
  world.apply(out[0]);
  EXPECT_TRUE(on(dropEvent(32768, true)).empty());
  // SO_RCVBUFFORCE beyond the max: the max did not cut it.
  EXPECT_TRUE(on(dropEvent(4 * world.rmemMax, true)).empty());
}

TEST_P(UdpBufferTunerAtRate, StopsAtTheCeiling) {
  world.rmemMax = CEILING - 1;
  world.rmemDefault = CEILING - 1;
  auto out = on(dropEvent(CEILING - 1));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].newValues, one(CEILING));
  world.rmemMax = CEILING;
  world.rmemDefault = CEILING;
  EXPECT_TRUE(on(dropEvent(CEILING)).empty());
  EXPECT_TRUE(on(dropEvent(2 * CEILING, true)).empty());
}

TEST_P(UdpBufferTunerAtRate, NoBufferGrowthWhileUdpMemoryIsShort) {
  // Above udp_mem[0] the kernel already refuses datagrams to sockets holding udp_rmem_min.
  EXPECT_TRUE(on(dropEvent(16384, false, 100001)).empty());
  EXPECT_TRUE(on(dropEvent(32768, true, 100001)).empty());
  EXPECT_EQ(on(dropEvent(16384, false, 100000)).size(), 1u);
}

TEST_P(UdpBufferTunerAtRate, ContainerSocketsDriveTheGlobalSysctls) {
  // rmem_* are global: a child netns's sockets are sized by them (its /proc/sys shows them
  // read-only and live). The proposal names the event's netns; the collector routes it home.
  auto ev = dropEvent(16384);
  ev.netns_cookie = CONTAINER;
  auto out = on(ev, false);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].tunable, TunableId::RMEM_MAX);
  EXPECT_EQ(out[0].netnsCookie, CONTAINER);
}

TEST_P(UdpBufferTunerAtRate, ExhaustionGrowsOnlyTheMaxAndNeverWritesZeros) {
  // Upstream left [0] and [1] at 0 when they were above free/16 and free/8: "0 0 X".
  world.udpMem = triple(600000, 700000, 800000);
  auto out = on(memEvent(800000));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::UDP_MEM_EXHAUSTION);
  EXPECT_EQ(out[0].tunable, TunableId::UDP_MEM);
  EXPECT_EQ(out[0].netnsCookie, CONTAINER);  // global: routed home by the collector
  EXPECT_EQ(out[0].newValues, triple(600000, 700000, std::min<int64_t>(grow(800000), 1000000)));
  expectAcceptable(out[0]);
}

TEST_P(UdpBufferTunerAtRate, ExhaustionIsCappedAtAQuarterOfFreeMemory) {
  world.udpMem = triple(20, 45, 999999);
  auto out = on(memEvent(999999));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].newValues, triple(20, 45, 1000000));
  world.apply(out[0]);
  EXPECT_TRUE(on(memEvent(1000000)).empty());
}

TEST_P(UdpBufferTunerAtRate, PressureGrowsAllThreeWithinCaps) {
  world.udpMem = triple(100000, 150000, 200000);
  auto out = on(memEvent(149000));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::UDP_MEM_PRESSURE);
  EXPECT_EQ(out[0].newValues, triple(grow(100000), grow(150000), grow(200000)));
  expectAcceptable(out[0]);
}

TEST_P(UdpBufferTunerAtRate, AboveTheLowThresholdIsPressureForUdp) {
  // Between [0] and [1]: UDP has no pressure flag, the kernel refuses datagrams already.
  auto out = on(memEvent(100001));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].scenario, ScenarioId::UDP_MEM_PRESSURE);
  EXPECT_NE(out[0].why.find("above udp_mem low 100000"), std::string::npos) << out[0].why;
  EXPECT_TRUE(on(memEvent(100000)).empty());  // at [0] nothing is refused
}

INSTANTIATE_TEST_SUITE_P(Rates, UdpBufferTunerAtRate, ::testing::Range(0, 5));

TEST(UdpBufferTuner, UpstreamRmemScenarioGrowsBothThenSettles) {
  // rmem_default = rmem_max = 16384, one unlocked receiver dropping all along (rate 4).
  auto tuner = makeUdpBufferTuner(4);
  World world;
  std::vector<std::pair<TunableId, int64_t>> steps;
  for (int i = 0; i < 10; ++i) {
    auto out = tuner->onEvent(dropEvent(16384), world.current());
    if (out.empty()) {
      break;
    }
    ASSERT_EQ(out.size(), 1u);
    steps.emplace_back(out[0].tunable, out[0].newValues.v[0]);
    world.apply(out[0]);
  }
  EXPECT_EQ(steps,
            (std::vector<std::pair<TunableId, int64_t>>{{TunableId::RMEM_MAX, 20480},
                                                        {TunableId::RMEM_DEFAULT, 20480},
                                                        {TunableId::RMEM_MAX, 25600},
                                                        {TunableId::RMEM_DEFAULT, 25600}}));
}

TEST(UdpBufferTuner, UpstreamExhaustionScenarioNeverTouchesLowAndPressureWhileExhausted) {
  // udp_mem = 20 45 50; the global counter moves in per-CPU batches of 256 pages.
  auto tuner = makeUdpBufferTuner(4);
  World world;
  world.udpMem = triple(20, 45, 50);
  int exhaustion = 0;
  int pressure = 0;
  for (int i = 0; i < 40; ++i) {
    auto out = tuner->onEvent(memEvent(300), world.current());
    if (out.empty()) {
      break;
    }
    ASSERT_EQ(out.size(), 1u);
    if (out[0].scenario == ScenarioId::UDP_MEM_EXHAUSTION) {
      ASSERT_EQ(pressure, 0) << "exhaustion after pressure";
      EXPECT_EQ(out[0].newValues.v[0], 20);
      EXPECT_EQ(out[0].newValues.v[1], 45);
      ++exhaustion;
    } else {
      ++pressure;
    }
    expectAcceptable(out[0]);
    world.apply(out[0]);
  }
  // 50 -> 62 -> ... -> 453: then 300 pages are no longer within a quarter of the max, but
  // still above [0] and [1], where UDP refuses datagrams: pressure raises all three until
  // usage is below the low threshold.
  EXPECT_EQ(exhaustion, 10);
  EXPECT_GT(pressure, 0);
  EXPECT_GE(world.udpMem.v[0], 300);
  EXPECT_LE(world.udpMem.v[0], world.udpMem.v[1]);
  EXPECT_LE(world.udpMem.v[1], world.udpMem.v[2]);
}

TEST(UdpBufferTuner, UsesTheKernelsViewWhenUdpMemIsUnreadable) {
  auto tuner = makeUdpBufferTuner(4);
  World world;
  CurrentValues c = world.current();
  c.sysctls.erase(TunableId::UDP_MEM);
  auto out = tuner->onEvent(memEvent(50, triple(20, 45, 50)), c);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].newValues, triple(20, 45, 62));
}

TEST(UdpBufferTuner, LeavesAZeroOrUnorderedUdpMemAlone) {
  auto tuner = makeUdpBufferTuner(4);
  World world;
  world.udpMem = triple(0, 0, 50);
  EXPECT_TRUE(tuner->onEvent(memEvent(60), world.current()).empty());
  world.udpMem = triple(50, 40, 60);
  EXPECT_TRUE(tuner->onEvent(memEvent(60), world.current()).empty());
}

TEST(UdpBufferTuner, StaleOrUnusableInputProposesNothing) {
  auto tuner = makeUdpBufferTuner(4);
  World world;
  world.udpMem = triple(400, 500, 600);  // raised since the kernel refused at 300 pages
  EXPECT_TRUE(tuner->onEvent(memEvent(300), world.current()).empty());
  world.free = 0;  // no estimate: every cap would be 0
  EXPECT_TRUE(tuner->onEvent(memEvent(600), world.current()).empty());
  EXPECT_TRUE(tuner->onEvent(dropEvent(16384), CurrentValues{}).empty());
  auto foreign = dropEvent(16384);
  foreign.tuner = BPFTUNE_TUNER_TCP_BUFFER;
  EXPECT_TRUE(tuner->onEvent(foreign, World{}.current()).empty());
  auto unknown = dropEvent(16384);
  unknown.kind = 99;
  EXPECT_TRUE(tuner->onEvent(unknown, World{}.current()).empty());
}

TEST(UdpBufferTuner, ExplainsWithTheNamespacesDropCounters) {
  auto tuner = makeUdpBufferTuner(4);
  World world;
  CurrentValues c = world.current();
  c.counters[CounterId::UDP_RCVBUF_ERRORS] = 1997;
  c.counters[CounterId::UDP_IN_DATAGRAMS] = 2000;
  auto out = tuner->onEvent(dropEvent(16384), c);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_NE(out[0].why.find("1997 RcvbufErrors, 2000 InDatagrams"), std::string::npos)
      << out[0].why;
}

}  // namespace
}  // namespace bpftune::tuners
