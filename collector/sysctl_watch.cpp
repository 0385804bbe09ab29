#include "sysctl_watch.h"

#include <fcntl.h>

#include <cerrno>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "nsfs.h"
#include "sample.h"
#include "sysctl_watch.skel.h"
#include "tunable_table.h"
#include "unique_fd.h"

namespace bpftune::collector {
namespace {

constexpr size_t SYSCTL_NAME_LEN = 64;  // struct sysctl_name in bpf/sysctl_watch.bpf.c

template <typename T>
T readShared(const T& field) {
  return *static_cast<const volatile T*>(&field);
}

Error libbpfError(const std::string& what, int err) {
  return makeError(what, err < 0 ? -err : err);
}

Result<std::string> cgroup2Root() {
  auto text = nsfs::readMountinfo();
  if (!text) {
    return text.error();
  }
  auto path = nsfs::findCgroup2Mount(*text);
  if (!path) {
    return makeError("no cgroup2 mount in /proc/self/mountinfo");
  }
  return *path;
}

// The name -> TunableId table, from the one place sysctl names live (policy/tunable_table.cpp).
Status watchName(sysctl_watch_bpf* skel, const std::string& name, proto::TunableId tunable) {
  char key[SYSCTL_NAME_LEN] = {};
  if (name.size() >= sizeof(key)) {
    return makeError("sysctl name too long for the watch: " + name);
  }
  // Zero padded (the key is the whole array), so the copy leaves a terminating NUL.
  name.copy(key, name.size());
  auto id = static_cast<uint32_t>(tunable);
  if (int err =
          bpf_map__update_elem(skel->maps.watched, key, sizeof(key), &id, sizeof(id), BPF_ANY);
      err != 0) {
    return libbpfError("fill the watched sysctl table", err);
  }
  return Ok{};
}

Status fillWatched(sysctl_watch_bpf* skel) {
  for (const policy::TunableInfo& info : policy::allTunables()) {
    for (const std::string& file : policy::procFiles(info)) {
      if (auto watched = watchName(skel, sysctlHookName(file), info.id); !watched) {
        return watched;
      }
    }
  }
  return Ok{};
}

Status attachToCgroup(sysctl_watch_bpf* skel, const std::string& path) {
  UniqueFd dir(::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.valid()) {
    return makeError("open " + path, errno);
  }
  bpf_link* link = bpf_program__attach_cgroup(skel->progs.sysctl_write, dir.get());
  if (link == nullptr) {
    return makeError("attach cgroup/sysctl to " + path + " (needs CAP_NET_ADMIN)", errno);
  }
  skel->links.sysctl_write = link;  // destroyed with the skeleton
  return Ok{};
}

}  // namespace

void SysctlWatch::SkeletonDeleter::operator()(sysctl_watch_bpf* skel) const {
  sysctl_watch_bpf::destroy(skel);
}

std::string sysctlHookName(std::string_view procPath) {
  return "net/" + std::string(procPath);
}

Result<std::unique_ptr<SysctlWatch>> SysctlWatch::attach(int ringbufFd, uid_t actuatorUid) {
  auto root = cgroup2Root();
  if (!root) {
    return root.error();
  }
  Skeleton skel(sysctl_watch_bpf::open());
  if (!skel) {
    return makeError("open sysctl_watch BPF object", errno);
  }
  skel->rodata->actuator_uid = static_cast<uint32_t>(actuatorUid);
  bpf_map__set_max_entries(skel->maps.last_event, 1);  // declared by the shared helpers, unused
  if (int err = bpf_map__reuse_fd(skel->maps.events, ringbufFd); err != 0) {
    return libbpfError("reuse the shared ring buffer", err);
  }
  if (int err = sysctl_watch_bpf::load(skel.get()); err != 0) {
    return libbpfError("load sysctl_watch BPF program", err);
  }
  if (auto filled = fillWatched(skel.get()); !filled) {
    return filled.error();
  }
  if (auto attached = attachToCgroup(skel.get(), *root); !attached) {
    return attached.error();
  }
  return std::unique_ptr<SysctlWatch>(new SysctlWatch(std::move(skel), *root));
}

std::vector<std::string> SysctlWatch::attachedPrograms() const {
  return {"cgroup/sysctl@" + cgroup};
}

std::vector<HookCounters> SysctlWatch::hooks() const {
  // calls: writes by anyone but the actuator; collected: of those, to a watched tunable.
  return {{"sysctl writes",
           readShared(skel->bss->sysctl_writes_seen),
           readShared(skel->bss->sysctl_writes_watched),
           1}};
}

EventCounters SysctlWatch::events() const {
  return {readShared(skel->bss->bpftune_events_sent),
          readShared(skel->bss->bpftune_events_deduped),
          readShared(skel->bss->bpftune_events_lost)};
}

}  // namespace bpftune::collector
