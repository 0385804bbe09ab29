// The compiled-in table: TunableId -> sysctl path, value count and kind. This is the only place
// a sysctl path is named; the wire carries TunableId and nothing else.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bpftune.capnp.h"

namespace bpftune::policy {

using proto::TunableId;

enum class ValueKind {
  BYTES_TRIPLE,  // min default max, bytes (tcp_rmem, tcp_wmem): ordered
  PAGES_TRIPLE,  // low pressure high, pages (tcp_mem): ordered
  COUNT_TRIPLE,  // thresholds, entries (neighbour gc_thresh1/2/3): ordered
  BOOLEAN,       // 0 or 1
  INTEGER,       // one value (counts, bytes, microseconds); step-limited like the triples
  CHOICE,        // one small enumerated value (tcp_syncookies 0/1/2): bounds only, no step
  CPU_MASK,      // a CPU bitmap, read and written as hex (at most 64 CPUs): bounds only, no step
  CONG_ALG,      // a proto::CongAlg (routeCongctl, socketCongctl): bounds only, no step
};

// How the actuator applies a tunable. The wire never says: the table does.
enum class Backend {
  SYSCTL,        // write procPath under /proc/sys/net
  NEIGH_TABLE,   // read procPath + "1".."3"; write with rtnetlink RTM_SETNEIGHTBL (init netns)
  STATIC_KEY,    // read procPath; written by the privileged writer, as the kernel wants
                 // CAP_SYS_ADMIN of the writing task (proc_do_static_key; init netns)
  HOST_ROUTE,    // routeCongctl: bpftune's own host route per (netns, host), read and written
                 // with rtnetlink by the privileged writer; no procPath
  JOURNAL_ONLY,  // socketCongctl: the actuator only journals reports of it, never writes it
};

struct TunableInfo {
  TunableId id;
  std::string_view name;      // dotted sysctl name, for logs and the policy file
  std::string_view procPath;  // relative to /proc/sys/net
  uint8_t count;
  ValueKind kind;
  bool perNetns;  // false: exists only in the init netns
  Backend backend = Backend::SYSCTL;
  // The family's table for NEIGH_TABLE ("arp_cache", "ndisc_cache"); empty otherwise.
  std::string_view neighTable = {};
};

// The /proc/sys/net-relative files that hold a tunable's values: procPath itself, or for a
// NEIGH_TABLE tunable its three gc_thresh files (each holds one of the values, in order).
std::vector<std::string> procFiles(const TunableInfo& info);

// Tunables keyed by a remote host as well as the netns (HostAddress on the wire and in the
// journal): routeCongctl and socketCongctl.
bool isPerHost(TunableId id);

// Names of proto::CongAlg values as the kernel spells them ("bbr"); "none" for NONE and
// "alg#N" outside the enum. fromName: nullopt for a name outside the enum (NONE is not a name).
std::string_view congAlgName(int64_t alg);
std::optional<proto::CongAlg> congAlgFromName(std::string_view name);

// Kinds whose changes are not step-limited (a percentage of a flag, choice or mask is
// meaningless) and not ordered.
bool isDiscrete(ValueKind kind);

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
// The tuner a scenario belongs to (ADMIN/ACTUATOR for rollback and recovery): a tuner may only
// send its own scenarios.
proto::TunerId scenarioTuner(proto::ScenarioId id);

}  // namespace bpftune::policy
