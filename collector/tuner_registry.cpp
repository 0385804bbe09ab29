#include "tuner_registry.h"

#include <array>

#include "neigh_table_bpf.h"
#include "neigh_table_tuner.h"
#include "tcp_buffer_tuner.h"

namespace bpftune::collector {
namespace {

const std::array<TunerEntry, 2> REGISTRY = {{
    {"tcp_buffer", &attachTcpBufferBpf, &tuners::makeTcpBufferTuner},
    {"neigh_table", &attachNeighTableBpf, &tuners::makeNeighTableTuner},
}};

}  // namespace

std::span<const TunerEntry> tunerRegistry() {
  return REGISTRY;
}

}  // namespace bpftune::collector
