// Advice mode (Engine::setAdvise) and `bpftune apply`: a valid request becomes a journaled
// proposal instead of a write; applying one runs the proposal's values through setSysctl again.
#include "engine.h"

namespace bpftune::actuator {
namespace {

std::string idText(uint64_t seq) {
  return "proposal " + std::to_string(seq);
}

// The proposal as the request that made it, expecting its `from`.
policy::SetSysctl requestOf(const journal::Record& p) {
  policy::SetSysctl r;
  r.tuner = p.tuner;
  r.scenario = p.scenario;
  r.netnsCookie = p.netnsCookie;
  r.tunable = p.tunable;
  r.count = p.count;
  r.expected = p.oldValues;
  r.newValues = p.newValues;
  r.causeNetnsCookie = p.causeNetnsCookie == p.netnsCookie ? 0 : p.causeNetnsCookie;
  r.host = p.host;
  return r;
}

// Clears Engine::applying however applyProposal returns.
class Applying {
public:
  Applying(uint64_t& slot, uint64_t seq) : slot(slot) { slot = seq; }
  Applying(const Applying&) = delete;
  Applying& operator=(const Applying&) = delete;
  ~Applying() { slot = 0; }

private:
  uint64_t& slot;
};

}  // namespace

Answer Engine::commit(journal::Record intent, const policy::TunableInfo& info) {
  if (applying != 0) {
    intent.proposalSeq = applying;
    return writeJournaled(intent, info);
  }
  if (advise) {
    return propose(std::move(intent), info);
  }
  return writeJournaled(intent, info);
}

Answer Engine::propose(journal::Record proposal, const policy::TunableInfo& info) {
  proposal.kind = proto::RecordKind::PROPOSAL;
  proposal.seq = journal.append(proposal);
  advice.apply(journal.records().back().record);
  return proposedAnswer(proposal, info, "proposed as " + std::to_string(proposal.seq));
}

Answer Engine::proposedAnswer(const journal::Record& proposal,
                              const policy::TunableInfo& info,
                              const std::string& how) const {
  Answer a;
  a.status = proto::Status::PROPOSED;
  a.journalSeq = proposal.seq;
  a.count = info.count;
  a.values = proposal.oldValues;  // nothing was written: the live value is still its `from`
  const Key key{proposal.netnsCookie, proposal.tunable, proposal.host};
  a.reason = std::string(info.name) + hostSuffix(key) + " " + valueText(info, proposal.oldValues) +
             " -> " + valueText(info, proposal.newValues) + ": " + how +
             " (advice mode: nothing written; `bpftune apply " + std::to_string(proposal.seq) +
             "` applies it)";
  return a;
}

std::optional<Answer> Engine::checkProposalRate(const policy::SetSysctl& request,
                                                const policy::TunableInfo& info,
                                                const Values& live) {
  // The tuner sees the same live value until someone applies, so it asks again and again: the
  // open proposal answers that without a journal record.
  if (const journal::Record* open =
          advice.openFor(request.netnsCookie, request.tunable, request.host)) {
    if (open->tuner == request.tuner && open->scenario == request.scenario &&
        sameValues(open->oldValues, live, info.count) &&
        sameValues(open->newValues, request.newValues, info.count)) {
      return proposedAnswer(*open, info, "already proposed as " + std::to_string(open->seq));
    }
  }
  int64_t now = journal::monotonicNow();
  if (auto refusal =
          proposalRate.check(*policy.find(request.tunable), info, now, request.netnsCookie)) {
    return refuse(proto::Status::REJECTED, *refusal, info.count, live);
  }
  proposalRate.record(request.tunable, now, request.netnsCookie);
  return std::nullopt;
}

Answer Engine::applyProposal(uint64_t proposalSeq, Peer peer) {
  const journal::ProposalInfo found = advice.find(proposalSeq);
  const std::string id = idText(proposalSeq);
  switch (found.state) {
    case journal::ProposalState::UNKNOWN:
      return rejected("proposal",
                      0,
                      id + ": unknown (no proposal of this boot has that id; `bpftune advice` "
                           "lists the open ones)");
    case journal::ProposalState::APPLIED:
      return rejected("proposal",
                      0,
                      id + ": already applied (journal seq " + std::to_string(found.appliedSeq) +
                          ")");
    case journal::ProposalState::SUPERSEDED:
      return rejected("proposal",
                      0,
                      id + ": superseded by proposal " + std::to_string(found.replacedBy) +
                          " (the tuner's newer advice for the same tunable)");
    case journal::ProposalState::OPEN:
      break;
  }
  Answer a;
  {
    Applying guard(applying, proposalSeq);
    a = setSysctl(requestOf(found.proposal), peer);
  }
  a.reason =
      id +
      (a.status == proto::Status::STALE ? " is stale (its `from` is no longer the live value): "
                                        : ": ") +
      a.reason;
  return a;
}

}  // namespace bpftune::actuator
