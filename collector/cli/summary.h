// Summary of what bpftune changed in the current boot, computed from the journal alone (so it is
// the same whether the daemons exited cleanly or were killed): per tuner, scenario and namespace
// counts, each changed tunable old -> new, the administrator's overrides, and a sysctl.d file
// that makes the learned values of the init namespace permanent.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "journal_record.h"
#include "result.h"

namespace bpftune::cli {

// cookie -> `ip netns` name, for display only.
using NetnsNames = std::map<uint64_t, std::string>;

// Algorithms by name ("reno", "none": no route of bpftune's), everything else as numbers.
std::string shownValues(proto::TunableId id, const journal::Values& values, uint8_t count);
std::string summarizeJournal(const std::string& journalPath);
// Every record of the journal, in order.
Result<std::vector<journal::Record>> readRecords(const std::string& journalPath);
std::string summarize(const std::vector<journal::Record>& records,
                      const journal::BootId& boot,
                      const NetnsNames& names = {});
// sysctl.d text: init-namespace values as settings; other namespaces as comments.
std::string exportSysctlD(const std::vector<journal::Record>& records,
                          const journal::BootId& boot,
                          const NetnsNames& names = {});

}  // namespace bpftune::cli
