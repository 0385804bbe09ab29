#include "tuner_registry.h"

#include <array>

#include "ip_frag_bpf.h"
#include "ip_frag_tuner.h"
#include "tcp_buffer_tuner.h"

namespace bpftune::collector {
namespace {

const std::array<TunerEntry, 2> REGISTRY = {{
    {"tcp_buffer", &attachTcpBufferBpf, &tuners::makeTcpBufferTuner},
    {"ip_frag", &attachIpFragBpf, &tuners::makeIpFragTuner},
}};

}  // namespace

std::span<const TunerEntry> tunerRegistry() {
  return REGISTRY;
}

}  // namespace bpftune::collector
