#include "ip_frag_bpf.h"

#include <cerrno>

#include <bpf/libbpf.h>

// The skeleton names struct bpftune_sample without including its header.
// clang-format off
#include "sample.h"
#include "ip_frag.skel.h"
// clang-format on

namespace bpftune::collector {
namespace {

struct SkeletonDeleter {
  void operator()(ip_frag_bpf* skel) const { ip_frag_bpf::destroy(skel); }
};
using Skeleton = std::unique_ptr<ip_frag_bpf, SkeletonDeleter>;

// Volatile reads: the kernel updates .bss under us.
template <typename T>
T readShared(const T& field) {
  return *static_cast<const volatile T*>(&field);
}

class IpFragBpf final : public BpfObject {
public:
  explicit IpFragBpf(Skeleton skel) : skel(std::move(skel)) {}

  std::vector<std::string> attachedPrograms() const override { return {"tp_btf/kfree_skb"}; }

  // calls: every dropped skb in the system; collected: the dropped IP fragments among them.
  std::vector<HookCounters> hooks() const override {
    const auto& s = skel->bss->bpftune_samples[IP_FRAG_HOOK_KFREE_SKB];
    return {{"kfree_skb", readShared(s.calls), readShared(s.collected), 1}};
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

Result<std::unique_ptr<BpfObject>> attachIpFragBpf(const BpfConfig& config) {
  Skeleton skel(ip_frag_bpf::open());
  if (!skel) {
    return makeError("open ip_frag BPF object", errno);
  }
  skel->rodata->bpftune_learning_rate = static_cast<uint32_t>(config.learningRate);
  if (config.ringbufFd >= 0) {
    if (int err = bpf_map__reuse_fd(skel->maps.events, config.ringbufFd); err != 0) {
      return libbpfError("reuse the shared ring buffer", err);
    }
  }
  if (int err = ip_frag_bpf::load(skel.get()); err != 0) {
    return libbpfError("load ip_frag BPF programs", err);
  }
  if (int err = ip_frag_bpf::attach(skel.get()); err != 0) {
    return libbpfError("attach ip_frag BPF programs", err);
  }
  return std::unique_ptr<BpfObject>(std::make_unique<IpFragBpf>(std::move(skel)));
}

}  // namespace bpftune::collector
