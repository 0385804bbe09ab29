#include "live_switch.h"

#include <sys/socket.h>

#include <algorithm>

#include "conn_sample.h"
#include "tunable_table.h"

namespace bpftune::collector {
namespace {

std::string algName(proto::CongAlg alg) {
  return std::string(policy::congAlgName(static_cast<int64_t>(alg)));
}

}  // namespace

bool isLiveSwitch(const bpftune_event& event) {
  return event.tuner == BPFTUNE_TUNER_TCP_CONN && event.kind == TCP_CONN_EV_LIVE_SWITCH;
}

actuator::LiveSwitchReport liveSwitchReport(const bpftune_event& event) {
  actuator::LiveSwitchReport report;
  report.tuner = proto::TunerId::TCP_CONN;
  report.netnsCookie = event.netns_cookie;
  report.host = tuners::tcp_conn::eventHost(event);
  report.fromAlg = tuners::tcp_conn::congAlgOf(event.sysctl[0]);
  report.toAlg = tuners::tcp_conn::congAlgOf(event.sysctl[1]);
  report.localPort = event.sport;
  report.remotePort = event.dport;
  // total_retrans and segs_out are u32 in the kernel.
  report.retransmits =
      static_cast<uint32_t>(std::clamp<int64_t>(event.ns_values[1], 0, UINT32_MAX));
  report.segsOut = static_cast<uint32_t>(std::clamp<int64_t>(event.ns_values[2], 0, UINT32_MAX));
  return report;
}

std::string describeLiveSwitch(const actuator::LiveSwitchReport& r,
                               const actuator::ClientReply& reply,
                               uint64_t latencyUs,
                               int64_t ageUs) {
  const std::string where = r.host.family == AF_INET6 ? "[" + r.host.text() + "]" : r.host.text();
  std::string line =
      "tcp_conn: " + std::string(policy::scenarioName(proto::ScenarioId::CONGCTL_LIVE_SWITCH)) +
      " (" + std::string(policy::scenarioDescription(proto::ScenarioId::CONGCTL_LIVE_SWITCH)) +
      "): connection to " + where + ":" + std::to_string(r.remotePort) + " from local port " +
      std::to_string(r.localPort) + " in netns " + std::to_string(r.netnsCookie) + " switched " +
      algName(r.fromAlg) + " -> " + algName(r.toAlg) + ": " + actuator::statusName(reply.status);
  if (reply.status == proto::Status::OK) {
    line += " journal_seq=" + std::to_string(reply.journalSeq) +
            " latency_us=" + std::to_string(latencyUs);
  } else {
    line += " reason=\"" + reply.reason + "\"";
  }
  return line + "; why: " + std::to_string(r.retransmits) + " of " + std::to_string(r.segsOut) +
         " segments sent were retransmitted (more than 1/64)" +
         (ageUs > 0 ? ", " + std::to_string(ageUs / 1000) + " ms after it was established" : "");
}

}  // namespace bpftune::collector
