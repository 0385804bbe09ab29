#include "value_cache.h"

namespace bpftune::tuners::netns {

void ValueCache::learn(uint64_t netns, TunableId tunable, const Values& values, uint64_t tsNs) {
  auto key = std::make_pair(netns, tunable);
  if (entries.size() >= MAX_ENTRIES && !entries.contains(key)) {
    entries.erase(entries.begin());  // bounded; an evicted entry only means "use the event's"
  }
  Entry& entry = entries[key];
  if (tsNs >= entry.tsNs) {
    entry = Entry{values, tsNs};
  }
}

Values ValueCache::pick(uint64_t netns,
                        TunableId tunable,
                        const Values& fromEvent,
                        uint64_t eventTsNs) const {
  auto it = entries.find(std::make_pair(netns, tunable));
  if (it == entries.end() || it->second.tsNs <= eventTsNs ||
      it->second.values.count != fromEvent.count) {
    return fromEvent;
  }
  return it->second.values;
}

void ValueCache::forget(uint64_t netns) {
  auto it = entries.lower_bound(std::make_pair(netns, static_cast<TunableId>(0)));
  while (it != entries.end() && it->first.first == netns) {
    it = entries.erase(it);
  }
}

namespace {

// Which event slot holds which per-netns tunable, per tuner (events.h enum bpftune_*_slot).
struct Slot {
  uint32_t tuner;
  TunableId tunable;
  int slot;
};
constexpr Slot SLOTS[] = {
    {BPFTUNE_TUNER_TCP_BUFFER, TunableId::TCP_MAX_SYN_BACKLOG, TCP_BUFFER_NS_MAX_SYN_BACKLOG},
    {BPFTUNE_TUNER_TCP_BUFFER, TunableId::TCP_SYNCOOKIES, TCP_BUFFER_NS_SYNCOOKIES},
    {BPFTUNE_TUNER_TCP_BUFFER, TunableId::TCP_NO_METRICS_SAVE, TCP_BUFFER_NS_NO_METRICS_SAVE},
    {BPFTUNE_TUNER_TCP_BUFFER,
     TunableId::TCP_NO_SSTHRESH_METRICS_SAVE,
     TCP_BUFFER_NS_NO_SSTHRESH_METRICS_SAVE},
    {BPFTUNE_TUNER_IP_FRAG, TunableId::IPFRAG_HIGH_THRESH, IP_FRAG_NS_IPFRAG_HIGH_THRESH},
    {BPFTUNE_TUNER_IP_FRAG, TunableId::IP6FRAG_HIGH_THRESH, IP_FRAG_NS_IP6FRAG_HIGH_THRESH},
};

}  // namespace

std::optional<Values> valuesFromEvent(const bpftune_event& event, TunableId tunable) {
  for (const Slot& s : SLOTS) {
    if (s.tuner == event.tuner && s.tunable == tunable) {
      return Values{1, {event.ns_values[s.slot], 0, 0}};
    }
  }
  if (event.tuner != BPFTUNE_TUNER_TCP_BUFFER) {
    return std::nullopt;
  }
  switch (tunable) {
    case TunableId::TCP_RMEM:
      return Values{3, {event.rmem[0], event.rmem[1], event.rmem[2]}};
    case TunableId::TCP_WMEM:
      return Values{3, {event.wmem[0], event.wmem[1], event.wmem[2]}};
    case TunableId::TCP_MODERATE_RCVBUF:
      return Values{1, {event.moderate_rcvbuf, 0, 0}};
    default:
      break;  // global ones are read where they exist (the init netns), never from an event
  }
  return std::nullopt;
}

}  // namespace bpftune::tuners::netns
