#include "tuner_registry.h"

#include <array>

#include "net_buffer_bpf.h"
#include "net_buffer_tuner.h"
#include "tcp_buffer_tuner.h"

namespace bpftune::collector {
namespace {

const std::array<TunerEntry, 2> REGISTRY = {{
    {"tcp_buffer", &attachTcpBufferBpf, &tuners::makeTcpBufferTuner},
    {"net_buffer", &attachNetBufferBpf, &tuners::makeNetBufferTuner},
}};

}  // namespace

std::span<const TunerEntry> tunerRegistry() {
  return REGISTRY;
}

}  // namespace bpftune::collector
