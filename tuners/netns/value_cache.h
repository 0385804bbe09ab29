// The collector cannot read another namespace's /proc/sys (the lookup follows the reader's
// namespace), so a foreign namespace's current values come from BPF events, which carry them as
// the kernel saw them. An actuator reply is newer than any event queued before it: its values
// (the live ones after the write, or at a refusal) win over older events.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "events.h"
#include "tuner.h"

namespace bpftune::tuners::netns {

class ValueCache {
public:
  static constexpr size_t MAX_ENTRIES = size_t{4} * 65536;

  // The live values of `tunable` in `netns` at monotonic time `tsNs` (from an actuator reply).
  void learn(uint64_t netns, TunableId tunable, const Values& values, uint64_t tsNs);
  // The freshest values: the event's own, unless a reply learned after the event says otherwise.
  Values pick(uint64_t netns, TunableId tunable, const Values& fromEvent, uint64_t eventTsNs) const;
  void forget(uint64_t netns);
  size_t size() const { return entries.size(); }

private:
  struct Entry {
    Values values;
    uint64_t tsNs = 0;
  };
  std::map<std::pair<uint64_t, TunableId>, Entry> entries;
};

// The values of `tunable` an event carries (as the kernel saw them in the event's namespace);
// nullopt for a tunable events do not carry.
std::optional<Values> valuesFromEvent(const bpftune_event& event, TunableId tunable);

}  // namespace bpftune::tuners::netns
