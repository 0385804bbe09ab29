#include "tuner_registry.h"

#include <array>

#ifndef BPFTUNE_WITHOUT_TCP_BUFFER_TUNER
#include "tcp_buffer_tuner.h"
#define TCP_BUFFER_FACTORY (&tuners::makeTcpBufferTuner)
#else
// Only while tuners/tcp_buffer is not in the tree: events are counted, nothing is proposed.
#define TCP_BUFFER_FACTORY nullptr
#endif

namespace bpftune::collector {
namespace {

const std::array<TunerEntry, 1> REGISTRY = {{
    {"tcp_buffer", &attachTcpBufferBpf, TCP_BUFFER_FACTORY},
}};

}  // namespace

std::span<const TunerEntry> tunerRegistry() {
  return REGISTRY;
}

}  // namespace bpftune::collector
