#include "bpf_object.h"
#include "sample.h"
// After sample.h: the skeleton's .bss holds struct bpftune_sample.
#include "tuner_bpf.h"
#include "udp_buffer.skel.h"

namespace bpftune::collector {

// Both hooks fire once per refused datagram, so both are sampled (starting at every 4th).
Result<std::unique_ptr<BpfObject>> attachUdpBufferBpf(const BpfConfig& config) {
  return attachTunerBpf<udp_buffer_bpf>(
      config,
      "udp_buffer",
      {"tp_btf/udp_fail_queue_rcv_skb", "tp_btf/sock_exceed_buf_limit"},
      {{"udp_fail_queue_rcv_skb", 4}, {"sock_exceed_buf_limit", 4}});
}

}  // namespace bpftune::collector
