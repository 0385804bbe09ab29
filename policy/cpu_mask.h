// CPU masks (net.core.flow_limit_cpu_bitmap) as the kernel prints and parses them: hex, in
// comma-separated 32-bit groups beyond 32 CPUs. One parser for the actuator (which writes them)
// and the collector (which reads the current value for the tuner). At most 64 CPUs.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "result.h"

namespace bpftune::policy {

// "1a\n", "00000001,8000000f\n" -> the mask; refuses non-hex text and CPUs beyond 63.
Result<int64_t> parseCpuMask(std::string_view text);
// 0x1a -> "1a\n".
std::string formatCpuMask(int64_t mask);

}  // namespace bpftune::policy
