#include "plugin_trust.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include <algorithm>
#include <cerrno>
#include <sstream>
#include <vector>

namespace bpftune::collector {
namespace {

bool hasAcl(int fd, const char* attribute) {
  // ENODATA: no ACL; ENOTSUP: the filesystem has none at all.
  return ::fgetxattr(fd, attribute, nullptr, 0) >= 0;
}

// The checks every component and the file share. `what` names it in the error.
Status checkOwnership(int fd, const std::string& what, TrustOwner owner, bool directory) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    return makeError("stat " + what, errno);
  }
  if (directory ? !S_ISDIR(st.st_mode) : !S_ISREG(st.st_mode)) {
    return makeError(what + " is not a " + (directory ? "directory" : "regular file"));
  }
  if (st.st_uid != owner.uid) {
    return makeError(what + " is owned by uid " + std::to_string(st.st_uid) + ", not " +
                     std::to_string(owner.uid));
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    return makeError(what + " is group- or other-writable");
  }
  if (hasAcl(fd, "system.posix_acl_access") ||
      (directory && hasAcl(fd, "system.posix_acl_default"))) {
    return makeError(what + " has a POSIX ACL");
  }
  return Ok{};
}

// Why an O_NOFOLLOW open failed, for the message (ELOOP, or ENOTDIR with O_DIRECTORY).
bool isSymlink(int dirFd, const std::string& name) {
  struct stat st {};
  return ::fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode);
}

Result<std::vector<std::string>> components(const std::string& dir) {
  if (dir.empty() || dir.front() != '/') {
    return makeError("plugin directory '" + dir + "' is not an absolute path");
  }
  std::vector<std::string> parts;
  std::istringstream in(dir);
  for (std::string part; std::getline(in, part, '/');) {
    if (part == "." || part == "..") {
      return makeError("plugin directory '" + dir + "' has a '.' or '..' component");
    }
    if (!part.empty()) {
      parts.push_back(part);
    }
  }
  return parts;
}

}  // namespace

bool isPluginFileName(std::string_view name) {
  constexpr std::string_view SUFFIX = ".so";
  if (name.size() <= SUFFIX.size() || name.size() > 255 || name.front() == '.' ||
      !name.ends_with(SUFFIX)) {
    return false;
  }
  return std::ranges::all_of(name, [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

Result<UniqueFd> openTrustedDir(const std::string& dir, TrustOwner owner) {
  auto parts = components(dir);
  if (!parts) {
    return parts.error();
  }
  UniqueFd current(::open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!current.valid()) {
    return makeError("open /", errno);
  }
  std::string path = "/";
  if (auto ok = checkOwnership(current.get(), path, owner, true); !ok) {
    return ok.error();
  }
  for (const std::string& part : *parts) {
    path += (path.size() > 1 ? "/" : "") + part;
    // O_NOFOLLOW: a symlink anywhere in the path fails here (ELOOP).
    UniqueFd next(
        ::openat(current.get(), part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!next.valid()) {
      int err = errno;
      return makeError("open " + path + (isSymlink(current.get(), part) ? " (a symlink)" : ""),
                       err);
    }
    if (auto ok = checkOwnership(next.get(), path, owner, true); !ok) {
      return ok.error();
    }
    current = std::move(next);
  }
  return current;
}

Result<UniqueFd> openTrustedFile(int dirFd, const std::string& name, TrustOwner owner) {
  if (!isPluginFileName(name)) {
    return makeError("'" + name + "' is not a plugin file name (*.so)");
  }
  UniqueFd fd(::openat(dirFd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    int err = errno;
    return makeError("open " + name + (isSymlink(dirFd, name) ? " (a symlink)" : ""), err);
  }
  if (auto ok = checkOwnership(fd.get(), name, owner, false); !ok) {
    return ok.error();
  }
  return fd;
}

}  // namespace bpftune::collector
