#include "tuner_registry.h"

#include <array>

#include "tcp_buffer_tuner.h"

namespace bpftune::collector {
namespace {

const std::array<TunerEntry, 1> REGISTRY = {{
    {"tcp_buffer", &attachTcpBufferBpf, &tuners::makeTcpBufferTuner},
}};

}  // namespace

std::span<const TunerEntry> tunerRegistry() {
  return REGISTRY;
}

}  // namespace bpftune::collector
