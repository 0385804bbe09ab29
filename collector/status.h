// What the collector reports in its status file, and how it is rendered (JSON) and written
// (atomically: tmp + rename, so readers never see half a file).
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "bpf_object.h"
#include "netns_table.h"
#include "result.h"

namespace bpftune::collector {

// Time from limit hit (BPF timestamp) to change applied, journal fsync included.
struct LatencyStats {
  uint64_t count = 0;
  uint64_t minUs = 0;
  uint64_t maxUs = 0;
  uint64_t sumUs = 0;
  void add(uint64_t us);
  uint64_t avgUs() const { return count == 0 ? 0 : sumUs / count; }
};

// Cumulative-on-render histogram of durations (Prometheus buckets, seconds).
struct Histogram {
  // Upper bounds in microseconds: 100 us .. 10 s; the last bucket (+Inf) is implicit.
  static constexpr std::array<uint64_t, 14> BOUNDS_US = {100,
                                                         250,
                                                         500,
                                                         1000,
                                                         2500,
                                                         5000,
                                                         10000,
                                                         25000,
                                                         50000,
                                                         100000,
                                                         250000,
                                                         1000000,
                                                         2500000,
                                                         10000000};
  std::array<uint64_t, BOUNDS_US.size()> buckets{};  // per bucket, not cumulative
  uint64_t count = 0;
  uint64_t sumUs = 0;
  void observe(uint64_t us);
};

// Why a request was refused, reduced to a bounded set of label values (metrics).
struct RefusalKey {
  std::string status;  // actuator::statusName
  std::string field;   // the wire field the actuator named ("new2", "tunable"), "none" or "other"
  std::string bound;   // min, max, order, step, rate, identity, none
  bool operator<(const RefusalKey& other) const {
    return std::tie(status, field, bound) < std::tie(other.status, other.field, other.bound);
  }
};
RefusalKey refusalKey(std::string_view status, std::string_view field, std::string_view reason);

// A tunable's value in one namespace as the collector last knew it.
struct TunableValue {
  std::string tuner;
  std::string tunable;  // dotted sysctl name
  uint64_t netns = 0;   // cookie
  std::vector<int64_t> values;
};

// A tuner's iterator that acts in the kernel (IteratorAction): what it did and what the journal
// has of it.
struct IteratorStatus {
  std::string what;          // IteratorAction::describe()
  uint64_t runs = 0;         // iterator runs
  uint64_t actions = 0;      // actions taken (connections switched)
  uint64_t journaled = 0;    // reports the actuator journaled
  uint64_t refused = 0;      // reports it refused (the iterator then pauses: refusal hold-off)
  uint64_t unjournaled = 0;  // reports that could not be sent (actuator gone meanwhile)
  uint64_t skipped = 0;      // runs not made: tuner stopped, actuator down, or held back
  uint64_t lastRunUs = 0;    // how long the last run took
  std::string lastSkip;      // why the last skipped run was skipped
};

struct TunerStatus {
  std::string name;
  std::map<uint64_t, std::string> netnsState;  // cookie -> netns::stateName, where it had events
                                               // or is not active
  uint64_t events = 0;
  uint64_t proposals = 0;
  uint64_t applied = 0;
  std::map<std::string, uint64_t> refused;  // status name -> count
  uint64_t droppedDisconnected = 0;         // proposals not sent: actuator down
  uint64_t skippedDisabled = 0;             // events for a netns where the tuner is disabled
  uint64_t heldBack = 0;        // proposals not sent: the same one was refused moments ago
  uint64_t adminOverrides = 0;  // writes by others to a tunable it manages
  LatencyStats latency;
  // Metrics only (the status JSON keeps its summary fields above).
  std::map<std::string, uint64_t> appliedByScenario;  // scenario name -> applied changes
  std::map<RefusalKey, uint64_t> refusedBy;
  Histogram roundTrip;      // every actuator request, send to reply
  Histogram changeLatency;  // BPF event to applied change (the `latency` above, bucketed)
  bool hasIterator = false;
  IteratorStatus iterator;
  std::string stateJson;  // Tuner::statusJson(): the tuner's learned state ("" when none)
  std::string plugin;     // the plugin file it was loaded from ("" for a built-in tuner)
  std::string strategy;   // the active strategy ("" when the tuner offers none)
  uint64_t strategySwitches = 0;
};

struct ObjectStatus {
  std::string tuner;
  std::vector<std::string> programs;
  std::vector<HookCounters> hooks;
  EventCounters events;
};

// Namespace tracking at a glance; the per-namespace table is rendered separately
// (renderNamespacesJson) and only when it changed.
struct NetnsSummary {
  size_t present = 0;
  size_t gone = 0;
  uint64_t discoveryMs = 0;  // the first scan, at start
  uint64_t scans = 0;
  uint64_t lastScanUs = 0;
  uint64_t appeared = 0;  // since start, after the first scan
  uint64_t disappeared = 0;
  std::string sysctlWatch;  // "attached to PATH" or "unavailable: why"
  std::string resumeEpoch;  // "" until the actuator answered once
};

struct StatusSnapshot {
  pid_t pid = 0;
  uid_t uid = 0;
  std::string capEff;  // hex as in /proc/self/status
  int learningRate = 4;
  uint64_t homeNetnsCookie = 0;
  std::string actuatorState;  // "connected" / "disconnected: why"
  std::string actuatorSocket;
  uint64_t actuatorConnects = 0;
  uint64_t ringbufEvents = 0;
  uint64_t unknownTunerEvents = 0;
  int64_t freeBufferPages = 0;
  std::vector<TunerStatus> tuners;
  std::vector<std::string> pluginDirs;  // the plugin directories being watched
  uint64_t pluginsRefused = 0;          // untrusted or unusable plugin files, since start
  NetnsSummary netns;
  std::string namespacesJson;  // renderNamespacesJson
  std::vector<ObjectStatus> objects;
  std::vector<TunableValue> values;  // home namespace read at render time, others as last seen
};

std::string renderStatusJson(const StatusSnapshot& status);
// The "namespaces" array: one object per namespace with every tuner's state there.
std::string renderNamespacesJson(
    const tuners::netns::NetnsTable& table,
    const std::vector<std::pair<proto::TunerId, std::string>>& tunerNames);
std::string jsonEscape(std::string_view text);

// Writes path.tmp, fsyncs it and renames it over path. `mode`, when given, is set on the file
// regardless of the umask (the metrics file is read by node_exporter's user).
Status writeFileAtomic(const std::string& path,
                       const std::string& content,
                       std::optional<mode_t> mode = std::nullopt);

// CapEff line of /proc/self/status, e.g. "000000c000000000".
std::string readCapEff();

}  // namespace bpftune::collector
