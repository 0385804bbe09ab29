// routeFollow: bpftune's host routes follow the route they copied their nexthop from. A /32 or
// /128 of bpftune's that still sends a host to an old gateway after the administrator moved (or
// removed) the covering route would silently steer that host's traffic. The collector cannot
// see it (it only asks about a host when it has a reason to), so the actuator looks up every
// live route of its own periodically, one writer lookup each, and rewrites or withdraws it
// through the same journaled, compare-and-set path as a request.
#include <unistd.h>

#include <algorithm>
#include <limits>

#include "engine.h"
#include "log.h"

namespace bpftune::actuator {
namespace {

constexpr int64_t ALG_NONE = static_cast<int64_t>(proto::CongAlg::NONE);
constexpr int64_t NEVER = std::numeric_limits<int64_t>::max();

std::string keyName(const Key& key) {
  const auto* info = policy::findTunable(key.tunable);
  return std::string(info != nullptr ? info->name : "?") + hostSuffix(key) + " in netns " +
         std::to_string(key.netns);
}

}  // namespace

size_t Engine::followRoutes(int64_t nowNs, size_t lookups) {
  if (isPaused || routes == nullptr) {
    return 0;  // a rollback deleted bpftune's routes; nothing of ours moves until resume
  }
  const std::vector<Key> keys = state.liveHostRoutes();
  // Start after the key looked up last, so that with more routes than lookups per call every
  // route gets its turn.
  const size_t first =
      followCursor ? static_cast<size_t>(std::upper_bound(keys.begin(), keys.end(), *followCursor) -
                                         keys.begin())
                   : 0;
  size_t changed = 0;
  size_t looked = 0;
  for (size_t i = 0; i < keys.size() && looked < lookups; ++i) {
    const Key& key = keys[(first + i) % keys.size()];
    auto backoff = followBackoff.find(key);
    if (backoff != followBackoff.end() && nowNs < backoff->second.notBeforeNs) {
      continue;
    }
    ++looked;
    followCursor = key;
    std::string why;
    switch (followRoute(key, why)) {
      case Followed::CHANGED:
        ++changed;
        followSucceeded(key);
        break;
      case Followed::UNCHANGED:
      case Followed::LEFT_ALONE:
        followSucceeded(key);
        break;
      case Followed::FAILED:
        followFailed(key, nowNs, why);
        break;
      case Followed::GONE:
        // The namespace died, and its routes with it; its cookie never comes back.
        followBackoff[key] = {NEVER, NEVER};
        break;
    }
  }
  return changed;
}

// NOLINTNEXTLINE(readability-function-size): one decision ladder, read top to bottom
Engine::Followed Engine::followRoute(const Key& key, std::string& why) {
  auto route = lookupRoute(key.netns, key.host);
  if (!route) {
    if (isGone(key.netns, route.error())) {
      return Followed::GONE;
    }
    why = "cannot look up (" + describe(route.error()) + ")";
    return Followed::FAILED;
  }
  const KeyState* known = state.find(key);
  // Not bpftune's route as bpftune left it (removed by hand or with its device, or another
  // algorithm on it): someone else's business now. The collector's next request for the host
  // journals that as an override; the follow never acts on someone else's change.
  if (known == nullptr || !known->lastApplied || route->ourAlg != (*known->lastApplied)[0]) {
    return Followed::LEFT_ALONE;
  }
  // An administrator's host route already wins the kernel's lookup; ours is dormant until
  // rollback deletes it.
  if (isAdminHostRoute(*route, key.host)) {
    return Followed::LEFT_ALONE;
  }
  const int64_t alg = route->ourAlg;
  std::string problem = coveringProblem(*route, key.host);
  if (problem.empty() && isAdminCongctl(*route)) {
    // The administrator has since put a congctl on the covering route: their choice for these
    // hosts, which ours would override.
    problem = "the covering route now carries an administrator's congctl";
  }
  if (!problem.empty()) {
    Answer a = followWrite(key, *route, ALG_NONE, problem);
    why = a.reason;
    return a.status == proto::Status::OK ? Followed::CHANGED : Followed::FAILED;
  }
  if (!isNexthopStale(*route)) {
    return Followed::UNCHANGED;
  }
  const std::string cause = "the covering route is now " + coveringText(*route);
  if (route->ourTable != route->covering.table) {
    // The writer replaces bpftune's route only within its table: take it out of the old table
    // first, then put it into the one the traffic uses now.
    Answer removed = followWrite(key, *route, ALG_NONE, cause);
    if (removed.status != proto::Status::OK) {
      why = removed.reason;
      return Followed::FAILED;
    }
    RouteLookup withoutOurs = *route;
    withoutOurs.ourAlg = ALG_NONE;
    withoutOurs.ourTable = 0;
    withoutOurs.ourNexthop = {};
    Answer put = followWrite(key, withoutOurs, alg, cause);
    why = put.reason;
    return put.status == proto::Status::OK ? Followed::CHANGED : Followed::FAILED;
  }
  Answer a = followWrite(key, *route, alg, cause);
  why = a.reason;
  return a.status == proto::Status::OK ? Followed::CHANGED : Followed::FAILED;
}

// INTENT (with the nexthop the writer must find and copy, or the table to delete from), the
// writer's compare-and-set, OUTCOME: the path of every other write. Not rate-limited: the
// administrator's change caused it, and the lookups per call bound it.
Answer Engine::followWrite(const Key& key,
                           const RouteLookup& route,
                           int64_t alg,
                           const std::string& cause) {
  const auto& info = *policy::findTunable(key.tunable);
  const Peer self{ownUid, getpid()};
  journal::Record intent = hostRouteIntent(
      key, route, alg, {proto::TunerId::ACTUATOR, proto::ScenarioId::ROUTE_FOLLOW}, self);
  Answer a = writeJournaled(intent, info);
  const std::string line =
      "route follow: " + std::string(alg == ALG_NONE ? "withdrew " : "rewrote ") + a.reason +
      " in netns " + std::to_string(key.netns) + " (" + cause + "; journal seq " +
      std::to_string(a.journalSeq) + ")";
  if (a.status == proto::Status::OK) {
    log::notice(line);
  }
  return a;
}

void Engine::followFailed(const Key& key, int64_t nowNs, const std::string& why) {
  auto [it, fresh] = followBackoff.try_emplace(key);
  FollowBackoff& backoff = it->second;
  backoff.delayNs =
      fresh ? FOLLOW_BACKOFF_MIN_NS : std::min(FOLLOW_BACKOFF_MAX_NS, backoff.delayNs * 2);
  backoff.notBeforeNs = nowNs + backoff.delayNs;
  if (fresh) {
    log::warning("route follow: " + keyName(key) + ": " + why + "; retried after " +
                 std::to_string(FOLLOW_BACKOFF_MIN_NS / 1000000000) + " s, doubling up to " +
                 std::to_string(FOLLOW_BACKOFF_MAX_NS / 1000000000) +
                 " s, not logged again until it succeeds");
  }
}

void Engine::followSucceeded(const Key& key) {
  if (followBackoff.erase(key) != 0) {
    log::notice("route follow: " + keyName(key) + ": checked again without error");
  }
}

}  // namespace bpftune::actuator
