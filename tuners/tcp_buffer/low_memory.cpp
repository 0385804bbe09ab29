#include "low_memory.h"

#include <algorithm>

#include "change_limits.h"
#include "tunable_table.h"

namespace bpftune::tuners::tcp_buffer {
namespace {

// Bounds the changes to undo: three per namespace and one global.
constexpr size_t MAX_CHANGES = LowMemoryMode::MAX_NAMESPACES * 4;

std::string nameOf(TunableId id) {
  const policy::TunableInfo* info = policy::findTunable(id);
  return info != nullptr ? std::string(info->name)
                         : "tunable " + std::to_string(static_cast<int>(id));
}

Proposal single(ScenarioId scenario,
                uint64_t netns,
                TunableId tunable,
                int64_t from,
                int64_t to,
                std::string why) {
  return Proposal{TunerId::TCP_BUFFER,
                  scenario,
                  netns,
                  tunable,
                  Values{1, {from, 0, 0}},
                  Values{1, {to, 0, 0}},
                  std::move(why)};
}

}  // namespace

LowMemoryMode::Key LowMemoryMode::keyOf(uint64_t netnsCookie, TunableId tunable) {
  const policy::TunableInfo* info = policy::findTunable(tunable);
  return {info != nullptr && !info->perNetns ? GLOBAL : netnsCookie, tunable};
}

void LowMemoryMode::enter(const bpftune_event& event,
                          const CurrentValues& current,
                          const std::string& state,
                          std::vector<Proposal>& out) {
  enterGlobal(event, current, state, out);
  enterNamespace(event, current, state, out);
}

void LowMemoryMode::enterGlobal(const bpftune_event& event,
                                const CurrentValues& current,
                                const std::string& state,
                                std::vector<Proposal>& out) {
  if (!entered.insert(GLOBAL).second) {
    return;
  }
  // Absent when the collector does not run in the init netns: nothing to decide there.
  const Values* highOrder = current.find(TunableId::HIGH_ORDER_ALLOC_DISABLE, 1);
  if (highOrder != nullptr && highOrder->v[0] == 0) {
    out.push_back(single(ScenarioId::LOW_MEM_ENTER,
                         event.netns_cookie,
                         TunableId::HIGH_ORDER_ALLOC_DISABLE,
                         0,
                         1,
                         state + "; allocate socket pages one at a time, high-order pages are "
                                 "the first to run out"));
  }
}

void LowMemoryMode::enterNamespace(const bpftune_event& event,
                                   const CurrentValues& current,
                                   const std::string& state,
                                   std::vector<Proposal>& out) {
  const uint64_t netns = event.netns_cookie;
  if (entered.contains(netns) || entered.size() >= MAX_NAMESPACES ||
      changes.size() + 3 > MAX_CHANGES) {
    return;
  }
  entered.insert(netns);
  for (TunableId flag : {TunableId::TCP_NO_METRICS_SAVE, TunableId::TCP_NO_SSTHRESH_METRICS_SAVE}) {
    const Values* v = current.find(flag, 1);
    if (v != nullptr && v->v[0] == 0) {
      out.push_back(single(ScenarioId::LOW_MEM_ENTER,
                           netns,
                           flag,
                           0,
                           1,
                           state + "; stop caching per-destination metrics of closed "
                                   "connections"));
    }
  }
  const Values* backlog = current.find(TunableId::TCP_MAX_SYN_BACKLOG, 1);
  if (backlog == nullptr || backlog->v[0] <= SYN_BACKLOG_FLOOR) {
    return;
  }
  // At most 1/8 down, so that leaving restores it in one request of at most 25 %.
  const int64_t old = backlog->v[0];
  const int64_t next = std::max(SYN_BACKLOG_FLOOR, old - (old >> std::max(rate.shift(), 3)));
  out.push_back(single(ScenarioId::LOW_MEM_ENTER,
                       netns,
                       TunableId::TCP_MAX_SYN_BACKLOG,
                       old,
                       next,
                       state + "; hold fewer half-open connections (floor " +
                           std::to_string(SYN_BACKLOG_FLOOR) + ")"));
}

const Values* LowMemoryMode::visible(const Key& key,
                                     const bpftune_event& event,
                                     const CurrentValues& current) {
  if (key.first != GLOBAL && key.first != event.netns_cookie) {
    return nullptr;
  }
  return current.find(key.second, 1);
}

void LowMemoryMode::leave(const bpftune_event& event,
                          const CurrentValues& current,
                          const std::string& state,
                          std::vector<Proposal>& out) {
  if (event.ts_ns < lastShortNs + LEAVE_AFTER_NS) {
    return;
  }
  entered.clear();
  for (auto it = changes.begin(); it != changes.end();) {
    const auto& [key, change] = *it;
    if (const Values* live = visible(key, event, current)) {
      if (live->v[0] != change.set) {  // someone else's value now: not ours to undo
        it = changes.erase(it);
        continue;
      }
      it->second.refusals = 0;
    }
    const int64_t next = key.second == TunableId::TCP_MAX_SYN_BACKLOG
                             ? clampStep(change.set, change.original)
                             : change.original;
    out.push_back(single(ScenarioId::LOW_MEM_LEAVE,
                         key.first == GLOBAL ? event.netns_cookie : key.first,
                         key.second,
                         change.set,
                         next,
                         state + "; restore " + nameOf(key.second) + " to " +
                             std::to_string(change.original) + " as before low-memory mode"));
    ++it;
  }
}

void LowMemoryMode::onResult(const Proposal& proposal, bool applied) {
  const Key key = keyOf(proposal.netnsCookie, proposal.tunable);
  auto it = changes.find(key);
  switch (proposal.scenario) {
    case ScenarioId::LOW_MEM_ENTER:
      if (!applied) {
        return;
      }
      if (it == changes.end()) {  // an episode begun before the last one was undone keeps
        changes[key] = Change{proposal.oldValues.v[0], proposal.newValues.v[0], 0};
      } else {  // the original from before the first one
        it->second.set = proposal.newValues.v[0];
      }
      return;
    case ScenarioId::LOW_MEM_LEAVE:
      if (it != changes.end()) {
        noteRevert(it, proposal, applied);
      }
      return;
    default:
      // Another decision moved it since (e.g. the SYN-flood policy): low-memory mode no longer
      // owns that value.
      if (applied && it != changes.end()) {
        changes.erase(it);
      }
      return;
  }
}

void LowMemoryMode::noteRevert(std::map<Key, Change>::iterator it,
                               const Proposal& proposal,
                               bool applied) {
  Change& change = it->second;
  if (!applied) {
    if (++change.refusals >= MAX_BLIND_REFUSALS) {
      changes.erase(it);
    }
    return;
  }
  change.set = proposal.newValues.v[0];
  change.refusals = 0;
  if (change.set == change.original) {
    changes.erase(it);
  }
}

}  // namespace bpftune::tuners::tcp_buffer
