// The plumbing every tuner's BPF object shares: open the skeleton, set the learning rate, map
// the shared ring buffer, load, attach; and the status counters every object keeps in .bss
// (bpftune.bpf.h). A tuner's attach file only names its programs and hooks, and may set its own
// read-only data before load.
#pragma once

#include <cerrno>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <bpf/libbpf.h>

#include "bpf_object.h"

namespace bpftune::collector {

// Volatile reads: the kernel updates .bss under us.
template <typename T>
T readShared(const T& field) {
  return *static_cast<const volatile T*>(&field);
}

struct HookSpec {
  std::string_view name;
  uint32_t idleRate;  // the N shown before the first call: 4 for sampled hooks, 1 otherwise
};

template <typename Skel>
struct SkeletonDeleter {
  void operator()(Skel* skel) const { Skel::destroy(skel); }
};
template <typename Skel>
using SkeletonPtr = std::unique_ptr<Skel, SkeletonDeleter<Skel>>;

// hooks[i] describes bpftune_samples[i] of the object. A tuner whose object does more than
// report (tcp_conn's iterator) derives from it.
template <typename Skel>
class TunerBpf : public BpfObject {
public:
  TunerBpf(SkeletonPtr<Skel> skel, std::vector<std::string> programs, std::vector<HookSpec> hooks)
      : skel(std::move(skel)), programs(std::move(programs)), hookSpecs(std::move(hooks)) {}

  std::vector<std::string> attachedPrograms() const override { return programs; }

  std::vector<HookCounters> hooks() const override {
    std::vector<HookCounters> out;
    for (size_t i = 0; i < hookSpecs.size(); ++i) {
      const auto& s = skel->bss->bpftune_samples[i];
      uint32_t rate = readShared(s.rate);
      out.push_back({std::string{hookSpecs[i].name},
                     readShared(s.calls),
                     readShared(s.collected),
                     rate == 0 ? hookSpecs[i].idleRate : rate});
    }
    return out;
  }

  EventCounters events() const override {
    return {readShared(skel->bss->bpftune_events_sent),
            readShared(skel->bss->bpftune_events_deduped),
            readShared(skel->bss->bpftune_events_lost)};
  }

protected:
  Skel& skeleton() const { return *skel; }

private:
  SkeletonPtr<Skel> skel;
  std::vector<std::string> programs;
  std::vector<HookSpec> hookSpecs;
};

inline Error libbpfError(const std::string& what, int err) {
  return makeError(what, err < 0 ? -err : err);
}

// Opens, prepares, loads and attaches a tuner's skeleton. prepare(Skel&) runs after open,
// before load: for a tuner's own .rodata and autoload choices. It returns Status.
template <typename Skel, typename Prepare>
Result<SkeletonPtr<Skel>> loadTunerSkeleton(const BpfConfig& config,
                                            std::string_view name,
                                            Prepare prepare) {
  const std::string tuner(name);
  SkeletonPtr<Skel> skel(Skel::open());
  if (!skel) {
    return makeError("open " + tuner + " BPF object", errno);
  }
  skel->rodata->bpftune_learning_rate = static_cast<uint32_t>(config.learningRate);
  if (config.ringbufFd >= 0) {
    if (int err = bpf_map__reuse_fd(skel->maps.events, config.ringbufFd); err != 0) {
      return libbpfError("reuse the shared ring buffer", err);
    }
  }
  if (Status prepared = prepare(*skel); !prepared) {
    return prepared.error();
  }
  if (int err = Skel::load(skel.get()); err != 0) {
    return libbpfError("load " + tuner + " BPF programs", err);
  }
  if (int err = Skel::attach(skel.get()); err != 0) {
    return libbpfError("attach " + tuner + " BPF programs", err);
  }
  return skel;
}

template <typename Skel, typename Prepare>
Result<std::unique_ptr<BpfObject>> attachTunerBpf(const BpfConfig& config,
                                                  std::string_view name,
                                                  std::vector<std::string> programs,
                                                  std::vector<HookSpec> hooks,
                                                  Prepare prepare) {
  auto skel = loadTunerSkeleton<Skel>(config, name, prepare);
  if (!skel) {
    return skel.error();
  }
  return std::unique_ptr<BpfObject>(
      std::make_unique<TunerBpf<Skel>>(std::move(*skel), std::move(programs), std::move(hooks)));
}

template <typename Skel>
Result<std::unique_ptr<BpfObject>> attachTunerBpf(const BpfConfig& config,
                                                  std::string_view name,
                                                  std::vector<std::string> programs,
                                                  std::vector<HookSpec> hooks) {
  return attachTunerBpf<Skel>(
      config, name, std::move(programs), std::move(hooks), [](Skel&) -> Status { return Ok{}; });
}

}  // namespace bpftune::collector
