#include "rtnl_sockets.h"

#include <algorithm>

#include "netns_opener.h"

namespace bpftune::actuator {

Result<int> RtnlSockets::get(uint64_t cookie, int64_t nowNs) {
  if (cookie == ownCookie) {
    return own.get();
  }
  auto it = entries.find(cookie);
  if (it == entries.end()) {
    auto fd = requestRtnlSocket(openerChannel.get(), cookie);
    if (!fd) {
      return fd.error();
    }
    if (entries.size() >= CAPACITY) {
      auto oldest =
          std::min_element(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
            return a.second.lastUseNs < b.second.lastUseNs;
          });
      entries.erase(oldest);
    }
    it = entries.emplace(cookie, Entry{std::move(*fd), nowNs}).first;
  }
  it->second.lastUseNs = nowNs;
  return it->second.fd.get();
}

void RtnlSockets::expire(int64_t nowNs) {
  std::erase_if(entries,
                [nowNs](const auto& entry) { return nowNs - entry.second.lastUseNs >= IDLE_NS; });
}

int RtnlSockets::pollTimeoutMs(int64_t nowNs) const {
  if (entries.empty()) {
    return -1;
  }
  int64_t next = IDLE_NS;
  for (const auto& [cookie, entry] : entries) {
    next = std::min(next, entry.lastUseNs + IDLE_NS - nowNs);
  }
  constexpr int64_t NS_PER_MS = int64_t{1000} * 1000;
  return static_cast<int>(std::max<int64_t>(next, 0) / NS_PER_MS + 1);
}

}  // namespace bpftune::actuator
