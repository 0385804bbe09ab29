// The tcp_conn tuner's hosts, bounded: an LRU keyed by (netns cookie, remote host). When full, a
// new host replaces the one seen least recently; its learning is lost, and a route of ours for it
// is found again through the actuator's STALE answer (the route is the actuator's to keep).
#pragma once

#include <cstddef>
#include <cstdint>
#include <list>
#include <map>
#include <utility>

#include "host_address.h"
#include "host_state.h"

namespace bpftune::tuners::tcp_conn {

class HostTable {
public:
  explicit HostTable(size_t capacity);

  // The host's state, now the most recently seen; created (evicting the least recently seen host
  // when the table is full) if unknown.
  HostState& touch(uint64_t netns, const HostAddress& host);
  // Without changing the order; nullptr if unknown.
  HostState* find(uint64_t netns, const HostAddress& host);
  // A namespace that is gone takes its hosts with it.
  void forgetNetns(uint64_t netns);

  size_t size() const { return order.size(); }
  size_t capacity() const { return cap; }
  uint64_t evicted() const { return evictions; }
  // Most recently seen first.
  const std::list<HostState>& byRecency() const { return order; }

private:
  using Key = std::pair<uint64_t, HostAddress>;  // (netns cookie, host)

  size_t cap;
  uint64_t evictions = 0;
  std::list<HostState> order;
  std::map<Key, std::list<HostState>::iterator> index;
};

}  // namespace bpftune::tuners::tcp_conn
