// How far a neighbour table may grow: upstream's rule bounds the thresholds by the address space
// of the prefixes on the devices whose neighbours fill it. The devices' prefix lengths come from
// the BPF event (the device may live in a namespace the collector cannot look into).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <utility>
#include <vector>

#include "events.h"

namespace bpftune::tuners::neigh_table {

// Thresholds are C ints in the kernel.
constexpr int64_t INT_MAX_VALUE = 2147483647;
constexpr int AF_INET_FAMILY = 2;
constexpr int AF_INET6_FAMILY = 10;

struct DevicePrefixes {
  int family = 0;
  std::vector<uint8_t> prefixLens;
  bool truncated = false;  // the device has more addresses than the event carries
};

// The prefix lengths an event carries for its device (neigh_table_event.h).
DevicePrefixes decodePrefixes(const bpftune_event& event);

// Upstream's rule: Σ over the addresses of max(2^(addrlen - prefixlen), 256) × 4; an address
// with ≥ 64 host bits means no bound (INT_MAX); capped at INT_MAX. 0 without addresses.
int64_t prefixBound(int family, std::span<const uint8_t> prefixLens);

// One table's bound: the sum over the devices that recently had neighbour events in it (upstream
// remembered only the first device ever seen for a table, so neighbours on any other device
// were judged against the wrong prefixes). A device not seen for FORGET_NS drops out.
class TableBound {
public:
  static constexpr size_t MAX_DEVICES = 64;
  static constexpr uint64_t FORGET_NS = 600ULL * 1000 * 1000 * 1000;

  // The device's latest bound at event time tsNs (CLOCK_MONOTONIC).
  void note(uint64_t netns, uint32_t ifindex, int64_t bound, uint64_t tsNs);
  int64_t total() const;  // capped at INT_MAX
  size_t devices() const { return entries.size(); }

private:
  struct Device {
    int64_t bound = 0;
    uint64_t tsNs = 0;
  };
  void forgetOld(uint64_t nowNs);
  std::map<std::pair<uint64_t, uint32_t>, Device> entries;
};

}  // namespace bpftune::tuners::neigh_table
