// `bpftune journal` and `bpftune verify`: read-only views of the actuator's journal.
#include <sys/stat.h>

#include <iostream>

#include "commands.h"
#include "journal_file.h"

namespace bpftune::cli {
namespace {

bool journalExists(const std::string& path) {
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    std::cerr << "bpftune: no journal at " << path
              << " (nothing was changed yet, or see --state-dir)\n";
    return false;
  }
  return true;
}

}  // namespace

int journalCommand(const Options& options) {
  const std::string path = options.paths.journal();
  if (!journalExists(path)) {
    return 1;
  }
  auto journal = journal::readJournal(path);
  if (!journal) {
    std::cerr << "bpftune: " << describe(journal.error()) << "\n";
    return 1;
  }
  for (const auto& stored : journal->records) {
    std::cout << (options.json ? journal::toJson(stored.record) : journal::toText(stored.record))
              << '\n';
  }
  if (journal->tornTailBytes > 0) {
    std::cerr << "bpftune: the last " << journal->tornTailBytes
              << " bytes are an incomplete record (a crash during a write); the actuator "
                 "truncates it at its next start\n";
  }
  return 0;
}

int verifyCommand(const Options& options) {
  const std::string path = options.paths.journal();
  if (!journalExists(path)) {
    return 1;
  }
  auto report = journal::verify(path);
  if (!report.ok) {
    std::cout << "journal " << path << ": FAILED: " << report.message << '\n';
    return 1;
  }
  std::cout << "journal " << path << ": OK, " << report.records << " records, hash chain intact";
  if (report.problem == journal::Problem::TORN_TAIL) {
    std::cout << " (" << report.message << ")";
  }
  std::cout << '\n';
  return 0;
}

}  // namespace bpftune::cli
