// The privileged writer's rtnetlink sockets, one per network namespace: its own for the namespace
// it runs in, and for every other one a socket the netns opener created there (requestRtnlSocket).
// Kept in a small LRU with an idle timeout, because a netlink socket pins its namespace (measured:
// a held socket kept a deleted namespace's veth alive until it was closed). A namespace stays
// alive at most IDLE_NS after bpftune last changed a route in it.
#pragma once

#include <cstdint>
#include <map>

#include "result.h"
#include "unique_fd.h"

namespace bpftune::actuator {

class RtnlSockets {
public:
  static constexpr size_t CAPACITY = 16;
  static constexpr int64_t IDLE_NS = 1000LL * 1000 * 1000;

  // own: a NETLINK_ROUTE socket of the writer's namespace (ownCookie). openerChannel: the
  // writer's end of its socketpair with the netns opener.
  RtnlSockets(UniqueFd own, uint64_t ownCookie, UniqueFd openerChannel)
      : own(std::move(own)), ownCookie(ownCookie), openerChannel(std::move(openerChannel)) {}

  // ENOENT: the namespace does not exist; EPIPE: the opener is gone.
  Result<int> get(uint64_t cookie, int64_t nowNs);
  // Closes the sockets idle for IDLE_NS or longer.
  void expire(int64_t nowNs);
  // How long the writer may block before the next expiry (-1: nothing cached).
  int pollTimeoutMs(int64_t nowNs) const;
  size_t cached() const { return entries.size(); }
  int channel() const { return openerChannel.get(); }

private:
  struct Entry {
    UniqueFd fd;
    int64_t lastUseNs = 0;
  };
  UniqueFd own;
  uint64_t ownCookie;
  UniqueFd openerChannel;
  std::map<uint64_t, Entry> entries;
};

}  // namespace bpftune::actuator
