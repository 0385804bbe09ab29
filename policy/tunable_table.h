// The compiled-in table: TunableId -> sysctl path, value count and kind. This is the only place
// a sysctl path is named; the wire carries TunableId and nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "bpftune.capnp.h"

namespace bpftune::policy {

using proto::TunableId;

enum class ValueKind {
  BYTES_TRIPLE,  // min default max, bytes (tcp_rmem, tcp_wmem): ordered
  PAGES_TRIPLE,  // low pressure high, pages (tcp_mem): ordered
  BOOLEAN,       // 0 or 1
};

struct TunableInfo {
  TunableId id;
  std::string_view name;      // dotted sysctl name, for logs and the policy file
  std::string_view procPath;  // relative to /proc/sys/net
  uint8_t count;
  ValueKind kind;
  bool perNetns;  // false: exists only in the init netns
};

// Every tunable the product knows. Order follows the TunableId enum.
std::span<const TunableInfo> allTunables();

// nullptr for an id outside the table (an enum value from a newer or hostile peer).
const TunableInfo* findTunable(TunableId id);
const TunableInfo* findTunable(std::string_view name);

// The tuners that exist (not the ADMIN/ACTUATOR pseudo-tuners of journal records): the one list
// the actuator validates against and the CLI accepts names from.
std::span<const proto::TunerId> allTuners();
bool isTuner(proto::TunerId id);
const proto::TunerId* findTuner(std::string_view name);

// Shared names for tuners and scenarios (logs, CLI, status).
std::string_view tunerName(proto::TunerId id);
std::string_view scenarioName(proto::ScenarioId id);
std::string_view scenarioDescription(proto::ScenarioId id);

}  // namespace bpftune::policy
