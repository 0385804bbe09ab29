// `bpftune advice`: the open proposals of advice mode in the current boot, computed from the
// journal with the same journal::Advice the actuator decides with.
#pragma once

#include <string>
#include <vector>

#include "journal_record.h"
#include "summary.h"

namespace bpftune::cli {

// One line per open proposal (oldest first): id, tuner, tunable, from -> to, namespace, time and
// why; or with `json` one JSON object per line (the proposal record). A note when there is none.
std::string adviceText(const std::vector<journal::Record>& records,
                       const journal::BootId& boot,
                       bool json,
                       const NetnsNames& names = {});

}  // namespace bpftune::cli
