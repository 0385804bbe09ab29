// `bpftune journal --since/--tuner/--netns`: which records to print. Parsing and matching are
// pure (the clock is a parameter) so that every accepted and refused value is unit-tested.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "journal_record.h"
#include "result.h"

namespace bpftune::cli {

// --since: a relative age (10m, 2h, 30s, 1d, 1w; a leading '-' is allowed, as journalctl takes
// it), "@SECONDS" since the epoch, or a UTC date and time as `bpftune journal` prints it:
// YYYY-MM-DD, YYYY-MM-DDTHH:MM[:SS][Z] ('T' or one space between date and time).
// Returns the earliest realtime (ns since the epoch) to print.
Result<int64_t> parseSince(std::string_view text, int64_t nowNs);

// --tuner: a tuner's name, or `admin` (rollback) / `actuator` (recovery, route following).
Result<proto::TunerId> parseTunerFilter(std::string_view name);

struct JournalFilter {
  std::optional<int64_t> sinceNs;
  std::optional<proto::TunerId> tuner;
  // The namespace a record changed a value in, or whose event caused the change.
  std::optional<uint64_t> netnsCookie;

  // All given criteria hold. START records belong to no tuner or namespace: only --since keeps
  // them.
  bool matches(const journal::Record& record) const;
};

}  // namespace bpftune::cli
