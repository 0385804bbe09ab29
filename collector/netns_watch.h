// The collector's namespace finder (infrastructure, not a tuner): bpf/netns_watch.bpf.c's
// sys_exit hook reports namespaces as tasks enter them, and scan() lists every namespace held
// by a process (BPF task iterator) or bind-mounted (nsfs mounts in /proc/self/mountinfo).
// Works with CAP_BPF+CAP_PERFMON only; every fd it opens is closed before scan() returns.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bpf_object.h"
#include "netns_table.h"
#include "result.h"
#include "sample.h"  // struct bpftune_sample, used by the skeleton netns_watch.cpp includes

struct netns_watch_bpf;  // bpftool's skeleton (netns_watch.skel.h)

namespace bpftune::collector {

struct ScanStats {
  size_t tasks = 0;         // processes read from the iterator
  size_t mounts = 0;        // nsfs network-namespace mounts
  size_t mountsOpened = 0;  // of which were new and opened for their cookie
  size_t mountErrors = 0;   // could not be opened or asked (left out of this scan)
};

class NetnsWatch : public BpfObject {
public:
  // Opens, loads and attaches bpf/netns_watch.bpf.c on the shared ring buffer.
  static Result<std::unique_ptr<NetnsWatch>> attach(int ringbufFd);

  // Everything holding a namespace right now. Only mounts whose inode is new are opened.
  Result<std::vector<tuners::netns::ScanEntry>> scan(ScanStats& stats);
  // known_netns in BPF: remembered cookies are not reported by the sys_exit hook again.
  void remember(uint64_t cookie);
  void forget(uint64_t cookie);
  // An event said `inum` belongs to `cookie`: a cached mount with another cookie is stale (the
  // inode of a deleted namespace was reused) and is asked again at the next scan.
  void noteInode(uint32_t inum, uint64_t cookie);

  std::vector<std::string> attachedPrograms() const override;
  std::vector<HookCounters> hooks() const override;
  EventCounters events() const override;

private:
  struct SkeletonDeleter {
    void operator()(netns_watch_bpf* skel) const;
  };
  using Skeleton = std::unique_ptr<netns_watch_bpf, SkeletonDeleter>;
  explicit NetnsWatch(Skeleton skel) : skel(std::move(skel)) {}
  Status readTasks(std::map<uint64_t, tuners::netns::ScanEntry>& out, ScanStats& stats);
  void readMounts(std::map<uint64_t, tuners::netns::ScanEntry>& out,
                  std::vector<tuners::netns::ScanEntry>& mounts,
                  ScanStats& stats);

  Skeleton skel;
  std::map<uint32_t, uint64_t> mountCookies;  // inode -> cookie of mounts seen in the last scan
};

}  // namespace bpftune::collector
