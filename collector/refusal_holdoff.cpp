#include "refusal_holdoff.h"

#include <algorithm>

namespace bpftune::collector {

bool RefusalHoldoff::held(proto::TunerId tuner,
                          uint64_t netns,
                          proto::TunableId tunable,
                          uint64_t nowNs,
                          const HostAddress& host) const {
  auto it = holds.find(key(tuner, netns, tunable, host));
  return it != holds.end() && nowNs < it->second.untilNs;
}

// Expired holds go first; if none has expired, the table is full of live ones: drop the one
// that ends first.
void RefusalHoldoff::makeRoom(uint64_t nowNs) {
  if (holds.size() < MAX_KEYS) {
    return;
  }
  std::erase_if(holds, [nowNs](const auto& kv) { return kv.second.untilNs <= nowNs; });
  if (holds.size() >= MAX_KEYS) {
    holds.erase(
        std::ranges::min_element(holds, {}, [](const auto& kv) { return kv.second.untilNs; }));
  }
}

void RefusalHoldoff::rejected(proto::TunerId tuner,
                              uint64_t netns,
                              proto::TunableId tunable,
                              uint64_t nowNs,
                              const HostAddress& host) {
  const Key k = key(tuner, netns, tunable, host);
  auto it = holds.find(k);
  if (it == holds.end()) {
    makeRoom(nowNs);
    it = holds.emplace(k, Hold{}).first;
  }
  Hold& hold = it->second;
  hold.lengthNs = hold.lengthNs == 0 ? FIRST_NS : std::min(hold.lengthNs * 2, MAX_NS);
  hold.untilNs = nowNs + hold.lengthNs;
}

void RefusalHoldoff::applied(proto::TunerId tuner,
                             uint64_t netns,
                             proto::TunableId tunable,
                             const HostAddress& host) {
  holds.erase(key(tuner, netns, tunable, host));
}

void RefusalHoldoff::forget(uint64_t netns) {
  std::erase_if(holds, [netns](const auto& kv) { return std::get<1>(kv.first) == netns; });
}

}  // namespace bpftune::collector
