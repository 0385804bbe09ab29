#include <cerrno>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf_object.h"
#include "sample.h"
#include "tcp_buffer.skel.h"

namespace bpftune::collector {
namespace {

constexpr uint32_t RINGBUF_BYTES = 256 * 1024;

struct SkeletonDeleter {
  void operator()(tcp_buffer_bpf* skel) const { tcp_buffer_bpf::destroy(skel); }
};
using Skeleton = std::unique_ptr<tcp_buffer_bpf, SkeletonDeleter>;

// Volatile reads: the kernel updates .bss under us.
template <typename T>
T readShared(const T& field) {
  return *static_cast<const volatile T*>(&field);
}

class TcpBufferBpf final : public BpfObject {
public:
  explicit TcpBufferBpf(Skeleton skel) : skel(std::move(skel)) {}

  std::vector<std::string> attachedPrograms() const override {
    return {"tp_btf/tcp_rcv_space_adjust",
            "tp_btf/tcp_sendmsg_locked",
            "tp_btf/sock_exceed_buf_limit",
            "tp_btf/tcp_retransmit_synack"};
  }

  std::vector<HookCounters> hooks() const override {
    static constexpr const char* NAMES[] = {"tcp_rcv_space_adjust",
                                            "tcp_sendmsg_locked",
                                            "sock_exceed_buf_limit",
                                            "tcp_retransmit_synack"};
    std::vector<HookCounters> out;
    for (size_t i = 0; i < std::size(NAMES); ++i) {
      const auto& s = skel->bss->bpftune_samples[i];
      uint32_t rate = readShared(s.rate);
      if (rate == 0) {  // not called yet: report the starting N (1: not sampled)
        rate =
            i == TCP_BUFFER_HOOK_EXCEED_BUF_LIMIT || i == TCP_BUFFER_HOOK_RETRANSMIT_SYNACK ? 1 : 4;
      }
      out.push_back({NAMES[i], readShared(s.calls), readShared(s.collected), rate});
    }
    return out;
  }

  EventCounters events() const override {
    return {readShared(skel->bss->bpftune_events_sent),
            readShared(skel->bss->bpftune_events_deduped),
            readShared(skel->bss->bpftune_events_lost)};
  }

private:
  Skeleton skel;
};

Error libbpfError(const std::string& what, int err) {
  return makeError(what, err < 0 ? -err : err);
}

}  // namespace

Result<UniqueFd> createSharedRingbuf() {
  int fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "bpftune_events", 0, 0, RINGBUF_BYTES, nullptr);
  if (fd < 0) {
    return makeError("create ring buffer", errno);
  }
  return UniqueFd(fd);
}

Result<std::unique_ptr<BpfObject>> attachTcpBufferBpf(const BpfConfig& config) {
  Skeleton skel(tcp_buffer_bpf::open());
  if (!skel) {
    return makeError("open tcp_buffer BPF object", errno);
  }
  skel->rodata->bpftune_learning_rate = static_cast<uint32_t>(config.learningRate);
  if (config.ringbufFd >= 0) {
    int err = bpf_map__reuse_fd(skel->maps.events, config.ringbufFd);
    if (err != 0) {
      return libbpfError("reuse the shared ring buffer", err);
    }
  }
  if (int err = tcp_buffer_bpf::load(skel.get()); err != 0) {
    return libbpfError("load tcp_buffer BPF programs", err);
  }
  if (int err = tcp_buffer_bpf::attach(skel.get()); err != 0) {
    return libbpfError("attach tcp_buffer BPF programs", err);
  }
  return std::unique_ptr<BpfObject>(std::make_unique<TcpBufferBpf>(std::move(skel)));
}

}  // namespace bpftune::collector
