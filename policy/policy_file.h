// The administrator's policy: an allowlist of tunables with bounds, a maximum step and a rate.
// A tunable of the compiled-in table that the file does not name cannot be written at all.
//
// Format, one tunable per line, `#` starts a comment:
//   net.ipv4.tcp_rmem  min=4096 max=2147483647 step=25% rate=20/10s
// min and max are required; step defaults to 25%, rate to 20/10s (windows: s, m, h).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "result.h"
#include "tunable_table.h"

namespace bpftune::policy {

struct Limits {
  int64_t min = 0;
  int64_t max = 0;
  uint32_t stepPercent = 25;  // largest allowed change of one element, in percent of the old value
  uint32_t rateCount = 20;    // at most this many accepted changes ...
  uint32_t rateWindowSeconds = 10;  // ... within this window
};

class Policy {
public:
  const Limits* find(TunableId id) const;
  void set(TunableId id, Limits value) { limits[id] = value; }
  size_t size() const { return limits.size(); }

private:
  std::map<TunableId, Limits> limits;
};

// Parses policy text. Errors name the line number and what is wrong.
Result<Policy> parsePolicy(std::string_view text);

// Reads the file, refusing one not owned by root or writable by group or others, or a symlink.
Result<Policy> loadPolicyFile(const std::string& path);

}  // namespace bpftune::policy
