#include "netns_index.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>

namespace bpftune::actuator {
namespace {

// NS_GET_ID from linux/nsfs.h (6.18); Debian 12's headers predate it.
constexpr unsigned long NS_GET_ID_IOCTL = _IOR(0xb7, 13, uint64_t);
constexpr std::string_view NET_ROOT_PREFIX = "net:[";

std::string unescapeMountPath(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size()) {
      int value = 0;
      auto [next, ec] = std::from_chars(field.data() + i + 1, field.data() + i + 4, value, 8);
      if (ec == std::errc() && next == field.data() + i + 4) {
        out += static_cast<char>(value);
        i += 3;
        continue;
      }
    }
    out += field[i];
  }
  return out;
}

std::vector<std::string_view> splitSpaces(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  while (start < line.size()) {
    size_t end = line.find(' ', start);
    if (end == std::string_view::npos) {
      end = line.size();
    }
    if (end > start) {
      fields.push_back(line.substr(start, end - start));
    }
    start = end + 1;
  }
  return fields;
}

// One mountinfo line: id parent major:minor root mountpoint options [optional...] - fstype ...
std::optional<NsfsMount> nsfsMountOf(std::string_view line) {
  auto fields = splitSpaces(line);
  auto dash = std::find(fields.begin(), fields.end(), std::string_view("-"));
  if (fields.size() < 5 || dash == fields.end() || dash + 1 == fields.end() ||
      *(dash + 1) != "nsfs") {
    return std::nullopt;
  }
  std::string_view root = fields[3];
  if (root.substr(0, NET_ROOT_PREFIX.size()) != NET_ROOT_PREFIX || root.back() != ']') {
    return std::nullopt;
  }
  std::string_view digits =
      root.substr(NET_ROOT_PREFIX.size(), root.size() - NET_ROOT_PREFIX.size() - 1);
  uint32_t inode = 0;
  auto [next, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), inode);
  if (ec != std::errc() || next != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return NsfsMount{inode, unescapeMountPath(fields[4])};
}

Result<std::string> readWhole(const char* path) {
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return makeError(std::string("open ") + path, errno);
  }
  std::string text;
  char buf[16384];
  ssize_t n = 0;
  while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  if (n < 0) {
    return makeError(std::string("read ") + path, errno);
  }
  return text;
}

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

std::vector<NsfsMount> parseNsfsMounts(std::string_view mountinfo) {
  std::vector<NsfsMount> mounts;
  size_t start = 0;
  while (start < mountinfo.size()) {
    size_t end = mountinfo.find('\n', start);
    if (end == std::string_view::npos) {
      end = mountinfo.size();
    }
    if (auto mount = nsfsMountOf(mountinfo.substr(start, end - start))) {
      mounts.push_back(std::move(*mount));
    }
    start = end + 1;
  }
  return mounts;
}

Result<uint64_t> netnsCookieOf(int nsFd) {
  uint64_t id = 0;
  if (::ioctl(nsFd, NS_GET_ID_IOCTL, &id) != 0) {
    return makeError("ioctl NS_GET_ID", errno);
  }
  return id;
}

Result<OpenedNetns> NetnsIndex::consider(const std::string& path, uint64_t wanted) {
  // O_NONBLOCK: a path that turned into a FIFO must not stall the opener. /proc/<pid>/ns/net is
  // a magic link and must be followed; a mount point is the nsfs file itself.
  bool magicLink = path.rfind("/proc/", 0) == 0;
  UniqueFd fd(
      ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | (magicLink ? 0 : O_NOFOLLOW)));
  if (!fd.valid()) {
    return makeError("open " + path, errno);
  }
  auto cookie = netnsCookieOf(fd.get());
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
  auto text = readWhole("/proc/self/mountinfo");
  if (!text) {
    return text.error();
  }
  for (const NsfsMount& mount : parseNsfsMounts(*text)) {
    if (alreadySeen(seen, mount.inode)) {
      continue;
    }
    auto opened = consider(mount.path, cookie);
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
