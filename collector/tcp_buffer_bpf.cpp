#include <cerrno>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_object.h"
#include "sample.h"
// After sample.h: the skeleton's .bss holds struct bpftune_sample.
#include "tcp_buffer.skel.h"
#include "tuner_bpf.h"

namespace bpftune::collector {
namespace {

constexpr uint32_t RINGBUF_BYTES = 256 * 1024;

}  // namespace

Result<UniqueFd> createSharedRingbuf() {
  int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bpftune_events", 0, 0, RINGBUF_BYTES, nullptr);
  if (fd < 0) {
    return makeError("create ring buffer", errno);
  }
  return UniqueFd(fd);
}

Result<std::unique_ptr<BpfObject>> attachTcpBufferBpf(const BpfConfig& config) {
  return attachTunerBpf<tcp_buffer_bpf>(config,
                                        "tcp_buffer",
                                        {"tp_btf/tcp_rcv_space_adjust",
                                         "tp_btf/tcp_sendmsg_locked",
                                         "tp_btf/sock_exceed_buf_limit",
                                         "tp_btf/tcp_retransmit_synack"},
                                        {{"tcp_rcv_space_adjust", 4},
                                         {"tcp_sendmsg_locked", 4},
                                         {"sock_exceed_buf_limit", 1},
                                         {"tcp_retransmit_synack", 1}});
}

}  // namespace bpftune::collector
