// tcp_mem arithmetic of the tcp_buffer tuner (pages). Targets are what upstream's formulas ask
// for; the tuner then applies the actuator's step and ordering limits.
#pragma once

#include <cstdint>

#include "learning_rate.h"
#include "tuner.h"

namespace bpftune::tuners::tcp_buffer {

enum class MemoryState {
  NORMAL,
  PRESSURE,    // memory_allocated nearly full of tcp_mem[1]
  EXHAUSTION,  // memory_allocated nearly full of tcp_mem[2]
};

MemoryState classifyMemory(const LearningRate& rate, int64_t allocatedPages, const Values& tcpMem);

// Upstream's caps: tcp_mem[0] grows only while below free/16, [1] below free/8, and [2] is
// min(free/4, grow([2])) — which lowers an oversized [2].
Values pressureTarget(const LearningRate& rate, const Values& tcpMem, int64_t freePages);
Values exhaustionTarget(const LearningRate& rate, const Values& tcpMem, int64_t freePages);

// tcp_mem[2] already reached free/4: raising TCP memory is off the table, so the per-socket
// maxima have to come down instead.
bool memMaxAtCap(const Values& tcpMem, int64_t freePages);

}  // namespace bpftune::tuners::tcp_buffer
