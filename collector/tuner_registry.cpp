#include "tuner_registry.h"

#include <array>

#include "tcp_buffer_tuner.h"
#include "udp_buffer_tuner.h"

namespace bpftune::collector {
namespace {

const std::array<TunerEntry, 2> REGISTRY = {{
    {"tcp_buffer", &attachTcpBufferBpf, &tuners::makeTcpBufferTuner},
    {"udp_buffer", &attachUdpBufferBpf, &tuners::makeUdpBufferTuner},
}};

}  // namespace

std::span<const TunerEntry> tunerRegistry() {
  return REGISTRY;
}

}  // namespace bpftune::collector
