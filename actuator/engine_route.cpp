// routeCongctl and socketCongctl: bpftune's host routes (validated, journaled with the nexthop
// before the write, read back after it), an administrator's host route winning, rollback
// deleting what bpftune added, and the journal-only live switches the collector reports.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>

#include "engine.h"
#include "unique_fd.h"

namespace bpftune::actuator {
namespace {

constexpr const char* ALLOWED_CC = "ipv4/tcp_allowed_congestion_control";
constexpr int64_t ALG_NONE = static_cast<int64_t>(proto::CongAlg::NONE);
// bpftune's live host routes per namespace at most: a collector fed by hostile traffic (many
// destinations) cannot grow the FIB without bound. Changing or withdrawing a route of bpftune's
// is always allowed; a new one beyond the cap is REJECTED.
constexpr size_t MAX_HOST_ROUTES_PER_NETNS = 1024;

bool isCongAlg(int64_t alg) {
  return alg == ALG_NONE || policy::congAlgFromName(policy::congAlgName(alg)).has_value();
}

Result<std::string> readText(int dirFd, const char* path) {
  UniqueFd fd(::openat(dirFd, path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    return makeError(std::string("open ") + path, errno);
  }
  char buf[512];
  ssize_t n = ::pread(fd.get(), buf, sizeof(buf) - 1, 0);
  if (n < 0) {
    return makeError(std::string("read ") + path, errno);
  }
  std::string text(buf, static_cast<size_t>(n));
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

bool listed(const std::string& list, std::string_view name) {
  std::istringstream in(list);
  std::string word;
  while (in >> word) {
    if (word == name) {
      return true;
    }
  }
  return false;
}

}  // namespace

// The global list (every namespace shows the init namespace's); an algorithm outside it is
// refused even though a route could carry it (the spike measured that the kernel does not ask).
std::optional<policy::Refusal> Engine::checkAllowedAlg(int64_t alg) {
  const std::string name(policy::congAlgName(alg));
  auto allowed = readText(sysnetFd, ALLOWED_CC);
  if (!allowed) {
    return policy::Refusal{"new0",
                           0,
                           "new0: cannot read net.ipv4.tcp_allowed_congestion_control (" +
                               describe(allowed.error()) + ")"};
  }
  if (!listed(*allowed, name)) {
    return policy::Refusal{
        "new0",
        0,
        "new0: " + name + " is not in net.ipv4.tcp_allowed_congestion_control (" + *allowed + ")"};
  }
  return std::nullopt;
}

Answer Engine::overriddenByAdminRoute(const policy::SetSysctl& request,
                                      const Key& key,
                                      const RouteLookup& route,
                                      Peer peer) {
  const auto& info = *policy::findTunable(key.tunable);
  Values live{route.ourAlg, 0, 0};
  ReportedOverride seen{request.tuner, key.netns, key.tunable, 0, 0, "", info.count, live};
  journalOverride(key, seen, peer, proto::OverrideSource::COMPARE_AND_SET, live, route.covering);
  const std::string what =
      isAdminHostRoute(route, key.host)
          ? " has an administrator's host route (" + coveringText(route) + "), which wins"
          : "'s route (" + coveringText(route) +
                ") carries an administrator's congctl, their choice for it";
  return refuse(proto::Status::OVERRIDDEN,
                {"hostAddress",
                 0,
                 "hostAddress: " + key.host.text() + " in netns " + std::to_string(key.netns) +
                     what + "; bpftune leaves the host alone until `bpftune resume`"},
                info.count,
                live);
}

// NOLINTNEXTLINE(readability-function-size): one decision ladder, read top to bottom
Answer Engine::setHostRoute(const policy::SetSysctl& request,
                            const policy::TunableInfo& info,
                            Peer peer) {
  const int64_t alg = request.newValues[0];
  if (alg != ALG_NONE) {
    if (auto refusal = checkAllowedAlg(alg)) {
      return refuse(proto::Status::REJECTED, *refusal, 0, Values{});
    }
  }
  auto route = lookupRoute(request.netnsCookie, request.host);
  if (!route) {
    return readFailed(request.netnsCookie, route.error());
  }
  const Values live{route->ourAlg, 0, 0};
  Key key{request.netnsCookie, request.tunable, request.host};
  const KeyState* known = state.find(key);
  if (known != nullptr && known->overridden) {
    return refuseOverridden(key, info, live, *known);
  }
  // An administrator's congctl on the covering route is theirs to keep; withdrawing bpftune's
  // route (which overrides it) is always allowed.
  if (isAdminHostRoute(*route, request.host) || (alg != ALG_NONE && isAdminCongctl(*route))) {
    return overriddenByAdminRoute(request, key, *route, peer);
  }
  // A route of ours whose nexthop the covering route no longer uses is written again (with the
  // covering route's nexthop) even when the algorithm stays.
  if (auto answer = checkLive(request, key, info, live, peer, isNexthopStale(*route))) {
    return *answer;
  }
  if (alg != ALG_NONE) {
    if (std::string problem = coveringProblem(*route, request.host); !problem.empty()) {
      return refuse(proto::Status::REJECTED, {"hostAddress", 0, problem}, info.count, live);
    }
  }
  if (alg != ALG_NONE && route->ourAlg == ALG_NONE &&
      state.countNonZero(request.netnsCookie, request.tunable) >= MAX_HOST_ROUTES_PER_NETNS) {
    const auto cap = static_cast<int64_t>(MAX_HOST_ROUTES_PER_NETNS);
    return refuse(proto::Status::REJECTED,
                  {"routes",
                   cap,
                   "routes: a new route for " + request.host.text() + " would exceed the " +
                       std::to_string(cap) + " host routes of bpftune's in netns " +
                       std::to_string(request.netnsCookie)},
                  info.count,
                  live);
  }
  if (auto answer = checkRate(request, info, live)) {
    return *answer;
  }
  if (request.netnsCookie != ownCookie && foreign != nullptr) {
    (void)foreign->reach(request.netnsCookie);  // makes its inode known for the journal
  }
  journal::Record intent = intentFor(request, info, live, peer);
  // What the writer will copy (or, for a delete, where bpftune's route is), journaled first.
  intent.route = route->covering;
  if (alg == ALG_NONE) {
    intent.route.table = route->ourTable;
  }
  return commit(intent, info);
}

// Deleting bpftune's own route never touches anyone else's (the key has our protocol and
// metric), so it goes even when the host was overridden: rollback removes every route bpftune
// added. A previous algorithm of bpftune's is restored only where nobody else changed it.
// NOLINTNEXTLINE(readability-function-size): one decision ladder, read top to bottom
std::string Engine::rollbackRoute(const Key& key,
                                  const KeyState& keyState,
                                  Peer peer,
                                  bool& failed) {
  const auto& info = *policy::findTunable(key.tunable);
  const std::string name =
      std::string(info.name) + hostSuffix(key) + " in netns " + std::to_string(key.netns);
  auto route = lookupRoute(key.netns, key.host);
  if (!route && isGone(key.netns, route.error())) {
    return name + ": the namespace is gone, and its routes with it";
  }
  if (!route) {
    failed = true;
    return name + ": cannot look up (" + describe(route.error()) + ")";
  }
  const Values live{route->ourAlg, 0, 0};
  const int64_t original = keyState.original[0];
  if (route->ourAlg == original) {
    return name + ": already at the original " + valueText(info, keyState.original) +
           (original == ALG_NONE ? " (no route of bpftune's)" : "");
  }
  if (original != ALG_NONE &&
      (keyState.overridden ||
       (keyState.lastApplied && !sameValues(live, *keyState.lastApplied, 1)))) {
    return name + ": left alone, someone else changed it after bpftune; live " +
           valueText(info, live) + " stays";
  }
  if (original != ALG_NONE) {
    if (std::string problem = coveringProblem(*route, key.host); !problem.empty()) {
      failed = true;
      return name + ": previous algorithm " + valueText(info, keyState.original) +
             " not restored: " + problem;
    }
  }
  Answer a = writeJournaled(
      hostRouteIntent(
          key, *route, original, {proto::TunerId::ADMIN, proto::ScenarioId::ROLLBACK}, peer),
      info);
  failed = failed || (a.status != proto::Status::OK && a.status != proto::Status::GONE);
  return (original == ALG_NONE ? "deleted " : "restored ") + a.reason + " (journal seq " +
         std::to_string(a.journalSeq) + ")";
}

// The route bpftune's own decisions (rollback, routeFollow) put or delete: what the writer must
// find and copy, or for a delete the table bpftune's route is in.
journal::Record Engine::hostRouteIntent(
    const Key& key, const RouteLookup& route, int64_t alg, Cause cause, Peer peer) const {
  journal::Record intent = baseRecord(proto::RecordKind::INTENT);
  intent.tuner = cause.tuner;
  intent.scenario = cause.scenario;
  intent.netnsCookie = key.netns;
  intent.tunable = key.tunable;
  intent.count = policy::findTunable(key.tunable)->count;
  intent.oldValues = {route.ourAlg, 0, 0};
  intent.newValues = {alg, 0, 0};
  intent.requesterPid = peer.pid;
  intent.requesterUid = peer.uid;
  intent.netnsInode = inodeOf(key.netns);
  intent.host = key.host;
  intent.route = route.covering;
  if (alg == ALG_NONE) {
    intent.route.table = route.ourTable;
  }
  return intent;
}

// Malformed data, not a switch tcp_conn can have made: refused without a record.
std::optional<Answer> Engine::checkLiveSwitch(const ReportedLiveSwitch& report) {
  if (report.tuner != proto::TunerId::TCP_CONN) {
    return rejected("tuner",
                    0,
                    "tuner: live switches come from tcp_conn, not " +
                        std::string(policy::tunerName(report.tuner)));
  }
  if (report.netnsCookie == 0) {
    return rejected("netnsCookie", 0, "netnsCookie: 0 names no network namespace");
  }
  if (std::string problem = hostAddressProblem(report.host); !problem.empty()) {
    return rejected(problem.substr(0, problem.find(':')), 0, problem);
  }
  if (!isCongAlg(report.fromAlg)) {
    return rejected(
        "fromAlg", 0, "fromAlg: " + std::to_string(report.fromAlg) + " is not a CongAlg");
  }
  if (report.toAlg == ALG_NONE || !isCongAlg(report.toAlg)) {
    return rejected("toAlg",
                    0,
                    "toAlg: " + std::to_string(report.toAlg) +
                        " is not a CongAlg a connection can switch to");
  }
  return std::nullopt;
}

namespace {

// A live switch the policy does not allow; `error` goes into its journal record.
struct PolicyRefusal {
  policy::Refusal refusal;
  int error = 0;
};

// A well-behaved collector stops switching after one refusal (its hold-off), so more than this
// many switches outside the policy in a window come from a broken or hostile collector.
constexpr policy::Limits OUTSIDE_POLICY_LIMITS{0, 0, 0, 40, 10};

// The policy's word on a switch that already happened: its line, bounds and rate (a switch
// within them counts against the rate).
std::optional<PolicyRefusal> liveSwitchPolicy(const policy::Policy& pol,
                                              policy::RateLimiter& rate,
                                              const policy::TunableInfo& info,
                                              const ReportedLiveSwitch& report) {
  const policy::Limits* limits = pol.find(info.id);
  if (limits == nullptr) {
    return PolicyRefusal{{"tunable",
                          0,
                          "tunable: " + std::string(info.name) +
                              " is not in the policy file, so no live switch is allowed"},
                         EPERM};
  }
  if (report.toAlg < limits->min || report.toAlg > limits->max) {
    return PolicyRefusal{{"toAlg",
                          report.toAlg < limits->min ? limits->min : limits->max,
                          "toAlg: " + std::to_string(report.toAlg) + " is not within " +
                              std::to_string(limits->min) + ".." + std::to_string(limits->max) +
                              " for " + std::string(info.name)},
                         ERANGE};
  }
  const int64_t now = journal::monotonicNow();
  if (auto refusal = rate.check(*limits, info, now, report.netnsCookie)) {
    return PolicyRefusal{*refusal, EBUSY};
  }
  rate.record(info.id, now, report.netnsCookie);
  return std::nullopt;
}

}  // namespace

// Every well-formed report is journaled: the switch already happened, and the audit trail must
// have it. One the policy does not allow (no line, outside its bounds, over its rate) is
// journaled with an errno (EPERM, ERANGE, EBUSY) and answered REJECTED naming the field and the
// bound; while paused the answer is PAUSED. Either way the collector stops switching.
// NOLINTNEXTLINE(readability-function-size): one decision ladder, read top to bottom
Answer Engine::reportLiveSwitch(const ReportedLiveSwitch& report, Peer peer) {
  if (auto refusal = checkLiveSwitch(report)) {
    return *refusal;
  }
  const auto& info = *policy::findTunable(proto::TunableId::SOCKET_CONGCTL);
  if (report.netnsCookie != ownCookie) {
    Status reached = foreign != nullptr
                         ? foreign->reach(report.netnsCookie)
                         : Status(makeError("other namespaces are not reachable", EPERM));
    if (!reached) {
      return isGone(report.netnsCookie, reached.error())
                 ? goneAnswer(report.netnsCookie, reached.error())
                 : rejected("netnsCookie",
                            0,
                            "netnsCookie: " + std::to_string(report.netnsCookie) + ": " +
                                describe(reached.error()));
    }
  }
  const auto outside = liveSwitchPolicy(policy, rate, info, report);
  if (outside) {
    const int64_t now = journal::monotonicNow();
    if (auto flood = outsidePolicy.check(OUTSIDE_POLICY_LIMITS, info, now, report.netnsCookie)) {
      return rejected(outside->refusal.field,
                      outside->refusal.bound,
                      outside->refusal.reason + "; not journaled: more than " +
                          std::to_string(OUTSIDE_POLICY_LIMITS.rateCount) +
                          " live switches outside the policy within " +
                          std::to_string(OUTSIDE_POLICY_LIMITS.rateWindowSeconds) +
                          " s in this netns (a collector that keeps switching against the policy)");
    }
    outsidePolicy.record(info.id, now, report.netnsCookie);
  }
  journal::Record r = baseRecord(proto::RecordKind::LIVE_SWITCH);
  r.tuner = report.tuner;
  r.scenario = proto::ScenarioId::CONGCTL_LIVE_SWITCH;
  r.netnsCookie = report.netnsCookie;
  r.netnsInode = inodeOf(report.netnsCookie);
  r.tunable = info.id;
  r.count = info.count;
  r.oldValues = {report.fromAlg, 0, 0};
  r.newValues = {report.toAlg, 0, 0};
  r.actual = r.newValues;
  r.error = outside ? outside->error : 0;
  r.host = report.host;
  r.socket = report.socket;
  r.requesterPid = peer.pid;
  r.requesterUid = peer.uid;
  Answer a;
  a.journalSeq = journal.append(r);
  a.count = info.count;
  a.values = r.newValues;
  a.reason = "live switch of a connection to " + report.host.text() + ":" +
             std::to_string(report.socket.remotePort) + " in netns " +
             std::to_string(report.netnsCookie) + " from " + valueText(info, r.oldValues) + " to " +
             valueText(info, r.newValues) + " journaled";
  if (outside) {
    a.status = proto::Status::REJECTED;
    a.field = outside->refusal.field;
    a.bound = outside->refusal.bound;
    a.reason = outside->refusal.reason + "; the " + a.reason + " as outside the policy";
  }
  if (isPaused) {
    a.status = proto::Status::PAUSED;
    a.reason += "; paused by a rollback: switch nothing more until `bpftune resume`";
  }
  return a;
}

}  // namespace bpftune::actuator
