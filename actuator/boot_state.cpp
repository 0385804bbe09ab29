#include "boot_state.h"

#include <algorithm>

namespace bpftune::actuator {

namespace {

// What an OUTCOME or RECOVERED record says bpftune's value now is; nullopt: nothing new known.
std::optional<Values> valueBpftuneLeft(const journal::Record& r) {
  if (r.result == proto::OutcomeResult::WRITE_FAILED) {
    return std::nullopt;
  }
  if (r.error != 0) {
    // The read-back failed. After a successful write the live value is bpftune's new one; at
    // recovery nothing is known, so what was known before stands.
    return r.kind == proto::RecordKind::OUTCOME ? std::optional<Values>(r.newValues) : std::nullopt;
  }
  // A live value that is neither the old nor the new one was written by someone else: keep
  // bpftune's own value so the next request for this key is OVERRIDDEN instead of adopting the
  // outsider's value as bpftune's.
  return r.result == proto::OutcomeResult::MISMATCH ? r.newValues : r.actual;
}

}  // namespace

// NOLINTNEXTLINE(readability-function-size): one case per record kind
void BootState::apply(const journal::Record& r) {
  if (r.bootId != bootId) {
    return;  // sysctls reset at reboot: older boots are audit history only
  }
  Key key{r.netnsCookie, r.tunable, r.host};
  switch (r.kind) {
    case proto::RecordKind::INTENT: {
      auto [it, fresh] = keys.try_emplace(key);
      if (!it->second.changed) {
        it->second.changed = true;
        it->second.count = r.count;
        it->second.original = r.oldValues;
      }
      it->second.lastIntentSeq = r.seq;
      pending[r.seq] = r;
      break;
    }
    case proto::RecordKind::OUTCOME:
    case proto::RecordKind::RECOVERED: {
      pending.erase(r.intentSeq);
      auto it = keys.find(key);
      auto left = valueBpftuneLeft(r);
      if (it != keys.end() && left) {
        it->second.lastApplied = *left;
      }
      break;
    }
    // A proposal wrote nothing (journal::Advice follows proposals); a live switch is audit only
    // (a live connection's algorithm is not rolled back).
    case proto::RecordKind::PROPOSAL:
    case proto::RecordKind::LIVE_SWITCH:
      break;
    case proto::RecordKind::OVERRIDE: {
      KeyState& state = keys[key];
      state.overridden = true;
      state.count = r.count;
      break;
    }
    case proto::RecordKind::RESUME: {
      ++resumes;
      auto it = r.count != 0 ? keys.find(key) : keys.end();  // count 0: no key, epoch only
      if (it != keys.end()) {
        // The administrator's value becomes the baseline: a later rollback restores it, and
        // compare-and-set measures from it.
        it->second.overridden = false;
        if (it->second.changed) {
          it->second.original = r.actual;
          it->second.lastApplied = r.actual;
        }
      }
      break;
    }
    case proto::RecordKind::START:
      break;
  }
}

const KeyState* BootState::find(const Key& key) const {
  auto it = keys.find(key);
  return it == keys.end() ? nullptr : &it->second;
}

size_t BootState::countNonZero(uint64_t netns, proto::TunableId tunable) const {
  size_t n = 0;
  // Keys sort by netns, tunable, host: only that range is visited (the empty host sorts first).
  for (auto it = keys.lower_bound(Key{netns, tunable, {}});
       it != keys.end() && it->first.netns == netns && it->first.tunable == tunable;
       ++it) {
    if (it->second.lastApplied && (*it->second.lastApplied)[0] != 0) {
      ++n;
    }
  }
  return n;
}

std::vector<std::pair<Key, KeyState>> BootState::keysNewestFirst() const {
  std::vector<std::pair<Key, KeyState>> out(keys.begin(), keys.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.lastIntentSeq > b.second.lastIntentSeq;
  });
  return out;
}

std::vector<Key> BootState::liveHostRoutes() const {
  std::vector<Key> out;
  for (const auto& [key, state] : keys) {
    if (key.tunable == proto::TunableId::ROUTE_CONGCTL && state.changed && !state.overridden &&
        state.lastApplied &&
        (*state.lastApplied)[0] != static_cast<int64_t>(proto::CongAlg::NONE)) {
      out.push_back(key);
    }
  }
  return out;
}

std::vector<journal::Record> BootState::unresolved() const {
  std::vector<journal::Record> out;
  for (const auto& [seq, intent] : pending) {
    out.push_back(intent);
  }
  return out;
}

}  // namespace bpftune::actuator
