#include "netns_index.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "nsfs.h"

namespace bpftune::actuator {
namespace {

bool isPid(const char* name) {
  if (*name == '\0') {
    return false;
  }
  for (const char* p = name; *p != '\0'; ++p) {
    if (*p < '0' || *p > '9') {
      return false;
    }
  }
  return true;
}

bool alreadySeen(std::vector<uint32_t>& seen, uint32_t inode) {
  if (std::find(seen.begin(), seen.end(), inode) != seen.end()) {
    return true;
  }
  seen.push_back(inode);
  return false;
}

}  // namespace

Result<OpenedNetns> NetnsIndex::consider(const std::string& path, uint64_t wanted) {
  // O_NONBLOCK: a path that turned into a FIFO must not stall the opener. /proc/<pid>/ns/net is
  // a magic link and must be followed; a mount point is the nsfs file itself.
  bool magicLink = path.rfind("/proc/", 0) == 0;
  UniqueFd fd(
      ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | (magicLink ? 0 : O_NOFOLLOW)));
  if (!fd.valid()) {
    return makeError("open " + path, errno);
  }
  auto cookie = nsfs::netnsCookieOfFd(fd.get());
  if (!cookie) {
    return cookie.error();
  }
  where[*cookie] = path;
  if (*cookie != wanted) {
    return makeError("netns " + std::to_string(*cookie) + " is not the wanted one", ENOENT);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return makeError("fstat " + path, errno);
  }
  return OpenedNetns{std::move(fd), static_cast<uint32_t>(st.st_ino)};
}

Result<OpenedNetns> NetnsIndex::tryPath(const std::string& path, uint64_t cookie) {
  auto opened = consider(path, cookie);
  if (!opened) {
    where.erase(cookie);  // moved or gone: a scan finds it again if it still exists
  }
  return opened;
}

Result<OpenedNetns> NetnsIndex::scanMounts(uint64_t cookie, std::vector<uint32_t>& seen) {
  auto text = nsfs::readMountinfo();
  if (!text) {
    return text.error();
  }
  for (const nsfs::NsfsMount& mount : nsfs::parseNetnsMounts(*text)) {
    if (alreadySeen(seen, mount.inum)) {
      continue;
    }
    auto opened = consider(mount.mountPoint, cookie);
    if (opened) {
      return opened;
    }
  }
  return makeError("netns " + std::to_string(cookie) + " is not mounted", ENOENT);
}

Result<OpenedNetns> NetnsIndex::scanProcesses(uint64_t cookie, std::vector<uint32_t>& seen) {
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) {
    return makeError("opendir /proc", errno);
  }
  Result<OpenedNetns> found = makeError("no process is in netns " + std::to_string(cookie), ENOENT);
  while (const dirent* entry = ::readdir(proc)) {
    if (!isPid(entry->d_name)) {
      continue;
    }
    std::string path = std::string("/proc/") + entry->d_name + "/ns/net";
    struct stat st {};
    // stat first: most processes share a few namespaces, each is opened once per scan.
    if (::stat(path.c_str(), &st) != 0 || alreadySeen(seen, static_cast<uint32_t>(st.st_ino))) {
      continue;
    }
    auto opened = consider(path, cookie);
    if (opened) {
      found = std::move(opened);
      break;
    }
  }
  ::closedir(proc);
  return found;
}

Result<OpenedNetns> NetnsIndex::open(uint64_t cookie) {
  if (auto it = where.find(cookie); it != where.end()) {
    std::string path = it->second;
    if (auto opened = tryPath(path, cookie)) {
      return opened;
    }
  }
  ++scanCount;
  std::vector<uint32_t> seen;
  if (auto opened = scanMounts(cookie, seen)) {
    return opened;
  }
  return scanProcesses(cookie, seen);
}

}  // namespace bpftune::actuator
