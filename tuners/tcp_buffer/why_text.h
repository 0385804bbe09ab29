// Numbers in the tcp_buffer tuner's what-and-why sentences.
#pragma once

#include <cstdint>
#include <string>

namespace bpftune::tuners::tcp_buffer {

// A correlation coefficient with two decimals, without <format> or streams.
inline std::string formatR(double r) {
  const std::string sign = r < 0 ? "-" : "";
  const auto hundredths = static_cast<int64_t>((r < 0 ? -r : r) * 100);
  const int64_t frac = hundredths % 100;
  return sign + std::to_string(hundredths / 100) + (frac < 10 ? ".0" : ".") + std::to_string(frac);
}

}  // namespace bpftune::tuners::tcp_buffer
