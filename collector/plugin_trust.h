// Trust checks for plugin files (upstream's, after its 2026-07 hardening), done on descriptors so
// nothing can be swapped between a check and the use: the directory is walked from "/" one
// component at a time with O_NOFOLLOW, each component checked on its open descriptor, and the
// plugin opened relative to the last one.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "result.h"
#include "unique_fd.h"

namespace bpftune::collector {

// Who may own a plugin directory, every directory above it and the plugin file. Root in
// production; tests running as root use root too (files they create are root's).
struct TrustOwner {
  uid_t uid = 0;
};

// A plugin's file name: ends in ".so", no leading '.', only [A-Za-z0-9._-] (no '/').
bool isPluginFileName(std::string_view name);

// Opens `dir` (absolute, no "." or ".." components) as a directory after checking every
// component from "/": a real directory (not a symlink), owned by `owner`, not group- or
// other-writable, without a POSIX ACL. The error names the first component that fails.
Result<UniqueFd> openTrustedDir(const std::string& dir, TrustOwner owner);

// Opens `name` in the trusted directory `dirFd` with O_NOFOLLOW and checks the open file: a
// regular file owned by `owner`, not group- or other-writable, without a POSIX ACL.
Result<UniqueFd> openTrustedFile(int dirFd, const std::string& name, TrustOwner owner);

}  // namespace bpftune::collector
