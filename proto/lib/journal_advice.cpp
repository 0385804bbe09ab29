#include "journal_advice.h"

namespace bpftune::journal {

void Advice::apply(const Record& r) {
  if (r.bootId != bootId) {
    return;  // sysctls reset at reboot: an older boot's advice describes values that are gone
  }
  if (r.kind == proto::RecordKind::PROPOSAL) {
    const Key key = keyOf(r.netnsCookie, r.tunable, r.host);
    if (auto it = openByKey.find(key); it != openByKey.end()) {
      ProposalInfo& old = proposals[it->second];
      old.state = ProposalState::SUPERSEDED;
      old.replacedBy = r.seq;
    }
    openByKey[key] = r.seq;
    proposals[r.seq] = ProposalInfo{ProposalState::OPEN, r, 0, 0};
    return;
  }
  // Only a change that took closes a proposal: after a failed write it may be applied again.
  if (r.kind != proto::RecordKind::OUTCOME || r.proposalSeq == 0 ||
      r.result != proto::OutcomeResult::APPLIED) {
    return;
  }
  auto it = proposals.find(r.proposalSeq);
  if (it == proposals.end() || it->second.state != ProposalState::OPEN) {
    return;
  }
  it->second.state = ProposalState::APPLIED;
  it->second.appliedSeq = r.seq;
  const Record& p = it->second.proposal;
  openByKey.erase(keyOf(p.netnsCookie, p.tunable, p.host));
}

ProposalInfo Advice::find(uint64_t seq) const {
  auto it = proposals.find(seq);
  return it == proposals.end() ? ProposalInfo{} : it->second;
}

const Record* Advice::openFor(uint64_t netns,
                              proto::TunableId tunable,
                              const HostAddress& host) const {
  auto it = openByKey.find(keyOf(netns, tunable, host));
  return it == openByKey.end() ? nullptr : &proposals.at(it->second).proposal;
}

std::vector<Record> Advice::open() const {
  std::vector<Record> out;
  for (const auto& [seq, info] : proposals) {
    if (info.state == ProposalState::OPEN) {
      out.push_back(info.proposal);
    }
  }
  return out;
}

}  // namespace bpftune::journal
