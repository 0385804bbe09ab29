// routeCongctl and socketCongctl through the engine, over a fake HostRoutes that behaves like the
// privileged writer (its own compare-and-set on the algorithm and the nexthop) and a kernel's
// routes: validation by field, the nexthop journaled before the write, compare-and-set, an
// administrator's host route winning, rollback deleting what bpftune added, crash recovery from
// the live route, and journal-only live switches with their rate.
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <map>
#include <vector>

#include "engine_fixture.h"

namespace bpftune::actuator {
namespace {

using namespace enginetest;  // NOLINT(google-build-using-namespace)

constexpr int64_t NONE = 0;
constexpr int64_t RENO = 1;
constexpr int64_t CUBIC = 2;
constexpr int64_t BBR = 3;
constexpr uint64_t CONTAINER = 8193;

constexpr const char* ROUTE_POLICY =
    "net.ipv4.tcp_rmem                   min=4096 max=2147483647 step=25% rate=20/10s\n"
    "net.route.host.congctl              min=0    max=5                   rate=40/10s\n"
    "net.persock.tcp.congestion_control  min=1    max=5                   rate=3/10s\n";

HostAddress host(const char* text) {
  return *HostAddress::parse(text);
}

// The route traffic to any host takes unless a test says otherwise: 10.0.0.0/8 via 10.0.0.1.
RouteLookup defaultCovering() {
  RouteLookup r;
  r.covering.table = RT_TABLE_MAIN;
  r.covering.gateway = host("10.0.0.1");
  r.covering.oif = 2;
  r.covering.ifname = "eth0";
  r.covering.coveringLen = 8;
  r.coveringType = RTN_UNICAST;
  r.coveringProtocol = RTPROT_STATIC;
  return r;
}

struct Call {
  std::string op;
  HostAddress host;
  int64_t alg = 0;
  uint32_t table = 0;
  journal::RouteNexthop nexthop;
};

// What the privileged writer and the kernel would do, per (netns, host).
class FakeRoutes : public HostRoutes {
public:
  explicit FakeRoutes(std::optional<journal::Writer>& journal) : journal(journal) {}

  Result<RouteLookup> lookup(uint64_t cookie, const HostAddress& h) override {
    ++lookups;
    if (cookie == goneCookie) {
      return makeError("netns gone", ENOENT);
    }
    return state(cookie, h);
  }
  bpftune::Status set(uint64_t cookie,
                      const HostAddress& h,
                      int64_t alg,
                      int64_t expectedAlg,
                      const journal::RouteNexthop& nexthop) override {
    calls.push_back({"set", h, alg, nexthop.table, nexthop});
    intentFirst = intentFirst && lastRecordIsIntent();
    if (setError != 0) {
      return makeError("kernel refused", setError);
    }
    RouteLookup& r = state(cookie, h);
    if (r.ourAlg != expectedAlg || !(nexthop == r.covering)) {
      return makeError("writer refused", ESTALE);
    }
    r.ourAlg = alg;
    r.ourTable = r.covering.table;
    r.ourNexthop = r.covering;
    r.ourOnlink = r.coveringOnlink;
    return Ok{};
  }
  bpftune::Status remove(uint64_t cookie, const HostAddress& h, uint32_t table) override {
    calls.push_back({"remove", h, 0, table, {}});
    intentFirst = intentFirst && lastRecordIsIntent();
    RouteLookup& r = state(cookie, h);
    r.ourAlg = NONE;
    r.ourTable = 0;
    r.ourNexthop = {};
    return Ok{};
  }

  RouteLookup& state(uint64_t cookie, const HostAddress& h) {
    return routes.try_emplace({cookie, h}, defaultCovering()).first->second;
  }
  bool lastRecordIsIntent() const {
    return journal && !journal->records().empty() &&
           journal->records().back().record.kind == RecordKind::INTENT;
  }

  std::optional<journal::Writer>& journal;
  std::map<std::pair<uint64_t, HostAddress>, RouteLookup> routes;
  std::vector<Call> calls;
  uint64_t goneCookie = 0;
  bool intentFirst = true;
  size_t lookups = 0;
  int setError = 0;  // nonzero: every set fails with it
};

class EngineRouteTest : public EngineTest {
protected:
  void SetUp() override {
    EngineTest::SetUp();
    putSysctl("ipv4/tcp_allowed_congestion_control", "reno bbr\n");
    auto parsed = policy::parsePolicy(ROUTE_POLICY);
    ASSERT_TRUE(parsed.ok()) << parsed.error().message;
    policy = *parsed;
    fake.emplace(writer);
    routes = &*fake;
    restart();
  }

  static policy::SetSysctl route(const char* h, int64_t expected, int64_t next) {
    policy::SetSysctl r;
    r.tuner = TunerId::TCP_CONN;
    r.scenario = ScenarioId::CONGCTL_SELECT;
    r.netnsCookie = COOKIE;
    r.tunable = TunableId::ROUTE_CONGCTL;
    r.count = 1;
    r.expected = {expected, 0, 0};
    r.newValues = {next, 0, 0};
    r.host = host(h);
    return r;
  }

  static ReportedLiveSwitch liveSwitch(const char* h) {
    ReportedLiveSwitch s;
    s.tuner = TunerId::TCP_CONN;
    s.netnsCookie = COOKIE;
    s.host = host(h);
    s.fromAlg = CUBIC;
    s.toAlg = BBR;
    s.socket = {40000, 443, 310, 9000};
    return s;
  }

  std::vector<journal::Record> recordsOf(RecordKind kind) const {
    std::vector<journal::Record> out;
    for (const auto& r : diskRecords()) {
      if (r.kind == kind) {
        out.push_back(r);
      }
    }
    return out;
  }

  std::optional<FakeRoutes> fake;
};

TEST_F(EngineRouteTest, PutsTheRouteWithTheNexthopJournaledBeforeTheWrite) {
  Answer a = engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_EQ(a.values[0], RENO);
  EXPECT_NE(a.reason.find("for 192.0.2.7 none -> reno: applied"), std::string::npos) << a.reason;
  ASSERT_EQ(fake->calls.size(), 1U);
  EXPECT_EQ(fake->calls[0].op, "set");
  EXPECT_EQ(fake->calls[0].nexthop, defaultCovering().covering);
  EXPECT_TRUE(fake->intentFirst);
  auto intents = recordsOf(RecordKind::INTENT);
  ASSERT_EQ(intents.size(), 1U);
  EXPECT_EQ(intents[0].host, host("192.0.2.7"));
  EXPECT_EQ(intents[0].route, defaultCovering().covering);
  EXPECT_EQ(intents[0].oldValues[0], NONE);
  EXPECT_EQ(intents[0].newValues[0], RENO);
  auto outcomes = recordsOf(RecordKind::OUTCOME);
  ASSERT_EQ(outcomes.size(), 1U);
  EXPECT_EQ(outcomes[0].result, OutcomeResult::APPLIED);
  EXPECT_EQ(outcomes[0].actual[0], RENO);
  EXPECT_EQ(outcomes[0].host, host("192.0.2.7"));
  expectVerified();
}

TEST_F(EngineRouteTest, CompareAndSetPerHost) {
  ASSERT_EQ(engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER).status, Status::OK);
  Answer stale = engine->setSysctl(route("192.0.2.7", NONE, BBR), TUNER);
  EXPECT_EQ(stale.status, Status::STALE);
  EXPECT_EQ(stale.field, "expected0");
  EXPECT_EQ(stale.values[0], RENO);
  // Another host of the same namespace is its own key.
  EXPECT_EQ(engine->setSysctl(route("192.0.2.8", NONE, BBR), TUNER).status, Status::OK);
  EXPECT_EQ(engine->setSysctl(route("192.0.2.7", RENO, BBR), TUNER).status, Status::OK);
  Answer same = engine->setSysctl(route("192.0.2.7", BBR, BBR), TUNER);
  EXPECT_EQ(same.status, Status::OK);
  EXPECT_NE(same.reason.find("nothing written"), std::string::npos) << same.reason;
  EXPECT_EQ(fake->calls.size(), 3U);
}

TEST_F(EngineRouteTest, AStaleNexthopIsRewrittenEvenForTheSameAlgorithm) {
  ASSERT_EQ(engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER).status, Status::OK);
  Answer same = engine->setSysctl(route("192.0.2.7", RENO, RENO), TUNER);
  EXPECT_NE(same.reason.find("nothing written"), std::string::npos) << same.reason;
  // The administrator moves the covering route to another gateway.
  fake->state(COOKIE, host("192.0.2.7")).covering.gateway = host("10.0.0.254");
  Answer refreshed = engine->setSysctl(route("192.0.2.7", RENO, RENO), TUNER);
  EXPECT_EQ(refreshed.status, Status::OK) << refreshed.reason;
  ASSERT_EQ(fake->calls.size(), 2U);
  EXPECT_EQ(fake->calls[1].nexthop.gateway, host("10.0.0.254"));
  EXPECT_EQ(fake->state(COOKIE, host("192.0.2.7")).ourNexthop.gateway, host("10.0.0.254"));
  EXPECT_EQ(recordsOf(RecordKind::INTENT).back().route.gateway, host("10.0.0.254"));
}

TEST_F(EngineRouteTest, RefusalsNameTheField) {
  auto refused = [this](const policy::SetSysctl& r) {
    Answer a = engine->setSysctl(r, TUNER);
    EXPECT_EQ(a.status, Status::REJECTED) << a.reason;
    return a;
  };
  Answer cubic = refused(route("192.0.2.7", NONE, CUBIC));
  EXPECT_EQ(cubic.field, "new0");
  EXPECT_NE(cubic.reason.find("cubic is not in net.ipv4.tcp_allowed_congestion_control (reno bbr)"),
            std::string::npos)
      << cubic.reason;
  EXPECT_EQ(refused(route("192.0.2.7", NONE, 9)).field, "new0");
  EXPECT_EQ(refused(route("127.0.0.1", NONE, RENO)).field, "hostAddress");
  EXPECT_EQ(refused(route("ff02::1", NONE, RENO)).field, "hostAddress");
  auto noHost = route("192.0.2.7", NONE, RENO);
  noHost.host = HostAddress{};
  EXPECT_EQ(refused(noHost).field, "hostFamily");
  auto badFamily = route("192.0.2.7", NONE, RENO);
  badFamily.host.family = 7;
  EXPECT_EQ(refused(badFamily).field, "hostFamily");
  // A sysctl takes no host.
  auto sysctl = request(TunableId::TCP_RMEM, RMEM0, RMEM1);
  sysctl.host = host("192.0.2.7");
  EXPECT_EQ(refused(sysctl).field, "hostFamily");
  // socketCongctl is journal only.
  auto live = route("192.0.2.7", CUBIC, BBR);
  live.tunable = TunableId::SOCKET_CONGCTL;
  live.scenario = ScenarioId::CONGCTL_LIVE_SWITCH;
  EXPECT_EQ(refused(live).field, "tunable");
  // No unicast route with a single nexthop: nothing to copy.
  fake->state(COOKIE, host("192.0.2.9")).coveringType = RTN_BLACKHOLE;
  EXPECT_EQ(refused(route("192.0.2.9", NONE, RENO)).field, "hostAddress");
  fake->state(COOKIE, host("192.0.2.10")).singleNexthop = false;
  EXPECT_EQ(refused(route("192.0.2.10", NONE, RENO)).field, "hostAddress");
  // A tunnel or a realm on the covering route: a copy without them would bypass it.
  RouteLookup& tunnel = fake->state(COOKIE, host("192.0.2.11"));
  tunnel.singleNexthop = false;
  tunnel.encap = true;
  Answer encap = refused(route("192.0.2.11", NONE, RENO));
  EXPECT_EQ(encap.field, "hostAddress");
  EXPECT_NE(encap.reason.find("tunnel encapsulation"), std::string::npos) << encap.reason;
  RouteLookup& classified = fake->state(COOKIE, host("192.0.2.12"));
  classified.singleNexthop = false;
  classified.realm = true;
  Answer realm = refused(route("192.0.2.12", NONE, RENO));
  EXPECT_EQ(realm.field, "hostAddress");
  EXPECT_NE(realm.reason.find("realm"), std::string::npos) << realm.reason;
  EXPECT_TRUE(fake->calls.empty());
  EXPECT_TRUE(recordsOf(RecordKind::INTENT).empty());
}

TEST_F(EngineRouteTest, AnAdministratorsHostRouteWinsAndIsJournaledOnce) {
  RouteLookup& admin = fake->state(COOKIE, host("192.0.2.7"));
  admin.covering.coveringLen = 32;
  admin.coveringProtocol = RTPROT_STATIC;
  Answer first = engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER);
  EXPECT_EQ(first.status, Status::OVERRIDDEN);
  EXPECT_EQ(first.field, "hostAddress");
  EXPECT_NE(first.reason.find("administrator's host route"), std::string::npos) << first.reason;
  Answer second = engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER);
  EXPECT_EQ(second.status, Status::OVERRIDDEN);
  EXPECT_NE(second.reason.find("for 192.0.2.7"), std::string::npos) << second.reason;
  auto overrides = recordsOf(RecordKind::OVERRIDE);
  ASSERT_EQ(overrides.size(), 1U);
  EXPECT_EQ(overrides[0].host, host("192.0.2.7"));
  EXPECT_EQ(overrides[0].route.coveringLen, 32);
  EXPECT_EQ(overrides[0].overrideSource, proto::OverrideSource::COMPARE_AND_SET);
  EXPECT_TRUE(fake->calls.empty());
  // Other hosts are still tuned; resume hands the host back once the admin's route is gone.
  EXPECT_EQ(engine->setSysctl(route("192.0.2.8", NONE, RENO), TUNER).status, Status::OK);
  admin = defaultCovering();
  Answer resumed = engine->resume(TunerId::TCP_CONN, COOKIE, ADMIN);
  EXPECT_NE(resumed.reason.find("for 192.0.2.7 in netns"), std::string::npos) << resumed.reason;
  EXPECT_EQ(engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER).status, Status::OK);
}

TEST_F(EngineRouteTest, AnAdministratorsCongctlOnTheCoveringRouteWins) {
  // `ip route add 10.0.0.0/8 via 10.0.0.1 congctl lock cubic`: their choice for those hosts.
  fake->state(COOKIE, host("192.0.2.7")).coveringCongctl = true;
  Answer first = engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER);
  EXPECT_EQ(first.status, Status::OVERRIDDEN);
  EXPECT_EQ(first.field, "hostAddress");
  EXPECT_NE(first.reason.find("carries an administrator's congctl"), std::string::npos)
      << first.reason;
  EXPECT_EQ(engine->setSysctl(route("192.0.2.7", NONE, BBR), TUNER).status, Status::OVERRIDDEN);
  auto overrides = recordsOf(RecordKind::OVERRIDE);
  ASSERT_EQ(overrides.size(), 1U);
  EXPECT_EQ(overrides[0].host, host("192.0.2.7"));
  EXPECT_EQ(overrides[0].overrideSource, proto::OverrideSource::COMPARE_AND_SET);
  EXPECT_TRUE(fake->calls.empty());
  // The congctl appears after bpftune's route: withdrawing ours hands the host back to it.
  ASSERT_EQ(engine->setSysctl(route("192.0.2.8", NONE, RENO), TUNER).status, Status::OK);
  fake->state(COOKIE, host("192.0.2.8")).coveringCongctl = true;
  Answer withdrawn = engine->setSysctl(route("192.0.2.8", RENO, NONE), TUNER);
  EXPECT_EQ(withdrawn.status, Status::OK) << withdrawn.reason;
  EXPECT_EQ(fake->state(COOKIE, host("192.0.2.8")).ourAlg, NONE);
  ASSERT_EQ(fake->calls.size(), 2U);
  EXPECT_EQ(fake->calls[1].op, "remove");
}

TEST_F(EngineRouteTest, NewHostRoutesAreCappedPerNamespace) {
  auto parsed = policy::parsePolicy(
      "net.route.host.congctl              min=0    max=5                   rate=5000/10s\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  policy = *parsed;
  restart();
  auto nth = [](size_t i) {
    static std::string text;
    text = "10.20." + std::to_string(i / 250) + "." + std::to_string(1 + i % 250);
    return text.c_str();
  };
  for (size_t i = 0; i < 1024; ++i) {
    ASSERT_EQ(engine->setSysctl(route(nth(i), NONE, RENO), TUNER).status, Status::OK) << i;
  }
  Answer over = engine->setSysctl(route(nth(1024), NONE, RENO), TUNER);
  EXPECT_EQ(over.status, Status::REJECTED);
  EXPECT_EQ(over.field, "routes");
  EXPECT_EQ(over.bound, 1024);
  EXPECT_NE(over.reason.find("1024 host routes of bpftune's in netns " + std::to_string(COOKIE)),
            std::string::npos)
      << over.reason;
  // Changing and withdrawing existing ones are always allowed; a withdrawal frees a place.
  EXPECT_EQ(engine->setSysctl(route(nth(0), RENO, BBR), TUNER).status, Status::OK);
  EXPECT_EQ(engine->setSysctl(route(nth(1), RENO, NONE), TUNER).status, Status::OK);
  EXPECT_EQ(engine->setSysctl(route(nth(1024), NONE, RENO), TUNER).status, Status::OK);
  EXPECT_EQ(engine->setSysctl(route(nth(1025), NONE, RENO), TUNER).status, Status::REJECTED);
  // Another namespace has its own cap; a restarted actuator counts from the journal.
  auto elsewhere = route(nth(1025), NONE, RENO);
  elsewhere.netnsCookie = CONTAINER;
  Answer other = engine->setSysctl(elsewhere, TUNER);
  EXPECT_EQ(other.status, Status::OK) << other.reason;
  restart();
  EXPECT_EQ(engine->setSysctl(route(nth(1025), NONE, RENO), TUNER).field, "routes");
}

TEST_F(EngineRouteTest, SomeoneEditingBpftunesRouteIsAnOverride) {
  ASSERT_EQ(engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER).status, Status::OK);
  fake->state(COOKIE, host("192.0.2.7")).ourAlg = BBR;  // `ip route replace ... proto 249`
  Answer a = engine->setSysctl(route("192.0.2.7", BBR, RENO), TUNER);
  EXPECT_EQ(a.status, Status::OVERRIDDEN);
  ASSERT_EQ(recordsOf(RecordKind::OVERRIDE).size(), 1U);
  EXPECT_EQ(recordsOf(RecordKind::OVERRIDE)[0].actual[0], BBR);
}

TEST_F(EngineRouteTest, TheWritersRefusalIsJournaledAsAFailedWrite) {
  // The covering nexthop changes between the engine's lookup and the writer's: the fake writer
  // compares what was journaled with what it finds, as the real one does.
  struct Racing : FakeRoutes {
    using FakeRoutes::FakeRoutes;
    bpftune::Status set(uint64_t cookie,
                        const HostAddress& h,
                        int64_t alg,
                        int64_t expectedAlg,
                        const journal::RouteNexthop& nexthop) override {
      state(cookie, h).covering.gateway = host("10.0.0.254");
      return FakeRoutes::set(cookie, h, alg, expectedAlg, nexthop);
    }
  };
  Racing racing(writer);
  routes = &racing;
  restart();
  Answer a = engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER);
  EXPECT_EQ(a.status, Status::FAILED);
  EXPECT_EQ(a.error, ESTALE);
  auto outcomes = recordsOf(RecordKind::OUTCOME);
  ASSERT_EQ(outcomes.size(), 1U);
  EXPECT_EQ(outcomes[0].result, OutcomeResult::WRITE_FAILED);
  EXPECT_EQ(outcomes[0].error, ESTALE);
  EXPECT_EQ(racing.state(COOKIE, host("192.0.2.7")).ourAlg, NONE);
  routes = &*fake;
}

TEST_F(EngineRouteTest, RollbackDeletesEveryRouteBpftuneAddedNewestFirst) {
  ASSERT_EQ(engine->setSysctl(route("192.0.2.7", NONE, RENO), TUNER).status, Status::OK);
  ASSERT_EQ(engine->setSysctl(route("2001:db8::7", NONE, BBR), TUNER).status, Status::OK);
  ASSERT_EQ(engine->setSysctl(route("192.0.2.7", RENO, BBR), TUNER).status, Status::OK);
  ASSERT_EQ(engine->setSysctl(route("192.0.2.8", NONE, RENO), TUNER).status, Status::OK);
  // An administrator's host route for .8 now wins; bpftune's route is still there, dormant.
  fake->state(COOKIE, host("192.0.2.8")).covering.coveringLen = 32;
  ASSERT_EQ(engine->setSysctl(route("192.0.2.8", RENO, BBR), TUNER).status, Status::OVERRIDDEN);
  fake->calls.clear();
  Answer a = engine->rollbackAll(ADMIN);
  EXPECT_EQ(a.status, Status::OK) << a.reason;
  ASSERT_EQ(fake->calls.size(), 3U);
  EXPECT_EQ(fake->calls[0].host, host("192.0.2.8"));
  EXPECT_EQ(fake->calls[1].host, host("192.0.2.7"));
  EXPECT_EQ(fake->calls[2].host, host("2001:db8::7"));
  for (const auto& call : fake->calls) {
    EXPECT_EQ(call.op, "remove");
    EXPECT_EQ(call.table, RT_TABLE_MAIN);
  }
  EXPECT_TRUE(fake->intentFirst);
  for (const char* h : {"192.0.2.7", "192.0.2.8", "2001:db8::7"}) {
    EXPECT_EQ(fake->state(COOKIE, host(h)).ourAlg, NONE) << h;
    EXPECT_NE(a.reason.find(std::string("deleted net.route.host.congctl for ") + h),
              std::string::npos)
        << a.reason;
  }
  // Nothing left to do the second time.
  fake->calls.clear();
  Answer again = engine->rollbackAll(ADMIN);
  EXPECT_TRUE(fake->calls.empty());
  EXPECT_NE(again.reason.find("already at the original none"), std::string::npos) << again.reason;
  expectVerified();
}

TEST_F(EngineRouteTest, RecoveryResolvesAnIntentFromTheLiveRoute) {
  journal::Record intent = intentRecord(BOOT, {NONE, 0, 0}, {RENO, 0, 0});
  intent.tuner = TunerId::TCP_CONN;
  intent.scenario = ScenarioId::CONGCTL_SELECT;
  intent.tunable = TunableId::ROUTE_CONGCTL;
  intent.count = 1;
  intent.host = host("192.0.2.7");
  intent.route = defaultCovering().covering;
  writer->append(intent);
  journal::Record unapplied = intent;
  unapplied.host = host("192.0.2.8");
  writer->append(unapplied);
  // The crash came after the writer put .7's route, before it could put .8's.
  fake->state(COOKIE, host("192.0.2.7")).ourAlg = RENO;
  restart();
  EXPECT_EQ(engine->recover(), 2U);
  auto recovered = recordsOf(RecordKind::RECOVERED);
  ASSERT_EQ(recovered.size(), 2U);
  EXPECT_EQ(recovered[0].host, host("192.0.2.7"));
  EXPECT_EQ(recovered[0].result, OutcomeResult::APPLIED);
  EXPECT_EQ(recovered[1].host, host("192.0.2.8"));
  EXPECT_EQ(recovered[1].result, OutcomeResult::NOT_APPLIED);
  // Compare-and-set continues from what recovery found; rollback deletes the applied one.
  EXPECT_EQ(engine->setSysctl(route("192.0.2.7", RENO, BBR), TUNER).status, Status::OK);
  EXPECT_EQ(engine->setSysctl(route("192.0.2.8", NONE, BBR), TUNER).status, Status::OK);
  EXPECT_EQ(engine->rollbackAll(ADMIN).status, Status::OK);
  EXPECT_EQ(fake->state(COOKIE, host("192.0.2.7")).ourAlg, NONE);
  EXPECT_EQ(fake->state(COOKIE, host("192.0.2.8")).ourAlg, NONE);
}

TEST_F(EngineRouteTest, AGoneNamespaceIsGone) {
  fake->goneCookie = CONTAINER;
  auto r = route("192.0.2.7", NONE, RENO);
  r.netnsCookie = CONTAINER;
  Answer a = engine->setSysctl(r, TUNER);
  EXPECT_EQ(a.status, Status::GONE);
  EXPECT_EQ(a.field, "netnsCookie");
}

TEST_F(EngineRouteTest, ReportedOverridesAreForSysctlsOnly) {
  ReportedOverride report{TunerId::TCP_CONN, COOKIE, TunableId::ROUTE_CONGCTL, 1, 0, "ip", 1, {}};
  Answer a = engine->reportOverride(report, TUNER);
  EXPECT_EQ(a.status, Status::REJECTED);
  EXPECT_EQ(a.field, "tunable");
}

TEST_F(EngineRouteTest, LiveSwitchesAreJournaledAndNothingIsWritten) {
  Answer a = engine->reportLiveSwitch(liveSwitch("192.0.2.7"), TUNER);
  ASSERT_EQ(a.status, Status::OK) << a.reason;
  EXPECT_NE(a.journalSeq, 0U);
  auto records = recordsOf(RecordKind::LIVE_SWITCH);
  ASSERT_EQ(records.size(), 1U);
  const journal::Record& r = records[0];
  EXPECT_EQ(r.tuner, TunerId::TCP_CONN);
  EXPECT_EQ(r.scenario, ScenarioId::CONGCTL_LIVE_SWITCH);
  EXPECT_EQ(r.tunable, TunableId::SOCKET_CONGCTL);
  EXPECT_EQ(r.host, host("192.0.2.7"));
  EXPECT_EQ(r.oldValues[0], CUBIC);
  EXPECT_EQ(r.newValues[0], BBR);
  EXPECT_EQ(r.socket, (journal::LiveSocket{40000, 443, 310, 9000}));
  EXPECT_EQ(r.requesterUid, TUNER.uid);
  EXPECT_TRUE(fake->calls.empty());
  // Not a change bpftune could roll back.
  EXPECT_NE(engine->rollbackAll(ADMIN).reason.find("nothing to roll back"), std::string::npos);
  // Journaled also while paused (it already happened), and answered PAUSED so the collector
  // switches nothing more.
  Answer paused = engine->reportLiveSwitch(liveSwitch("192.0.2.7"), TUNER);
  EXPECT_EQ(paused.status, Status::PAUSED);
  EXPECT_NE(paused.journalSeq, 0U);
  EXPECT_EQ(recordsOf(RecordKind::LIVE_SWITCH).size(), 2U);
}

// Malformed reports (no switch tcp_conn can have made) leave no record.
TEST_F(EngineRouteTest, LiveSwitchRefusalsNameTheField) {
  auto refused = [this](const ReportedLiveSwitch& s) {
    Answer a = engine->reportLiveSwitch(s, TUNER);
    EXPECT_EQ(a.status, Status::REJECTED) << a.reason;
    EXPECT_EQ(a.journalSeq, 0U);
    return a.field;
  };
  auto s = liveSwitch("192.0.2.7");
  s.tuner = TunerId::TCP_BUFFER;
  EXPECT_EQ(refused(s), "tuner");
  EXPECT_EQ(refused(liveSwitch("0.0.0.0")), "hostAddress");
  s = liveSwitch("192.0.2.7");
  s.host.family = 0;
  EXPECT_EQ(refused(s), "hostFamily");
  s = liveSwitch("192.0.2.7");
  s.fromAlg = 9;
  EXPECT_EQ(refused(s), "fromAlg");
  s = liveSwitch("192.0.2.7");
  s.toAlg = NONE;
  EXPECT_EQ(refused(s), "toAlg");
  s.toAlg = 9;
  EXPECT_EQ(refused(s), "toAlg");
  s = liveSwitch("192.0.2.7");
  s.netnsCookie = CONTAINER;  // no other namespace is reachable here
  EXPECT_EQ(refused(s), "netnsCookie");
  EXPECT_TRUE(recordsOf(RecordKind::LIVE_SWITCH).empty());
}

// Over the rate, the switch has happened all the same: journaled (error EBUSY), answered
// REJECTED so the collector holds back.
TEST_F(EngineRouteTest, LiveSwitchesOverThePolicysRateAreJournaledAndRejected) {
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(engine->reportLiveSwitch(liveSwitch("192.0.2.7"), TUNER).status, Status::OK) << i;
  }
  Answer over = engine->reportLiveSwitch(liveSwitch("192.0.2.8"), TUNER);
  EXPECT_EQ(over.status, Status::REJECTED);
  EXPECT_EQ(over.field, "tunable");
  EXPECT_EQ(over.bound, 3);
  EXPECT_NE(over.reason.find("net.persock.tcp.congestion_control within 10s exceeds 3"),
            std::string::npos)
      << over.reason;
  EXPECT_NE(over.reason.find("journaled as outside the policy"), std::string::npos) << over.reason;
  EXPECT_NE(over.journalSeq, 0U);
  auto records = recordsOf(RecordKind::LIVE_SWITCH);
  ASSERT_EQ(records.size(), 4U);
  EXPECT_EQ(records[2].error, 0);
  EXPECT_EQ(records[3].error, EBUSY);
  EXPECT_EQ(records[3].host, host("192.0.2.8"));
  EXPECT_EQ(records[3].seq, over.journalSeq);
  EXPECT_NE(journal::toText(records[3]).find("outside-policy error=" + std::to_string(EBUSY)),
            std::string::npos);
  EXPECT_NE(journal::toJson(records[3]).find("\"error\":" + std::to_string(EBUSY)),
            std::string::npos)
      << journal::toJson(records[3]);
  EXPECT_EQ(journal::toJson(records[2]).find("\"error\""), std::string::npos);
  // While paused, PAUSED wins (the collector stops until resume); still journaled.
  ASSERT_EQ(engine->rollbackAll(ADMIN).status, Status::OK);
  Answer paused = engine->reportLiveSwitch(liveSwitch("192.0.2.9"), TUNER);
  EXPECT_EQ(paused.status, Status::PAUSED);
  EXPECT_EQ(recordsOf(RecordKind::LIVE_SWITCH).size(), 5U);
}

// A collector that keeps switching against the policy (it ignores the refusals) cannot grow
// the journal without end: at most 40 such records per 10 s and netns, then refusals only.
TEST_F(EngineRouteTest, SwitchesOutsideThePolicyAreJournaledOnlyUpToACeiling) {
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(engine->reportLiveSwitch(liveSwitch("192.0.2.7"), TUNER).status, Status::OK) << i;
  }
  for (int i = 0; i < 40; ++i) {
    Answer over = engine->reportLiveSwitch(liveSwitch("192.0.2.8"), TUNER);
    ASSERT_EQ(over.status, Status::REJECTED) << i;
    ASSERT_NE(over.journalSeq, 0U) << i;
  }
  Answer flood = engine->reportLiveSwitch(liveSwitch("192.0.2.8"), TUNER);
  EXPECT_EQ(flood.status, Status::REJECTED);
  EXPECT_EQ(flood.journalSeq, 0U);
  EXPECT_NE(flood.reason.find("not journaled: more than 40 live switches outside the policy"),
            std::string::npos)
      << flood.reason;
  EXPECT_EQ(recordsOf(RecordKind::LIVE_SWITCH).size(), 43U);
}

TEST_F(EngineRouteTest, LiveSwitchesOutsideThePolicyAreJournaledAndRejected) {
  // Bounds: bbr (3) above a policy that allows reno and cubic only.
  auto parsed =
      policy::parsePolicy("net.route.host.congctl              min=0    max=5  rate=40/10s\n"
                          "net.persock.tcp.congestion_control  min=1    max=2  rate=3/10s\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  policy = *parsed;
  restart();
  Answer bound = engine->reportLiveSwitch(liveSwitch("192.0.2.7"), TUNER);
  EXPECT_EQ(bound.status, Status::REJECTED);
  EXPECT_EQ(bound.field, "toAlg");
  EXPECT_EQ(bound.bound, 2);
  EXPECT_NE(bound.journalSeq, 0U);
  // No policy line: not allowed at all, journaled all the same.
  parsed = policy::parsePolicy("net.route.host.congctl  min=0 max=5 rate=40/10s\n");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  policy = *parsed;
  restart();
  Answer missing = engine->reportLiveSwitch(liveSwitch("192.0.2.7"), TUNER);
  EXPECT_EQ(missing.status, Status::REJECTED);
  EXPECT_EQ(missing.field, "tunable");
  EXPECT_NE(missing.reason.find("not in the policy file"), std::string::npos) << missing.reason;
  auto records = recordsOf(RecordKind::LIVE_SWITCH);
  ASSERT_EQ(records.size(), 2U);
  EXPECT_EQ(records[0].error, ERANGE);
  EXPECT_EQ(records[1].error, EPERM);
  EXPECT_EQ(records[1].newValues[0], BBR);
  expectVerified();
}

// routeFollow: the actuator's periodic pass over bpftune's live host routes.
class EngineFollowTest : public EngineRouteTest {
protected:
  static constexpr int64_t T0 = 1'000'000'000'000;
  static constexpr int64_t SECOND = 1'000'000'000;

  void put(const char* h, int64_t alg) {
    ASSERT_EQ(engine->setSysctl(route(h, NONE, alg), TUNER).status, Status::OK) << h;
  }
  std::vector<journal::Record> followRecords(RecordKind kind) const {
    std::vector<journal::Record> out;
    for (const auto& r : recordsOf(kind)) {
      if (r.scenario == ScenarioId::ROUTE_FOLLOW) {
        out.push_back(r);
      }
    }
    return out;
  }
};

TEST_F(EngineFollowTest, FollowsAChangedGatewayWithTheSameAlgorithm) {
  put("192.0.2.7", RENO);
  fake->calls.clear();
  EXPECT_EQ(engine->followRoutes(T0), 0U);  // nothing moved
  EXPECT_TRUE(fake->calls.empty());
  fake->state(COOKIE, host("192.0.2.7")).covering.gateway = host("10.0.0.254");
  EXPECT_EQ(engine->followRoutes(T0 + 2 * SECOND), 1U);
  ASSERT_EQ(fake->calls.size(), 1U);
  EXPECT_EQ(fake->calls[0].op, "set");
  EXPECT_EQ(fake->calls[0].alg, RENO);
  EXPECT_TRUE(fake->intentFirst);
  const RouteLookup& now = fake->state(COOKIE, host("192.0.2.7"));
  EXPECT_EQ(now.ourAlg, RENO);
  EXPECT_EQ(now.ourNexthop.gateway, host("10.0.0.254"));
  auto intents = followRecords(RecordKind::INTENT);
  ASSERT_EQ(intents.size(), 1U);
  EXPECT_EQ(intents[0].tuner, TunerId::ACTUATOR);
  EXPECT_EQ(intents[0].host, host("192.0.2.7"));
  EXPECT_EQ(intents[0].oldValues[0], RENO);
  EXPECT_EQ(intents[0].newValues[0], RENO);
  EXPECT_EQ(intents[0].route.gateway, host("10.0.0.254"));
  auto outcomes = followRecords(RecordKind::OUTCOME);
  ASSERT_EQ(outcomes.size(), 1U);
  EXPECT_EQ(outcomes[0].result, OutcomeResult::APPLIED);
  // Done once; the tuner's belief (reno on the host) still holds for its next request.
  EXPECT_EQ(engine->followRoutes(T0 + 4 * SECOND), 0U);
  EXPECT_EQ(fake->calls.size(), 1U);
  EXPECT_EQ(engine->setSysctl(route("192.0.2.7", RENO, BBR), TUNER).status, Status::OK);
  expectVerified();
}

TEST_F(EngineFollowTest, FollowsTheDeviceSourceOnlinkAndTable) {
  put("192.0.2.7", RENO);
  put("192.0.2.8", RENO);
  put("192.0.2.9", BBR);
  put("192.0.2.10", BBR);
  fake->calls.clear();
  RouteLookup& dev = fake->state(COOKIE, host("192.0.2.7"));
  dev.covering.oif = 3;
  dev.covering.ifname = "eth1";
  fake->state(COOKIE, host("192.0.2.8")).covering.prefsrc = host("10.0.0.9");
  fake->state(COOKIE, host("192.0.2.9")).coveringOnlink = true;
  fake->state(COOKIE, host("192.0.2.10")).covering.table = 100;
  EXPECT_EQ(engine->followRoutes(T0), 4U);
  EXPECT_EQ(fake->state(COOKIE, host("192.0.2.7")).ourNexthop.oif, 3U);
  EXPECT_EQ(fake->state(COOKIE, host("192.0.2.8")).ourNexthop.prefsrc, host("10.0.0.9"));
  EXPECT_TRUE(fake->state(COOKIE, host("192.0.2.9")).ourOnlink);
  // Another table: out of the old one, then into the new one, both journaled.
  const RouteLookup& moved = fake->state(COOKIE, host("192.0.2.10"));
  EXPECT_EQ(moved.ourAlg, BBR);
  EXPECT_EQ(moved.ourTable, 100U);
  std::vector<std::string> ops;
  for (const auto& call : fake->calls) {
    if (call.host == host("192.0.2.10")) {
      ops.push_back(call.op + " " + std::to_string(call.table));
    }
  }
  EXPECT_EQ(ops, (std::vector<std::string>{"remove 254", "set 100"}));
  EXPECT_EQ(followRecords(RecordKind::INTENT).size(), 5U);
  EXPECT_EQ(engine->followRoutes(T0 + 2 * SECOND), 0U);
}

TEST_F(EngineFollowTest, WithdrawsWhenNoUnicastRouteCoversTheHostAnyMore) {
  put("192.0.2.7", RENO);
  put("192.0.2.8", RENO);
  put("192.0.2.9", BBR);
  fake->calls.clear();
  RouteLookup& removed = fake->state(COOKIE, host("192.0.2.7"));
  removed.coveringType = RTN_UNSPEC;
  removed.covering = {};
  removed.routeError = ENETUNREACH;
  fake->state(COOKIE, host("192.0.2.8")).coveringType = RTN_BLACKHOLE;
  fake->state(COOKIE, host("192.0.2.9")).singleNexthop = false;
  EXPECT_EQ(engine->followRoutes(T0), 3U);
  ASSERT_EQ(fake->calls.size(), 3U);
  for (const auto& call : fake->calls) {
    EXPECT_EQ(call.op, "remove");
    EXPECT_EQ(call.table, RT_TABLE_MAIN);
  }
  for (const char* h : {"192.0.2.7", "192.0.2.8", "192.0.2.9"}) {
    EXPECT_EQ(fake->state(COOKIE, host(h)).ourAlg, NONE) << h;
  }
  auto intents = followRecords(RecordKind::INTENT);
  ASSERT_EQ(intents.size(), 3U);
  EXPECT_EQ(intents[0].newValues[0], NONE);
  EXPECT_EQ(intents[0].route.table, RT_TABLE_MAIN);
  for (const auto& outcome : followRecords(RecordKind::OUTCOME)) {
    EXPECT_EQ(outcome.result, OutcomeResult::APPLIED);
  }
  // Nothing of ours left to follow; the tuner's next request learns it from a stale answer.
  fake->calls.clear();
  EXPECT_EQ(engine->followRoutes(T0 + 2 * SECOND), 0U);
  EXPECT_TRUE(fake->calls.empty());
  Answer stale = engine->setSysctl(route("192.0.2.8", RENO, BBR), TUNER);
  EXPECT_EQ(stale.status, Status::STALE) << stale.reason;
  EXPECT_EQ(stale.values[0], NONE);
  expectVerified();
}

TEST_F(EngineFollowTest, WithdrawsUnderAnAdministratorsLaterCongctlOnTheCoveringRoute) {
  put("192.0.2.7", RENO);
  fake->calls.clear();
  fake->state(COOKIE, host("192.0.2.7")).coveringCongctl = true;
  EXPECT_EQ(engine->followRoutes(T0), 1U);
  ASSERT_EQ(fake->calls.size(), 1U);
  EXPECT_EQ(fake->calls[0].op, "remove");
  EXPECT_EQ(fake->state(COOKIE, host("192.0.2.7")).ourAlg, NONE);
  auto outcomes = followRecords(RecordKind::OUTCOME);
  ASSERT_EQ(outcomes.size(), 1U);
  EXPECT_EQ(outcomes[0].newValues[0], NONE);
  EXPECT_EQ(outcomes[0].result, OutcomeResult::APPLIED);
}

TEST_F(EngineFollowTest, LeavesOverriddenKeysAndAdministratorsRoutesAlone) {
  put("192.0.2.7", RENO);
  put("192.0.2.8", RENO);
  put("192.0.2.9", RENO);
  fake->calls.clear();
  // .7: an administrator's host route now covers it (theirs wins in the kernel).
  RouteLookup& admin = fake->state(COOKIE, host("192.0.2.7"));
  admin.covering.coveringLen = 32;
  admin.covering.gateway = host("10.0.0.254");
  // .8: someone put another algorithm on bpftune's route, and the gateway moved.
  RouteLookup& edited = fake->state(COOKIE, host("192.0.2.8"));
  edited.ourAlg = BBR;
  edited.covering.gateway = host("10.0.0.254");
  // .9: journaled as overridden (the collector's compare-and-set saw .9's edit), then moved.
  fake->state(COOKIE, host("192.0.2.9")).ourAlg = BBR;
  ASSERT_EQ(engine->setSysctl(route("192.0.2.9", BBR, RENO), TUNER).status, Status::OVERRIDDEN);
  fake->state(COOKIE, host("192.0.2.9")).covering.gateway = host("10.0.0.254");
  EXPECT_EQ(engine->followRoutes(T0), 0U);
  EXPECT_TRUE(fake->calls.empty());
  EXPECT_TRUE(followRecords(RecordKind::INTENT).empty());
  // After a rollback (which deletes bpftune's routes and pauses) there is nothing to follow.
  ASSERT_EQ(engine->rollbackAll(ADMIN).status, Status::OK);
  fake->calls.clear();
  EXPECT_EQ(engine->followRoutes(T0 + 2 * SECOND), 0U);
  EXPECT_TRUE(fake->calls.empty());
}

TEST_F(EngineFollowTest, NothingMovesWhilePaused) {
  put("192.0.2.7", RENO);
  // A rollback that cannot delete .7's route (the writer fails) still pauses.
  struct FailingRemove : FakeRoutes {
    using FakeRoutes::FakeRoutes;
    bpftune::Status remove(uint64_t, const HostAddress&, uint32_t) override {
      return makeError("kernel refused", EIO);
    }
  };
  FailingRemove failing(writer);
  failing.state(COOKIE, host("192.0.2.7")) = fake->state(COOKIE, host("192.0.2.7"));
  routes = &failing;
  restart();
  EXPECT_EQ(engine->rollbackAll(ADMIN).status, Status::FAILED);
  EXPECT_EQ(failing.state(COOKIE, host("192.0.2.7")).ourAlg, RENO);
  failing.state(COOKIE, host("192.0.2.7")).covering.gateway = host("10.0.0.254");
  const size_t before = failing.lookups;
  EXPECT_EQ(engine->followRoutes(T0), 0U);
  EXPECT_EQ(failing.lookups, before);
  EXPECT_TRUE(failing.calls.empty());
  routes = &*fake;
}

TEST_F(EngineFollowTest, AFailingRouteBacksOffAndDoesNotSpin) {
  put("192.0.2.7", RENO);
  fake->calls.clear();
  fake->state(COOKIE, host("192.0.2.7")).covering.gateway = host("10.0.0.254");
  fake->setError = EHOSTUNREACH;
  auto attempts = [this] {
    return fake->calls.size();
  };
  EXPECT_EQ(engine->followRoutes(T0), 0U);
  EXPECT_EQ(attempts(), 1U);
  auto failed = followRecords(RecordKind::OUTCOME);
  ASSERT_EQ(failed.size(), 1U);
  EXPECT_EQ(failed[0].result, OutcomeResult::WRITE_FAILED);
  EXPECT_EQ(failed[0].error, EHOSTUNREACH);
  // Ticks every 2 s: tried again after 10 s, then after 20 s more, not in between.
  for (int64_t t = 2; t < 10; t += 2) {
    engine->followRoutes(T0 + t * SECOND);
  }
  EXPECT_EQ(attempts(), 1U);
  engine->followRoutes(T0 + 10 * SECOND);
  EXPECT_EQ(attempts(), 2U);
  for (int64_t t = 12; t < 30; t += 2) {
    engine->followRoutes(T0 + t * SECOND);
  }
  EXPECT_EQ(attempts(), 2U);
  engine->followRoutes(T0 + 30 * SECOND);
  EXPECT_EQ(attempts(), 3U);
  // Other routes are not held up by the failing one.
  fake->setError = 0;
  put("192.0.2.8", RENO);
  fake->state(COOKIE, host("192.0.2.8")).covering.gateway = host("10.0.0.254");
  EXPECT_EQ(engine->followRoutes(T0 + 32 * SECOND), 1U);
  EXPECT_EQ(fake->state(COOKIE, host("192.0.2.7")).ourNexthop.gateway, host("10.0.0.1"));
  // Once the next attempt succeeds the key is followed at every tick again.
  EXPECT_EQ(engine->followRoutes(T0 + 70 * SECOND), 1U);
  EXPECT_EQ(fake->state(COOKIE, host("192.0.2.7")).ourNexthop.gateway, host("10.0.0.254"));
  expectVerified();
}

TEST_F(EngineFollowTest, BoundedLookupsPerCallTakeTurns) {
  for (const char* h : {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}) {
    put(h, RENO);
    fake->state(COOKIE, host(h)).covering.gateway = host("10.0.0.254");
  }
  size_t before = fake->lookups;
  // A follow costs the lookup plus the engine's read-back after the write.
  EXPECT_EQ(engine->followRoutes(T0, 2), 2U);
  EXPECT_EQ(fake->lookups - before, 4U);
  EXPECT_EQ(engine->followRoutes(T0 + 2 * SECOND, 2), 2U);
  EXPECT_EQ(engine->followRoutes(T0 + 4 * SECOND, 2), 1U);
  for (const char* h : {"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"}) {
    EXPECT_EQ(fake->state(COOKIE, host(h)).ourNexthop.gateway, host("10.0.0.254")) << h;
  }
  before = fake->lookups;
  EXPECT_EQ(engine->followRoutes(T0 + 6 * SECOND, 2), 0U);
  EXPECT_EQ(fake->lookups - before, 2U);
}

TEST_F(EngineFollowTest, AGoneNamespaceIsNotLookedUpAgain) {
  auto r = route("192.0.2.7", NONE, RENO);
  r.netnsCookie = CONTAINER;
  ASSERT_EQ(engine->setSysctl(r, TUNER).status, Status::OK);
  fake->goneCookie = CONTAINER;
  const size_t before = fake->lookups;
  EXPECT_EQ(engine->followRoutes(T0), 0U);
  EXPECT_EQ(engine->followRoutes(T0 + 3600 * SECOND), 0U);
  EXPECT_EQ(fake->lookups - before, 1U);
}

}  // namespace
}  // namespace bpftune::actuator
