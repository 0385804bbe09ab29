#include "boot_state.h"

#include <algorithm>

namespace bpftune::actuator {

void BootState::apply(const journal::Record& r) {
  if (r.bootId != bootId) {
    return;  // sysctls reset at reboot: older boots are audit history only
  }
  Key key{r.netnsCookie, r.tunable};
  switch (r.kind) {
    case proto::RecordKind::INTENT: {
      auto [it, fresh] = keys.try_emplace(key);
      if (fresh) {
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
      if (it == keys.end() || r.result == proto::OutcomeResult::WRITE_FAILED || r.error != 0) {
        break;  // nothing reliable was read back: keep what was known before
      }
      // A live value that is neither the old nor the new one was written by someone else:
      // remember bpftune's own value so the next request for this key is OVERRIDDEN instead of
      // adopting the outsider's value as bpftune's.
      it->second.lastApplied = r.result == proto::OutcomeResult::MISMATCH ? r.newValues : r.actual;
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

std::vector<std::pair<Key, KeyState>> BootState::keysNewestFirst() const {
  std::vector<std::pair<Key, KeyState>> out(keys.begin(), keys.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.lastIntentSeq > b.second.lastIntentSeq;
  });
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
