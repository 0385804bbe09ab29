#include "netns_sysctls.h"

#include <cerrno>

namespace bpftune::actuator {

Error CachedNetnsSysctls::gone(uint64_t cookie, const Error& error) {
  if (error.errnum == ENOENT) {
    entries.erase(cookie);
    return makeError("netns " + std::to_string(cookie) + " is gone", ENOENT);
  }
  return error;
}

void CachedNetnsSysctls::evictOldest() {
  auto oldest = entries.begin();
  for (auto it = entries.begin(); it != entries.end(); ++it) {
    if (it->second.lastUse < oldest->second.lastUse) {
      oldest = it;
    }
  }
  if (oldest != entries.end()) {
    entries.erase(oldest);
  }
}

Result<int> CachedNetnsSysctls::handle(uint64_t cookie, const policy::TunableInfo& info) {
  const auto& tunables = perNetnsTunables();
  size_t slot = 0;
  while (slot < tunables.size() && tunables[slot]->id != info.id) {
    ++slot;
  }
  if (slot == tunables.size()) {
    return makeError(std::string(info.name) + " exists only in the init namespace", EINVAL);
  }
  auto it = entries.find(cookie);
  if (it == entries.end()) {
    auto files = opener.open(cookie);
    if (!files) {
      return gone(cookie, files.error());
    }
    if (entries.size() >= CAPACITY) {
      evictOldest();
    }
    it = entries.emplace(cookie, Entry{std::move(*files), 0}).first;
  }
  it->second.lastUse = ++clock;
  const UniqueFd& fd = it->second.files.fds[slot];
  if (!fd.valid()) {
    // Not ENOENT: that would read as "the namespace is gone".
    return makeError(std::string(info.name) + " does not exist in netns " + std::to_string(cookie),
                     EOPNOTSUPP);
  }
  return fd.get();
}

// Reading through a handle proves the namespace is alive (a dead one's handle answers ENOENT,
// which drops the entry); every namespace has the first per-netns tunable (tcp_rmem).
Status CachedNetnsSysctls::reach(uint64_t cookie) {
  auto values = read(cookie, *perNetnsTunables().front());
  return values ? Status(Ok{}) : Status(values.error());
}

Result<Values> CachedNetnsSysctls::read(uint64_t cookie, const policy::TunableInfo& info) {
  auto fd = handle(cookie, info);
  if (!fd) {
    return fd.error();
  }
  auto values = readSysctlFd(*fd, info);
  if (!values) {
    return gone(cookie, values.error());
  }
  return values;
}

Status CachedNetnsSysctls::write(uint64_t cookie,
                                 const policy::TunableInfo& info,
                                 const Values& values) {
  auto fd = handle(cookie, info);
  if (!fd) {
    return fd.error();
  }
  auto written = writeSysctlFd(*fd, info, values);
  if (!written) {
    return gone(cookie, written.error());
  }
  return written;
}

uint32_t CachedNetnsSysctls::inode(uint64_t cookie) const {
  auto it = entries.find(cookie);
  return it == entries.end() ? 0 : it->second.files.inode;
}

}  // namespace bpftune::actuator
