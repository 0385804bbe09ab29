// tcp_buffer: grows tcp_rmem/tcp_wmem maxima when sockets run into them, shrinks them when growth
// correlates with RTT or TCP memory cannot grow, and keeps tcp_mem ahead of memory_allocated
// within a quarter of free memory. Decisions only; see tuner.h.
#pragma once

#include <memory>

#include "tuner.h"

namespace bpftune::tuners {

// learningRate 0..4 (clamped), as bpftune's -r: each step moves a value by 1/2^(6 - rate).
std::unique_ptr<Tuner> makeTcpBufferTuner(int learningRate);

}  // namespace bpftune::tuners
