// What the journal says about the current boot: per (netns, tunable, host) the value before
// bpftune's first change, the value bpftune last left there, and intents that never got an
// outcome.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <tuple>
#include <utility>
#include <vector>

#include "host_address.h"
#include "journal_record.h"

namespace bpftune::actuator {

using journal::Values;
// What bpftune changes: a sysctl of a namespace, or a per-host tunable (routeCongctl) of a
// namespace for one remote host.
struct Key {
  uint64_t netns = 0;
  proto::TunableId tunable = proto::TunableId::TCP_RMEM;
  HostAddress host;  // empty for sysctls

  // Spelled out: clang-tidy 14 misreads a defaulted operator<=> (modernize-use-nullptr).
  bool operator==(const Key& other) const = default;
  bool operator<(const Key& other) const {
    return std::tie(netns, tunable, host) < std::tie(other.netns, other.tunable, other.host);
  }
};

struct KeyState {
  uint8_t count = 0;
  bool changed = false;               // bpftune wrote (or meant to write) it in this boot
  bool overridden = false;            // someone else wrote it; bpftune leaves it alone
  Values original{};                  // old value of the first intent (or of the last resume)
  std::optional<Values> lastApplied;  // read back after bpftune's latest completed write
  uint64_t lastIntentSeq = 0;         // orders keys for rollback (newest first)
};

class BootState {
public:
  explicit BootState(journal::BootId bootId) : bootId(bootId) {}

  // Feed every record in journal order (records of other boots are ignored).
  void apply(const journal::Record& record);

  const KeyState* find(const Key& key) const;
  // Keys of `netns` and `tunable` whose value bpftune last left there is not 0 (for
  // routeCongctl: bpftune's live host routes in that namespace).
  size_t countNonZero(uint64_t netns, proto::TunableId tunable) const;
  // Keys ordered newest-changed first.
  std::vector<std::pair<Key, KeyState>> keysNewestFirst() const;
  // routeCongctl keys where bpftune's last completed write left a route of its own (an
  // algorithm, not none) and nobody overrode it since, in key order.
  std::vector<Key> liveHostRoutes() const;
  // Intents of this boot with neither OUTCOME nor RECOVERED, in journal order.
  std::vector<journal::Record> unresolved() const;
  // Resume records of this boot; replies carry it so the collector sees a resume.
  uint64_t resumeEpoch() const { return resumes; }

private:
  journal::BootId bootId;
  std::map<Key, KeyState> keys;
  std::map<uint64_t, journal::Record> pending;  // intent seq -> intent
  uint64_t resumes = 0;
};

}  // namespace bpftune::actuator
