// Start-up as root: users, policy, journal, /proc/sys/net, netns cookie. Everything that needs
// privileges or the filesystem happens here, before the jail closes.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include "journal_file.h"
#include "options.h"
#include "policy_file.h"
#include "result.h"
#include "unique_fd.h"

namespace bpftune::actuator {

struct Account {
  uid_t uid = 0;
  gid_t gid = 0;
};

Result<Account> lookupUser(const std::string& name);
// Creates the parent directory of `path` if missing (mode, owned by `owner`).
Status ensureParent(const std::string& path, mode_t mode, std::optional<Account> owner);
Result<UniqueFd> openSysnet();

}  // namespace bpftune::actuator
