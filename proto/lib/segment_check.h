// Every message on the actuator's sockets is one segment. Checking the segment table before the
// reader sees it keeps Cap'n Proto 0.9.2's flat reader away from hostile segment counts (the
// 0xFFFFFFFF segment-count overflow, capnp advisory 2026-03-12), in both directions.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <capnp/common.h>

namespace bpftune {

// nullopt when `words` (at least one word) starts a single-segment message; else why not.
std::optional<std::string> singleSegmentProblem(const capnp::word* words, size_t wordCount);

}  // namespace bpftune
