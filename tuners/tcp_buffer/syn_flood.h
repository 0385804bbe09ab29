// SYN-flood policy of the tcp_buffer tuner, on SYN-ACK retransmits of a listener: a bigger SYN
// backlog helps real load (retransmits go with accepted connections) and only feeds a flood
// (they do not); syncookies go on when memory is short and off when they demonstrably fail.
// Decisions only (see tuner.h).
#pragma once

#include <cstdint>
#include <vector>

#include "correlation.h"
#include "learning_rate.h"
#include "mem_rules.h"
#include "tuner.h"

namespace bpftune::tuners::tcp_buffer {

using mem_rules::MemoryState;

class SynFloodPolicy {
public:
  static constexpr int64_t BACKLOG_FLOOR = 128;
  // Upstream's "ineffective syncookies": this many failed validations and not one good one.
  static constexpr int64_t COOKIES_FAILED_MIN = 1024;

  explicit SynFloodPolicy(const LearningRate& rate) : rate(rate) {}

  // The event is TCP_BUFFER_EV_SYNACK_RETRANS; detail[0] is the namespace's cumulative count of
  // SYN-ACK retransmits. `memory` is the TCP memory state the tuner derived for this event.
  void onSynackRetransmit(const bpftune_event& event,
                          const CurrentValues& current,
                          MemoryState memory,
                          std::vector<Proposal>& out);

  uint64_t samples(uint64_t netnsCookie) const {
    return correlations.samples(netnsCookie, TunableId::TCP_MAX_SYN_BACKLOG);
  }

private:
  void syncookies(const bpftune_event& event,
                  const CurrentValues& current,
                  MemoryState memory,
                  std::vector<Proposal>& out);
  void backlog(const bpftune_event& event,
               const CurrentValues& current,
               MemoryState memory,
               std::vector<Proposal>& out);

  LearningRate rate;
  // (cumulative SYN-ACK retransmits, cumulative accepted connections) per namespace. Restarted
  // at every backlog decision, so each one rests on MIN_SAMPLES fresh samples: upstream's sums
  // never age, and a namespace that served real load for hours would take hours of flood to
  // fall below the threshold.
  CorrelationTable correlations;
};

}  // namespace bpftune::tuners::tcp_buffer
