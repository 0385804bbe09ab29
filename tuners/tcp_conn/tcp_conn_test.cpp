// The tcp_conn tuner against a simulated kernel: paths that give each algorithm a rate and a
// loss, routes the tuner's proposals install (the actuator's compare-and-set included), and the
// replies the collector passes back.
#include <sys/socket.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tcp_conn_tuner.h"

namespace bpftune::tuners {
namespace {

using proto::CongAlg;
using proto::Status;

constexpr uint64_t NS_A = 4242;
constexpr uint64_t NS_B = 4343;
constexpr uint64_t SECOND = 1000ULL * 1000 * 1000;
constexpr int64_t MSS = 1448;

HostAddress host(const char* text) {
  return *HostAddress::parse(text);
}

const HostAddress A = host("10.225.1.2");
const HostAddress B = host("10.225.2.2");

// One connection as it closes.
struct Conn {
  CongAlg alg = CongAlg::CUBIC;
  double mbit = 190;
  int64_t minRttUs = 20000;
  int64_t segsOut = 2000;
  int64_t retrans = 0;
  bool ecn = false;
};

// A path: each algorithm's rate (Mbit/s), ±noise, and the fraction of segments retransmitted.
struct Path {
  std::map<CongAlg, double> mbit;
  double loss = 0;
  double noise = 0.03;
  bool ecn = false;
};

Path clean() {
  return Path{{{CongAlg::RENO, 190},
               {CongAlg::CUBIC, 190},
               {CongAlg::BBR, 190},
               {CongAlg::HTCP, 190},
               {CongAlg::DCTCP, 190}}};
}

// 1 % retransmits: under the 1/64 fast path, so only learning can find bbr.
Path lossyLearning() {
  return Path{{{CongAlg::RENO, 50},
               {CongAlg::CUBIC, 60},
               {CongAlg::BBR, 185},
               {CongAlg::HTCP, 70},
               {CongAlg::DCTCP, 40}},
              0.01};
}

bpftune_event closedEvent(
    uint64_t netns, const HostAddress& to, const Conn& c, CongAlg nsDefault, uint64_t ts) {
  bpftune_event ev{};
  ev.tuner = BPFTUNE_TUNER_TCP_CONN;
  ev.kind = TCP_CONN_EV_CLOSED;
  ev.netns_cookie = netns;
  ev.ts_ns = ts;
  const int64_t delivered = c.segsOut - c.retrans;
  ev.value = delivered * MSS;
  ev.limit = static_cast<int64_t>(static_cast<double>(ev.value) * 8 / c.mbit);  // µs
  ev.srtt_us = static_cast<uint32_t>(c.minRttUs + 500);
  ev.ns_values[0] = delivered;
  ev.ns_values[1] = c.retrans;
  ev.ns_values[2] = c.segsOut;
  ev.ns_values[3] = c.segsOut - 1;
  ev.detail[0] = c.minRttUs;
  ev.detail[1] = 10;
  ev.detail[2] = 1000;
  ev.detail[3] = MSS;
  ev.sysctl[0] = static_cast<int64_t>(c.alg);
  ev.sysctl[1] = static_cast<int64_t>(nsDefault);
  ev.sysctl[2] = c.ecn ? 1 : 0;
  ev.family = to.family;
  std::copy(to.bytes.begin(), to.bytes.end(), ev.daddr);
  ev.dport = 5201;
  return ev;
}

TcpConnConfig config(std::vector<CongAlg> candidates, uint64_t seed = 1) {
  TcpConnConfig c;
  c.candidates = std::move(candidates);
  c.seed = seed;
  return c;
}

// The kernel's routes of ours per (netns, host) and an actuator that applies a proposal when its
// old value matches the route (else STALE with the live one), unless told to answer otherwise.
class Sim {
public:
  explicit Sim(const TcpConnConfig& cfg, CongAlg nsDefault = CongAlg::CUBIC)
      : tuner(makeTcpConnTuner(cfg)), nsDefault(nsDefault) {}

  CongAlg& route(uint64_t netns, const HostAddress& to) { return routes[{netns, to}]; }
  CongAlg algFor(uint64_t netns, const HostAddress& to) {
    CongAlg r = route(netns, to);
    return r == CongAlg::NONE ? nsDefault : r;
  }

  std::vector<Proposal> close(uint64_t netns, const HostAddress& to, const Conn& c) {
    now += SECOND / 10;
    auto proposals = tuner->onEvent(closedEvent(netns, to, c, nsDefault, now), {});
    for (const Proposal& p : proposals) {
      EXPECT_EQ(p.tuner, TunerId::TCP_CONN);
      EXPECT_EQ(p.tunable, TunableId::ROUTE_CONGCTL);
      EXPECT_EQ(p.netnsCookie, netns);
      EXPECT_EQ(p.host, to);
      EXPECT_EQ(p.oldValues.count, 1);
      EXPECT_EQ(p.newValues.count, 1);
      EXPECT_NE(p.oldValues, p.newValues) << p.why;  // never a no-op
      EXPECT_FALSE(p.why.empty());
      log.push_back(p);
      if (answer) {
        reply(p);
      }
    }
    return proposals;
  }

  // A connection over `path` with whatever algorithm the route (or the default) gives it.
  std::vector<Proposal> run(uint64_t netns, const HostAddress& to, const Path& path) {
    Conn c;
    c.alg = algFor(netns, to);
    const double jitter = std::uniform_real_distribution<double>(-path.noise, path.noise)(noise);
    c.mbit = path.mbit.at(c.alg) * (1 + jitter);
    c.retrans = static_cast<int64_t>(static_cast<double>(c.segsOut) * path.loss);
    c.ecn = path.ecn;
    ++onAlg[c.alg];
    return close(netns, to, c);
  }

  void reply(const Proposal& p) {
    CongAlg& r = route(p.netnsCookie, p.host);
    const Values live{1, {static_cast<int64_t>(r), 0, 0}};
    if (forced) {
      tuner->onResult(p, false);
      tuner->onReply(p, *forced, live);
      return;
    }
    if (p.oldValues.v[0] != static_cast<int64_t>(r)) {
      tuner->onResult(p, false);
      tuner->onReply(p, Status::STALE, live);
      return;
    }
    r = static_cast<CongAlg>(p.newValues.v[0]);
    tuner->onResult(p, true);
    tuner->onReply(p, Status::OK, Values{1, {p.newValues.v[0], 0, 0}});
  }

  nlohmann::json status() const { return nlohmann::json::parse(tuner->statusJson()); }

  std::unique_ptr<Tuner> tuner;
  CongAlg nsDefault;
  uint64_t now = SECOND;
  bool answer = true;
  std::optional<Status> forced;
  std::vector<Proposal> log;
  std::map<CongAlg, int> onAlg;

private:
  std::map<std::pair<uint64_t, HostAddress>, CongAlg> routes;
  std::mt19937 noise{7};
};

int64_t newAlg(const Proposal& p) {
  return p.newValues.v[0];
}

constexpr int64_t alg(CongAlg a) {
  return static_cast<int64_t>(a);
}

// The route once an exploration at random in progress (one connection long) has returned.
CongAlg settle(Sim& sim, uint64_t netns, const HostAddress& to, const Path& path) {
  for (int i = 0; i < 20; ++i) {
    auto last = std::find_if(sim.log.rbegin(), sim.log.rend(), [&](const Proposal& p) {
      return p.netnsCookie == netns && p.host == to;
    });
    if (last == sim.log.rend() || last->why.find("at random") == std::string::npos) {
      break;
    }
    sim.run(netns, to, path);
  }
  return sim.route(netns, to);
}

Conn lossyConn(CongAlg a, int64_t segsOut = 10000, int64_t retrans = 300) {
  Conn c;
  c.alg = a;
  c.mbit = 60;
  c.segsOut = segsOut;
  c.retrans = retrans;
  return c;
}

TEST(TcpConnTuner, Basics) {
  auto t = makeTcpConnTuner(config({CongAlg::BBR}));
  EXPECT_EQ(t->id(), TunerId::TCP_CONN);
  EXPECT_EQ(t->name(), "tcp_conn");
  EXPECT_TRUE(t->tunables().empty());  // nothing the collector could read for it
  bpftune_event other = closedEvent(NS_A, A, lossyConn(CongAlg::CUBIC), CongAlg::CUBIC, 1);
  other.tuner = BPFTUNE_TUNER_TCP_BUFFER;
  EXPECT_TRUE(t->onEvent(other, {}).empty());
}

TEST(TcpConnTuner, LearnsBbrOnALossyHost) {
  Sim sim(config({CongAlg::RENO, CongAlg::BBR}));
  for (int i = 0; i < 200; ++i) {
    sim.run(NS_A, A, lossyLearning());
  }
  EXPECT_EQ(settle(sim, NS_A, A, lossyLearning()), CongAlg::BBR);
  EXPECT_GT(sim.onAlg[CongAlg::BBR], 170);
  // Every proposal was learning, none the loss fast path (1 % < 1/64).
  for (const Proposal& p : sim.log) {
    EXPECT_NE(p.scenario, ScenarioId::CONGCTL_LOSS);
  }
}

TEST(TcpConnTuner, SelectsWithTheNumbersInTheWhy) {
  // bbr tried first, then reno: the greedy choice brings bbr back.
  TcpConnConfig c = config({CongAlg::BBR, CongAlg::RENO});
  c.epsilon = 0;
  Sim sim(c, CongAlg::CUBIC);
  for (int i = 0; i < 8; ++i) {
    sim.run(NS_A, A, lossyLearning());
  }
  ASSERT_EQ(sim.log.size(), 3U);
  EXPECT_EQ(sim.log[2].scenario, ScenarioId::CONGCTL_SELECT);
  EXPECT_EQ(newAlg(sim.log[2]), alg(CongAlg::BBR));
  const std::string& why = sim.log[2].why;
  EXPECT_NE(why.find("host 10.225.1.2: 6 connections, bbr cost 0.00 vs reno 0.7"),
            std::string::npos)
      << why;
  EXPECT_NE(why.find("Mbit/s"), std::string::npos) << why;
  EXPECT_NE(why.find(" (rate 1"), std::string::npos) << why;
  EXPECT_NE(why.find("min_rtt 20000 vs 20000 us"), std::string::npos) << why;
}

TEST(TcpConnTuner, LossFastPathConvergesAtOnce) {
  // 3 % loss for every algorithm: bbr keeps retransmitting too, and stays.
  Path p = lossyLearning();
  p.loss = 0.03;
  Sim sim(config({CongAlg::RENO, CongAlg::BBR}));
  auto first = sim.run(NS_A, A, p);
  ASSERT_EQ(first.size(), 1U);
  EXPECT_EQ(first[0].scenario, ScenarioId::CONGCTL_LOSS);
  EXPECT_EQ(newAlg(first[0]), alg(CongAlg::BBR));
  EXPECT_EQ(first[0].oldValues.v[0], alg(CongAlg::NONE));
  EXPECT_NE(first[0].why.find("a cubic connection retransmitted 60 of 2000 segments (3.00 % > "
                              "1/64): bbr for new connections"),
            std::string::npos)
      << first[0].why;
  for (int i = 0; i < 100; ++i) {
    sim.run(NS_A, A, p);
  }
  EXPECT_EQ(sim.log.size(), 1U);
  EXPECT_EQ(sim.route(NS_A, A), CongAlg::BBR);
}

TEST(TcpConnTuner, LossFastPathRules) {
  {
    // Default bbr, our route reno: withdrawing the route gives bbr.
    // Default bbr (not a candidate), our route reno: withdrawing the route gives bbr.
    TcpConnConfig c = config({CongAlg::RENO});
    c.epsilon = 0;
    Sim sim(c, CongAlg::BBR);
    for (int i = 0; i < 4; ++i) {
      sim.run(NS_A, A, clean());
    }
    ASSERT_EQ(sim.route(NS_A, A), CongAlg::RENO);
    auto p = sim.close(NS_A, A, lossyConn(CongAlg::RENO));
    ASSERT_EQ(p.size(), 1U);
    EXPECT_EQ(p[0].scenario, ScenarioId::CONGCTL_LOSS);
    EXPECT_EQ(p[0].oldValues.v[0], alg(CongAlg::RENO));
    EXPECT_EQ(newAlg(p[0]), alg(CongAlg::NONE));
    EXPECT_NE(p[0].why.find("bbr (the namespace default, no route) for new connections"),
              std::string::npos)
        << p[0].why;
    EXPECT_EQ(sim.route(NS_A, A), CongAlg::NONE);
  }
  {
    // bbr neither allowed nor the default: no fast path.
    Sim sim(config({CongAlg::RENO}));
    for (int i = 0; i < 3; ++i) {
      EXPECT_TRUE(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC)).empty());
    }
  }
  {
    // Too few segments, or exactly 1/64: no fast path.
    Sim sim(config({CongAlg::BBR}));
    EXPECT_TRUE(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC, 200, 100)).empty());
    EXPECT_TRUE(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC, 6400, 100)).empty());
    EXPECT_EQ(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC, 6400, 101)).size(), 1U);
  }
  {
    // A connection too lossy to deliver minSegments still fires it.
    Sim sim(config({CongAlg::BBR}));
    auto p = sim.close(NS_A, A, lossyConn(CongAlg::CUBIC, 300, 250));
    ASSERT_EQ(p.size(), 1U);
    EXPECT_EQ(p[0].scenario, ScenarioId::CONGCTL_LOSS);
    EXPECT_EQ(sim.status()["recent"][0]["connections"], 0);
  }
}

TEST(TcpConnTuner, CleanHostStaysOnTheDefault) {
  Sim sim(config({CongAlg::RENO, CongAlg::BBR, CongAlg::CUBIC}), CongAlg::BBR);
  for (int i = 0; i < 400; ++i) {
    sim.run(NS_A, A, clean());
  }
  EXPECT_EQ(settle(sim, NS_A, A, clean()), CongAlg::NONE);
  EXPECT_GT(sim.onAlg[CongAlg::BBR], 340);
  // Besides tries, every selection withdrew the route: none forced another algorithm.
  int selects = 0;
  for (const Proposal& p : sim.log) {
    if (p.scenario == ScenarioId::CONGCTL_SELECT) {
      ++selects;
      EXPECT_EQ(newAlg(p), alg(CongAlg::NONE)) << p.why;
    }
  }
  EXPECT_GT(selects, 0);
}

TEST(TcpConnTuner, HysteresisKeepsTheDefaultForASmallGain) {
  // reno 5 % faster than the default: inside the 0.10 margin, no route.
  Path p = clean();
  p.mbit[CongAlg::RENO] = 200;
  p.noise = 0;
  TcpConnConfig c = config({CongAlg::RENO});
  c.epsilon = 0;
  Sim sim(c);
  for (int i = 0; i < 50; ++i) {
    sim.run(NS_A, A, p);
  }
  EXPECT_EQ(sim.route(NS_A, A), CongAlg::NONE);
  // 25 % faster: the route stays.
  p.mbit[CongAlg::RENO] = 250;
  Sim faster(c);
  for (int i = 0; i < 50; ++i) {
    faster.run(NS_A, A, p);
  }
  EXPECT_EQ(faster.route(NS_A, A), CongAlg::RENO);
  EXPECT_EQ(faster.log.size(), 1U);  // explored once, kept: no churn
}

TEST(TcpConnTuner, TwoHostsGetDifferentChoices) {
  Sim sim(config({CongAlg::RENO, CongAlg::BBR}));
  for (int i = 0; i < 200; ++i) {
    sim.run(NS_A, A, lossyLearning());
    sim.run(NS_A, B, clean());
  }
  EXPECT_EQ(settle(sim, NS_A, A, lossyLearning()), CongAlg::BBR);
  EXPECT_EQ(settle(sim, NS_A, B, clean()), CongAlg::NONE);
}

TEST(TcpConnTuner, UntriedAlgorithmsFirstInOrderFromTheFourthConnection) {
  TcpConnConfig c = config({CongAlg::RENO, CongAlg::BBR, CongAlg::HTCP});
  c.epsilon = 0;
  Sim sim(c);
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(sim.run(NS_A, A, clean()).empty()) << i;
  }
  std::vector<int64_t> order;
  for (int i = 0; i < 20; ++i) {
    for (const Proposal& p : sim.run(NS_A, A, clean())) {
      order.push_back(newAlg(p));
      EXPECT_EQ(p.scenario,
                order.size() <= 3 ? ScenarioId::CONGCTL_EXPLORE : ScenarioId::CONGCTL_SELECT);
    }
  }
  EXPECT_EQ(order,
            (std::vector<int64_t>{
                alg(CongAlg::RENO), alg(CongAlg::BBR), alg(CongAlg::HTCP), alg(CongAlg::NONE)}));
  EXPECT_NE(sim.log[0].why.find("host 10.225.1.2: 4 connections, reno untried (cubic cost 0.00 "
                                "from 4 at "),
            std::string::npos)
      << sim.log[0].why;
}

TEST(TcpConnTuner, CandidatesAreCleaned) {
  // NONE, duplicates and values outside the enum are no algorithms to route.
  TcpConnConfig c = config({CongAlg::NONE, CongAlg::RENO, CongAlg::RENO, static_cast<CongAlg>(9)});
  c.epsilon = 0;
  Sim sim(c);
  std::vector<int64_t> asked;
  for (int i = 0; i < 30; ++i) {
    for (const Proposal& p : sim.run(NS_A, A, clean())) {
      asked.push_back(newAlg(p));
    }
  }
  EXPECT_EQ(asked, (std::vector<int64_t>{alg(CongAlg::RENO), alg(CongAlg::NONE)}));
}

TEST(TcpConnTuner, AnUntriedRouteIsAwaitedThenPassedOver) {
  // The application picks its own algorithm (cubic) whatever the route says.
  TcpConnConfig c = config({CongAlg::RENO, CongAlg::BBR});
  c.epsilon = 0;
  Sim sim(c, CongAlg::BBR);
  Conn own;
  own.alg = CongAlg::CUBIC;
  for (int i = 0; i < 3; ++i) {
    sim.close(NS_A, A, own);
  }
  // 4th: bbr (no route) never measured in 4 connections: reno is tried instead.
  auto p = sim.close(NS_A, A, own);
  ASSERT_EQ(p.size(), 1U);
  EXPECT_EQ(newAlg(p[0]), alg(CongAlg::RENO));
  // While reno is routed and unmeasured, the tuner waits.
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(sim.close(NS_A, A, own).empty());
  }
  EXPECT_EQ(sim.log.size(), 1U);
  // Passed over after 4, then bbr is tried by withdrawing the route, passed over in turn, and
  // nothing is asked any more.
  for (int i = 0; i < 20; ++i) {
    sim.close(NS_A, A, own);
  }
  ASSERT_EQ(sim.log.size(), 2U);
  EXPECT_EQ(newAlg(sim.log[1]), alg(CongAlg::NONE));
}

double exploreRate(uint64_t seed, int connections) {
  Sim sim(config({CongAlg::RENO, CongAlg::BBR, CongAlg::CUBIC}, seed), CongAlg::BBR);
  for (int i = 0; i < connections; ++i) {
    sim.run(NS_A, A, clean());
  }
  int random = 0;
  for (const Proposal& p : sim.log) {
    random += p.why.find("at random") != std::string::npos ? 1 : 0;
  }
  return static_cast<double>(random) / connections;
}

TEST(TcpConnTuner, EpsilonExplorationRateWithinBounds) {
  // 4000 decisions at epsilon 5 % (a random pick equal to the current route proposes nothing,
  // which costs a little): mean ~ 0.049, sd ~ 0.0034.
  for (uint64_t seed : {1, 2, 3, 42, 4242}) {
    const double rate = exploreRate(seed, 4000);
    EXPECT_GT(rate, 0.037) << seed;
    EXPECT_LT(rate, 0.062) << seed;
  }
  TcpConnConfig none = config({CongAlg::RENO, CongAlg::BBR, CongAlg::CUBIC});
  none.epsilon = 0;
  Sim sim(none, CongAlg::BBR);
  for (int i = 0; i < 1000; ++i) {
    sim.run(NS_A, A, clean());
  }
  for (const Proposal& p : sim.log) {
    EXPECT_EQ(p.why.find("at random"), std::string::npos) << p.why;
  }
}

TEST(TcpConnTuner, SameSeedSameChoicesOtherSeedOthers) {
  auto whys = [](uint64_t seed) {
    Sim sim(config({CongAlg::RENO, CongAlg::BBR, CongAlg::CUBIC}, seed), CongAlg::BBR);
    for (int i = 0; i < 500; ++i) {
      sim.run(NS_A, A, clean());
    }
    std::vector<std::string> out;
    for (const Proposal& p : sim.log) {
      out.push_back(p.why);
    }
    return out;
  };
  EXPECT_EQ(whys(9), whys(9));
  EXPECT_NE(whys(9), whys(10));
}

TEST(TcpConnTuner, LruCapForgetsTheLeastRecentlySeenHost) {
  TcpConnConfig c = config({CongAlg::BBR});
  c.maxHosts = 3;
  Sim sim(c);
  Conn ok;
  sim.close(NS_A, host("10.0.0.1"), ok);
  sim.close(NS_A, host("10.0.0.2"), ok);
  sim.close(NS_A, host("10.0.0.3"), ok);
  sim.close(NS_A, host("10.0.0.1"), ok);
  sim.close(NS_A, host("10.0.0.4"), ok);
  auto s = sim.status();
  EXPECT_EQ(s["hosts"], 3);
  EXPECT_EQ(s["max_hosts"], 3);
  EXPECT_EQ(s["evicted"], 1);
  std::vector<std::string> recent;
  for (const auto& row : s["recent"]) {
    recent.push_back(row["host"]);
  }
  EXPECT_EQ(recent, (std::vector<std::string>{"10.0.0.4", "10.0.0.1", "10.0.0.3"}));
  EXPECT_EQ(s["recent"][1]["connections"], 2);
}

TEST(TcpConnTuner, ControlConnectionsAreNotMeasured) {
  Sim sim(config({CongAlg::BBR}));
  Conn control;
  control.segsOut = 10;  // the spike's iperf3 control connection
  control.mbit = 891;
  for (int i = 0; i < 10; ++i) {
    EXPECT_TRUE(sim.close(NS_A, A, control).empty());
  }
  auto s = sim.status();
  EXPECT_EQ(s["hosts"], 0);  // not even a slot
  EXPECT_EQ(s["totals"]["skipped"]["small"], 10);
  EXPECT_EQ(s["totals"]["measured"], 0);
  // Nor an algorithm outside the enum.
  Conn vegas;
  vegas.alg = CongAlg::NONE;
  EXPECT_TRUE(sim.close(NS_A, A, vegas).empty());
  EXPECT_EQ(sim.status()["totals"]["skipped"]["algorithm"], 1);
}

TEST(TcpConnTuner, DctcpOnlyWithEcn) {
  Path p = clean();
  p.mbit[CongAlg::DCTCP] = 400;
  TcpConnConfig c = config({CongAlg::RENO, CongAlg::DCTCP});
  Sim sim(c);
  for (int i = 0; i < 300; ++i) {
    sim.run(NS_A, A, p);
  }
  for (const Proposal& prop : sim.log) {
    EXPECT_NE(newAlg(prop), alg(CongAlg::DCTCP)) << prop.why;
  }
  EXPECT_EQ(sim.onAlg[CongAlg::DCTCP], 0);
  // The host's connections negotiate ECN: dctcp is tried and wins.
  p.ecn = true;
  for (int i = 0; i < 50; ++i) {
    sim.run(NS_A, A, p);
  }
  EXPECT_EQ(settle(sim, NS_A, A, p), CongAlg::DCTCP);
  // A connection without ECN: dctcp is withdrawn at once.
  Conn plain;
  plain.alg = CongAlg::DCTCP;
  plain.mbit = 400;
  auto away = sim.close(NS_A, A, plain);
  ASSERT_EQ(away.size(), 1U);
  EXPECT_EQ(away[0].oldValues.v[0], alg(CongAlg::DCTCP));
  EXPECT_NE(newAlg(away[0]), alg(CongAlg::DCTCP));
}

TEST(TcpConnTuner, StaleRepliesTeachTheLiveRoute) {
  Sim sim(config({CongAlg::RENO, CongAlg::BBR}));
  sim.route(NS_A, A) = CongAlg::RENO;  // ours from before a restart
  auto first = sim.close(NS_A, A, lossyConn(CongAlg::RENO));
  ASSERT_EQ(first.size(), 1U);
  EXPECT_EQ(first[0].oldValues.v[0], alg(CongAlg::NONE));  // believed: no route
  EXPECT_EQ(sim.route(NS_A, A), CongAlg::RENO);            // refused as stale
  auto second = sim.close(NS_A, A, lossyConn(CongAlg::RENO));
  ASSERT_EQ(second.size(), 1U);
  EXPECT_EQ(second[0].oldValues.v[0], alg(CongAlg::RENO));
  EXPECT_EQ(sim.route(NS_A, A), CongAlg::BBR);
  EXPECT_EQ(sim.status()["recent"][0]["route"], "bbr");
}

TEST(TcpConnTuner, OverriddenHostIsLeftAloneForTheHoldoff) {
  TcpConnConfig c = config({CongAlg::BBR});
  c.overrideHoldoffNs = 600 * SECOND;
  Sim sim(c);
  sim.forced = Status::OVERRIDDEN;
  ASSERT_EQ(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC)).size(), 1U);
  EXPECT_EQ(sim.status()["recent"][0]["overridden"], true);
  for (int i = 0; i < 9; ++i) {
    sim.now += 60 * SECOND;
    EXPECT_TRUE(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC)).empty()) << i;
  }
  sim.now += 60 * SECOND;
  sim.forced.reset();
  ASSERT_EQ(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC)).size(), 1U);
  EXPECT_EQ(sim.route(NS_A, A), CongAlg::BBR);
  EXPECT_EQ(sim.status()["recent"][0]["overridden"], false);
}

TEST(TcpConnTuner, RejectedAlgorithmIsHeldBackThenDropped) {
  TcpConnConfig c = config({CongAlg::BBR});
  c.refusalHoldoffNs = 60 * SECOND;
  c.maxRefusals = 3;
  Sim sim(c);
  sim.forced = Status::REJECTED;
  auto lossy = [&] {
    return sim.close(NS_A, A, lossyConn(CongAlg::CUBIC)).size();
  };
  EXPECT_EQ(lossy(), 1U);
  EXPECT_EQ(lossy(), 0U);  // held back 60 s
  sim.now += 60 * SECOND;
  EXPECT_EQ(lossy(), 1U);  // second refusal: 120 s
  sim.now += 60 * SECOND;
  EXPECT_EQ(lossy(), 0U);
  sim.now += 60 * SECOND;
  EXPECT_EQ(lossy(), 1U);  // third refusal: dropped for this host
  sim.now += 3600 * SECOND;
  EXPECT_EQ(lossy(), 0U);
  // Another host may still have it.
  EXPECT_EQ(sim.close(NS_A, B, lossyConn(CongAlg::CUBIC)).size(), 1U);
  EXPECT_EQ(sim.status()["totals"]["replies"]["rejected"], 4);
}

TEST(TcpConnTuner, OneOutstandingProposalPerHost) {
  TcpConnConfig c = config({CongAlg::BBR});
  c.outstandingTimeoutNs = 30 * SECOND;
  Sim sim(c);
  sim.answer = false;
  ASSERT_EQ(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC)).size(), 1U);
  for (int i = 0; i < 20; ++i) {
    EXPECT_TRUE(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC)).empty());
  }
  // Another host is not blocked.
  EXPECT_EQ(sim.close(NS_A, B, lossyConn(CongAlg::CUBIC)).size(), 1U);
  // A lost answer is given up after the timeout.
  sim.now += 30 * SECOND;
  auto again = sim.close(NS_A, A, lossyConn(CongAlg::CUBIC));
  ASSERT_EQ(again.size(), 1U);
  EXPECT_EQ(sim.status()["totals"]["proposals"]["timed_out"], 1);
  // Held back by the collector (onResult without a reply): asked again on the next event.
  sim.tuner->onResult(again[0], false);
  EXPECT_EQ(sim.close(NS_A, A, lossyConn(CongAlg::CUBIC)).size(), 1U);
}

TEST(TcpConnTuner, GoneNamespaceIsForgotten) {
  Sim sim(config({CongAlg::BBR}));
  sim.forced = Status::GONE;
  sim.close(NS_A, A, Conn{});
  sim.close(NS_B, A, Conn{});
  ASSERT_EQ(sim.close(NS_A, B, lossyConn(CongAlg::CUBIC)).size(), 1U);
  auto s = sim.status();
  EXPECT_EQ(s["hosts"], 1);
  EXPECT_EQ(s["recent"][0]["netns"], NS_B);
}

TEST(TcpConnTuner, Ipv6HostsAreHostsOfTheirOwn) {
  const HostAddress six = host("fd25:1::2");
  Sim sim(config({CongAlg::RENO, CongAlg::BBR}));
  auto p = sim.close(NS_A, six, lossyConn(CongAlg::CUBIC));
  ASSERT_EQ(p.size(), 1U);
  EXPECT_EQ(p[0].host.family, AF_INET6);
  EXPECT_NE(p[0].why.find("host fd25:1::2: "), std::string::npos) << p[0].why;
  for (int i = 0; i < 100; ++i) {
    sim.run(NS_A, A, clean());
  }
  EXPECT_EQ(sim.route(NS_A, six), CongAlg::BBR);
  EXPECT_EQ(settle(sim, NS_A, A, clean()), CongAlg::NONE);
  // Link-local peers cannot have a host route: not tracked.
  EXPECT_TRUE(sim.close(NS_A, host("fe80::1"), lossyConn(CongAlg::CUBIC)).empty());
  EXPECT_EQ(sim.status()["hosts"], 2);
}

TEST(TcpConnTuner, NamespacesLearnSeparately) {
  Sim sim(config({CongAlg::RENO, CongAlg::BBR}));
  for (int i = 0; i < 150; ++i) {
    sim.run(NS_A, A, lossyLearning());
    sim.run(NS_B, A, clean());
  }
  EXPECT_EQ(settle(sim, NS_A, A, lossyLearning()), CongAlg::BBR);
  EXPECT_EQ(settle(sim, NS_B, A, clean()), CongAlg::NONE);
  EXPECT_EQ(sim.status()["hosts"], 2);
}

TEST(TcpConnTuner, StatusIsBoundedJson) {
  TcpConnConfig c = config({CongAlg::BBR});
  c.statusHosts = 64;
  Sim sim(c);
  for (int i = 0; i < 100; ++i) {
    sim.close(NS_A, host(("10.1.0." + std::to_string(i + 1)).c_str()), Conn{});
  }
  sim.close(NS_A, host("10.1.0.1"), lossyConn(CongAlg::CUBIC));
  auto s = sim.status();
  EXPECT_EQ(s["hosts"], 100);
  EXPECT_EQ(s["shown"], 64);
  ASSERT_EQ(s["recent"].size(), 64U);
  const auto& row = s["recent"][0];
  EXPECT_EQ(row["host"], "10.1.0.1");
  EXPECT_EQ(row["netns"], NS_A);
  EXPECT_EQ(row["connections"], 2);
  EXPECT_EQ(row["lossy"], 1);
  EXPECT_EQ(row["route"], "bbr");
  EXPECT_EQ(row["default"], "cubic");
  EXPECT_EQ(row["pending"], nullptr);
  ASSERT_EQ(row["algs"].size(), 1U);
  EXPECT_EQ(row["algs"][0]["alg"], "cubic");
  EXPECT_EQ(row["algs"][0]["count"], 2);
  EXPECT_EQ(row["algs"][0]["min_rtt_us"], 20000);
  EXPECT_GT(row["algs"][0]["max_rate_bps"].get<int64_t>(), 100000000);
  EXPECT_EQ(s["totals"]["proposals"]["loss"], 1);
  EXPECT_EQ(s["routed"], 1);
  // Empty: still a valid document.
  EXPECT_EQ(nlohmann::json::parse(makeTcpConnTuner({})->statusJson())["hosts"], 0);
}

}  // namespace
}  // namespace bpftune::tuners
