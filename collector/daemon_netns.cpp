// The Daemon's namespace side: discovery at start, appearance (BPF) and disappearance (2 s
// polls), the administrator's sysctl writes, and noticing `bpftune resume`.
#include <algorithm>
#include <cstring>

#include "daemon.h"
#include "log.h"
#include "tunable_table.h"

namespace bpftune::collector {
namespace {

// There is no hook for netns destruction: a namespace held by neither a task nor a mount is
// found gone by the next poll.
constexpr std::chrono::seconds SCAN_PERIOD{2};

// Text from BPF (NUL padded) with tabs and newlines as spaces: sysctl triples are usually
// written tab-separated, and the log shows them like /proc/sys does to a reader.
std::string trimmed(const char* text, size_t size) {
  std::string out(text, strnlen(text, size));
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\t' || c == '\n'; }, ' ');
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ' || out.back() == '\t')) {
    out.pop_back();
  }
  return out;
}

uint64_t elapsedUs(std::chrono::steady_clock::time_point since) {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                   std::chrono::steady_clock::now() - since)
                                   .count());
}

}  // namespace

std::string describeAdminWrite(const AdminWrite& w) {
  std::string where = "netns " + std::to_string(w.writerNetns) + " (inode " +
                      std::to_string(w.writerInode) +
                      (w.writerName.empty() ? "" : ", name \"" + w.writerName + "\"") + ")";
  std::string stops = w.global ? "; tuner stops for the home netns " +
                                     std::to_string(w.stoppedNetns) + " (global tunable)"
                               : "; tuner stops for this netns";
  return w.tuner + ": " + w.tunable + " overridden by the administrator: pid " +
         std::to_string(w.pid) + " comm \"" + w.comm + "\" uid " + std::to_string(w.uid) +
         " wrote \"" + w.value + "\" in " + where + stops + " until `bpftune resume`";
}

void Daemon::discoverNamespaces() {
  auto start = std::chrono::steady_clock::now();
  pollNamespaces(true);
  netnsSummary.discoveryMs = elapsedUs(start) / 1000;
  log::notice("netns: discovered " + std::to_string(namespaces.present()) + " namespaces in " +
              std::to_string(elapsedUs(start) / 1000) + " ms (" + std::to_string(elapsedUs(start)) +
              " us)");
}

void Daemon::pollNamespaces(bool first) {
  auto now = std::chrono::steady_clock::now();
  if (!first && now - lastScan < SCAN_PERIOD) {
    return;
  }
  lastScan = now;
  ScanStats stats;
  auto found = netnsWatch->scan(stats);
  if (!found) {
    if (!scanErrorLogged) {
      log::error("netns: scan failed: " + describe(found.error()));
      scanErrorLogged = true;
    }
    return;
  }
  tuners::netns::ScanChanges changes = namespaces.applyScan(*found);
  netnsPids.clear();
  for (const tuners::netns::ScanEntry& entry : *found) {
    if (entry.pid != 0) {
      netnsPids[entry.cookie] = entry.pid;
    }
  }
  ++netnsSummary.scans;
  netnsSummary.lastScanUs = elapsedUs(now);
  for (uint64_t cookie : changes.appeared) {
    netnsWatch->remember(cookie);
    if (!first) {
      ++netnsSummary.appeared;
      log::info("netns: appeared " + netnsLabel(cookie) + " (found by a scan)");
    }
  }
  for (uint64_t cookie : changes.revived) {
    netnsWatch->remember(cookie);
    log::info("netns: " + netnsLabel(cookie) + " is held again (found by a scan)");
  }
  for (uint64_t cookie : changes.gone) {
    netnsWatch->forget(cookie);
    ++netnsSummary.disappeared;
    log::info("netns: gone " + netnsLabel(cookie) + ": held by no process and no mount");
  }
  for (uint64_t cookie : namespaces.takeForgotten()) {
    values.forget(cookie);
    holdoff.forget(cookie);
  }
  if (stats.mountErrors > 0) {
    log::debug("netns: " + std::to_string(stats.mountErrors) + " nsfs mounts could not be read");
  }
}

void Daemon::observeNetns(uint64_t cookie, uint32_t inum, const std::string& why) {
  if (inum != 0) {
    netnsWatch->noteInode(inum, cookie);
  }
  tuners::netns::Seen seen = namespaces.observe(cookie, inum);
  if (seen == tuners::netns::Seen::KNOWN) {
    return;
  }
  netnsWatch->remember(cookie);
  if (seen == tuners::netns::Seen::APPEARED) {
    ++netnsSummary.appeared;
    log::info("netns: appeared " + netnsLabel(cookie) + ": " + why);
  } else {
    log::info("netns: " + netnsLabel(cookie) + " is alive again: " + why);
  }
}

void Daemon::netnsGone(uint64_t cookie, const std::string& why) {
  const tuners::netns::Netns* ns = namespaces.find(cookie);
  if (ns != nullptr && ns->gone) {
    return;
  }
  namespaces.markGone(cookie);
  netnsWatch->forget(cookie);
  std::erase_if(foreignValues,
                [cookie](const auto& entry) { return entry.first.second == cookie; });
  ++netnsSummary.disappeared;
  log::info("netns: gone " + netnsLabel(cookie) + ": " + why + "; every tuner stops there");
  for (uint64_t forgotten : namespaces.takeForgotten()) {
    values.forget(forgotten);
    holdoff.forget(forgotten);
  }
}

std::string Daemon::netnsLabel(uint64_t cookie) const {
  std::string out = "cookie " + std::to_string(cookie);
  if (const tuners::netns::Netns* ns = namespaces.find(cookie)) {
    out += " inode " + std::to_string(ns->inum);
    if (!ns->name.empty()) {
      out += " name \"" + log::sanitize(ns->name) + "\"";
    }
  }
  return out;
}

// Someone other than the actuator wrote a tunable: every tuner managing it stops in the
// namespace the write changed, and the actuator journals who did it.
void Daemon::handleSysctlWrite(const bpftune_event& event) {
  auto id = static_cast<proto::TunableId>(event.tunable);
  const policy::TunableInfo* info = policy::findTunable(id);
  if (info == nullptr) {
    ++unknownTunerEvents;
    return;
  }
  observeNetns(event.netns_cookie, event.netns_inum, "a sysctl was written there");
  const uint64_t target = tuners::netns::overrideTarget(*info, event.netns_cookie, homeCookie);
  const tuners::netns::Netns* writer = namespaces.find(event.netns_cookie);
  AdminWrite w;
  w.tunable = std::string(info->name);
  w.pid = static_cast<int32_t>(event.pid);
  w.uid = event.uid;
  w.comm = log::sanitize(trimmed(event.comm, sizeof(event.comm)));
  w.value = log::sanitize(trimmed(event.text, sizeof(event.text)));
  w.writerNetns = event.netns_cookie;
  w.writerInode = event.netns_inum;
  w.writerName = writer != nullptr ? log::sanitize(writer->name) : "";
  w.stoppedNetns = target;
  w.global = !info->perNetns;
  for (Slot& slot : slots) {
    auto managed = slot.tuner->tunables();
    if (std::find(managed.begin(), managed.end(), id) == managed.end()) {
      continue;
    }
    ++slot.status.adminOverrides;
    namespaces.disable(slot.tuner->id(), target);
    w.tuner = slot.status.name;
    log::notice(describeAdminWrite(w));
    reportOverride(slot, event, target);
  }
}

void Daemon::reportOverride(const Slot& slot, const bpftune_event& event, uint64_t target) {
  auto id = static_cast<proto::TunableId>(event.tunable);
  const policy::TunableInfo* info = policy::findTunable(id);
  actuator::OverrideReport report;
  report.tuner = slot.tuner->id();
  report.netnsCookie = target;
  report.tunable = id;
  report.writerPid = static_cast<int32_t>(event.pid);
  report.writerUid = event.uid;
  report.writerComm = trimmed(event.comm, sizeof(event.comm));
  auto parsed = tuners::netns::parseWrittenValues(trimmed(event.text, sizeof(event.text)),
                                                  info != nullptr ? info->count : 0);
  if (parsed) {
    report.count = parsed->count;
    report.values = parsed->v;
  }
  auto reply = actuator.reportOverride(report);
  if (!reply) {
    log::warning(slot.status.name + ": override not journaled (actuator: " + reply.error().message +
                 "); its compare-and-set will catch it");
    return;
  }
  noteReply(*reply);
}

void Daemon::noteReply(const actuator::ClientReply& reply) {
  if (reply.advising != actuatorAdvising) {
    log::notice(reply.advising ? "the actuator runs in advice mode: changes are proposed, not "
                                 "made; live switches wait"
                               : "the actuator left advice mode");
  }
  actuatorAdvising = reply.advising;
  noteEpoch(reply.resumeEpoch);
}

// Every reply carries the actuator's resume epoch; a change means an administrator ran
// `bpftune resume`: every stopped tuner is active again (a key the actuator still considers
// overridden answers OVERRIDDEN at the next request and stops it again).
void Daemon::noteEpoch(uint64_t epoch) {
  bool changed = resume.onEpoch(epoch);
  netnsSummary.resumeEpoch = std::to_string(epoch);
  if (!changed) {
    return;
  }
  actuatorPaused = false;
  size_t enabled = namespaces.enableAll();
  log::notice("resume: the actuator's resume epoch is now " + std::to_string(epoch) + "; " +
              std::to_string(enabled) + " stopped tuner state(s) active again");
}

void Daemon::pingForResume() {
  // The first reply sets the baseline, so get one as soon as the actuator is there.
  bool needBaseline = netnsSummary.resumeEpoch.empty() && actuator.connected();
  if (!needBaseline &&
      !resume.pingDue(std::chrono::steady_clock::now(), namespaces.anyDisabled())) {
    return;
  }
  auto reply = actuator.ping();
  if (reply) {
    noteReply(*reply);
  }
}

}  // namespace bpftune::collector
