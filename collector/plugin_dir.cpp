#include "plugin_dir.h"

#include <dirent.h>
#include <sys/inotify.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>

#include "tunable_table.h"

namespace bpftune::collector {
namespace {

constexpr uint32_t WATCHED = IN_CLOSE_WRITE | IN_MOVED_TO | IN_ATTRIB | IN_DELETE | IN_MOVED_FROM;

struct DirCloser {
  void operator()(DIR* d) const { ::closedir(d); }
};

}  // namespace

Result<std::unique_ptr<PluginDirectory>> PluginDirectory::open(const std::string& dir,
                                                               TrustOwner owner) {
  if (auto trusted = openTrustedDir(dir, owner); !trusted) {
    return trusted.error();
  }
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid()) {
    return makeError("inotify_init1", errno);
  }
  if (::inotify_add_watch(fd.get(), dir.c_str(), WATCHED | IN_ONLYDIR) < 0) {
    return makeError("inotify_add_watch " + dir, errno);
  }
  return std::unique_ptr<PluginDirectory>(new PluginDirectory(dir, owner, std::move(fd)));
}

PluginChange PluginDirectory::load(const std::string& name) {
  PluginChange change;
  change.path = dir + "/" + name;
  auto refuse = [&change](const Error& error) {
    change.kind = PluginChange::Kind::REFUSED;
    change.reason = describe(error);
    return std::move(change);
  };
  auto dirFd = openTrustedDir(dir, owner);
  if (!dirFd) {
    return refuse(dirFd.error());
  }
  auto fileFd = openTrustedFile(dirFd->get(), name, owner);
  if (!fileFd) {
    return refuse(fileFd.error());
  }
  auto tuner = loadPlugin(std::move(*fileFd), change.path);
  if (!tuner) {
    return refuse(tuner.error());
  }
  loaded.insert(name);
  change.tuner = std::move(*tuner);
  return change;
}

std::vector<PluginChange> PluginDirectory::scan() {
  std::vector<std::string> names;
  std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  std::vector<PluginChange> out;
  if (!d) {
    out.push_back(
        {PluginChange::Kind::REFUSED, dir, nullptr, describe(makeError("opendir", errno))});
    return out;
  }
  while (const dirent* entry = ::readdir(d.get())) {
    if (isPluginFileName(entry->d_name) && !loaded.contains(entry->d_name)) {
      names.emplace_back(entry->d_name);
    }
  }
  std::ranges::sort(names);
  for (const std::string& name : names) {
    out.push_back(load(name));
  }
  return out;
}

void PluginDirectory::removed(const std::string& name, std::vector<PluginChange>& out) {
  if (loaded.erase(name) > 0) {
    out.push_back({PluginChange::Kind::REMOVED, dir + "/" + name, nullptr, {}});
  }
}

void PluginDirectory::forget(const std::string& path) {
  loaded.erase(path.substr(dir.size() + 1));
}

std::vector<PluginChange> PluginDirectory::poll() {
  std::vector<PluginChange> out;
  alignas(inotify_event) std::array<char, 4096> buffer{};
  for (;;) {
    ssize_t n = ::read(inotify.get(), buffer.data(), buffer.size());
    if (n <= 0) {
      break;  // EAGAIN: nothing more now
    }
    for (ssize_t off = 0; off < n;) {
      inotify_event event{};
      std::memcpy(&event, buffer.data() + off, sizeof(event));
      std::string name(event.len > 0 ? buffer.data() + off + sizeof(event) : "");
      off += static_cast<ssize_t>(sizeof(event) + event.len);
      name.resize(strnlen(name.c_str(), name.size()));
      if (!isPluginFileName(name)) {
        continue;
      }
      if ((event.mask & (IN_DELETE | IN_MOVED_FROM)) != 0) {
        removed(name, out);
      } else if ((event.mask & (IN_CLOSE_WRITE | IN_MOVED_TO)) != 0) {
        removed(name, out);  // replaced: the old one goes first
        out.push_back(load(name));
      } else if ((event.mask & IN_ATTRIB) != 0 && !loaded.contains(name)) {
        // Refused when written, and its owner or mode fixed since.
        out.push_back(load(name));
      }
    }
  }
  return out;
}

Result<std::string> checkPluginFile(const std::string& path, TrustOwner owner) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) {
    return makeError("'" + path + "' is not an absolute path in a plugin directory");
  }
  auto dirFd = openTrustedDir(path.substr(0, slash), owner);
  if (!dirFd) {
    return dirFd.error();
  }
  auto fileFd = openTrustedFile(dirFd->get(), path.substr(slash + 1), owner);
  if (!fileFd) {
    return fileFd.error();
  }
  auto tuner = loadPlugin(std::move(*fileFd), path);
  if (!tuner) {
    return tuner.error();
  }
  std::string text = "plugin " + std::string((*tuner)->name()) + ": every " +
                     std::to_string((*tuner)->period().count()) + " ms; tunables";
  for (proto::TunableId id : (*tuner)->tunables()) {
    text += " " + std::string(policy::findTunable(id)->name);
  }
  text += "; " + std::to_string((*tuner)->counters(bpftune_event{}).size()) + " counters";
  auto strategies = (*tuner)->strategies();
  for (size_t i = 0; i < strategies.size(); ++i) {
    text += (i == 0 ? "; strategies " : ", ") + strategies[i];
  }
  return text;
}

}  // namespace bpftune::collector
