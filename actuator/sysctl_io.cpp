#include "sysctl_io.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "cpu_mask.h"
#include "unique_fd.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace bpftune::actuator {

std::string formatValues(const Values& values, uint8_t count) {
  std::string out;
  for (uint8_t i = 0; i < count; ++i) {
    out += (i == 0 ? "" : "\t") + std::to_string(values[i]);
  }
  return out + "\n";
}

Result<Values> parseValues(const std::string& text, uint8_t count) {
  Values values{};
  const char* p = text.data();
  const char* end = p + text.size();
  for (uint8_t i = 0; i < count; ++i) {
    while (p < end && (*p == ' ' || *p == '\t')) {
      ++p;
    }
    auto [next, ec] = std::from_chars(p, end, values[i]);
    if (ec != std::errc() || next == p) {
      return makeError("sysctl value '" + text + "' does not hold " + std::to_string(count) +
                       " integers");
    }
    p = next;
  }
  return values;
}

namespace {

std::string formatFor(const policy::TunableInfo& info, const Values& values) {
  return info.kind == policy::ValueKind::CPU_MASK ? policy::formatCpuMask(values[0])
                                                  : formatValues(values, info.count);
}

Result<Values> parseFor(const policy::TunableInfo& info, const std::string& text) {
  if (info.kind != policy::ValueKind::CPU_MASK) {
    return parseValues(text, info.count);
  }
  auto mask = policy::parseCpuMask(text);
  if (!mask) {
    return mask.error();
  }
  return Values{*mask, 0, 0};
}

Result<std::string> preadText(int fd, const policy::TunableInfo& info) {
  char buf[256];
  ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
  if (n < 0) {
    return makeError("read " + std::string(info.name), errno);
  }
  return std::string(buf, static_cast<size_t>(n));
}

// gc_thresh1..3 live in three files; each holds one value of the triple.
Result<Values> readNeighTable(int sysnetFd, const policy::TunableInfo& info) {
  Values values{};
  size_t i = 0;
  for (const std::string& path : policy::procFiles(info)) {
    UniqueFd fd(::openat(sysnetFd, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd.valid()) {
      return makeError("open " + std::string(info.name) + std::to_string(i + 1), errno);
    }
    auto text = preadText(fd.get(), info);
    if (!text) {
      return text.error();
    }
    auto one = parseValues(*text, 1);
    if (!one) {
      return one.error();
    }
    values[i++] = (*one)[0];
  }
  return values;
}

}  // namespace

Result<Values> readSysctlFd(int fd, const policy::TunableInfo& info) {
  auto text = preadText(fd, info);
  if (!text) {
    return text.error();
  }
  return parseFor(info, *text);
}

Status writeSysctlFd(int fd, const policy::TunableInfo& info, const Values& values) {
  std::string text = formatFor(info, values);
  ssize_t n = ::pwrite(fd, text.data(), text.size(), 0);
  if (n < 0) {
    return makeError("write " + std::string(info.name), errno);
  }
  if (static_cast<size_t>(n) != text.size()) {
    return makeError("short write to " + std::string(info.name), EIO);
  }
  return Ok{};
}

Result<Values> readSysctl(int sysnetFd, const policy::TunableInfo& info) {
  if (info.backend == policy::Backend::NEIGH_TABLE) {
    return readNeighTable(sysnetFd, info);
  }
  std::string path(info.procPath);
  UniqueFd fd(::openat(sysnetFd, path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    return makeError("open " + std::string(info.name), errno);
  }
  return readSysctlFd(fd.get(), info);
}

Status writeSysctl(int sysnetFd, const policy::TunableInfo& info, const Values& values) {
  if (info.backend != policy::Backend::SYSCTL) {
    // Never from here: the table says this one is written over rtnetlink or needs
    // CAP_SYS_ADMIN (both the privileged writer's job).
    return makeError(std::string(info.name) + " is not written through /proc/sys", EOPNOTSUPP);
  }
  std::string path(info.procPath);
  UniqueFd fd(::openat(sysnetFd, path.c_str(), O_WRONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    return makeError("open " + std::string(info.name) + " for writing", errno);
  }
  return writeSysctlFd(fd.get(), info, values);
}

bool sameValues(const Values& a, const Values& b, uint8_t count) {
  for (uint8_t i = 0; i < count && i < a.size(); ++i) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

Result<uint64_t> ownNetnsCookie() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return makeError("socket for SO_NETNS_COOKIE", errno);
  }
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
    return makeError("getsockopt SO_NETNS_COOKIE", errno);
  }
  return cookie;
}

}  // namespace bpftune::actuator
