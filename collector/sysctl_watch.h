// The administrator's writes (infrastructure, not a tuner): bpf/sysctl_watch.bpf.c linked to the
// cgroup v2 root sees every sysctl write on the machine and reports writes by anyone but the
// actuator to a tunable in the compiled-in table. Attaching needs CAP_NET_ADMIN (and PERFMON for
// the writer's netns), so it happens before the privilege drop; the link fd then lives on.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "bpf_object.h"
#include "result.h"

struct sysctl_watch_bpf;  // bpftool's skeleton (sysctl_watch.skel.h)

namespace bpftune::collector {

class SysctlWatch : public BpfObject {
public:
  static Result<std::unique_ptr<SysctlWatch>> attach(int ringbufFd, uid_t actuatorUid);

  const std::string& cgroupPath() const { return cgroup; }
  std::vector<std::string> attachedPrograms() const override;
  std::vector<HookCounters> hooks() const override;
  EventCounters events() const override;

private:
  struct SkeletonDeleter {
    void operator()(sysctl_watch_bpf* skel) const;
  };
  using Skeleton = std::unique_ptr<sysctl_watch_bpf, SkeletonDeleter>;
  SysctlWatch(Skeleton skel, std::string cgroup)
      : skel(std::move(skel)), cgroup(std::move(cgroup)) {}

  Skeleton skel;
  std::string cgroup;
};

// "net/ipv4/tcp_rmem" for a procPath "ipv4/tcp_rmem": the name bpf_sysctl_get_name() gives.
std::string sysctlHookName(std::string_view procPath);

}  // namespace bpftune::collector
