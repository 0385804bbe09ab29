#include "netns_names.h"

#include <dirent.h>

#include <cerrno>
#include <charconv>

#include "nsfs.h"

namespace bpftune::cli {

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
    if (auto cookie = nsfs::netnsCookieOfFile(path)) {
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
  auto found = nsfs::netnsCookieOfFile(dir + "/" + text);
  if (!found) {
    return makeError("--netns: no namespace named '" + text + "' (" + describe(found.error()) +
                     ")");
  }
  return found;
}

}  // namespace bpftune::cli
