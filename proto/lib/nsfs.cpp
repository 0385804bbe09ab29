#include "nsfs.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "unique_fd.h"

namespace bpftune::nsfs {
namespace {

// NS_GET_ID from linux/nsfs.h (6.11+); Debian 12's headers predate it.
constexpr unsigned long NS_GET_ID_IOCTL = _IOR(0xb7, 13, uint64_t);

constexpr std::string_view NET_ROOT_PREFIX = "net:[";

// Space-separated fields of one line. Fields 0..5 are fixed, then optional fields up to "-",
// then fstype, source, super options.
struct MountLine {
  std::string_view root;
  std::string_view mountPoint;
  std::string_view fstype;
};

std::vector<std::string_view> splitFields(std::string_view line) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (pos < line.size()) {
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) {
      end = line.size();
    }
    if (end > pos) {
      out.push_back(line.substr(pos, end - pos));
    }
    pos = end + 1;
  }
  return out;
}

std::optional<MountLine> parseLine(std::string_view line) {
  std::vector<std::string_view> f = splitFields(line);
  if (f.size() < 7) {
    return std::nullopt;
  }
  size_t dash = 6;
  while (dash < f.size() && f[dash] != "-") {
    ++dash;
  }
  if (dash + 1 >= f.size()) {
    return std::nullopt;
  }
  return MountLine{f[3], f[4], f[dash + 1]};
}

template <typename F>
void forEachLine(std::string_view text, F visit) {
  size_t pos = 0;
  while (pos < text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) {
      eol = text.size();
    }
    if (auto line = parseLine(text.substr(pos, eol - pos))) {
      visit(*line);
    }
    pos = eol + 1;
  }
}

std::optional<uint32_t> netInode(std::string_view root) {
  if (root.size() <= NET_ROOT_PREFIX.size() + 1 ||
      root.substr(0, NET_ROOT_PREFIX.size()) != NET_ROOT_PREFIX || root.back() != ']') {
    return std::nullopt;
  }
  std::string_view digits =
      root.substr(NET_ROOT_PREFIX.size(), root.size() - NET_ROOT_PREFIX.size() - 1);
  uint32_t inum = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), inum);
  if (ec != std::errc() || end != digits.data() + digits.size() || inum == 0) {
    return std::nullopt;
  }
  return inum;
}

bool isOctal(char c) {
  return c >= '0' && c <= '7';
}

}  // namespace

std::string unescapeMountPath(std::string_view field) {
  std::string out;
  for (size_t i = 0; i < field.size(); ++i) {
    if (field[i] == '\\' && i + 3 < field.size() && isOctal(field[i + 1]) &&
        isOctal(field[i + 2]) && isOctal(field[i + 3])) {
      out += static_cast<char>((field[i + 1] - '0') * 64 + (field[i + 2] - '0') * 8 +
                               (field[i + 3] - '0'));
      i += 3;
    } else {
      out += field[i];
    }
  }
  return out;
}

std::vector<NsfsMount> parseNetnsMounts(std::string_view mountinfo) {
  std::vector<NsfsMount> out;
  forEachLine(mountinfo, [&](const MountLine& line) {
    if (line.fstype != "nsfs") {
      return;
    }
    if (auto inum = netInode(line.root)) {
      out.push_back({*inum, unescapeMountPath(line.mountPoint)});
    }
  });
  return out;
}

std::optional<std::string> findCgroup2Mount(std::string_view mountinfo) {
  std::optional<std::string> out;
  forEachLine(mountinfo, [&](const MountLine& line) {
    if (!out && line.fstype == "cgroup2") {
      out = unescapeMountPath(line.mountPoint);
    }
  });
  return out;
}

Result<std::string> readMountinfo() {
  UniqueFd fd(::open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return makeError("open /proc/self/mountinfo", errno);
  }
  std::string text;
  char buf[16384];
  ssize_t n = 0;
  while ((n = ::read(fd.get(), buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  if (n < 0) {
    return makeError("read /proc/self/mountinfo", errno);
  }
  return text;
}

Result<uint64_t> netnsCookieOfFd(int nsFd) {
  uint64_t id = 0;
  if (::ioctl(nsFd, NS_GET_ID_IOCTL, &id) != 0) {
    return makeError("ioctl NS_GET_ID (not a namespace file?)", errno);
  }
  return id;
}

Result<uint64_t> netnsCookieOfFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd.valid()) {
    return makeError("open " + path, errno);
  }
  auto cookie = netnsCookieOfFd(fd.get());
  if (!cookie) {
    return makeError(path + ": " + cookie.error().message, cookie.error().errnum);
  }
  return cookie;
}

}  // namespace bpftune::nsfs
