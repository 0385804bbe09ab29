// `bpftune summary` and `bpftune export --sysctl-d`: both read the journal (root-only).
#include <iostream>

#include "commands.h"
#include "journal_file.h"
#include "netns_names.h"
#include "summary.h"

namespace bpftune::cli {
namespace {

Result<std::vector<journal::Record>> currentRecords(const std::string& path) {
  auto journal = journal::readJournal(path);
  if (!journal) {
    return journal.error();
  }
  std::vector<journal::Record> records;
  for (const auto& stored : journal->records) {
    records.push_back(stored.record);
  }
  return records;
}

int withJournal(const Options& options,
                std::string (*render)(const std::vector<journal::Record>&,
                                      const journal::BootId&,
                                      const NetnsNames&)) {
  auto records = currentRecords(options.paths.journal());
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

}  // namespace

int summaryCommand(const Options& options) {
  return withJournal(options, &summarize);
}

int exportCommand(const Options& options) {
  return withJournal(options, &exportSysctlD);
}

}  // namespace bpftune::cli
