#include "netns_names.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>

#include "unique_fd.h"

namespace bpftune::cli {
namespace {

constexpr unsigned long NS_GET_ID_IOCTL = _IOR(0xb7, 13, uint64_t);  // linux/nsfs.h, 6.18

Result<uint64_t> cookieOfFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    return makeError("open " + path, errno);
  }
  uint64_t id = 0;
  if (::ioctl(fd.get(), NS_GET_ID_IOCTL, &id) != 0) {
    return makeError(path + " is not a network namespace (NS_GET_ID)", errno);
  }
  return id;
}

}  // namespace

std::map<uint64_t, std::string> netnsNames(const std::string& dir) {
  std::map<uint64_t, std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return names;
  }
  while (const dirent* entry = ::readdir(d)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") {
      continue;
    }
    std::string path = dir;
    path += '/';
    path += name;
    if (auto cookie = cookieOfFile(path)) {
      names[*cookie] = name;
    }
  }
  ::closedir(d);
  return names;
}

Result<uint64_t> netnsCookieFromArg(const std::string& text, const std::string& dir) {
  uint64_t cookie = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), cookie);
  if (ec == std::errc() && end == text.data() + text.size()) {
    return cookie;
  }
  if (text.find('/') != std::string::npos || text == "." || text == "..") {
    return makeError("--netns: '" + text + "' is neither a cookie nor an `ip netns` name");
  }
  auto found = cookieOfFile(dir + "/" + text);
  if (!found) {
    return makeError("--netns: no namespace named '" + text + "' (" + describe(found.error()) +
                     ")");
  }
  return found;
}

}  // namespace bpftune::cli
