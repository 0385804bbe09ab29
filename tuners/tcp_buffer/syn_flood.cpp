#include "syn_flood.h"

#include <algorithm>
#include <optional>
#include <string>

#include "change_limits.h"
#include "why_text.h"

namespace bpftune::tuners::tcp_buffer {
namespace {

constexpr int64_t INT_MAX_VALUE = 2147483647;

std::string str(int64_t v) {
  return std::to_string(v);
}

Proposal proposal(const bpftune_event& event,
                  ScenarioId scenario,
                  TunableId tunable,
                  int64_t from,
                  int64_t to,
                  std::string why) {
  return Proposal{TunerId::TCP_BUFFER,
                  scenario,
                  event.netns_cookie,
                  tunable,
                  Values{1, {from, 0, 0}},
                  Values{1, {to, 0, 0}},
                  std::move(why)};
}

}  // namespace

void SynFloodPolicy::onSynackRetransmit(const bpftune_event& event,
                                        const CurrentValues& current,
                                        MemoryState memory,
                                        std::vector<Proposal>& out) {
  syncookies(event, current, memory, out);
  backlog(event, current, memory, out);
}

// 2 (cookies for every SYN) is an administrator's choice and is left alone.
void SynFloodPolicy::syncookies(const bpftune_event& event,
                                const CurrentValues& current,
                                MemoryState memory,
                                std::vector<Proposal>& out) {
  const auto cookies = current.single(TunableId::TCP_SYNCOOKIES);
  if (!cookies || (*cookies != 0 && *cookies != 1)) {
    return;
  }
  const auto failed = current.counter(CounterId::TCPEXT_SYNCOOKIES_FAILED);
  const auto good = current.counter(CounterId::TCPEXT_SYNCOOKIES_RECV);
  const bool ineffective = failed && good && *failed >= COOKIES_FAILED_MIN && *good == 0;
  const std::string record = ineffective ? str(*failed) + " syncookies failed validation and none "
                                                          "succeeded"
                                         : "";
  if (*cookies == 1 && ineffective) {
    out.push_back(proposal(event,
                           ScenarioId::SYNCOOKIES_DISABLE,
                           TunableId::TCP_SYNCOOKIES,
                           1,
                           0,
                           record + "; they only cost a hash per SYN here"));
    return;
  }
  // Not where they were found useless: that would flip them on and off at every retransmit.
  if (*cookies == 0 && memory != MemoryState::NORMAL && !ineffective) {
    out.push_back(proposal(event,
                           ScenarioId::SYNCOOKIES_ENABLE,
                           TunableId::TCP_SYNCOOKIES,
                           0,
                           1,
                           "SYN-ACK retransmits while TCP memory is low (" +
                               str(event.mem_allocated) +
                               " pages allocated): the backlog cannot grow, answer SYNs with "
                               "cookies when it is full"));
  }
}

void SynFloodPolicy::backlog(const bpftune_event& event,
                             const CurrentValues& current,
                             MemoryState memory,
                             std::vector<Proposal>& out) {
  const auto accepted = current.counter(CounterId::TCP_PASSIVE_OPENS);
  const auto old = current.single(TunableId::TCP_MAX_SYN_BACKLOG);
  if (!accepted || !old || event.detail[0] <= 0 || *accepted < 0) {
    return;  // no evidence to correlate (no process of the namespace to read counters through)
  }
  const uint64_t netns = event.netns_cookie;
  constexpr TunableId KEY = TunableId::TCP_MAX_SYN_BACKLOG;
  correlations.add(
      netns, KEY, static_cast<uint64_t>(event.detail[0]), static_cast<uint64_t>(*accepted));
  const uint64_t n = correlations.samples(netns, KEY);
  if (n < Correlation::MIN_SAMPLES) {
    return;  // unlike upstream, no growth before there is evidence: a flood's first retransmits
  }
  const double r = correlations.r(netns, KEY);
  const std::string evidence = str(event.detail[0]) + " SYN-ACK retransmits and " + str(*accepted) +
                               " accepted connections so far (r=" + formatR(r) + " over " +
                               str(static_cast<int64_t>(n)) + " samples)";
  const bool real = r > Correlation::THRESHOLD;
  int64_t next = *old;
  if (real && memory == MemoryState::NORMAL) {
    next = clampStep(*old, std::min(rate.grow(*old), INT_MAX_VALUE));
  } else if (!real) {
    next = std::max(BACKLOG_FLOOR, clampStep(*old, rate.shrink(*old)));
  }
  correlations.forget(netns, KEY);
  if (next == *old) {
    return;
  }
  out.push_back(proposal(event,
                         real ? ScenarioId::SYN_BACKLOG_INCREASE : ScenarioId::SYN_BACKLOG_DECREASE,
                         KEY,
                         *old,
                         next,
                         real ? evidence + ": the retransmits are real load, make room for it"
                              : evidence + ": handshakes are not completing, a flood; a bigger "
                                           "backlog would only hold more of it"));
}

}  // namespace bpftune::tuners::tcp_buffer
