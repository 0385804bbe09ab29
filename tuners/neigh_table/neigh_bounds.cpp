#include "neigh_bounds.h"

#include <algorithm>

#include "neigh_table_event.h"

namespace bpftune::tuners::neigh_table {
namespace {

// upstream's NEIGH_TABLE_ADDR_FACTOR and its floor of one address's space.
constexpr int64_t ADDR_FACTOR = 4;
constexpr int64_t MIN_ADDR_SPACE = 256;
// From 64 host bits on, the space alone exceeds any int threshold.
constexpr int UNBOUNDED_HOST_BITS = 64;

int64_t addressBound(int addrBits, int prefixLen) {
  const int hostBits = addrBits - std::clamp(prefixLen, 0, addrBits);
  if (hostBits >= UNBOUNDED_HOST_BITS) {
    return INT_MAX_VALUE;
  }
  // hostBits <= 63 here, but only up to 31 fits an int threshold anyway.
  const int64_t space = hostBits > 31 ? INT_MAX_VALUE : int64_t{1} << hostBits;
  return std::min(std::max(space, MIN_ADDR_SPACE) * ADDR_FACTOR, INT_MAX_VALUE);
}

}  // namespace

DevicePrefixes decodePrefixes(const bpftune_event& event) {
  DevicePrefixes out;
  out.family = static_cast<int>(event.detail[NEIGH_TABLE_DETAIL_FAMILY]);
  const auto flags = static_cast<uint64_t>(event.detail[NEIGH_TABLE_DETAIL_FLAGS]);
  const auto packed = static_cast<uint64_t>(event.detail[NEIGH_TABLE_DETAIL_PREFIXES]);
  const uint64_t count =
      std::min<uint64_t>((flags >> NEIGH_TABLE_ADDR_COUNT_SHIFT) & 0xff, NEIGH_TABLE_MAX_PREFIXES);
  for (uint64_t i = 0; i < count; ++i) {
    out.prefixLens.push_back(static_cast<uint8_t>(packed >> (8 * i)));
  }
  out.truncated = (flags & NEIGH_TABLE_FLAG_MORE_ADDRS) != 0;
  return out;
}

int64_t prefixBound(int family, std::span<const uint8_t> prefixLens) {
  const int addrBits = family == AF_INET6_FAMILY ? 128 : 32;
  int64_t total = 0;
  for (uint8_t len : prefixLens) {
    total = std::min(total + addressBound(addrBits, len), INT_MAX_VALUE);
  }
  return total;
}

void TableBound::note(uint64_t netns, uint32_t ifindex, int64_t bound, uint64_t tsNs) {
  forgetOld(tsNs);
  auto key = std::make_pair(netns, ifindex);
  if (!entries.contains(key) && entries.size() >= MAX_DEVICES) {
    auto oldest =
        std::min_element(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
          return a.second.tsNs < b.second.tsNs;
        });
    entries.erase(oldest);
  }
  Device& device = entries[key];
  device.bound = bound;
  device.tsNs = std::max(device.tsNs, tsNs);
}

int64_t TableBound::total() const {
  int64_t sum = 0;
  for (const auto& [key, device] : entries) {
    sum = std::min(sum + device.bound, INT_MAX_VALUE);
  }
  return sum;
}

void TableBound::forgetOld(uint64_t nowNs) {
  std::erase_if(entries, [nowNs](const auto& entry) {
    return nowNs > entry.second.tsNs && nowNs - entry.second.tsNs > FORGET_NS;
  });
}

}  // namespace bpftune::tuners::neigh_table
