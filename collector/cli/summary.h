// Summary of what bpftune changed in the current boot, computed from the journal alone (so it is
// the same whether the daemons exited cleanly or were killed).
#pragma once

#include <string>
#include <vector>

#include "journal_record.h"

namespace bpftune::cli {

std::string summarizeJournal(const std::string& journalPath);
std::string summarize(const std::vector<journal::Record>& records, const journal::BootId& boot);

}  // namespace bpftune::cli
