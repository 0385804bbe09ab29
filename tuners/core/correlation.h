// Pearson correlation over running sums, as upstream's corr.h: no history is kept, so memory is
// constant per key; any overflow starts the series again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <utility>

#include "bpftune.capnp.h"

namespace bpftune::tuners {

class Correlation {
public:
  static constexpr uint64_t MIN_SAMPLES = 10;
  static constexpr double THRESHOLD = 0.75;

  // Resets all sums first when adding the sample would overflow any of them.
  void add(uint64_t x, uint64_t y);
  // 0 with fewer than MIN_SAMPLES samples or when either variable has no variance.
  double r() const;
  uint64_t samples() const { return n; }
  void reset() { *this = Correlation(); }

private:
  uint64_t n = 0;
  uint64_t sumX = 0;
  uint64_t sumXSq = 0;
  uint64_t sumY = 0;
  uint64_t sumYSq = 0;
  uint64_t sumXy = 0;
};

// One Correlation per (netns cookie, tunable), bounded: when full, the least recently fed entry
// is dropped, so a flood of short-lived namespaces cannot grow memory.
class CorrelationTable {
public:
  static constexpr size_t DEFAULT_CAPACITY = 1024;

  explicit CorrelationTable(size_t maxEntries = DEFAULT_CAPACITY) : capacity(maxEntries) {}

  void add(uint64_t netnsCookie, proto::TunableId tunable, uint64_t x, uint64_t y);
  // 0 for an unknown key.
  double r(uint64_t netnsCookie, proto::TunableId tunable) const;
  uint64_t samples(uint64_t netnsCookie, proto::TunableId tunable) const;
  // Forget a key's samples, so the next decision rests on fresh evidence only.
  void forget(uint64_t netnsCookie, proto::TunableId tunable) {
    entries.erase(Key{netnsCookie, tunable});
  }
  size_t size() const { return entries.size(); }

private:
  using Key = std::pair<uint64_t, proto::TunableId>;
  struct Entry {
    Correlation corr;
    uint64_t lastUse = 0;
  };

  void evictOldest();

  size_t capacity;
  uint64_t clock = 0;
  std::map<Key, Entry> entries;
};

}  // namespace bpftune::tuners
