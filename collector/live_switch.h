// tcp_conn's live switch as the collector reports it: the TCP_CONN_EV_LIVE_SWITCH event of
// bpf/tcp_conn.bpf.c's iterator turned into the actuator's reportLiveSwitch request and into
// the what-and-why log line.
#pragma once

#include <cstdint>
#include <string>

#include "client.h"
#include "events.h"

namespace bpftune::collector {

bool isLiveSwitch(const bpftune_event& event);

// The host as the tuner reads it (tuners/tcp_conn eventHost); an algorithm value outside
// proto::CongAlg becomes NONE (the actuator refuses it as such).
actuator::LiveSwitchReport liveSwitchReport(const bpftune_event& event);

// "tcp_conn: <scenario> (<its description>): connection to 10.0.0.2:5201 from local port 40000
// in netns 3 switched cubic -> bbr: ok journal_seq=12 latency_us=800; why: 40 of 1200 segments
// sent were retransmitted (more than 1/64), 350 ms after it was established"; ageUs is the
// event's limit (0: the start is unknown).
std::string describeLiveSwitch(const actuator::LiveSwitchReport& report,
                               const actuator::ClientReply& reply,
                               uint64_t latencyUs,
                               int64_t ageUs);

}  // namespace bpftune::collector
