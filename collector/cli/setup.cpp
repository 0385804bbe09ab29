#include "setup.h"

#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>  // environ (declared under _GNU_SOURCE)

#include <cerrno>
#include <climits>
#include <vector>

#ifndef BPFTUNE_SHIPPED_POLICY
#define BPFTUNE_SHIPPED_POLICY "/usr/share/bpftune/default.policy"
#endif

namespace bpftune::cli {
namespace {

Result<Account> lookUp(const std::string& name) {
  passwd entry{};
  passwd* found = nullptr;
  std::vector<char> buffer(16384);
  int rc = getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0 || found == nullptr) {
    return makeError("no user '" + name + "'", rc);
  }
  return Account{name, found->pw_uid, found->pw_gid};
}

Status runProgram(const std::vector<std::string>& argv) {
  std::vector<char*> raw;
  raw.reserve(argv.size() + 1);
  for (const auto& arg : argv) {
    raw.push_back(const_cast<char*>(arg.c_str()));  // NOLINT(cppcoreguidelines-pro-type-const-cast)
  }
  raw.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, raw[0], nullptr, nullptr, raw.data(), environ);
  if (rc != 0) {
    return makeError("cannot start " + argv[0], rc);
  }
  int status = 0;
  if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return makeError(argv[0] + " failed (status " + std::to_string(status) + ")");
  }
  return Ok{};
}

Status makeDirectory(const std::string& path, mode_t mode, uid_t uid, gid_t gid) {
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return makeError("mkdir " + path, errno);
  }
  struct stat info {};
  if (lstat(path.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) {
    return makeError(path + " is not a directory");
  }
  if (chown(path.c_str(), uid, gid) != 0) {
    return makeError("chown " + path, errno);
  }
  if (chmod(path.c_str(), mode) != 0) {
    return makeError("chmod " + path, errno);
  }
  return Ok{};
}

// The units' layout (tmpfiles.d: /run/bpftune the actuator's user's, /var/lib/bpftune 0710
// root:bpftune) is as safe as ours and is kept, so `bpftune run` and the units can take turns.
bool keptFromUnits(const std::string& path, const Account& actuator) {
  struct stat info {};
  return lstat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode) &&
         (info.st_uid == 0 || info.st_uid == actuator.uid) && (info.st_mode & 022) == 0;
}

}  // namespace

Result<Account> ensureSystemUser(const std::string& name) {
  if (auto account = lookUp(name)) {
    return account;
  }
  auto created = runProgram({"/usr/sbin/useradd",
                             "--system",
                             "--no-create-home",
                             "--home-dir",
                             "/nonexistent",
                             "--shell",
                             "/usr/sbin/nologin",
                             "--user-group",
                             name});
  if (!created) {
    return created.error();
  }
  return lookUp(name);
}

Status prepareDirectories(const Paths& paths, const Account& actuator, const Account& collector) {
  if (!keptFromUnits(paths.runDir, actuator)) {
    if (auto ok = makeDirectory(paths.runDir, 0755, 0, 0); !ok) {
      return ok;
    }
  }
  if (auto ok = makeDirectory(paths.collectorDir(), 0755, collector.uid, collector.gid); !ok) {
    return ok;
  }
  // The journal directory stays root's: the jailed actuator appends through a descriptor it
  // opened as root, so nothing running as its user can replace or rewrite the journal.
  struct stat info {};
  if (keptFromUnits(paths.stateDir, actuator) && lstat(paths.stateDir.c_str(), &info) == 0 &&
      info.st_uid == 0) {
    return Ok{};
  }
  return makeDirectory(paths.stateDir, 0700, 0, 0);
}

std::string resolvePolicy(const Paths& paths) {
  if (!paths.policy.empty()) {
    return paths.policy;
  }
  if (access("/etc/bpftune/policy", R_OK) == 0) {
    return "/etc/bpftune/policy";
  }
  return BPFTUNE_SHIPPED_POLICY;
}

std::string selfDirectory() {
  char buffer[PATH_MAX] = {};
  ssize_t length = readlink("/proc/self/exe", buffer, sizeof(buffer) - 1);
  if (length <= 0) {
    return ".";
  }
  std::string path(buffer, static_cast<size_t>(length));
  auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace bpftune::cli
