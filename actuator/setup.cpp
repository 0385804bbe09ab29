#include "setup.h"

#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

namespace bpftune::actuator {

Result<Account> lookupUser(const std::string& name) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buf(16384);
  int rc = ::getpwnam_r(name.c_str(), &entry, buf.data(), buf.size(), &found);
  if (rc != 0 || found == nullptr) {
    return makeError("user '" + name +
                         "' does not exist (create it: useradd --system --no-create-home "
                         "--shell /usr/sbin/nologin " +
                         name + ")",
                     rc);
  }
  return Account{entry.pw_uid, entry.pw_gid};
}

Status ensureParent(const std::string& path, mode_t mode, std::optional<Account> owner) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos || slash == 0) {
    return Ok{};
  }
  std::string dir = path.substr(0, slash);
  struct stat st {};
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) {
      return makeError(dir + " is not a directory");
    }
    // Already the owner's and writable by nobody else: keep its mode (tmpfiles.d gives the
    // units' journal directory 0710 root:bpftune, which a root start must not take away).
    if (!owner || (st.st_uid == owner->uid && (st.st_mode & 022) == 0)) {
      return Ok{};
    }
    // Otherwise it is brought to the required owner and mode (an older install may have left
    // it to another user).
    if (::chown(dir.c_str(), owner->uid, owner->gid) != 0 || ::chmod(dir.c_str(), mode) != 0) {
      return makeError("secure " + dir, errno);
    }
    return Ok{};
  }
  if (auto s = ensureParent(dir, 0755, std::nullopt); !s) {
    return s;
  }
  if (::mkdir(dir.c_str(), mode) != 0 && errno != EEXIST) {
    return makeError("mkdir " + dir, errno);
  }
  if (::chmod(dir.c_str(), mode) != 0) {
    return makeError("chmod " + dir, errno);
  }
  if (owner && ::chown(dir.c_str(), owner->uid, owner->gid) != 0) {
    return makeError("chown " + dir, errno);
  }
  return Ok{};
}

Result<UniqueFd> openSysnet() {
  UniqueFd fd(::open("/proc/sys/net", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd.valid()) {
    return makeError("open /proc/sys/net", errno);
  }
  return fd;
}

}  // namespace bpftune::actuator
