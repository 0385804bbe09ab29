// Reassembly failure rate per namespace and family, from the kernel's cumulative ReasmReqds and
// ReasmFails counters: the rate over the interval since the previous event, so each sample
// describes the threshold that was live during that interval (upstream divides the counters
// since boot, which mixes every threshold the namespace ever had, and divides by zero when no
// fragment ever arrived).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "bpftune.capnp.h"

namespace bpftune::tuners::ip_frag {

struct ReasmCounters {
  int64_t reqds = 0;  // ReasmReqds: fragments that needed reassembly
  int64_t fails = 0;  // ReasmFails: reassembly failures (drops at the limit, timeouts, errors)
};

struct ReasmSample {
  // Failures per 1000 reassembly requests since the previous observation; absent on the first
  // observation of an episode, when the counters went backwards, or when no fragment arrived.
  std::optional<uint64_t> failsPerMille;
  // The previous observation is older than EPISODE_GAP_NS (or there is none): earlier samples
  // describe other traffic and should be dropped.
  bool newEpisode = false;
};

class ReasmHistory {
public:
  // Near-threshold events repeat every 25 ms while the limit is hit; a minute without one ends
  // the episode (twice the default IPv4 reassembly timeout, equal to the IPv6 one).
  static constexpr uint64_t EPISODE_GAP_NS = 60ULL * 1000 * 1000 * 1000;
  static constexpr size_t DEFAULT_CAPACITY = 1024;

  explicit ReasmHistory(size_t maxEntries = DEFAULT_CAPACITY) : capacity(maxEntries) {}

  // Records the counters seen at tsNs for (netns, tunable) and returns the interval's rate.
  ReasmSample observe(uint64_t netnsCookie,
                      proto::TunableId tunable,
                      const ReasmCounters& now,
                      uint64_t tsNs);
  // The most recent rate of the current episode, for log lines.
  std::optional<uint64_t> lastFailsPerMille(uint64_t netnsCookie, proto::TunableId tunable) const;
  size_t size() const { return entries.size(); }

private:
  using Key = std::pair<uint64_t, proto::TunableId>;
  struct Entry {
    ReasmCounters counters;
    uint64_t tsNs = 0;
    std::optional<uint64_t> lastFailsPerMille;
  };

  void evictOldest();

  size_t capacity;
  std::map<Key, Entry> entries;
};

// fails * 1000 / reqds over an interval; nullopt when reqds is not positive (nothing to divide
// by), fails is negative, or the product overflows.
std::optional<uint64_t> failsPerMille(int64_t failsDelta, int64_t reqdsDelta);

}  // namespace bpftune::tuners::ip_frag
