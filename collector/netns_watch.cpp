#include "netns_watch.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "netns_watch.skel.h"
#include "nsfs.h"
#include "sample.h"
#include "unique_fd.h"

namespace bpftune::collector {
namespace {

using tuners::netns::ScanEntry;

// Must match struct netns_task_record in bpf/netns_watch.bpf.c.
struct TaskRecord {
  uint64_t cookie;
  uint32_t inum;
  uint32_t pid;
};

template <typename T>
T readShared(const T& field) {
  return *static_cast<const volatile T*>(&field);
}

Error libbpfError(const std::string& what, int err) {
  return makeError(what, err < 0 ? -err : err);
}

}  // namespace

void NetnsWatch::SkeletonDeleter::operator()(netns_watch_bpf* skel) const {
  netns_watch_bpf::destroy(skel);
}

Result<std::unique_ptr<NetnsWatch>> NetnsWatch::attach(int ringbufFd) {
  Skeleton skel(netns_watch_bpf::open());
  if (!skel) {
    return makeError("open netns_watch BPF object", errno);
  }
  // Shared helpers declare the de-dup map; this object never de-duplicates.
  bpf_map__set_max_entries(skel->maps.last_event, 1);
  if (int err = bpf_map__reuse_fd(skel->maps.events, ringbufFd); err != 0) {
    return libbpfError("reuse the shared ring buffer", err);
  }
  if (int err = netns_watch_bpf::load(skel.get()); err != 0) {
    return libbpfError("load netns_watch BPF programs", err);
  }
  if (int err = netns_watch_bpf::attach(skel.get()); err != 0) {
    return libbpfError("attach netns_watch BPF programs", err);
  }
  return std::unique_ptr<NetnsWatch>(new NetnsWatch(std::move(skel)));
}

Status NetnsWatch::readTasks(std::map<uint64_t, ScanEntry>& out, ScanStats& stats) {
  UniqueFd iter(bpf_iter_create(bpf_link__fd(skel->links.netns_tasks)));
  if (!iter.valid()) {
    return makeError("create the task iterator", errno);
  }
  std::vector<char> buf(size_t{64} * 1024);
  std::string pending;
  while (true) {
    ssize_t n = ::read(iter.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return makeError("read the task iterator", errno);
    }
    if (n == 0) {
      break;
    }
    pending.append(buf.data(), static_cast<size_t>(n));
  }
  for (size_t at = 0; at + sizeof(TaskRecord) <= pending.size(); at += sizeof(TaskRecord)) {
    TaskRecord rec{};
    std::memcpy(&rec, pending.data() + at, sizeof(rec));
    ++stats.tasks;
    ScanEntry& entry = out[rec.cookie];
    entry.cookie = rec.cookie;
    entry.inum = rec.inum;
    entry.byTask = true;
    if (entry.pid == 0) {
      entry.pid = static_cast<int32_t>(rec.pid);
    }
    noteInode(rec.inum, rec.cookie);
  }
  return Ok{};
}

void NetnsWatch::readMounts(std::map<uint64_t, ScanEntry>& out,
                            std::vector<ScanEntry>& mounts,
                            ScanStats& stats) {
  auto text = nsfs::readMountinfo();
  if (!text) {
    ++stats.mountErrors;
    return;
  }
  std::map<uint32_t, uint64_t> seen;
  for (const nsfs::NsfsMount& m : nsfs::parseNetnsMounts(*text)) {
    ++stats.mounts;
    auto cached = mountCookies.find(m.inum);
    uint64_t cookie = cached != mountCookies.end() ? cached->second : 0;
    if (cookie == 0) {
      auto resolved = nsfs::netnsCookieOfFile(m.mountPoint);
      if (!resolved) {
        ++stats.mountErrors;
        log::debug("netns: " + log::sanitize(describe(resolved.error())));
        continue;
      }
      ++stats.mountsOpened;
      cookie = *resolved;
      mountCookies[m.inum] = cookie;
    }
    seen[m.inum] = cookie;
    mounts.push_back(
        ScanEntry{cookie, m.inum, tuners::netns::nameFromMountPoint(m.mountPoint), false, true});
    ScanEntry& entry = out[cookie];
    entry.cookie = cookie;
    entry.inum = m.inum;
    entry.byMount = true;
  }
  // Inodes of vanished mounts can be reused by new namespaces: forget them.
  mountCookies.swap(seen);
}

Result<std::vector<ScanEntry>> NetnsWatch::scan(ScanStats& stats) {
  std::map<uint64_t, ScanEntry> byCookie;
  std::vector<ScanEntry> mounts;
  if (auto tasks = readTasks(byCookie, stats); !tasks) {
    return tasks.error();
  }
  readMounts(byCookie, mounts, stats);
  std::vector<ScanEntry> out;
  out.reserve(byCookie.size() + mounts.size());
  for (auto& [cookie, entry] : byCookie) {
    out.push_back(std::move(entry));
  }
  // Named entries after the merged ones: they carry the names (a namespace can have several).
  out.insert(out.end(), mounts.begin(), mounts.end());
  return out;
}

void NetnsWatch::remember(uint64_t cookie) {
  uint8_t one = 1;
  bpf_map__update_elem(skel->maps.known_netns, &cookie, sizeof(cookie), &one, sizeof(one), BPF_ANY);
}

void NetnsWatch::forget(uint64_t cookie) {
  bpf_map__delete_elem(skel->maps.known_netns, &cookie, sizeof(cookie), 0);
}

void NetnsWatch::noteInode(uint32_t inum, uint64_t cookie) {
  auto it = mountCookies.find(inum);
  if (it != mountCookies.end() && it->second != cookie) {
    mountCookies.erase(it);
  }
}

std::vector<std::string> NetnsWatch::attachedPrograms() const {
  return {"tp_btf/sys_exit", "iter/task"};
}

std::vector<HookCounters> NetnsWatch::hooks() const {
  const auto& s = skel->bss->bpftune_samples[0];
  // calls: system calls that may have changed the caller's netns and succeeded.
  return {
      {"sys_exit(unshare,setns,clone,clone3)", readShared(s.calls), readShared(s.collected), 1}};
}

EventCounters NetnsWatch::events() const {
  return {readShared(skel->bss->bpftune_events_sent),
          readShared(skel->bss->bpftune_events_deduped),
          readShared(skel->bss->bpftune_events_lost)};
}

}  // namespace bpftune::collector
