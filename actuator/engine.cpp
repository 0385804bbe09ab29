#include "engine.h"

#include <unistd.h>

#include "log.h"
#include "sysctl_io.h"

namespace bpftune::actuator {
namespace {

proto::OutcomeResult classify(const Values& actual, const journal::Record& intent) {
  if (sameValues(actual, intent.newValues, intent.count)) {
    return proto::OutcomeResult::APPLIED;
  }
  if (sameValues(actual, intent.oldValues, intent.count)) {
    return proto::OutcomeResult::NOT_APPLIED;
  }
  return proto::OutcomeResult::MISMATCH;
}

Key keyOf(const journal::Record& record) {
  return Key{record.netnsCookie, record.tunable, record.host};
}

std::string resultText(proto::OutcomeResult r) {
  switch (r) {
    case proto::OutcomeResult::APPLIED:
      return "applied";
    case proto::OutcomeResult::NOT_APPLIED:
      return "not applied";
    case proto::OutcomeResult::WRITE_FAILED:
      return "write failed";
    case proto::OutcomeResult::MISMATCH:
      return "mismatch";
    case proto::OutcomeResult::NETNS_GONE:
      return "netns gone";
  }
  return "?";
}

}  // namespace

std::string valueText(const policy::TunableInfo& info, const Values& values) {
  if (info.kind != policy::ValueKind::CONG_ALG) {
    return policy::valuesText(values, info.count);
  }
  return values[0] == ALG_FOREIGN ? "foreign" : std::string(policy::congAlgName(values[0]));
}

std::string hostSuffix(const Key& key) {
  return key.host.empty() ? "" : " for " + key.host.text();
}

// NOLINTNEXTLINE(readability-function-size): member initialisation only
Engine::Engine(const policy::Policy& policy,
               journal::Writer& journal,
               int sysnetFd,
               uint64_t ownCookie,
               journal::BootId bootId,
               uint32_t ownInode,
               Backends backends)
    : policy(policy),
      journal(journal),
      sysnetFd(sysnetFd),
      ownCookie(ownCookie),
      bootId(bootId),
      state(bootId),
      ownInode(ownInode),
      foreign(backends.foreign),
      neigh(backends.neigh),
      staticKeys(backends.staticKeys),
      routes(backends.routes),
      advice(bootId) {
  for (const auto& stored : journal.records()) {
    state.apply(stored.record);
    advice.apply(stored.record);
  }
}

Result<Values> Engine::readLive(uint64_t cookie, const policy::TunableInfo& info) {
  if (cookie == ownCookie) {
    return readSysctl(sysnetFd, info);
  }
  if (foreign == nullptr) {
    return makeError("netns " + std::to_string(cookie) + ": other namespaces are not reachable",
                     EPERM);
  }
  return foreign->read(cookie, info);
}

Result<Values> Engine::readLive(const Key& key, const policy::TunableInfo& info) {
  if (info.backend != policy::Backend::HOST_ROUTE) {
    return readLive(key.netns, info);
  }
  auto route = lookupRoute(key.netns, key.host);
  if (!route) {
    return route.error();
  }
  return Values{route->ourAlg, 0, 0};
}

Result<RouteLookup> Engine::lookupRoute(uint64_t cookie, const HostAddress& host) {
  if (routes == nullptr) {
    return makeError("net.route.host.congctl: no route writer", EOPNOTSUPP);
  }
  return routes->lookup(cookie, host);
}

Status Engine::writeIntent(const journal::Record& intent, const policy::TunableInfo& info) {
  if (info.backend != policy::Backend::HOST_ROUTE) {
    return writeLive(intent.netnsCookie, info, intent.newValues);
  }
  if (routes == nullptr) {
    return makeError("net.route.host.congctl: no route writer", EOPNOTSUPP);
  }
  if (intent.newValues[0] == static_cast<int64_t>(proto::CongAlg::NONE)) {
    return routes->remove(intent.netnsCookie, intent.host, intent.route.table);
  }
  return routes->set(
      intent.netnsCookie, intent.host, intent.newValues[0], intent.oldValues[0], intent.route);
}

Status Engine::writeLive(uint64_t cookie, const policy::TunableInfo& info, const Values& values) {
  if (info.backend != policy::Backend::SYSCTL) {
    return writePrivileged(cookie, info, values);
  }
  if (cookie == ownCookie) {
    return writeSysctl(sysnetFd, info, values);
  }
  if (foreign == nullptr) {
    return makeError("netns " + std::to_string(cookie) + ": other namespaces are not reachable",
                     EPERM);
  }
  return foreign->write(cookie, info, values);
}

// Requests, rollbacks and recovered keys all write the NEIGH_TABLE and STATIC_KEY tunables
// through here. Both are global and the privileged writer acts in the init netns, which is ours
// (the kernel takes the thresholds only from there); the validator already refuses init-only
// tunables for any other namespace, and a journal naming one cannot make us try.
Status Engine::writePrivileged(uint64_t cookie,
                               const policy::TunableInfo& info,
                               const Values& values) {
  if (cookie != ownCookie) {
    return makeError(std::string(info.name) + " exists only in the init netns, not in netns " +
                         std::to_string(cookie),
                     EPERM);
  }
  if (info.backend == policy::Backend::NEIGH_TABLE) {
    if (neigh == nullptr) {
      return makeError(std::string(info.name) + ": no rtnetlink writer", EOPNOTSUPP);
    }
    return neigh->write(info, values);
  }
  if (staticKeys == nullptr) {
    return makeError(std::string(info.name) + ": no static key writer", EOPNOTSUPP);
  }
  return staticKeys->write(info, values);
}

uint32_t Engine::inodeOf(uint64_t cookie) const {
  if (cookie == ownCookie) {
    return ownInode;
  }
  return foreign != nullptr ? foreign->inode(cookie) : 0;
}

// A per-namespace sysctl always exists in a live namespace, so ENOENT from another namespace's
// handle means the namespace died (measured: the handle does not keep it alive).
bool Engine::isGone(uint64_t cookie, const Error& error) const {
  return cookie != ownCookie && error.errnum == ENOENT;
}

Answer Engine::goneAnswer(uint64_t cookie, const Error& error) {
  Answer a;
  a.status = proto::Status::GONE;
  a.field = "netnsCookie";
  a.reason = "netnsCookie: network namespace " + std::to_string(cookie) +
             " does not exist (any more): " + describe(error);
  a.error = error.errnum;
  return a;
}

journal::Record Engine::baseRecord(proto::RecordKind kind) const {
  journal::Record r;
  r.kind = kind;
  r.realtimeNs = journal::realtimeNow();
  r.monotonicNs = journal::monotonicNow();
  r.bootId = bootId;
  return r;
}

void Engine::recordStart(const std::vector<uint8_t>& filterDigest) {
  journal::Record r = baseRecord(proto::RecordKind::START);
  r.actuatorPid = getpid();
  r.netnsCookie = ownCookie;
  r.filterDigest = filterDigest;
  uint64_t seq = journal.append(r);
  log::info("journal: start record seq " + std::to_string(seq) + ", boot " +
            journal::bootIdText(bootId) + ", seccomp filter sha256 " +
            journal::hex(filterDigest.data(), filterDigest.size()));
}

size_t Engine::recover() {
  size_t resolved = 0;
  for (const auto& intent : state.unresolved()) {
    const auto* info = policy::findTunable(intent.tunable);
    if (info == nullptr) {
      log::warning("recovery: intent seq " + std::to_string(intent.seq) +
                   " names an unknown tunable; left unresolved");
      continue;
    }
    journal::Record r = baseRecord(proto::RecordKind::RECOVERED);
    r.tuner = proto::TunerId::ACTUATOR;
    r.scenario = proto::ScenarioId::RECOVERY;
    r.netnsCookie = intent.netnsCookie;
    r.tunable = intent.tunable;
    r.count = intent.count;
    r.oldValues = intent.oldValues;
    r.newValues = intent.newValues;
    r.intentSeq = intent.seq;
    r.requesterPid = intent.requesterPid;
    r.requesterUid = intent.requesterUid;
    r.netnsInode = intent.netnsInode;
    r.causeNetnsCookie = intent.causeNetnsCookie;
    r.host = intent.host;
    r.route = intent.route;
    auto live = readLive(keyOf(intent), *info);
    if (live) {
      r.actual = *live;
      r.result = classify(*live, intent);
    } else {
      r.result = isGone(intent.netnsCookie, live.error()) ? proto::OutcomeResult::NETNS_GONE
                                                          : proto::OutcomeResult::MISMATCH;
      r.error = live.error().errnum;
    }
    uint64_t seq = journal.append(r);
    state.apply(journal.records().back().record);
    log::notice("recovery: intent seq " + std::to_string(intent.seq) + " (" +
                std::string(info->name) + hostSuffix(keyOf(intent)) + " " +
                valueText(*info, intent.oldValues) + " -> " + valueText(*info, intent.newValues) +
                ") had no outcome; " +
                (live ? "live value " + valueText(*info, r.actual)
                      : "live value unreadable (" + describe(live.error()) + ")") +
                ": " + resultText(r.result) + " (recorded as seq " + std::to_string(seq) + ")");
    ++resolved;
  }
  return resolved;
}

Answer Engine::refuse(proto::Status status,
                      const policy::Refusal& refusal,
                      uint8_t count,
                      const Values& live) {
  Answer a;
  a.status = status;
  a.field = refusal.field;
  a.bound = refusal.bound;
  a.reason = refusal.reason;
  a.count = count;
  a.values = live;
  return a;
}

Answer Engine::writeJournaled(const journal::Record& intent, const policy::TunableInfo& info) {
  uint64_t intentSeq = journal.append(intent);
  state.apply(journal.records().back().record);
  Status written = writeIntent(intent, info);
  journal::Record outcome = intent;
  outcome.kind = proto::RecordKind::OUTCOME;
  outcome.realtimeNs = journal::realtimeNow();
  outcome.monotonicNs = journal::monotonicNow();
  outcome.intentSeq = intentSeq;
  auto live = readLive(keyOf(intent), info);
  outcome.actual = live ? *live : Values{};
  if (!written) {
    outcome.result = isGone(intent.netnsCookie, written.error())
                         ? proto::OutcomeResult::NETNS_GONE
                         : proto::OutcomeResult::WRITE_FAILED;
    outcome.error = written.error().errnum != 0 ? written.error().errnum : EIO;
  } else if (!live && isGone(intent.netnsCookie, live.error())) {
    outcome.result = proto::OutcomeResult::NETNS_GONE;
    outcome.error = live.error().errnum;
  } else {
    outcome.result = live ? classify(*live, intent) : proto::OutcomeResult::MISMATCH;
    outcome.error = live ? 0 : live.error().errnum;
  }
  Answer a;
  a.journalSeq = journal.append(outcome);
  state.apply(journal.records().back().record);
  advice.apply(journal.records().back().record);
  a.count = intent.count;
  a.values = outcome.actual;
  a.error = outcome.error;
  a.status = outcome.result == proto::OutcomeResult::APPLIED      ? proto::Status::OK
             : outcome.result == proto::OutcomeResult::NETNS_GONE ? proto::Status::GONE
                                                                  : proto::Status::FAILED;
  a.reason = std::string(info.name) + hostSuffix(keyOf(intent)) + " " +
             valueText(info, intent.oldValues) + " -> " + valueText(info, intent.newValues) + ": " +
             resultText(outcome.result) + ", live " + valueText(info, outcome.actual) +
             (written ? "" : " (" + describe(written.error()) + ")");
  return a;
}

Answer Engine::readFailed(uint64_t cookie, const Error& error) {
  if (isGone(cookie, error)) {
    return goneAnswer(cookie, error);
  }
  Answer a = refuse(proto::Status::FAILED, {"tunable", 0, describe(error)}, 0, Values{});
  a.error = error.errnum;
  return a;
}

Answer Engine::setSysctl(const policy::SetSysctl& request, Peer peer) {
  if (isPaused) {
    return refuse(
        proto::Status::PAUSED,
        {"", 0, "paused: an administrator rolled back; `bpftune resume` hands control back"},
        0,
        Values{});
  }
  if (auto refusal = policy::checkRequest(policy, request, ownCookie)) {
    return refuse(proto::Status::REJECTED, *refusal, 0, Values{});
  }
  const auto& info = *policy::findTunable(request.tunable);
  if (info.backend == policy::Backend::HOST_ROUTE) {
    return setHostRoute(request, info, peer);
  }
  auto live = readLive(request.netnsCookie, info);
  if (!live) {
    return readFailed(request.netnsCookie, live.error());
  }
  Key key{request.netnsCookie, request.tunable, {}};
  if (auto answer = checkLive(request, key, info, *live, peer)) {
    return *answer;
  }
  if (auto refusal =
          policy::checkStep(*policy.find(request.tunable), info, *live, request.newValues)) {
    return refuse(proto::Status::REJECTED, *refusal, info.count, *live);
  }
  if (auto answer = checkRate(request, info, *live)) {
    return *answer;
  }
  return commit(intentFor(request, info, *live, peer), info);
}

std::optional<Answer> Engine::checkLive(const policy::SetSysctl& request,
                                        const Key& key,
                                        const policy::TunableInfo& info,
                                        const Values& live,
                                        Peer peer,
                                        bool rewrite) {
  const KeyState* known = state.find(key);
  if (known != nullptr && known->overridden) {
    return refuseOverridden(key, info, live, *known);
  }
  if (known != nullptr && known->lastApplied &&
      !sameValues(live, *known->lastApplied, info.count)) {
    // Someone bpftune's hook did not see (netlink, a passed fd) changed it: journal it once;
    // the key stays overridden until `bpftune resume`.
    ReportedOverride seen{
        request.tuner, request.netnsCookie, request.tunable, 0, 0, "", info.count, live};
    journalOverride(key, seen, peer, proto::OverrideSource::COMPARE_AND_SET, live);
    return refuseOverridden(key, info, live, *state.find(key));
  }
  if (!sameValues(live, request.expected, info.count)) {
    return refuse(proto::Status::STALE,
                  {"expected0",
                   0,
                   std::string(info.name) + hostSuffix(key) + ": live value " +
                       valueText(info, live) + " differs from the expected " +
                       valueText(info, request.expected) + "; read again"},
                  info.count,
                  live);
  }
  if (sameValues(live, request.newValues, info.count) && !rewrite) {
    Answer a;
    a.count = info.count;
    a.values = live;
    a.reason = std::string(info.name) + hostSuffix(key) + " already " + valueText(info, live) +
               "; nothing written";
    return a;
  }
  return std::nullopt;
}

std::optional<Answer> Engine::checkRate(const policy::SetSysctl& request,
                                        const policy::TunableInfo& info,
                                        const Values& live) {
  if (advise && applying == 0) {
    return checkProposalRate(request, info, live);
  }
  int64_t now = journal::monotonicNow();
  if (auto refusal = rate.check(*policy.find(request.tunable), info, now, request.netnsCookie)) {
    return refuse(proto::Status::REJECTED, *refusal, info.count, live);
  }
  rate.record(request.tunable, now, request.netnsCookie);
  return std::nullopt;
}

journal::Record Engine::intentFor(const policy::SetSysctl& request,
                                  const policy::TunableInfo& info,
                                  const Values& live,
                                  Peer peer) const {
  journal::Record intent = baseRecord(proto::RecordKind::INTENT);
  intent.tuner = request.tuner;
  intent.scenario = request.scenario;
  intent.netnsCookie = request.netnsCookie;
  intent.tunable = request.tunable;
  intent.count = info.count;
  intent.oldValues = live;
  intent.newValues = request.newValues;
  for (uint8_t i = info.count; i < 3; ++i) {
    intent.oldValues[i] = 0;
    intent.newValues[i] = 0;
  }
  intent.requesterPid = peer.pid;
  intent.requesterUid = peer.uid;
  intent.netnsInode = inodeOf(request.netnsCookie);
  intent.causeNetnsCookie =
      request.causeNetnsCookie != 0 ? request.causeNetnsCookie : request.netnsCookie;
  intent.host = request.host;
  return intent;
}

Answer Engine::refuseOverridden(const Key& key,
                                const policy::TunableInfo& info,
                                const Values& live,
                                const KeyState& known) {
  std::string last =
      known.lastApplied ? "; bpftune last wrote " + valueText(info, *known.lastApplied) : "";
  return refuse(proto::Status::OVERRIDDEN,
                {"tunable",
                 0,
                 std::string(info.name) + hostSuffix(key) + ": changed by someone else (live " +
                     valueText(info, live) + last +
                     "); bpftune leaves it alone until `bpftune resume`"},
                info.count,
                live);
}

}  // namespace bpftune::actuator
