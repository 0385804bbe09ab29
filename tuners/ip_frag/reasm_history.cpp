#include "reasm_history.h"

#include <algorithm>

namespace bpftune::tuners::ip_frag {

std::optional<uint64_t> failsPerMille(int64_t failsDelta, int64_t reqdsDelta) {
  int64_t scaled = 0;
  if (reqdsDelta <= 0 || failsDelta < 0 || __builtin_mul_overflow(failsDelta, 1000, &scaled)) {
    return std::nullopt;
  }
  return static_cast<uint64_t>(scaled / reqdsDelta);
}

ReasmSample ReasmHistory::observe(uint64_t netnsCookie,
                                  proto::TunableId tunable,
                                  const ReasmCounters& now,
                                  uint64_t tsNs) {
  const Key key{netnsCookie, tunable};
  auto it = entries.find(key);
  if (it == entries.end()) {
    if (capacity == 0) {
      return ReasmSample{std::nullopt, true};
    }
    if (entries.size() >= capacity) {
      evictOldest();
    }
    entries.emplace(key, Entry{now, tsNs, std::nullopt});
    return ReasmSample{std::nullopt, true};
  }
  Entry& prev = it->second;
  // Events reach userspace in order per CPU only; an older timestamp just counts as no gap.
  const bool gap = tsNs > prev.tsNs && tsNs - prev.tsNs > EPISODE_GAP_NS;
  const ReasmCounters before = prev.counters;
  prev.counters = now;
  prev.tsNs = std::max(tsNs, prev.tsNs);
  if (gap) {
    prev.lastFailsPerMille.reset();
    return ReasmSample{std::nullopt, true};
  }
  ReasmSample sample{failsPerMille(now.fails - before.fails, now.reqds - before.reqds), false};
  if (sample.failsPerMille) {
    prev.lastFailsPerMille = sample.failsPerMille;
  }
  return sample;
}

std::optional<uint64_t> ReasmHistory::lastFailsPerMille(uint64_t netnsCookie,
                                                        proto::TunableId tunable) const {
  auto it = entries.find(Key{netnsCookie, tunable});
  return it == entries.end() ? std::nullopt : it->second.lastFailsPerMille;
}

void ReasmHistory::evictOldest() {
  auto oldest = std::min_element(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    return a.second.tsNs < b.second.tsNs;
  });
  entries.erase(oldest);
}

}  // namespace bpftune::tuners::ip_frag
