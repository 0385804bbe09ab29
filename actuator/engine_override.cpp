// The administrator always wins: overrides are journaled and make bpftune leave the key alone;
// resume hands control back with the administrator's value as the new baseline.
#include <cerrno>

#include "engine.h"
#include "log.h"
#include "sysctl_io.h"

namespace bpftune::actuator {
namespace {

constexpr int64_t OVERRIDE_COALESCE_NS = 1000LL * 1000 * 1000;

std::string sourceText(proto::OverrideSource source) {
  return source == proto::OverrideSource::SYSCTL_HOOK ? "seen by the sysctl hook"
                                                      : "found by compare-and-set";
}

}  // namespace

Answer rejected(std::string field, int64_t bound, std::string reason) {
  Answer a;
  a.status = proto::Status::REJECTED;
  a.field = std::move(field);
  a.bound = bound;
  a.reason = std::move(reason);
  return a;
}

uint64_t Engine::journalOverride(const Key& key,
                                 const ReportedOverride& report,
                                 Peer peer,
                                 proto::OverrideSource source,
                                 const std::optional<Values>& live,
                                 const journal::RouteNexthop& route) {
  const auto* info = policy::findTunable(key.tunable);
  journal::Record r = baseRecord(proto::RecordKind::OVERRIDE);
  r.tuner = report.tuner;
  r.netnsCookie = key.netns;
  r.causeNetnsCookie = report.netnsCookie;
  r.netnsInode = inodeOf(key.netns);
  r.tunable = key.tunable;
  r.host = key.host;
  r.route = route;
  r.count = info->count;
  r.newValues = report.count == info->count ? report.values : Values{};
  r.actual = live ? *live : Values{};
  r.writerPid = report.writerPid;
  r.writerUid = report.writerUid;
  r.writerComm = log::sanitize(report.writerComm);
  r.overrideSource = source;
  r.requesterPid = peer.pid;
  r.requesterUid = peer.uid;
  uint64_t seq = journal.append(r);
  state.apply(journal.records().back().record);
  std::string writer = report.writerPid != 0
                           ? "pid " + std::to_string(report.writerPid) + " (" + r.writerComm +
                                 ", uid " + std::to_string(report.writerUid) + ")"
                           : "an unknown writer";
  if (route.table != 0) {
    log::notice("override: an administrator's host route for " + key.host.text() + " in netns " +
                std::to_string(key.netns) + " (table " + std::to_string(route.table) + " dev " +
                route.ifname + ") wins over bpftune's " + std::string(info->name) + " (live " +
                (live ? valueText(*info, *live) : std::string("?")) + "); " +
                std::string(policy::tunerName(report.tuner)) +
                " leaves the host alone until `bpftune resume` (journal seq " +
                std::to_string(seq) + ")");
    return seq;
  }
  log::notice("override: " + writer + " changed " + std::string(info->name) + hostSuffix(key) +
              " in netns " + std::to_string(key.netns) + " to " +
              (live ? valueText(*info, *live) : std::string("?")) + " (" + sourceText(source) +
              "); " + std::string(policy::tunerName(report.tuner)) +
              " leaves it alone until `bpftune resume` (journal seq " + std::to_string(seq) + ")");
  return seq;
}

Answer Engine::reportOverride(const ReportedOverride& report, Peer peer) {
  const auto* info = policy::findTunable(report.tunable);
  if (info == nullptr) {
    return rejected("tunable",
                    0,
                    "tunable: unknown id " + std::to_string(static_cast<unsigned>(report.tunable)));
  }
  if (!policy::isTuner(report.tuner)) {
    return rejected(
        "tuner", 0, "tuner: unknown id " + std::to_string(static_cast<unsigned>(report.tuner)));
  }
  if (info->backend == policy::Backend::HOST_ROUTE ||
      info->backend == policy::Backend::JOURNAL_ONLY) {
    return rejected("tunable",
                    0,
                    "tunable: " + std::string(info->name) +
                        " is not a sysctl; the actuator finds changes to bpftune's routes itself "
                        "(compare-and-set)");
  }
  if (report.count != 0 && report.count != info->count) {
    return rejected("count",
                    info->count,
                    "count: " + std::to_string(report.count) + " values reported for " +
                        std::string(info->name) + ", which has " + std::to_string(info->count));
  }
  if (report.netnsCookie == 0) {
    return rejected("netnsCookie", 0, "netnsCookie: 0 names no network namespace");
  }
  // A global tunable lives in the init namespace whoever wrote it.
  Key key{info->perNetns ? report.netnsCookie : ownCookie, report.tunable, {}};
  int64_t now = journal::monotonicNow();
  auto last = lastOverrideNs.find(key);
  if (last != lastOverrideNs.end() && now - last->second < OVERRIDE_COALESCE_NS) {
    Answer a;
    a.reason = "coalesced with the override of " + std::string(info->name) +
               " journaled less than 1 s ago";
    return a;
  }
  auto live = readLive(key.netns, *info);
  if (!live && isGone(key.netns, live.error())) {
    return goneAnswer(key.netns, live.error());
  }
  lastOverrideNs[key] = now;
  std::optional<Values> liveValues = live ? std::optional<Values>(*live) : std::nullopt;
  Answer a;
  a.journalSeq = journalOverride(key, report, peer, proto::OverrideSource::SYSCTL_HOOK, liveValues);
  a.count = info->count;
  a.values = live ? *live : Values{};
  a.reason =
      std::string(info->name) + " in netns " + std::to_string(key.netns) + ": override journaled";
  return a;
}

std::string Engine::resumeKey(const Key& key, Peer peer) {
  const auto* info = policy::findTunable(key.tunable);
  std::string name =
      std::string(info->name) + hostSuffix(key) + " in netns " + std::to_string(key.netns);
  auto live = readLive(key, *info);
  if (!live) {
    return name + ": " + describe(live.error()) + "; stays overridden";
  }
  journal::Record r = baseRecord(proto::RecordKind::RESUME);
  r.tuner = proto::TunerId::ADMIN;
  r.scenario = proto::ScenarioId::ROLLBACK;
  r.netnsCookie = key.netns;
  r.netnsInode = inodeOf(key.netns);
  r.tunable = key.tunable;
  r.host = key.host;
  r.count = info->count;
  r.actual = *live;
  r.requesterPid = peer.pid;
  r.requesterUid = peer.uid;
  uint64_t seq = journal.append(r);
  state.apply(journal.records().back().record);
  return name + ": resumed from " + valueText(*info, *live) + " (journal seq " +
         std::to_string(seq) + ")";
}

Answer Engine::resume(proto::TunerId tuner, uint64_t netnsCookie, Peer peer) {
  if (!policy::isTuner(tuner)) {
    return rejected(
        "tuner", 0, "tuner: unknown id " + std::to_string(static_cast<unsigned>(tuner)));
  }
  Answer answer;
  std::vector<std::string> lines;
  for (const auto& [key, keyState] : state.keysNewestFirst()) {
    if (keyState.overridden && (netnsCookie == 0 || key.netns == netnsCookie)) {
      lines.push_back(resumeKey(key, peer));
    }
  }
  if (lines.empty()) {
    // Still journaled, so the epoch moves and a collector that stopped on its own resumes too.
    journal::Record r = baseRecord(proto::RecordKind::RESUME);
    r.tuner = proto::TunerId::ADMIN;
    r.scenario = proto::ScenarioId::ROLLBACK;
    r.netnsCookie = netnsCookie;
    r.requesterPid = peer.pid;
    r.requesterUid = peer.uid;
    journal.append(r);
    state.apply(journal.records().back().record);
    lines.emplace_back("no overridden tunable" + (netnsCookie != 0
                                                      ? " in netns " + std::to_string(netnsCookie)
                                                      : std::string()));
  }
  if (netnsCookie == 0 && isPaused) {
    isPaused = false;
    lines.emplace_back("the pause left by rollback is lifted");
  }
  for (const auto& line : lines) {
    log::notice("resume " + std::string(policy::tunerName(tuner)) + ": " + line);
    answer.reason += (answer.reason.empty() ? "" : "; ") + line;
  }
  answer.journalSeq = journal.records().empty() ? 0 : journal.records().back().record.seq;
  return answer;
}

}  // namespace bpftune::actuator
