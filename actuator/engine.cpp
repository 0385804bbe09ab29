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
  }
  return "?";
}

}  // namespace

Engine::Engine(const policy::Policy& policy,
               journal::Writer& journal,
               int sysnetFd,
               uint64_t ownCookie,
               journal::BootId bootId)
    : policy(policy),
      journal(journal),
      sysnetFd(sysnetFd),
      ownCookie(ownCookie),
      bootId(bootId),
      state(bootId) {
  for (const auto& stored : journal.records()) {
    state.apply(stored.record);
  }
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
    if (info == nullptr || intent.netnsCookie != ownCookie) {
      log::warning("recovery: intent seq " + std::to_string(intent.seq) +
                   " is for another namespace or an unknown tunable; left unresolved");
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
    auto live = readSysctl(sysnetFd, *info);
    if (live) {
      r.actual = *live;
      r.result = classify(*live, intent);
    } else {
      r.result = proto::OutcomeResult::MISMATCH;
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
  Status written = writeSysctl(sysnetFd, info, intent.newValues);
  journal::Record outcome = intent;
  outcome.kind = proto::RecordKind::OUTCOME;
  outcome.realtimeNs = journal::realtimeNow();
  outcome.monotonicNs = journal::monotonicNow();
  outcome.intentSeq = intentSeq;
  auto live = readSysctl(sysnetFd, info);
  outcome.actual = live ? *live : Values{};
  if (!written) {
    outcome.result = proto::OutcomeResult::WRITE_FAILED;
    outcome.error = written.error().errnum != 0 ? written.error().errnum : EIO;
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
  a.status =
      outcome.result == proto::OutcomeResult::APPLIED ? proto::Status::OK : proto::Status::FAILED;
  a.reason = std::string(info.name) + " " + text(intent.oldValues, intent.count) + " -> " +
             text(intent.newValues, intent.count) + ": " + resultText(outcome.result) + ", live " +
             text(outcome.actual, intent.count) +
             (written ? "" : " (" + describe(written.error()) + ")");
  return a;
}

Answer Engine::setSysctl(const policy::SetSysctl& request, Peer peer) {
  Values none{};
  if (isPaused) {
    return refuse(proto::Status::PAUSED,
                  {"", 0, "paused: an administrator rolled back; restart the actuator to resume"},
                  0,
                  none);
  }
  if (auto refusal = policy::checkRequest(policy, request, ownCookie)) {
    return refuse(proto::Status::REJECTED, *refusal, 0, none);
  }
  const auto& info = *policy::findTunable(request.tunable);
  const auto& limits = *policy.find(request.tunable);
  auto live = readSysctl(sysnetFd, info);
  if (!live) {
    Answer a = refuse(proto::Status::FAILED, {"tunable", 0, describe(live.error())}, 0, none);
    a.error = live.error().errnum;
    return a;
  }
  const KeyState* known = state.find({request.netnsCookie, request.tunable});
  if (known != nullptr && known->lastApplied &&
      !sameValues(*live, *known->lastApplied, info.count)) {
    // Not journaled: nothing changes. Stays OVERRIDDEN until the value is back to bpftune's.
    return refuse(proto::Status::OVERRIDDEN,
                  {"tunable",
                   0,
                   std::string(info.name) + ": live value " + text(*live, info.count) +
                       " differs from bpftune's last write " +
                       text(*known->lastApplied, info.count) +
                       "; someone else changed it, bpftune leaves it alone"},
                  info.count,
                  *live);
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
    refusal = rate.check(limits, info, now);
  }
  if (refusal) {
    return refuse(proto::Status::REJECTED, *refusal, info.count, *live);
  }
  rate.record(request.tunable, now);
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
  return writeJournaled(intent, info);
}

}  // namespace bpftune::actuator
