// What `bpftune run` and the tests need on a fresh machine: the two service users and the
// run/state directories with owners that let each daemon write only its own files.
#pragma once

#include <sys/types.h>

#include <string>

#include "options.h"
#include "result.h"

namespace bpftune::cli {

struct Account {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Looks the user up; creates a locked system user (no home, nologin shell) if it is missing.
Result<Account> ensureSystemUser(const std::string& name);

// runDir 0755 root (sockets, created by the actuator as root), runDir/collector 0755 owned by the
// collector (status file), stateDir 0700 root (journal, appended by the actuator through a
// descriptor opened before it drops to its user).
Status prepareDirectories(const Paths& paths, const Account& actuator, const Account& collector);

// The policy file to hand to the actuator: --policy, else /etc/bpftune/policy, else the shipped
// default.
std::string resolvePolicy(const Paths& paths);

// Directory of the running executable (for finding bpftune-actuator / bpftune-collector).
std::string selfDirectory();

}  // namespace bpftune::cli
