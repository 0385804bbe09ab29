#include "admin_override.h"

#include <charconv>

namespace bpftune::tuners::netns {

uint64_t overrideTarget(const policy::TunableInfo& tunable,
                        uint64_t writerNetns,
                        uint64_t homeNetns) {
  return tunable.perNetns ? writerNetns : homeNetns;
}

void routeProposal(Proposal& proposal, const policy::TunableInfo& tunable, uint64_t homeNetns) {
  if (tunable.perNetns) {
    proposal.causeNetnsCookie = 0;
    return;
  }
  proposal.causeNetnsCookie = proposal.netnsCookie;
  proposal.netnsCookie = homeNetns;
}

std::optional<Values> parseWrittenValues(std::string_view text, uint8_t count) {
  Values values;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (true) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n')) {
      ++p;
    }
    if (p == end) {
      break;
    }
    if (values.count >= 3) {
      return std::nullopt;
    }
    int64_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc()) {
      return std::nullopt;
    }
    values.v[values.count++] = v;
    p = next;
  }
  if (count == 0 || values.count != count) {
    return std::nullopt;
  }
  return values;
}

bool ResumeWatch::pingDue(Clock::time_point now, bool anyDisabled) {
  if (!anyDisabled || (lastPing != Clock::time_point{} && now - lastPing < PING_PERIOD)) {
    return false;
  }
  lastPing = now;
  return true;
}

bool ResumeWatch::onEpoch(uint64_t epoch) {
  bool changed = lastEpoch.has_value() && *lastEpoch != epoch;
  lastEpoch = epoch;
  return changed;
}

}  // namespace bpftune::tuners::netns
