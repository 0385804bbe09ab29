// udp_buffer: keeps udp_mem ahead of UDP's memory_allocated (within a quarter of free memory) and
// raises net.core.rmem_default / rmem_max when UDP sockets drop datagrams at a full receive
// buffer that those limits sized. Decisions only; see tuner.h.
#pragma once

#include <memory>

#include "tuner.h"

namespace bpftune::tuners {

// learningRate 0..4 (clamped), as bpftune's -r: each step moves a value by 1/2^(6 - rate).
std::unique_ptr<Tuner> makeUdpBufferTuner(int learningRate);

}  // namespace bpftune::tuners
