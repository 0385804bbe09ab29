// `bpftune status` for tcp_conn: counters over every host, and the most recently seen hosts in
// full, as one JSON object (bounded however many hosts the table holds).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "host_table.h"

namespace bpftune::tuners::tcp_conn {

struct Totals {
  uint64_t events = 0;    // TCP_CONN_EV_CLOSED events
  uint64_t measured = 0;  // of those, measurements
  uint64_t skippedHost = 0;
  uint64_t skippedAlgorithm = 0;
  uint64_t skippedSmall = 0;
  uint64_t skippedRtt = 0;
  uint64_t skippedRate = 0;
  uint64_t lossy = 0;         // connections over the loss threshold
  uint64_t liveSwitches = 0;  // TCP_CONN_EV_LIVE_SWITCH events
  uint64_t explore = 0;       // proposals by scenario
  uint64_t select = 0;
  uint64_t loss = 0;
  uint64_t timedOut = 0;              // proposals given up without an answer
  std::array<uint64_t, 8> replies{};  // by proto::Status
  uint64_t repliesUnknownHost = 0;    // answers for a host no longer in the table
};

struct StatusView {
  const HostTable& hosts;
  const Totals& totals;
  size_t shownHosts = 0;
  int64_t rttFloorUs = 1;
};

std::string statusJson(const StatusView& view);

}  // namespace bpftune::tuners::tcp_conn
