#include "net_buffer_bpf.h"

#include <cerrno>
#include <iterator>

#include <bpf/libbpf.h>

#include "net_buffer.h"
#include "sample.h"
// After sample.h: the skeleton uses struct bpftune_sample.
#include "net_buffer.skel.h"
#include "system_info.h"

namespace bpftune::collector {
namespace {

struct SkeletonDeleter {
  void operator()(net_buffer_bpf* skel) const { net_buffer_bpf::destroy(skel); }
};
using Skeleton = std::unique_ptr<net_buffer_bpf, SkeletonDeleter>;

// Volatile reads: the kernel updates .bss under us.
template <typename T>
T readShared(const T& field) {
  return *static_cast<const volatile T*>(&field);
}

class NetBufferBpf final : public BpfObject {
public:
  explicit NetBufferBpf(Skeleton skel) : skel(std::move(skel)) {}

  std::vector<std::string> attachedPrograms() const override {
    return {"tp_btf/kfree_skb", "tp_btf/napi_poll"};
  }

  std::vector<HookCounters> hooks() const override {
    // kfree_skb counts only CPU_BACKLOG drops: every other reason returns before counting.
    static constexpr const char* NAMES[NET_BUFFER_HOOK_COUNT] = {"kfree_skb(CPU_BACKLOG)",
                                                                 "napi_poll"};
    std::vector<HookCounters> out;
    for (size_t i = 0; i < std::size(NAMES); ++i) {
      const auto& s = skel->bss->bpftune_samples[i];
      uint32_t rate = readShared(s.rate);
      if (rate == 0) {  // not called yet: report the starting N
        rate = i == NET_BUFFER_HOOK_NAPI_POLL ? 4 : 1;
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

Result<std::unique_ptr<BpfObject>> attachNetBufferBpf(const BpfConfig& config) {
  // The tunables are machine-wide: events name the namespace the collector decides in.
  auto home = homeNetnsCookie();
  if (!home) {
    return home.error();
  }
  Skeleton skel(net_buffer_bpf::open());
  if (!skel) {
    return makeError("open net_buffer BPF object", errno);
  }
  skel->rodata->bpftune_learning_rate = static_cast<uint32_t>(config.learningRate);
  skel->rodata->bpftune_home_netns_cookie = *home;
  if (config.ringbufFd >= 0) {
    int err = bpf_map__reuse_fd(skel->maps.events, config.ringbufFd);
    if (err != 0) {
      return libbpfError("reuse the shared ring buffer", err);
    }
  }
  if (int err = net_buffer_bpf::load(skel.get()); err != 0) {
    return libbpfError("load net_buffer BPF programs", err);
  }
  if (int err = net_buffer_bpf::attach(skel.get()); err != 0) {
    return libbpfError("attach net_buffer BPF programs", err);
  }
  return std::unique_ptr<BpfObject>(std::make_unique<NetBufferBpf>(std::move(skel)));
}

}  // namespace bpftune::collector
