// Rollback: put back the value from before bpftune's first change of this boot.
#include "engine.h"
#include "log.h"
#include "sysctl_io.h"

namespace bpftune::actuator {

std::string Engine::rollbackKey(const Key& key, const KeyState& keyState, Peer peer, bool& failed) {
  const auto* info = policy::findTunable(key.second);
  if (info == nullptr) {
    return "skipped an unknown tunable";
  }
  std::string name(info->name);
  if (key.first != ownCookie) {
    return name + " in netns " + std::to_string(key.first) +
           ": skipped (not this actuator's namespace)";
  }
  auto live = readSysctl(sysnetFd, *info);
  if (!live) {
    failed = true;
    return name + ": cannot read (" + describe(live.error()) + ")";
  }
  // The journal is evidence, not authority: a restore must still fit the policy's absolute
  // bounds and ordering (not its step or rate: a rollback may jump back in one write).
  policy::SetSysctl restore;
  restore.netnsCookie = ownCookie;
  restore.tunable = key.second;
  restore.count = keyState.count;
  restore.newValues = keyState.original;
  if (auto refusal = policy::checkRequest(policy, restore, ownCookie)) {
    failed = true;
    return name + ": original " + policy::valuesText(keyState.original, keyState.count) +
           " not restored, it violates the policy (" + refusal->reason + ")";
  }
  if (sameValues(*live, keyState.original, keyState.count)) {
    return name + ": already at the original " +
           policy::valuesText(keyState.original, keyState.count);
  }
  journal::Record intent = baseRecord(proto::RecordKind::INTENT);
  intent.tuner = proto::TunerId::ADMIN;
  intent.scenario = proto::ScenarioId::ROLLBACK;
  intent.netnsCookie = key.first;
  intent.tunable = key.second;
  intent.count = keyState.count;
  intent.oldValues = *live;
  intent.newValues = keyState.original;
  intent.requesterPid = peer.pid;
  intent.requesterUid = peer.uid;
  Answer a = writeJournaled(intent, *info);
  failed = failed || a.status != proto::Status::OK;
  return "restored " + a.reason + " (journal seq " + std::to_string(a.journalSeq) + ")";
}

Answer Engine::rollbackAll(Peer peer) {
  isPaused = true;  // even a partial rollback stops tuning: the administrator wants it to stop
  Answer answer;
  bool failed = false;
  size_t steps = 0;
  for (const auto& [key, keyState] : state.keysNewestFirst()) {
    std::string line = rollbackKey(key, keyState, peer, failed);
    log::notice("rollback: " + line);
    answer.reason += (steps++ == 0 ? "" : "; ") + line;
  }
  if (steps == 0) {
    answer.reason = "nothing to roll back: bpftune changed no sysctl in this boot";
  }
  answer.reason += ". Changes are paused until the actuator restarts.";
  answer.status = failed ? proto::Status::FAILED : proto::Status::OK;
  answer.journalSeq = journal.records().empty() ? 0 : journal.records().back().record.seq;
  return answer;
}

}  // namespace bpftune::actuator
