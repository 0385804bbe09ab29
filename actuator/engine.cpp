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

std::string text(const Values& v, uint8_t count) {
  return policy::valuesText(v, count);
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

// NOLINTNEXTLINE(readability-function-size): member initialisation only
Engine::Engine(const policy::Policy& policy,
               journal::Writer& journal,
               int sysnetFd,
               uint64_t ownCookie,
               journal::BootId bootId,
               ForeignSysctls* foreign,
               uint32_t ownInode,
               NeighTableWriter* neigh,
               StaticKeyWriter* staticKeys)
    : policy(policy),
      journal(journal),
      sysnetFd(sysnetFd),
      ownCookie(ownCookie),
      bootId(bootId),
      state(bootId),
      foreign(foreign),
      ownInode(ownInode),
      neigh(neigh),
      staticKeys(staticKeys) {
  for (const auto& stored : journal.records()) {
    state.apply(stored.record);
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
    auto live = readLive(intent.netnsCookie, *info);
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
                std::string(info->name) + " " + text(intent.oldValues, intent.count) + " -> " +
                text(intent.newValues, intent.count) + ") had no outcome; " +
                (live ? "live value " + text(r.actual, r.count)
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
  Status written = writeLive(intent.netnsCookie, info, intent.newValues);
  journal::Record outcome = intent;
  outcome.kind = proto::RecordKind::OUTCOME;
  outcome.realtimeNs = journal::realtimeNow();
  outcome.monotonicNs = journal::monotonicNow();
  outcome.intentSeq = intentSeq;
  auto live = readLive(intent.netnsCookie, info);
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
  a.count = intent.count;
  a.values = outcome.actual;
  a.error = outcome.error;
  a.status = outcome.result == proto::OutcomeResult::APPLIED      ? proto::Status::OK
             : outcome.result == proto::OutcomeResult::NETNS_GONE ? proto::Status::GONE
                                                                  : proto::Status::FAILED;
  a.reason = std::string(info.name) + " " + text(intent.oldValues, intent.count) + " -> " +
             text(intent.newValues, intent.count) + ": " + resultText(outcome.result) + ", live " +
             text(outcome.actual, intent.count) +
             (written ? "" : " (" + describe(written.error()) + ")");
  return a;
}

// NOLINTNEXTLINE(readability-function-size): one decision ladder, read top to bottom
Answer Engine::setSysctl(const policy::SetSysctl& request, Peer peer) {
  Values none{};
  if (isPaused) {
    return refuse(
        proto::Status::PAUSED,
        {"", 0, "paused: an administrator rolled back; `bpftune resume` hands control back"},
        0,
        none);
  }
  if (auto refusal = policy::checkRequest(policy, request, ownCookie)) {
    return refuse(proto::Status::REJECTED, *refusal, 0, none);
  }
  const auto& info = *policy::findTunable(request.tunable);
  const auto& limits = *policy.find(request.tunable);
  auto live = readLive(request.netnsCookie, info);
  if (!live) {
    if (isGone(request.netnsCookie, live.error())) {
      return goneAnswer(request.netnsCookie, live.error());
    }
    Answer a = refuse(proto::Status::FAILED, {"tunable", 0, describe(live.error())}, 0, none);
    a.error = live.error().errnum;
    return a;
  }
  Key key{request.netnsCookie, request.tunable};
  const KeyState* known = state.find(key);
  if (known != nullptr && known->overridden) {
    return refuseOverridden(info, *live, *known);
  }
  if (known != nullptr && known->lastApplied &&
      !sameValues(*live, *known->lastApplied, info.count)) {
    // Someone bpftune's hook did not see (netlink, a passed fd) changed it: journal it once;
    // the key stays overridden until `bpftune resume`.
    ReportedOverride seen{
        request.tuner, request.netnsCookie, request.tunable, 0, 0, "", info.count, *live};
    journalOverride(key, seen, peer, proto::OverrideSource::COMPARE_AND_SET, *live);
    return refuseOverridden(info, *live, *state.find(key));
  }
  if (!sameValues(*live, request.expected, info.count)) {
    return refuse(proto::Status::STALE,
                  {"expected0",
                   0,
                   std::string(info.name) + ": live value " + text(*live, info.count) +
                       " differs from the expected " + text(request.expected, info.count) +
                       "; read again"},
                  info.count,
                  *live);
  }
  if (sameValues(*live, request.newValues, info.count)) {
    Answer a;
    a.count = info.count;
    a.values = *live;
    a.reason = std::string(info.name) + " already " + text(*live, info.count) + "; nothing written";
    return a;
  }
  int64_t now = journal::monotonicNow();
  auto refusal = policy::checkStep(limits, info, *live, request.newValues);
  if (!refusal) {
    refusal = rate.check(limits, info, now, request.netnsCookie);
  }
  if (refusal) {
    return refuse(proto::Status::REJECTED, *refusal, info.count, *live);
  }
  rate.record(request.tunable, now, request.netnsCookie);
  journal::Record intent = baseRecord(proto::RecordKind::INTENT);
  intent.tuner = request.tuner;
  intent.scenario = request.scenario;
  intent.netnsCookie = request.netnsCookie;
  intent.tunable = request.tunable;
  intent.count = info.count;
  intent.oldValues = *live;
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
  return writeJournaled(intent, info);
}

Answer Engine::refuseOverridden(const policy::TunableInfo& info,
                                const Values& live,
                                const KeyState& known) {
  std::string last =
      known.lastApplied ? "; bpftune last wrote " + text(*known.lastApplied, info.count) : "";
  return refuse(proto::Status::OVERRIDDEN,
                {"tunable",
                 0,
                 std::string(info.name) + ": changed by someone else (live " +
                     text(live, info.count) + last +
                     "); bpftune leaves it alone until `bpftune resume`"},
                info.count,
                live);
}

}  // namespace bpftune::actuator
