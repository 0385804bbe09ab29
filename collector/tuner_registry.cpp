#include "tuner_registry.h"

#include <array>

#include "ip_frag_bpf.h"
#include "ip_frag_tuner.h"
#include "neigh_table_bpf.h"
#include "neigh_table_tuner.h"
#include "net_buffer_bpf.h"
#include "net_buffer_tuner.h"
#include "tcp_buffer_tuner.h"
#include "tcp_conn_bpf.h"
#include "tcp_conn_setup.h"
#include "udp_buffer_tuner.h"

namespace bpftune::collector {
namespace {

const auto REGISTRY = std::to_array<TunerEntry>({
    {"tcp_buffer", &attachTcpBufferBpf, &tuners::makeTcpBufferTuner},
    {"neigh_table", &attachNeighTableBpf, &tuners::makeNeighTableTuner},
    {"net_buffer", &attachNetBufferBpf, &tuners::makeNetBufferTuner},
    {"ip_frag", &attachIpFragBpf, &tuners::makeIpFragTuner},
    {"udp_buffer", &attachUdpBufferBpf, &tuners::makeUdpBufferTuner},
    {"tcp_conn", &attachTcpConnBpf, &makeTcpConnTunerFromHost},
});

}  // namespace

std::span<const TunerEntry> tunerRegistry() {
  return REGISTRY;
}

}  // namespace bpftune::collector
