// Rollback: put back the value from before bpftune's first change of this boot.
#include "engine.h"
#include "log.h"
#include "sysctl_io.h"

namespace bpftune::actuator {

std::string Engine::rollbackKey(const Key& key, const KeyState& keyState, Peer peer, bool& failed) {
  const auto* info = policy::findTunable(key.tunable);
  if (info == nullptr) {
    return "skipped an unknown tunable";
  }
  if (info->backend == policy::Backend::HOST_ROUTE) {
    return rollbackRoute(key, keyState, peer, failed);
  }
  std::string name = std::string(info->name) +
                     (key.netns != ownCookie ? " in netns " + std::to_string(key.netns) : "");
  if (keyState.overridden) {
    return name + ": left alone, someone else changed it after bpftune (journaled override); "
                  "their value stays";
  }
  auto live = readLive(key.netns, *info);
  if (!live && isGone(key.netns, live.error())) {
    return name + ": the namespace is gone, nothing to restore";
  }
  if (!live) {
    failed = true;
    return name + ": cannot read (" + describe(live.error()) + ")";
  }
  if (keyState.lastApplied && !sameValues(*live, *keyState.lastApplied, keyState.count)) {
    ReportedOverride seen{
        proto::TunerId::TCP_BUFFER, key.netns, key.tunable, 0, 0, "", keyState.count, *live};
    journalOverride(key, seen, peer, proto::OverrideSource::COMPARE_AND_SET, *live);
    return name + ": left alone, live " + policy::valuesText(*live, keyState.count) +
           " is not bpftune's last write " +
           policy::valuesText(*keyState.lastApplied, keyState.count) + "; that value stays";
  }
  // The journal is evidence, not authority: a restore must still fit the policy's absolute
  // bounds and ordering (not its step or rate: a rollback may jump back in one write).
  policy::SetSysctl restore;
  restore.netnsCookie = key.netns;
  restore.tunable = key.tunable;
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
  intent.netnsCookie = key.netns;
  intent.tunable = key.tunable;
  intent.count = keyState.count;
  intent.oldValues = *live;
  intent.newValues = keyState.original;
  intent.requesterPid = peer.pid;
  intent.requesterUid = peer.uid;
  intent.netnsInode = inodeOf(key.netns);
  Answer a = writeJournaled(intent, *info);
  failed = failed || (a.status != proto::Status::OK && a.status != proto::Status::GONE);
  return "restored " + a.reason + " (journal seq " + std::to_string(a.journalSeq) + ")";
}

Answer Engine::rollbackAll(Peer peer) {
  isPaused = true;  // even a partial rollback stops tuning: the administrator wants it to stop
  Answer answer;
  bool failed = false;
  size_t steps = 0;
  for (const auto& [key, keyState] : state.keysNewestFirst()) {
    if (!keyState.changed) {
      continue;  // only ever overridden: bpftune has nothing of its own to undo
    }
    std::string line = rollbackKey(key, keyState, peer, failed);
    log::notice("rollback: " + line);
    answer.reason += (steps++ == 0 ? "" : "; ") + line;
  }
  if (steps == 0) {
    answer.reason = "nothing to roll back: bpftune changed no sysctl or route in this boot";
  }
  answer.reason += ". Changes are paused until `bpftune resume` or an actuator restart.";
  answer.status = failed ? proto::Status::FAILED : proto::Status::OK;
  answer.journalSeq = journal.records().empty() ? 0 : journal.records().back().record.seq;
  return answer;
}

}  // namespace bpftune::actuator
