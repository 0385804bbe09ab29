#include "host_table.h"

#include <algorithm>

namespace bpftune::tuners::tcp_conn {

HostTable::HostTable(size_t capacity) : cap(std::max<size_t>(capacity, 1)) {}

HostState& HostTable::touch(uint64_t netns, const HostAddress& host) {
  const Key key{netns, host};
  if (auto it = index.find(key); it != index.end()) {
    order.splice(order.begin(), order, it->second);
    return order.front();
  }
  if (order.size() >= cap) {
    const HostState& oldest = order.back();
    index.erase(Key{oldest.netns, oldest.host});
    order.pop_back();
    ++evictions;
  }
  HostState fresh;
  fresh.netns = netns;
  fresh.host = host;
  order.push_front(fresh);
  index.emplace(key, order.begin());
  return order.front();
}

HostState* HostTable::find(uint64_t netns, const HostAddress& host) {
  auto it = index.find(Key{netns, host});
  return it == index.end() ? nullptr : &*it->second;
}

void HostTable::forgetNetns(uint64_t netns) {
  for (auto it = order.begin(); it != order.end();) {
    if (it->netns == netns) {
      index.erase(Key{it->netns, it->host});
      it = order.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace bpftune::tuners::tcp_conn
