// `bpftune journal` and `bpftune verify`: read-only views of the actuator's journal.
#include <sys/stat.h>

#include <iostream>

#include "commands.h"
#include "journal_file.h"
#include "netns_names.h"

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

// --netns names an `ip netns` namespace or gives its cookie; a name must exist now.
Result<JournalFilter> completeFilter(const Options& options) {
  JournalFilter filter = options.journalFilter;
  if (!options.netns.empty()) {
    auto cookie = netnsCookieFromArg(options.netns);
    if (!cookie) {
      return cookie.error();
    }
    filter.netnsCookie = *cookie;
  }
  return filter;
}

void printHead(const journal::VerifyReport& report) {
  if (report.headSeq == 0) {
    std::cout << "head: none (empty journal)\n";
    return;
  }
  std::cout << "head: seq=" << report.headSeq
            << " sha256=" << journal::hex(report.headHash.data(), report.headHash.size()) << '\n';
}

}  // namespace

int journalCommand(const Options& options) {
  const std::string path = options.paths.journal();
  auto filter = completeFilter(options);
  if (!filter) {
    std::cerr << "bpftune: " << filter.error().message << '\n';
    return 2;
  }
  if (!journalExists(path)) {
    return 1;
  }
  auto journal = journal::readJournal(path);
  if (!journal) {
    std::cerr << "bpftune: " << describe(journal.error()) << "\n";
    return 1;
  }
  for (const auto& stored : journal->records) {
    if (!filter->matches(stored.record)) {
      continue;
    }
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
  if (options.head) {
    printHead(report);
  }
  return 0;
}

}  // namespace bpftune::cli
