// The journal's record as a plain C++ struct, so callers (actuator, CLI) never hold capnp readers.
// The on-disk form is proto::JournalRecord (bpftune.capnp) as a flat array.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "bpftune.capnp.h"
#include "host_address.h"
#include "result.h"

namespace bpftune::journal {

using BootId = std::array<uint8_t, 16>;
using Values = std::array<int64_t, 3>;

// routeCongctl: bpftune's host route and the nexthop it copied from the covering route.
struct RouteNexthop {
  uint32_t table = 0;
  HostAddress gateway;  // empty: on-link
  uint32_t oif = 0;
  std::string ifname;   // at the time of the write (ifindexes are reused)
  HostAddress prefsrc;  // empty: none
  uint8_t coveringLen = 0;
  bool operator==(const RouteNexthop& other) const = default;
};

// socketCongctl (liveSwitch records): the connection switched in place.
struct LiveSocket {
  uint16_t localPort = 0;
  uint16_t remotePort = 0;
  uint32_t retransmits = 0;
  uint32_t segsOut = 0;
  bool operator==(const LiveSocket& other) const = default;
};

struct Record {
  uint64_t seq = 0;
  proto::RecordKind kind = proto::RecordKind::INTENT;
  int64_t realtimeNs = 0;
  int64_t monotonicNs = 0;
  BootId bootId{};
  proto::TunerId tuner = proto::TunerId::TCP_BUFFER;
  proto::ScenarioId scenario = proto::ScenarioId::BUFFER_INCREASE;
  uint64_t netnsCookie = 0;
  proto::TunableId tunable = proto::TunableId::TCP_RMEM;
  uint8_t count = 0;
  Values oldValues{};
  Values newValues{};
  int32_t requesterPid = 0;
  uint32_t requesterUid = 0;
  uint64_t intentSeq = 0;
  proto::OutcomeResult result = proto::OutcomeResult::APPLIED;
  int32_t error = 0;
  Values actual{};
  int32_t actuatorPid = 0;
  std::vector<uint8_t> filterDigest;  // 32 bytes in start records, else empty
  uint64_t causeNetnsCookie = 0;      // netns whose event caused the change (0: netnsCookie)
  uint32_t netnsInode = 0;            // inode of netnsCookie's namespace (0: unknown)
  int32_t writerPid = 0;              // override records: who wrote (0: unknown)
  uint32_t writerUid = 0;
  std::string writerComm;  // override records: sanitized, at most 16 bytes
  proto::OverrideSource overrideSource = proto::OverrideSource::NONE;
  HostAddress host;          // routeCongctl, socketCongctl: the remote host (empty otherwise)
  RouteNexthop route;        // routeCongctl
  LiveSocket socket;         // socketCongctl
  uint64_t proposalSeq = 0;  // intent/outcome of `bpftune apply`: the proposal it applies

  bool operator==(const Record& other) const = default;
};

// Flat-array capnp encoding (word aligned, a multiple of 8 bytes).
std::vector<uint8_t> encode(const Record& record);
// Throws nothing: a payload that does not decode is an Error naming why.
Result<Record> decode(const uint8_t* data, size_t size);

// One human line: time, seq, kind, tuner, scenario, netns, tunable, old -> new, result, requester.
std::string toText(const Record& record);
// One JSON object (no trailing newline).
std::string toJson(const Record& record);

// Stable names, as `bpftune journal` prints them (and the journald fields carry them).
std::string recordKindName(proto::RecordKind kind);
std::string outcomeName(proto::OutcomeResult result);
std::string tunableName(proto::TunableId id);
// Values by count; congestion-control algorithms by name.
std::string recordValuesText(const Record& record, const Values& values);
// Overrides and resumes are an administrator's acts: they carry no scenario.
bool recordHasScenario(proto::RecordKind kind);

// The current boot id from /proc/sys/kernel/random/boot_id.
Result<BootId> readBootId();
Result<BootId> parseBootId(const std::string& text);
std::string bootIdText(const BootId& id);
std::string hex(const uint8_t* data, size_t size);

// Clock helpers shared by writers.
int64_t realtimeNow();
int64_t monotonicNow();

}  // namespace bpftune::journal
