#include "neigh_table_bpf.h"

#include <cerrno>
#include <iterator>

#include <bpf/libbpf.h>

#include "neigh_table_event.h"
#include "sample.h"

// After sample.h: the skeleton's .bss holds struct bpftune_sample.
#include "neigh_table.skel.h"

namespace bpftune::collector {
namespace {

struct SkeletonDeleter {
  void operator()(neigh_table_bpf* skel) const { neigh_table_bpf::destroy(skel); }
};
using Skeleton = std::unique_ptr<neigh_table_bpf, SkeletonDeleter>;

// Volatile reads: the kernel updates .bss under us.
template <typename T>
T readShared(const T& field) {
  return *static_cast<const volatile T*>(&field);
}

class NeighTableBpf final : public BpfObject {
public:
  explicit NeighTableBpf(Skeleton skel) : skel(std::move(skel)) {}

  std::vector<std::string> attachedPrograms() const override {
    return {"raw_tp/neigh_create", "tp_btf/neigh_cleanup_and_release"};
  }

  // Every call is looked at (none is sampled); neigh_create_failed counts the creates the kernel
  // refused because the table was full.
  std::vector<HookCounters> hooks() const override {
    static constexpr const char* NAMES[] = {
        "neigh_create", "neigh_create_failed", "neigh_cleanup_and_release"};
    static_assert(NEIGH_TABLE_HOOK_CREATE == 0 && NEIGH_TABLE_HOOK_CREATE_FAILED == 1 &&
                  NEIGH_TABLE_HOOK_CLEANUP == 2);
    std::vector<HookCounters> out;
    for (size_t i = 0; i < std::size(NAMES); ++i) {
      const auto& s = skel->bss->bpftune_samples[i];
      out.push_back({NAMES[i], readShared(s.calls), readShared(s.collected), 1});
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

Result<std::unique_ptr<BpfObject>> attachNeighTableBpf(const BpfConfig& config) {
  Skeleton skel(neigh_table_bpf::open());
  if (!skel) {
    return makeError("open neigh_table BPF object", errno);
  }
  skel->rodata->bpftune_learning_rate = static_cast<uint32_t>(config.learningRate);
  if (config.ringbufFd >= 0) {
    if (int err = bpf_map__reuse_fd(skel->maps.events, config.ringbufFd); err != 0) {
      return libbpfError("reuse the shared ring buffer", err);
    }
  }
  if (int err = neigh_table_bpf::load(skel.get()); err != 0) {
    return libbpfError("load neigh_table BPF programs", err);
  }
  if (int err = neigh_table_bpf::attach(skel.get()); err != 0) {
    return libbpfError("attach neigh_table BPF programs", err);
  }
  return std::unique_ptr<BpfObject>(std::make_unique<NeighTableBpf>(std::move(skel)));
}

}  // namespace bpftune::collector
