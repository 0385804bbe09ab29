// Read-only facts about the host the collector needs: free buffer pages (for tcp_mem caps), the
// netns cookie of the home namespace, and sysctl values under /proc/sys/net.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "result.h"
#include "tuner.h"

namespace bpftune::collector {

// nr_free_buffer_pages estimate as upstream: sum of (managed - high) over "Normal" zones, or over
// "DMA32" zones when that gives 0 (small machines).
int64_t freeBufferPagesFromZoneinfo(std::string_view zoneinfo);
Result<int64_t> readFreeBufferPages(const std::string& path = "/proc/zoneinfo");

// Cookie of the netns this process runs in (getsockopt SO_NETNS_COOKIE).
Result<uint64_t> homeNetnsCookie();

// "4096 131072 6291456\n" -> Values{3, ...}; count must match.
Result<tuners::Values> parseSysctlValues(std::string_view text, uint8_t count);
Result<tuners::Values> readTunable(proto::TunableId id,
                                   const std::string& procRoot = "/proc/sys/net");

}  // namespace bpftune::collector
