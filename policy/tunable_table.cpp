#include "tunable_table.h"

#include <algorithm>
#include <array>

namespace bpftune::policy {
namespace {

constexpr std::array<TunableInfo, 4> TUNABLES = {{
    {TunableId::TCP_RMEM, "net.ipv4.tcp_rmem", "ipv4/tcp_rmem", 3, ValueKind::BYTES_TRIPLE, true},
    {TunableId::TCP_WMEM, "net.ipv4.tcp_wmem", "ipv4/tcp_wmem", 3, ValueKind::BYTES_TRIPLE, true},
    {TunableId::TCP_MEM, "net.ipv4.tcp_mem", "ipv4/tcp_mem", 3, ValueKind::PAGES_TRIPLE, false},
    {TunableId::TCP_MODERATE_RCVBUF,
     "net.ipv4.tcp_moderate_rcvbuf",
     "ipv4/tcp_moderate_rcvbuf",
     1,
     ValueKind::BOOLEAN,
     true},
}};

}  // namespace

std::span<const TunableInfo> allTunables() {
  return TUNABLES;
}

const TunableInfo* findTunable(TunableId id) {
  for (const auto& info : TUNABLES) {
    if (info.id == id) {
      return &info;
    }
  }
  return nullptr;
}

const TunableInfo* findTunable(std::string_view name) {
  for (const auto& info : TUNABLES) {
    if (info.name == name) {
      return &info;
    }
  }
  return nullptr;
}

std::span<const proto::TunerId> allTuners() {
  static constexpr std::array<proto::TunerId, 1> TUNERS = {proto::TunerId::TCP_BUFFER};
  return TUNERS;
}

bool isTuner(proto::TunerId id) {
  return std::ranges::any_of(allTuners(), [id](proto::TunerId tuner) { return tuner == id; });
}

const proto::TunerId* findTuner(std::string_view name) {
  for (const proto::TunerId& tuner : allTuners()) {
    if (tunerName(tuner) == name) {
      return &tuner;
    }
  }
  return nullptr;
}

std::string_view tunerName(proto::TunerId id) {
  switch (id) {
    case proto::TunerId::TCP_BUFFER:
      return "tcp_buffer";
    case proto::TunerId::ADMIN:
      return "admin";
    case proto::TunerId::ACTUATOR:
      return "actuator";
  }
  return "unknown";
}

std::string_view scenarioName(proto::ScenarioId id) {
  switch (id) {
    case proto::ScenarioId::BUFFER_INCREASE:
      return "need to increase TCP buffer size(s)";
    case proto::ScenarioId::BUFFER_DECREASE:
      return "need to decrease TCP buffer size(s)";
    case proto::ScenarioId::BUFFER_DECREASE_LATENCY:
      return "need to decrease TCP buffer size due to latency";
    case proto::ScenarioId::MEM_PRESSURE:
      return "approaching TCP memory pressure";
    case proto::ScenarioId::MEM_EXHAUSTION:
      return "approaching TCP memory exhaustion";
    case proto::ScenarioId::MODERATE_RCVBUF_ENABLE:
      return "match receive buffer size with throughput needs";
    case proto::ScenarioId::ROLLBACK:
      return "rollback";
    case proto::ScenarioId::RECOVERY:
      return "crash recovery";
  }
  return "unknown";
}

std::string_view scenarioDescription(proto::ScenarioId id) {
  switch (id) {
    case proto::ScenarioId::BUFFER_INCREASE:
      return "sockets run near the buffer limit; raise it to maximize throughput";
    case proto::ScenarioId::BUFFER_DECREASE:
      return "TCP memory cannot grow further; lower the per-socket buffer limit";
    case proto::ScenarioId::BUFFER_DECREASE_LATENCY:
      return "buffer growth correlates with smoothed RTT; lower the limit to cut latency";
    case proto::ScenarioId::MEM_PRESSURE:
      return "TCP memory use is near the pressure threshold; raise the thresholds";
    case proto::ScenarioId::MEM_EXHAUSTION:
      return "TCP memory use is near the maximum; raise it within a quarter of free memory";
    case proto::ScenarioId::MODERATE_RCVBUF_ENABLE:
      return "receive buffer limits changed; let the kernel auto-size receive buffers";
    case proto::ScenarioId::ROLLBACK:
      return "restore the value from before bpftune's first change in this boot";
    case proto::ScenarioId::RECOVERY:
      return "an intent was left without outcome by a crash; resolved from the live value";
  }
  return "unknown";
}

}  // namespace bpftune::policy
