// Command line of the admin CLI `bpftune`: one subcommand plus flags. Parsing is pure so that
// every usage error is unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "journal_filter.h"
#include "result.h"

namespace bpftune::cli {

enum class Command {
  RUN,
  STATUS,
  JOURNAL,
  VERIFY,
  ROLLBACK,
  SUPPORT,
  SUMMARY,
  EXPORT,
  RESUME,
  ADVICE,
  APPLY,
  TUNABLES,
  HELP,
  VERSION
};

struct Paths {
  std::string runDir = "/run/bpftune";
  std::string stateDir = "/var/lib/bpftune";
  std::string policy;  // empty: /etc/bpftune/policy if present, else the shipped default
  std::string binDir;  // empty: the directory of the running `bpftune`

  std::string socket() const { return runDir + "/actuator.sock"; }
  std::string adminSocket() const { return runDir + "/admin.sock"; }
  std::string collectorDir() const { return runDir + "/collector"; }
  std::string statusFile() const { return collectorDir() + "/status.json"; }
  std::string metricsFile() const { return collectorDir() + "/bpftune.prom"; }
  std::string journal() const { return stateDir + "/journal"; }
};

struct Options {
  Command command = Command::HELP;
  Paths paths;
  int learningRate = 4;
  std::string tuners;  // run --tuners A,B: passed to the collector; empty: all
  bool rollbackOnExit = false;
  bool json = false;
  bool debug = false;
  std::string actuatorUser = "bpftune";
  std::string collectorUser = "bpftune-collector";
  std::string tuner;     // resume: which tuner
  std::string netns;     // resume --netns: a cookie or an `ip netns` name (empty: every namespace)
  bool sysctlD = false;  // export --sysctl-d
  bool advise = false;   // run --advise: the actuator proposes, writes nothing
  std::vector<uint64_t> proposalIds;  // apply ID...: journal seqs of proposals
  std::string metricsFile;            // run --metrics-file (empty: paths.metricsFile())
  // journal --since/--tuner (checked when parsed); its --netns is resolved by the command.
  JournalFilter journalFilter;
  bool head = false;  // verify --head: print the chain head
};

Result<Options> parseOptions(const std::vector<std::string>& args);

const char* usageText();

}  // namespace bpftune::cli
