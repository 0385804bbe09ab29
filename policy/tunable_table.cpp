#include "tunable_table.h"

#include <algorithm>
#include <array>
#include <utility>

namespace bpftune::policy {
namespace {

using proto::ScenarioId;
using proto::TunerId;

constexpr ValueKind BYTES = ValueKind::BYTES_TRIPLE;
constexpr ValueKind PAGES = ValueKind::PAGES_TRIPLE;
constexpr ValueKind FLAG = ValueKind::BOOLEAN;
constexpr ValueKind INT = ValueKind::INTEGER;
constexpr bool NS = true;
constexpr bool INIT_ONLY = false;

// clang-format off
constexpr std::array<TunableInfo, 22> TUNABLES = {{
    {TunableId::TCP_RMEM, "net.ipv4.tcp_rmem", "ipv4/tcp_rmem", 3, BYTES, NS},
    {TunableId::TCP_WMEM, "net.ipv4.tcp_wmem", "ipv4/tcp_wmem", 3, BYTES, NS},
    {TunableId::TCP_MEM, "net.ipv4.tcp_mem", "ipv4/tcp_mem", 3, PAGES, INIT_ONLY},
    {TunableId::TCP_MODERATE_RCVBUF, "net.ipv4.tcp_moderate_rcvbuf", "ipv4/tcp_moderate_rcvbuf", 1, FLAG, NS},
    {TunableId::TCP_NO_METRICS_SAVE, "net.ipv4.tcp_no_metrics_save", "ipv4/tcp_no_metrics_save", 1, FLAG, NS},
    {TunableId::TCP_NO_SSTHRESH_METRICS_SAVE, "net.ipv4.tcp_no_ssthresh_metrics_save", "ipv4/tcp_no_ssthresh_metrics_save", 1, FLAG, NS},
    {TunableId::HIGH_ORDER_ALLOC_DISABLE, "net.core.high_order_alloc_disable", "core/high_order_alloc_disable", 1, FLAG, INIT_ONLY, Backend::STATIC_KEY},
    {TunableId::TCP_SYNCOOKIES, "net.ipv4.tcp_syncookies", "ipv4/tcp_syncookies", 1, ValueKind::CHOICE, NS},
    {TunableId::TCP_MAX_SYN_BACKLOG, "net.ipv4.tcp_max_syn_backlog", "ipv4/tcp_max_syn_backlog", 1, INT, NS},
    {TunableId::NEIGH_ARP_GC_THRESH, "net.ipv4.neigh.default.gc_thresh", "ipv4/neigh/default/gc_thresh", 3, ValueKind::COUNT_TRIPLE, INIT_ONLY, Backend::NEIGH_TABLE, "arp_cache"},
    {TunableId::NEIGH_NDISC_GC_THRESH, "net.ipv6.neigh.default.gc_thresh", "ipv6/neigh/default/gc_thresh", 3, ValueKind::COUNT_TRIPLE, INIT_ONLY, Backend::NEIGH_TABLE, "ndisc_cache"},
    {TunableId::NETDEV_MAX_BACKLOG, "net.core.netdev_max_backlog", "core/netdev_max_backlog", 1, INT, INIT_ONLY},
    {TunableId::FLOW_LIMIT_CPU_BITMAP, "net.core.flow_limit_cpu_bitmap", "core/flow_limit_cpu_bitmap", 1, ValueKind::CPU_MASK, INIT_ONLY},
    {TunableId::NETDEV_BUDGET, "net.core.netdev_budget", "core/netdev_budget", 1, INT, INIT_ONLY},
    {TunableId::NETDEV_BUDGET_USECS, "net.core.netdev_budget_usecs", "core/netdev_budget_usecs", 1, INT, INIT_ONLY},
    {TunableId::IPFRAG_HIGH_THRESH, "net.ipv4.ipfrag_high_thresh", "ipv4/ipfrag_high_thresh", 1, INT, NS},
    {TunableId::IP6FRAG_HIGH_THRESH, "net.ipv6.ip6frag_high_thresh", "ipv6/ip6frag_high_thresh", 1, INT, NS},
    {TunableId::UDP_MEM, "net.ipv4.udp_mem", "ipv4/udp_mem", 3, PAGES, INIT_ONLY},
    {TunableId::RMEM_MAX, "net.core.rmem_max", "core/rmem_max", 1, INT, INIT_ONLY},
    {TunableId::RMEM_DEFAULT, "net.core.rmem_default", "core/rmem_default", 1, INT, INIT_ONLY},
    {TunableId::ROUTE_CONGCTL, "net.route.host.congctl", "", 1, ValueKind::CONG_ALG, NS, Backend::HOST_ROUTE},
    {TunableId::SOCKET_CONGCTL, "net.persock.tcp.congestion_control", "", 1, ValueKind::CONG_ALG, NS, Backend::JOURNAL_ONLY},
}};
// clang-format on

struct ScenarioInfo {
  ScenarioId id;
  TunerId tuner;
  std::string_view name;  // upstream's wording where upstream has the scenario
  std::string_view description;
};

// clang-format off
constexpr std::array<ScenarioInfo, 31> SCENARIOS = {{
    {ScenarioId::BUFFER_INCREASE, TunerId::TCP_BUFFER, "need to increase TCP buffer size(s)", "sockets run near the buffer limit; raise it to maximize throughput"},
    {ScenarioId::BUFFER_DECREASE, TunerId::TCP_BUFFER, "need to decrease TCP buffer size(s)", "TCP memory cannot grow further; lower the per-socket buffer limit"},
    {ScenarioId::BUFFER_DECREASE_LATENCY, TunerId::TCP_BUFFER, "need to decrease TCP buffer size due to latency", "buffer growth correlates with smoothed RTT; lower the limit to cut latency"},
    {ScenarioId::MEM_PRESSURE, TunerId::TCP_BUFFER, "approaching TCP memory pressure", "TCP memory use is near the pressure threshold; raise the thresholds"},
    {ScenarioId::MEM_EXHAUSTION, TunerId::TCP_BUFFER, "approaching TCP memory exhaustion", "TCP memory use is near the maximum; raise it within a quarter of free memory"},
    {ScenarioId::MODERATE_RCVBUF_ENABLE, TunerId::TCP_BUFFER, "match receive buffer size with throughput needs", "receive buffer limits changed; let the kernel auto-size receive buffers"},
    {ScenarioId::ROLLBACK, TunerId::ADMIN, "rollback", "restore the value from before bpftune's first change in this boot"},
    {ScenarioId::RECOVERY, TunerId::ACTUATOR, "crash recovery", "an intent was left without outcome by a crash; resolved from the live value"},
    {ScenarioId::LOW_MEM_ENTER, TunerId::TCP_BUFFER, "set tunable on entering low-memory state", "TCP memory is near exhaustion; save memory (no metrics caching, no high-order allocations, smaller SYN backlog)"},
    {ScenarioId::LOW_MEM_LEAVE, TunerId::TCP_BUFFER, "unset tunable set earlier in low-memory state", "TCP memory pressure has ended; undo the low-memory settings"},
    {ScenarioId::SYN_BACKLOG_INCREASE, TunerId::TCP_BUFFER, "increase maximum syn backlog under load since syncookies are disabled", "SYN-ACK retransmits go with accepted connections: the backlog is too small for real load"},
    {ScenarioId::SYN_BACKLOG_DECREASE, TunerId::TCP_BUFFER, "decrease maximum syn backlog due to large numbers of uncompleted connections", "SYN-ACK retransmits without accepted connections: a flood; a bigger backlog only holds more of it"},
    {ScenarioId::SYNCOOKIES_ENABLE, TunerId::TCP_BUFFER, "enable syncookies as further SYN backlog increases do not help", "memory is low, so the backlog cannot grow; answer SYNs with cookies instead"},
    {ScenarioId::SYNCOOKIES_DISABLE, TunerId::TCP_BUFFER, "disable syncookies as they are ineffective", "syncookies failed at least 1024 times and never succeeded"},
    {ScenarioId::NEIGH_TABLE_FULL, TunerId::NEIGH_TABLE, "neighbour table nearly full", "entries are near gc_thresh3; raise the thresholds within the address space of the interface's prefixes"},
    {ScenarioId::NEIGH_TABLE_EMPTY, TunerId::NEIGH_TABLE, "neighbour table nearly empty", "entries are far below gc_thresh3; shrink the thresholds toward the kernel defaults"},
    {ScenarioId::NETDEV_BACKLOG_INCREASE, TunerId::NET_BUFFER, "need to increase max backlog size", "packets were dropped because a CPU's input backlog was full"},
    {ScenarioId::FLOW_LIMIT_CPU_SET, TunerId::NET_BUFFER, "need to set per-cpu bitmap value", "a CPU drops backlog packets; enable flow limits on it so one flow cannot fill its backlog"},
    {ScenarioId::NETDEV_BUDGET_INCREASE, TunerId::NET_BUFFER, "need to increase # of packets processed per NAPI poll", "NAPI polls ran out of budget (time squeeze); allow more packets and time per poll"},
    {ScenarioId::NETDEV_BUDGET_DECREASE, TunerId::NET_BUFFER, "need to decrease # of packets processed per NAPI poll", "budget growth correlates with a rising scheduler wait/run ratio; give time back to tasks"},
    {ScenarioId::FRAG_THRESH_INCREASE, TunerId::IP_FRAG, "need to increase IP fragmentation high threshold", "reassembly memory is near the high threshold; fragments would be dropped"},
    {ScenarioId::FRAG_THRESH_DECREASE, TunerId::IP_FRAG, "need to decrease IP fragmentation high threshold", "reassembly failures correlate with threshold growth: more memory only holds more bad fragments"},
    {ScenarioId::UDP_BUFFER_INCREASE, TunerId::UDP_BUFFER, "need to increase UDP buffer size(s)", "UDP sockets drop datagrams at a full receive buffer near the limit"},
    {ScenarioId::UDP_MEM_PRESSURE, TunerId::UDP_BUFFER, "approaching UDP memory pressure", "UDP memory use is near the pressure threshold; raise the thresholds"},
    {ScenarioId::UDP_MEM_EXHAUSTION, TunerId::UDP_BUFFER, "approaching UDP memory exhaustion", "UDP memory use is near the maximum; raise it within a quarter of free memory"},
    {ScenarioId::CONGCTL_EXPLORE, TunerId::TCP_CONN, "specify TCP congestion control algorithm (explore)", "explore: measure an algorithm not yet tried for this host (or, rarely, a random one)"},
    {ScenarioId::CONGCTL_SELECT, TunerId::TCP_CONN, "specify TCP congestion control algorithm (learned best)", "the algorithm with the lowest learned cost (RTT excess + delivery-rate deficit) for this host"},
    {ScenarioId::CONGCTL_LOSS, TunerId::TCP_CONN, "specify TCP congestion control algorithm (loss)", "connections to this host retransmit more than 1/64 of their segments: use bbr"},
    {ScenarioId::CONGCTL_LIVE_SWITCH, TunerId::TCP_CONN, "specify TCP congestion control algorithm (live switch)", "a live connection retransmits more than 1/64 of its segments: switched to bbr in place"},
    {ScenarioId::ROUTE_FOLLOW, TunerId::ACTUATOR, "the covering route changed: bpftune's host route follows it or is withdrawn", "an administrator changed or removed the route bpftune's host route copied its nexthop from; same algorithm, the new nexthop (or no route of bpftune's)"},
    {ScenarioId::PLUGIN_PROPOSAL, TunerId::PLUGIN, "plugin tuner proposal", "a tuner loaded from the plugin directory proposed a change; its name and reason are in the collector's log"},
}};
// clang-format on

const ScenarioInfo* findScenario(ScenarioId id) {
  for (const auto& info : SCENARIOS) {
    if (info.id == id) {
      return &info;
    }
  }
  return nullptr;
}

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

std::vector<std::string> procFiles(const TunableInfo& info) {
  if (info.procPath.empty()) {
    return {};
  }
  if (info.backend != Backend::NEIGH_TABLE) {
    return {std::string(info.procPath)};
  }
  std::vector<std::string> files;
  for (const char* suffix : {"1", "2", "3"}) {
    files.push_back(std::string(info.procPath) + suffix);
  }
  return files;
}

bool isDiscrete(ValueKind kind) {
  return kind == ValueKind::BOOLEAN || kind == ValueKind::CHOICE || kind == ValueKind::CPU_MASK ||
         kind == ValueKind::CONG_ALG;
}

bool isPerHost(TunableId id) {
  return id == TunableId::ROUTE_CONGCTL || id == TunableId::SOCKET_CONGCTL;
}

namespace {
constexpr std::array<std::pair<proto::CongAlg, std::string_view>, 5> CONG_ALG_NAMES = {{
    {proto::CongAlg::RENO, "reno"},
    {proto::CongAlg::CUBIC, "cubic"},
    {proto::CongAlg::BBR, "bbr"},
    {proto::CongAlg::HTCP, "htcp"},
    {proto::CongAlg::DCTCP, "dctcp"},
}};
}  // namespace

std::string_view congAlgName(int64_t alg) {
  if (alg == static_cast<int64_t>(proto::CongAlg::NONE)) {
    return "none";
  }
  for (const auto& [id, name] : CONG_ALG_NAMES) {
    if (static_cast<int64_t>(id) == alg) {
      return name;
    }
  }
  return "alg#?";
}

std::optional<proto::CongAlg> congAlgFromName(std::string_view name) {
  for (const auto& [id, algName] : CONG_ALG_NAMES) {
    if (algName == name) {
      return id;
    }
  }
  return std::nullopt;
}

std::span<const proto::TunerId> allTuners() {
  static constexpr std::array<proto::TunerId, 7> TUNERS = {proto::TunerId::TCP_BUFFER,
                                                           proto::TunerId::NEIGH_TABLE,
                                                           proto::TunerId::NET_BUFFER,
                                                           proto::TunerId::IP_FRAG,
                                                           proto::TunerId::UDP_BUFFER,
                                                           proto::TunerId::TCP_CONN,
                                                           proto::TunerId::PLUGIN};
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
    case proto::TunerId::NEIGH_TABLE:
      return "neigh_table";
    case proto::TunerId::NET_BUFFER:
      return "net_buffer";
    case proto::TunerId::IP_FRAG:
      return "ip_frag";
    case proto::TunerId::UDP_BUFFER:
      return "udp_buffer";
    case proto::TunerId::TCP_CONN:
      return "tcp_conn";
    case proto::TunerId::PLUGIN:
      return "plugin";
  }
  return "unknown";
}

std::string_view scenarioName(proto::ScenarioId id) {
  const ScenarioInfo* info = findScenario(id);
  return info != nullptr ? info->name : "unknown";
}

std::string_view scenarioDescription(proto::ScenarioId id) {
  const ScenarioInfo* info = findScenario(id);
  return info != nullptr ? info->description : "unknown";
}

proto::TunerId scenarioTuner(proto::ScenarioId id) {
  const ScenarioInfo* info = findScenario(id);
  // An id outside the table is refused before this matters; ACTUATOR is never a requester.
  return info != nullptr ? info->tuner : proto::TunerId::ACTUATOR;
}

}  // namespace bpftune::policy
