// Low-memory mode through the tcp_buffer tuner: enter near exhaustion, undo exactly what was set
// when memory is normal again, per namespace.
#include "low_memory.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <vector>

#include <gtest/gtest.h>

#include "change_limits.h"
#include "tcp_buffer_tuner.h"

namespace bpftune::tuners {
namespace {

constexpr uint64_t HOME = 1;
constexpr uint64_t NS_X = 4242;
constexpr uint64_t NS_Y = 4343;
constexpr int64_t EXHAUSTED = 400000;  // == tcp_mem[2]
constexpr int64_t PRESSURED = 150000;  // == tcp_mem[1]
constexpr int64_t NORMAL = 1000;

Values one(int64_t v) {
  return Values{1, {v, 0, 0}};
}

// The values the collector would read for one event: the global ones plus the event's
// namespace's own.
struct Netns {
  int64_t noMetrics = 0;
  int64_t noSsthresh = 0;
  int64_t synBacklog = 1024;
};

struct World {
  Values mem = Values{3, {100000, 150000, 400000}};
  int64_t highOrder = 0;
  std::map<uint64_t, Netns> netns{{HOME, {}}, {NS_X, {}}, {NS_Y, {}}};

  CurrentValues current(uint64_t cookie) const {
    CurrentValues c;
    c.sysctls[TunableId::TCP_RMEM] = Values{3, {4096, 131072, 6291456}};
    c.sysctls[TunableId::TCP_WMEM] = Values{3, {4096, 16384, 4194304}};
    c.sysctls[TunableId::TCP_MEM] = mem;
    c.sysctls[TunableId::TCP_MODERATE_RCVBUF] = one(1);
    c.sysctls[TunableId::HIGH_ORDER_ALLOC_DISABLE] = one(highOrder);
    const Netns& n = netns.at(cookie);
    c.sysctls[TunableId::TCP_NO_METRICS_SAVE] = one(n.noMetrics);
    c.sysctls[TunableId::TCP_NO_SSTHRESH_METRICS_SAVE] = one(n.noSsthresh);
    c.sysctls[TunableId::TCP_MAX_SYN_BACKLOG] = one(n.synBacklog);
    c.sysctls[TunableId::TCP_SYNCOOKIES] = one(1);
    c.freeBufferPages = 4000000;
    c.homeNetns = cookie == HOME;
    return c;
  }

  // What the actuator does with an accepted proposal (global ones land in the init netns).
  // tcp_mem is left as it is, so memory stays exhausted until a test lowers the usage.
  void apply(const Proposal& p) {
    const int64_t v = p.newValues.v[0];
    switch (p.tunable) {
      case TunableId::HIGH_ORDER_ALLOC_DISABLE:
        highOrder = v;
        break;
      case TunableId::TCP_NO_METRICS_SAVE:
        netns.at(p.netnsCookie).noMetrics = v;
        break;
      case TunableId::TCP_NO_SSTHRESH_METRICS_SAVE:
        netns.at(p.netnsCookie).noSsthresh = v;
        break;
      case TunableId::TCP_MAX_SYN_BACKLOG:
        netns.at(p.netnsCookie).synBacklog = v;
        break;
      default:
        break;
    }
  }
};

// Event time: each event is LEAVE_AFTER_NS after the one before, so a normal event always
// comes long enough after the last short one (HoldsTheModeWhileMemoryWasShortRecently sets it).
uint64_t testClockNs = 0;

bpftune_event memEvent(uint32_t kind, int64_t allocated, uint64_t cookie = NS_X) {
  bpftune_event ev{};
  testClockNs += tcp_buffer::LowMemoryMode::LEAVE_AFTER_NS;
  ev.ts_ns = testClockNs;
  ev.tuner = BPFTUNE_TUNER_TCP_BUFFER;
  ev.kind = kind;
  ev.netns_cookie = cookie;
  ev.value = allocated;
  ev.mem_allocated = allocated;
  return ev;
}

std::vector<Proposal> only(const std::vector<Proposal>& all, ScenarioId scenario) {
  std::vector<Proposal> out;
  std::copy_if(all.begin(), all.end(), std::back_inserter(out), [&](const Proposal& p) {
    return p.scenario == scenario;
  });
  return out;
}

const Proposal* find(const std::vector<Proposal>& all, TunableId tunable) {
  auto it =
      std::find_if(all.begin(), all.end(), [&](const Proposal& p) { return p.tunable == tunable; });
  return it == all.end() ? nullptr : &*it;
}

class LowMemory : public ::testing::TestWithParam<int> {
protected:
  int shift() const { return 6 - GetParam(); }
  int64_t entered(int64_t backlog) const {
    return std::max<int64_t>(128, backlog - (backlog >> std::max(shift(), 3)));
  }

  // One event through the tuner; every proposal is answered (applied or refused) in order,
  // as the collector does. Global proposals reach the world as the init netns' values.
  std::vector<Proposal> run(const bpftune_event& ev, bool accept = true) {
    auto out = tuner->onEvent(ev, world.current(ev.netns_cookie));
    for (const Proposal& p : out) {
      if (accept) {
        world.apply(p);
      }
      tuner->onResult(p, accept);
    }
    return out;
  }

  std::unique_ptr<Tuner> tuner = makeTcpBufferTuner(GetParam());
  World world;
};

TEST_P(LowMemory, EnteringSetsFlagsGlobalAndShrinksTheBacklog) {
  auto out = run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED));
  auto enter = only(out, ScenarioId::LOW_MEM_ENTER);
  ASSERT_EQ(enter.size(), 4u);
  for (TunableId flag : {TunableId::HIGH_ORDER_ALLOC_DISABLE,
                         TunableId::TCP_NO_METRICS_SAVE,
                         TunableId::TCP_NO_SSTHRESH_METRICS_SAVE}) {
    const Proposal* p = find(enter, flag);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(p->oldValues, one(0));
    EXPECT_EQ(p->newValues, one(1));
    EXPECT_EQ(p->netnsCookie, NS_X);  // the collector routes the global one home
  }
  const Proposal* backlog = find(enter, TunableId::TCP_MAX_SYN_BACKLOG);
  ASSERT_NE(backlog, nullptr);
  EXPECT_EQ(backlog->newValues, one(entered(1024)));
  EXPECT_TRUE(fitsPolicy(backlog->oldValues, backlog->newValues));
  EXPECT_NE(backlog->why.find("near exhaustion"), std::string::npos) << backlog->why;
  EXPECT_EQ(only(out, ScenarioId::MEM_EXHAUSTION).size(), 1u);  // tcp_mem grows as before
}

TEST_P(LowMemory, EntersEachNamespaceOncePerEpisode) {
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED));
  EXPECT_TRUE(
      only(run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED)), ScenarioId::LOW_MEM_ENTER)
          .empty());
  // Another namespace gets its own per-netns changes, the global one is already done.
  auto other =
      only(run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED, NS_Y)), ScenarioId::LOW_MEM_ENTER);
  EXPECT_EQ(other.size(), 3u);
  EXPECT_EQ(find(other, TunableId::HIGH_ORDER_ALLOC_DISABLE), nullptr);
  for (const Proposal& p : other) {
    EXPECT_EQ(p.netnsCookie, NS_Y);
  }
}

TEST_P(LowMemory, PressureAloneNeitherEntersNorLeaves) {
  EXPECT_TRUE(only(run(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, PRESSURED)), ScenarioId::LOW_MEM_ENTER)
                  .empty());
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED));
  EXPECT_TRUE(only(run(memEvent(TCP_BUFFER_EV_MEM_PRESSURE, PRESSURED)), ScenarioId::LOW_MEM_LEAVE)
                  .empty());
}

TEST_P(LowMemory, LeavingRevertsExactlyWhatEnteringSet) {
  world.netns[NS_X].noSsthresh = 1;  // the administrator's; not ours to undo
  world.netns[NS_X].synBacklog = 2000;
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED));
  EXPECT_EQ(world.highOrder, 1);
  EXPECT_EQ(world.netns[NS_X].noMetrics, 1);
  EXPECT_EQ(world.netns[NS_X].synBacklog, entered(2000));

  auto out = run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL));
  auto leave = only(out, ScenarioId::LOW_MEM_LEAVE);
  ASSERT_EQ(leave.size(), 3u);
  for (const Proposal& p : leave) {
    EXPECT_TRUE(fitsPolicy(p.oldValues, p.newValues)) << p.why;
    EXPECT_NE(p.why.find("as before low-memory mode"), std::string::npos) << p.why;
  }
  EXPECT_EQ(world.highOrder, 0);
  EXPECT_EQ(world.netns[NS_X].noMetrics, 0);
  EXPECT_EQ(world.netns[NS_X].noSsthresh, 1);
  EXPECT_EQ(world.netns[NS_X].synBacklog, 2000);  // one step: entering took at most 1/8
  EXPECT_TRUE(run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL)).empty());
}

// Sockets over tcp_mem[2] free memory in milliseconds and take it again: the mode ends only
// after memory stayed normal for LEAVE_AFTER_NS since the last short reading, so it does not
// flap in and out (measured before this rule: a flap every ~100 ms, seven writes each).
TEST_P(LowMemory, HoldsTheModeWhileMemoryWasShortRecently) {
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED));
  EXPECT_EQ(world.netns[NS_X].noMetrics, 1);
  bpftune_event soon = memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL);
  soon.ts_ns =
      testClockNs - tcp_buffer::LowMemoryMode::LEAVE_AFTER_NS + 100'000'000;  // 100 ms later
  EXPECT_TRUE(run(soon).empty());
  EXPECT_EQ(world.netns[NS_X].noMetrics, 1);
  soon.ts_ns = testClockNs - 1;  // just short of the hold
  EXPECT_TRUE(run(soon).empty());
  testClockNs -=
      tcp_buffer::LowMemoryMode::LEAVE_AFTER_NS;  // the next event lands exactly at the hold
  EXPECT_FALSE(
      only(run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL)), ScenarioId::LOW_MEM_LEAVE).empty());
  EXPECT_EQ(world.netns[NS_X].noMetrics, 0);
}

TEST_P(LowMemory, BacklogAtTheFloorIsLeftAlone) {
  world.netns[NS_X].synBacklog = 128;
  EXPECT_EQ(
      find(run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED)), TunableId::TCP_MAX_SYN_BACKLOG),
      nullptr);
  world.netns[NS_Y].synBacklog = 130;
  const Proposal* p = find(run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED, NS_Y)),
                           TunableId::TCP_MAX_SYN_BACKLOG);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->newValues, one(128));
}

// Memory is global, so one namespace's event ends the episode for all of them: the others are
// reverted through the actuator with the values bpftune wrote as the expected ones.
TEST_P(LowMemory, AnyNamespacesNormalEventRevertsEveryNamespace) {
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED, NS_X));
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED, NS_Y));
  auto leave =
      only(run(memEvent(TCP_BUFFER_EV_RMEM_NEAR_MAX, NORMAL, HOME)), ScenarioId::LOW_MEM_LEAVE);
  EXPECT_EQ(leave.size(), 7u);  // high_order + 3 per namespace
  for (uint64_t ns : {NS_X, NS_Y}) {
    EXPECT_EQ(world.netns[ns].noMetrics, 0);
    EXPECT_EQ(world.netns[ns].noSsthresh, 0);
    EXPECT_EQ(world.netns[ns].synBacklog, 1024);
  }
  EXPECT_EQ(world.highOrder, 0);
}

TEST_P(LowMemory, SomeoneElsesValueIsNotReverted) {
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED));
  world.netns[NS_X].noMetrics = 0;  // an administrator turned it back already
  world.highOrder = 0;
  auto leave = only(run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL)), ScenarioId::LOW_MEM_LEAVE);
  EXPECT_EQ(find(leave, TunableId::TCP_NO_METRICS_SAVE), nullptr);
  EXPECT_EQ(find(leave, TunableId::HIGH_ORDER_ALLOC_DISABLE), nullptr);
  EXPECT_EQ(leave.size(), 2u);
}

TEST_P(LowMemory, RefusedEnteringLeavesNothingToUndo) {
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED), false);
  EXPECT_TRUE(run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL)).empty());
}

TEST_P(LowMemory, AnotherDecisionOnTheBacklogSupersedesTheRecord) {
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED));
  Proposal flood{TunerId::TCP_BUFFER,
                 ScenarioId::SYN_BACKLOG_DECREASE,
                 NS_X,
                 TunableId::TCP_MAX_SYN_BACKLOG,
                 one(world.netns[NS_X].synBacklog),
                 one(300),
                 "a flood"};
  world.apply(flood);
  tuner->onResult(flood, true);
  auto leave = only(run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL)), ScenarioId::LOW_MEM_LEAVE);
  EXPECT_EQ(leave.size(), 3u);
  EXPECT_EQ(find(leave, TunableId::TCP_MAX_SYN_BACKLOG), nullptr);
  EXPECT_EQ(world.netns[NS_X].synBacklog, 300);
}

// A revert for a namespace this event does not show is retried, then dropped: its value may have
// been changed by someone else or the namespace is gone. One we can see is retried as long as
// it is still ours (e.g. the tuner is stopped at home until `bpftune resume`).
TEST_P(LowMemory, BlindRevertsGiveUpVisibleOnesDoNot) {
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED, NS_X));
  const int attempts = tcp_buffer::LowMemoryMode::MAX_BLIND_REFUSALS;
  for (int i = 0; i < attempts; ++i) {
    EXPECT_EQ(only(run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL, NS_Y), false),
                   ScenarioId::LOW_MEM_LEAVE)
                  .size(),
              4u);
  }
  auto last =
      only(run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL, NS_Y), false), ScenarioId::LOW_MEM_LEAVE);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0].tunable, TunableId::HIGH_ORDER_ALLOC_DISABLE);
  EXPECT_EQ(world.highOrder, 1);
  run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL, NS_Y));
  EXPECT_EQ(world.highOrder, 0);
  EXPECT_EQ(world.netns[NS_X].noMetrics, 1);  // given up
}

// A new episode before the last was undone: the original stays the value to return to, and a
// revert bigger than the policy's 25 % step takes several requests.
TEST_P(LowMemory, NewEpisodeKeepsTheOriginalAndRevertsInSteps) {
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED));
  run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL), false);
  run(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED));
  EXPECT_EQ(world.netns[NS_X].synBacklog, entered(entered(1024)));
  int requests = 0;
  while (world.netns[NS_X].synBacklog != 1024 && requests < 5) {
    auto leave = only(run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL)), ScenarioId::LOW_MEM_LEAVE);
    for (const Proposal& p : leave) {
      EXPECT_TRUE(fitsPolicy(p.oldValues, p.newValues)) << p.why;
    }
    ++requests;
  }
  EXPECT_EQ(world.netns[NS_X].synBacklog, 1024);
  EXPECT_EQ(world.netns[NS_X].noMetrics, 0);
  EXPECT_TRUE(run(memEvent(TCP_BUFFER_EV_MEM_NORMAL, NORMAL)).empty());
}

// tcp_mem exists only in the init netns: a collector elsewhere has no memory state.
TEST_P(LowMemory, WithoutTcpMemNothingHappens) {
  CurrentValues c = world.current(NS_X);
  c.sysctls.erase(TunableId::TCP_MEM);
  EXPECT_TRUE(tuner->onEvent(memEvent(TCP_BUFFER_EV_MEM_EXHAUSTION, EXHAUSTED), c).empty());
}

INSTANTIATE_TEST_SUITE_P(Rates, LowMemory, ::testing::Range(0, 5));

}  // namespace
}  // namespace bpftune::tuners
