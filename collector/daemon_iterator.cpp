// The Daemon's iterators that act in the kernel (tcp_conn's live switch): run on the collector's
// clock, only in the collector's own namespace and only while every action can be journaled;
// each action the BPF side took comes back as an event and is reported to the actuator.
#include "daemon.h"
#include "live_switch.h"
#include "log.h"

namespace bpftune::collector {
void Daemon::runIterators() {
  const auto now = std::chrono::steady_clock::now();
  for (Slot& slot : slots) {
    IteratorAction* action = slot.bpf != nullptr ? slot.bpf->iteratorAction() : nullptr;
    if (action == nullptr || now < slot.nextIteratorRun) {
      continue;
    }
    slot.nextIteratorRun = now + action->period();
    runIterator(slot, *action);
  }
}

// An action nobody can journal, or that an administrator stopped, is not taken: the iterator
// waits while the tuner is stopped in this namespace (an administrator's write), while the
// actuator is unreachable or paused by a rollback (a PAUSED answer to any request, until the
// resume epoch changes), and while it refuses the reports (refusal hold-off).
void Daemon::runIterator(Slot& slot, IteratorAction& action) {
  IteratorStatus& st = slot.status.iterator;
  const auto tuner = static_cast<proto::TunerId>(slot.tunerId);
  std::string skip;
  if (namespaces.state(tuner, homeCookie) != tuners::netns::State::ACTIVE) {
    skip = "tuner stopped in this netns";
  } else if (!actuator.connected()) {
    skip = "actuator not connected";
  } else if (netnsSummary.resumeEpoch.empty()) {
    skip = "no answer from the actuator yet (advice mode unknown)";
  } else if (actuatorAdvising) {
    skip = "actuator in advice mode (nothing is changed until `bpftune apply`)";
  } else if (actuatorPaused) {
    skip = "actuator paused by a rollback (until `bpftune resume`)";
  } else if (holdoff.held(tuner, homeCookie, action.reportedAs(), monotonicNs())) {
    skip = "held back after a refused report";
  }
  if (!skip.empty()) {
    ++st.skipped;
    st.lastSkip = skip;
    return;
  }
  const auto start = std::chrono::steady_clock::now();
  auto taken = action.runOnce(action.budgetPerRun());
  st.lastRunUs = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                           std::chrono::steady_clock::now() - start)
                                           .count());
  ++st.runs;
  if (!taken) {
    log::warning(slot.status.name + ": iterator run failed: " + describe(taken.error()));
    return;
  }
  st.actions += *taken;
}

void Daemon::reportLiveSwitch(Slot& slot, const bpftune_event& event) {
  IteratorStatus& st = slot.status.iterator;
  const actuator::LiveSwitchReport report = liveSwitchReport(event);
  auto reply = actuator.reportLiveSwitch(report);
  if (!reply) {
    ++st.unjournaled;
    log::warning(slot.status.name + ": live switch of a connection to " + report.host.text() + ":" +
                 std::to_string(report.remotePort) +
                 " NOT journaled (actuator: " + reply.error().message + ")");
    return;
  }
  const uint64_t now = monotonicNs();
  const uint64_t latencyUs = now > event.ts_ns ? (now - event.ts_ns) / 1000 : 0;
  const auto tuner = static_cast<proto::TunerId>(slot.tunerId);
  std::string line = describeLiveSwitch(report, *reply, latencyUs, event.limit);
  if (reply->status == proto::Status::PAUSED) {
    actuatorPaused = true;  // journaled all the same (journalSeq), but switch nothing more
  }
  if (reply->status == proto::Status::OK ||
      (reply->status == proto::Status::PAUSED && reply->journalSeq != 0)) {
    ++st.journaled;
    holdoff.applied(tuner, homeCookie, proto::TunableId::SOCKET_CONGCTL);
    log::notice(line + (actuatorPaused ? "; live switch paused" : ""));
  } else {
    ++st.refused;
    holdoff.rejected(tuner, homeCookie, proto::TunableId::SOCKET_CONGCTL, now);
    log::warning(line + "; live switch paused");
  }
  noteReply(*reply);
}

}  // namespace bpftune::collector
