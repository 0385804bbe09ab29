// Command line of bpftune-actuator.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace bpftune::actuator {

struct Options {
  std::string socketPath = "/run/bpftune/actuator.sock";
  std::string adminSocketPath = "/run/bpftune/admin.sock";
  std::string journalPath = "/var/lib/bpftune/journal";
  std::string policyPath = "/etc/bpftune/policy";
  std::string collectorUser = "bpftune-collector";
  std::string user = "bpftune";
  // Empty: a root-started actuator forks its helpers. Set: it takes them from the helpers
  // daemon on this socket (bpftune-helpers.service), or, with serveHelpers, is that daemon.
  std::string helpersSocket;
  bool serveHelpers = false;
  bool rollbackOnly = false;
  bool advise = false;  // advice mode: journal valid requests as proposals, write nothing
  bool help = false;
  std::string printFilter;  // developer aid: write the seccomp PFC to this path and exit
};

// nullopt on bad arguments (usage goes to stderr by the caller).
std::optional<Options> parseOptions(const std::vector<std::string>& args, std::string& problem);
const char* usageText();

}  // namespace bpftune::actuator
