// Advice mode's proposals as the journal tells them: each proposal record of the current boot
// is open until an applied outcome names it (`bpftune apply`) or a newer proposal for the same
// key (netns, tunable, host) replaces it. The actuator decides with it (one open proposal per
// key; apply's refusals) and `bpftune advice` lists from it, so both read the same state.
#pragma once

#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "journal_record.h"

namespace bpftune::journal {

enum class ProposalState {
  UNKNOWN,     // no proposal of this boot has that seq
  OPEN,        // may be applied
  APPLIED,     // an applied outcome names it
  SUPERSEDED,  // a newer proposal for the same key replaced it
};

struct ProposalInfo {
  ProposalState state = ProposalState::UNKNOWN;
  Record proposal;          // valid unless UNKNOWN
  uint64_t appliedSeq = 0;  // APPLIED: the outcome's seq
  uint64_t replacedBy = 0;  // SUPERSEDED: the newer proposal's seq
};

class Advice {
public:
  explicit Advice(BootId bootId) : bootId(bootId) {}

  // Feed every record in journal order (records of other boots are ignored).
  void apply(const Record& record);

  ProposalInfo find(uint64_t seq) const;
  // The open proposal for a key, or nullptr.
  const Record* openFor(uint64_t netns, proto::TunableId tunable, const HostAddress& host) const;
  // Open proposals, oldest first.
  std::vector<Record> open() const;

private:
  // The host as integers: clang-tidy 14 misreads HostAddress's defaulted <=> (see refusal_holdoff).
  using Key = std::tuple<uint64_t, proto::TunableId, uint8_t, uint64_t, uint64_t>;
  static Key keyOf(uint64_t netns, proto::TunableId tunable, const HostAddress& host) {
    return {netns, tunable, host.family, host.word0(), host.word1()};
  }
  BootId bootId;
  std::map<uint64_t, ProposalInfo> proposals;  // by seq
  std::map<Key, uint64_t> openByKey;           // key -> seq of its open proposal
};

}  // namespace bpftune::journal
