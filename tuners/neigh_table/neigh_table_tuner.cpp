#include "neigh_table_tuner.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <string>

#include "change_limits.h"
#include "learning_rate.h"
#include "neigh_bounds.h"
#include "neigh_table_event.h"

namespace bpftune::tuners {
namespace {

using neigh_table::AF_INET6_FAMILY;
using neigh_table::AF_INET_FAMILY;
using neigh_table::INT_MAX_VALUE;

// The kernel's defaults, where shrinking stops (upstream's floor).
constexpr std::array<int64_t, 3> KERNEL_DEFAULTS = {128, 512, 1024};

struct Table {
  TunableId tunable;
  const char* name;
};

std::optional<Table> tableOf(const bpftune_event& event) {
  switch (event.detail[NEIGH_TABLE_DETAIL_FAMILY]) {
    case AF_INET_FAMILY:
      return Table{TunableId::NEIGH_ARP_GC_THRESH, "arp_cache"};
    case AF_INET6_FAMILY:
      return Table{TunableId::NEIGH_NDISC_GC_THRESH, "ndisc_cache"};
    default:
      return std::nullopt;
  }
}

std::string str(int64_t v) {
  return std::to_string(v);
}

std::string tripleText(const Values& v) {
  return str(v.v[0]) + "/" + str(v.v[1]) + "/" + str(v.v[2]);
}

bool isOrdered(const Values& v) {
  return v.v[0] <= v.v[1] && v.v[1] <= v.v[2];
}

// The live thresholds the collector read (init netns /proc/sys); when it could not (a collector
// outside the init netns, IPv6 disabled at boot) the event's: the tables are global, so the
// kernel's view at event time is the same table's value.
Values thresholdsOf(const bpftune_event& event, const CurrentValues& current, TunableId tunable) {
  auto it = current.sysctls.find(tunable);
  if (it != current.sysctls.end() && it->second.count == 3) {
    return it->second;
  }
  return Values{3, {event.sysctl[0], event.sysctl[1], event.sysctl[2]}};
}

std::string deviceText(const bpftune_event& event) {
  std::string name(event.dev, strnlen(event.dev, sizeof(event.dev)));
  return "dev " + name + " (ifindex " + str(event.ifindex) + ", netns " +
         std::to_string(event.netns_cookie) + ")";
}

std::string prefixText(const neigh_table::DevicePrefixes& prefixes) {
  if (prefixes.prefixLens.empty()) {
    return "no addresses";
  }
  std::string out;
  for (uint8_t len : prefixes.prefixLens) {
    out += (out.empty() ? "/" : " /") + str(len);
  }
  return out + (prefixes.truncated ? " and more not read" : "");
}

// Thresholds exist only in the init netns; a container's neighbours move the host's.
std::string scopeText(const bpftune_event& event, const CurrentValues& current) {
  if (current.homeNetns) {
    return "";
  }
  return "; gc_thresh exists only in the init netns, so netns " +
         std::to_string(event.netns_cookie) + " changes it for the whole host";
}

class NeighTableTuner final : public Tuner {
public:
  explicit NeighTableTuner(int learningRate) : rate(learningRate) {}

  TunerId id() const override { return TunerId::NEIGH_TABLE; }
  std::string_view name() const override { return "neigh_table"; }
  std::vector<TunableId> tunables() const override {
    return {TunableId::NEIGH_ARP_GC_THRESH, TunableId::NEIGH_NDISC_GC_THRESH};
  }

  std::vector<Proposal> onEvent(const bpftune_event& event, const CurrentValues& current) override;

private:
  std::optional<Proposal> grow(const bpftune_event& event,
                               const CurrentValues& current,
                               const Table& table,
                               const Values& old);
  std::optional<Proposal> shrink(const bpftune_event& event,
                                 const CurrentValues& current,
                                 const Table& table,
                                 const Values& old);
  std::optional<Proposal> propose(const bpftune_event& event,
                                  const Table& table,
                                  ScenarioId scenario,
                                  const Values& old,
                                  const Values& next,
                                  const std::string& why) const;
  std::string fraction() const { return "1/" + str(int64_t{1} << rate.shift()); }

  LearningRate rate;
  std::map<TunableId, neigh_table::TableBound> bounds;
};

std::vector<Proposal> NeighTableTuner::onEvent(const bpftune_event& event,
                                               const CurrentValues& current) {
  std::vector<Proposal> out;
  const auto table = tableOf(event);
  if (event.tuner != BPFTUNE_TUNER_NEIGH_TABLE || !table) {
    return out;
  }
  const neigh_table::DevicePrefixes prefixes = neigh_table::decodePrefixes(event);
  bounds[table->tunable].note(event.netns_cookie,
                              event.ifindex,
                              neigh_table::prefixBound(prefixes.family, prefixes.prefixLens),
                              event.ts_ns);
  const Values old = thresholdsOf(event, current, table->tunable);
  if (!isOrdered(old)) {
    return out;  // someone else's unordered setting: not ours to repair
  }
  std::optional<Proposal> p;
  if (event.kind == NEIGH_TABLE_EV_FULL) {
    p = grow(event, current, *table, old);
  } else if (event.kind == NEIGH_TABLE_EV_EMPTY) {
    p = shrink(event, current, *table, old);
  }
  if (p) {
    out.push_back(std::move(*p));
  }
  return out;
}

std::optional<Proposal> NeighTableTuner::grow(const bpftune_event& event,
                                              const CurrentValues& current,
                                              const Table& table,
                                              const Values& old) {
  // Judged against the live gc_thresh3: an event queued before our last change would
  // otherwise compound the step.
  if (!rate.nearlyFull(event.value, old.v[2])) {
    return std::nullopt;
  }
  const neigh_table::TableBound& bound = bounds[table.tunable];
  const int64_t cap = bound.total();
  // At the bound (or no address known to derive one from): more thresholds would only let the
  // table hold neighbours its prefixes cannot have.
  if (old.v[2] >= cap) {
    return std::nullopt;
  }
  Values desired = old;
  for (size_t i = 0; i < 3; ++i) {
    desired.v[i] = std::min(rate.grow(old.v[i]), INT_MAX_VALUE);
  }
  desired.v[2] = std::min(desired.v[2], cap);
  const Values next = limitTriple(old, orderTriple(desired));
  const bool failed = (static_cast<uint64_t>(event.detail[NEIGH_TABLE_DETAIL_FLAGS]) &
                       NEIGH_TABLE_FLAG_CREATE_FAILED) != 0;
  std::string why = std::string(table.name) + ": " + str(event.value) +
                    " entries against gc_thresh3 " + str(old.v[2]) + " (within " + fraction() +
                    ")" + (failed ? ", a neighbour create failed (table full)" : "") + " on " +
                    deviceText(event) + " with " + prefixText(neigh_table::decodePrefixes(event)) +
                    "; prefix bound " + str(cap) + " over " + str(bound.devices()) +
                    " device(s); raise gc_thresh1/2/3 to " + tripleText(next) +
                    scopeText(event, current);
  return propose(event, table, ScenarioId::NEIGH_TABLE_FULL, old, next, why);
}

std::optional<Proposal> NeighTableTuner::shrink(const bpftune_event& event,
                                                const CurrentValues& current,
                                                const Table& table,
                                                const Values& old) {
  if (!rate.nearlyEmpty(event.value, old.v[2])) {
    return std::nullopt;
  }
  // Toward the defaults, never past them and never up to them from below (an administrator's
  // smaller table stays small).
  Values desired = old;
  for (size_t i = 0; i < 3; ++i) {
    desired.v[i] = std::min(old.v[i], std::max(rate.shrink(old.v[i]), KERNEL_DEFAULTS[i]));
  }
  const Values next = limitTriple(old, orderTriple(desired));
  std::string why =
      std::string(table.name) + ": " + str(event.value) + " entries left against gc_thresh3 " +
      str(old.v[2]) + " (at most " + fraction() + ") after a removal on " + deviceText(event) +
      "; lower gc_thresh1/2/3 toward the kernel defaults 128/512/1024: " + tripleText(next) +
      scopeText(event, current);
  return propose(event, table, ScenarioId::NEIGH_TABLE_EMPTY, old, next, why);
}

std::optional<Proposal> NeighTableTuner::propose(const bpftune_event& event,
                                                 const Table& table,
                                                 ScenarioId scenario,
                                                 const Values& old,
                                                 const Values& next,
                                                 const std::string& why) const {
  // next is already step-limited and ordered; nothing to send when it changes nothing.
  if (next == old || !fitsPolicy(old, next)) {
    return std::nullopt;
  }
  return Proposal{
      TunerId::NEIGH_TABLE, scenario, event.netns_cookie, table.tunable, old, next, why};
}

}  // namespace

std::unique_ptr<Tuner> makeNeighTableTuner(int learningRate) {
  return std::make_unique<NeighTableTuner>(learningRate);
}

}  // namespace bpftune::tuners
