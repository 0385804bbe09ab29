// `bpftune summary`, `bpftune export --sysctl-d` and `bpftune advice`: all read the journal
// (root-only).
#include <iostream>

#include "advice.h"
#include "commands.h"
#include "journal_file.h"
#include "netns_names.h"
#include "summary.h"

namespace bpftune::cli {
namespace {

int withJournal(const Options& options,
                std::string (*render)(const std::vector<journal::Record>&,
                                      const journal::BootId&,
                                      const NetnsNames&)) {
  auto records = readRecords(options.paths.journal());
  if (!records) {
    std::cerr << "bpftune: " << describe(records.error()) << '\n';
    return 1;
  }
  auto boot = journal::readBootId();
  if (!boot) {
    std::cerr << "bpftune: " << describe(boot.error()) << '\n';
    return 1;
  }
  std::cout << render(*records, *boot, netnsNames());
  return 0;
}

std::string adviceLines(const std::vector<journal::Record>& records,
                        const journal::BootId& boot,
                        const NetnsNames& names) {
  return adviceText(records, boot, false, names);
}

std::string adviceJson(const std::vector<journal::Record>& records,
                       const journal::BootId& boot,
                       const NetnsNames& names) {
  return adviceText(records, boot, true, names);
}

}  // namespace

int adviceCommand(const Options& options) {
  return withJournal(options, options.json ? &adviceJson : &adviceLines);
}

int summaryCommand(const Options& options) {
  return withJournal(options, &summarize);
}

int exportCommand(const Options& options) {
  return withJournal(options, &exportSysctlD);
}

}  // namespace bpftune::cli
