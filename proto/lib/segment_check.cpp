#include "segment_check.h"

#include <cstdint>
#include <cstring>

namespace bpftune {

std::optional<std::string> singleSegmentProblem(const capnp::word* words, size_t wordCount) {
  if (wordCount == 0) {
    return std::string("empty message");
  }
  uint32_t segmentsMinusOne = 0;
  std::memcpy(&segmentsMinusOne, words, sizeof(segmentsMinusOne));
  if (segmentsMinusOne != 0) {
    return "segment table claims " + std::to_string(uint64_t{segmentsMinusOne} + 1) + " segments";
  }
  return std::nullopt;
}

}  // namespace bpftune
