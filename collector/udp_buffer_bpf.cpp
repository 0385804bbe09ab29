#include <cerrno>

#include <bpf/libbpf.h>

#include "bpf_object.h"
#include "sample.h"
#include "udp_buffer.skel.h"

namespace bpftune::collector {
namespace {

struct SkeletonDeleter {
  void operator()(udp_buffer_bpf* skel) const { udp_buffer_bpf::destroy(skel); }
};
using Skeleton = std::unique_ptr<udp_buffer_bpf, SkeletonDeleter>;

// Volatile reads: the kernel updates .bss under us.
template <typename T>
T readShared(const T& field) {
  return *static_cast<const volatile T*>(&field);
}

class UdpBufferBpf final : public BpfObject {
public:
  explicit UdpBufferBpf(Skeleton skel) : skel(std::move(skel)) {}

  std::vector<std::string> attachedPrograms() const override {
    return {"tp_btf/udp_fail_queue_rcv_skb", "tp_btf/sock_exceed_buf_limit"};
  }

  // Both hooks fire once per refused datagram, so both are sampled (starting at every 4th).
  std::vector<HookCounters> hooks() const override {
    static constexpr const char* NAMES[] = {"udp_fail_queue_rcv_skb", "sock_exceed_buf_limit"};
    std::vector<HookCounters> out;
    for (size_t i = 0; i < std::size(NAMES); ++i) {
      const auto& s = skel->bss->bpftune_samples[i];
      const uint32_t rate = readShared(s.rate);
      out.push_back({NAMES[i], readShared(s.calls), readShared(s.collected), rate == 0 ? 4 : rate});
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

Result<std::unique_ptr<BpfObject>> attachUdpBufferBpf(const BpfConfig& config) {
  Skeleton skel(udp_buffer_bpf::open());
  if (!skel) {
    return makeError("open udp_buffer BPF object", errno);
  }
  skel->rodata->bpftune_learning_rate = static_cast<uint32_t>(config.learningRate);
  if (config.ringbufFd >= 0) {
    if (int err = bpf_map__reuse_fd(skel->maps.events, config.ringbufFd); err != 0) {
      return libbpfError("reuse the shared ring buffer", err);
    }
  }
  if (int err = udp_buffer_bpf::load(skel.get()); err != 0) {
    return libbpfError("load udp_buffer BPF programs", err);
  }
  if (int err = udp_buffer_bpf::attach(skel.get()); err != 0) {
    return libbpfError("attach udp_buffer BPF programs", err);
  }
  return std::unique_ptr<BpfObject>(std::make_unique<UdpBufferBpf>(std::move(skel)));
}

}  // namespace bpftune::collector
