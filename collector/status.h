// What the collector reports in its status file, and how it is rendered (JSON) and written
// (atomically: tmp + rename, so readers never see half a file).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "bpf_object.h"
#include "result.h"

namespace bpftune::collector {

inline constexpr const char* FOREIGN_NETNS_REASON =
    "not acted on: writes inside other namespaces come with issue 3";
inline constexpr const char* STATE_ACTIVE = "active";
inline constexpr const char* STATE_OVERRIDDEN = "disabled: value changed by someone else";

// Time from limit hit (BPF timestamp) to change applied, journal fsync included.
struct LatencyStats {
  uint64_t count = 0;
  uint64_t minUs = 0;
  uint64_t maxUs = 0;
  uint64_t sumUs = 0;
  void add(uint64_t us);
  uint64_t avgUs() const { return count == 0 ? 0 : sumUs / count; }
};

struct TunerStatus {
  std::string name;
  std::map<uint64_t, std::string> netnsState;  // cookie -> STATE_*
  uint64_t events = 0;
  uint64_t proposals = 0;
  uint64_t applied = 0;
  std::map<std::string, uint64_t> refused;  // status name -> count
  uint64_t droppedDisconnected = 0;         // proposals not sent: actuator down
  uint64_t skippedDisabled = 0;             // events for a netns where the tuner is disabled
  LatencyStats latency;
};

struct ObjectStatus {
  std::string tuner;
  std::vector<std::string> programs;
  std::vector<HookCounters> hooks;
  EventCounters events;
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
  std::map<uint64_t, uint64_t> foreignNetnsEvents;  // cookie -> events not acted on
  std::vector<ObjectStatus> objects;
};

std::string renderStatusJson(const StatusSnapshot& status);
std::string jsonEscape(std::string_view text);

// Writes path.tmp, fsyncs it and renames it over path.
Status writeFileAtomic(const std::string& path, const std::string& content);

// CapEff line of /proc/self/status, e.g. "000000c000000000".
std::string readCapEff();

}  // namespace bpftune::collector
