#include "cpu_mask.h"

namespace bpftune::policy {
namespace {

int hexNibble(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

}  // namespace

Result<int64_t> parseCpuMask(std::string_view text) {
  uint64_t mask = 0;
  int digits = 0;
  for (char c : text) {
    if (c == ',' || c == '\n' || c == ' ') {
      continue;
    }
    const int nibble = hexNibble(c);
    if (nibble < 0) {
      return makeError("cpu mask '" + std::string(text) + "' is not hex");
    }
    if (mask >> 60 != 0) {
      return makeError("cpu mask '" + std::string(text) + "' names CPUs beyond 63");
    }
    mask = mask << 4 | static_cast<uint64_t>(nibble);
    ++digits;
  }
  if (digits == 0) {
    return makeError("cpu mask '" + std::string(text) + "' is empty");
  }
  return static_cast<int64_t>(mask);
}

std::string formatCpuMask(int64_t mask) {
  static constexpr char HEX[] = "0123456789abcdef";
  auto bits = static_cast<uint64_t>(mask);
  std::string out;
  do {
    out.insert(out.begin(), HEX[bits & 0xf]);
    bits >>= 4;
  } while (bits != 0);
  return out + "\n";
}

}  // namespace bpftune::policy
