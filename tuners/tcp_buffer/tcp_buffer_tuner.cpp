#include "tcp_buffer_tuner.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>

#include "change_limits.h"
#include "correlation.h"
#include "learning_rate.h"
#include "low_memory.h"
#include "mem_rules.h"
#include "syn_flood.h"
#include "why_text.h"

namespace bpftune::tuners {
namespace {

using tcp_buffer::formatR;
// tcp_mem follows the shared memory-limit rules (tuners/core/mem_rules.h).
using mem_rules::MemoryState;

// sysctl values are C ints: the kernel rejects anything above.
constexpr int64_t INT_MAX_VALUE = 2147483647;
// Namespaces waiting for the moderate_rcvbuf follow-up; bounded like every per-netns table.
constexpr size_t MAX_PENDING_FOLLOW_UPS = 1024;

bool isOrdered(const Values& v) {
  return v.v[0] <= v.v[1] && v.v[1] <= v.v[2];
}

std::string str(int64_t v) {
  return std::to_string(v);
}

std::string tunableName(TunableId id) {
  return id == TunableId::TCP_RMEM   ? "tcp_rmem"
         : id == TunableId::TCP_WMEM ? "tcp_wmem"
                                     : "tcp_mem";
}

// Shapes a triple change to the actuator's policy; nullopt when nothing would change or the
// current triple is already out of order (someone else's setting we do not try to repair).
std::optional<Proposal> tripleProposal(const bpftune_event& event,
                                       TunableId tunable,
                                       ScenarioId scenario,
                                       const Values& old,
                                       const Values& desired,
                                       std::string why) {
  const Values next = limitTriple(old, desired);
  if (!isOrdered(old) || next == old || !fitsPolicy(old, next)) {
    return std::nullopt;
  }
  return Proposal{
      TunerId::TCP_BUFFER, scenario, event.netns_cookie, tunable, old, next, std::move(why)};
}

class TcpBufferTuner final : public Tuner {
public:
  explicit TcpBufferTuner(int learningRate) : rate(learningRate), lowMemory(rate), synFlood(rate) {}

  TunerId id() const override { return TunerId::TCP_BUFFER; }
  std::string_view name() const override { return "tcp_buffer"; }
  std::vector<TunableId> tunables() const override {
    return {TunableId::TCP_RMEM,
            TunableId::TCP_WMEM,
            TunableId::TCP_MEM,
            TunableId::TCP_MODERATE_RCVBUF,
            TunableId::TCP_NO_METRICS_SAVE,
            TunableId::TCP_NO_SSTHRESH_METRICS_SAVE,
            TunableId::HIGH_ORDER_ALLOC_DISABLE,
            TunableId::TCP_SYNCOOKIES,
            TunableId::TCP_MAX_SYN_BACKLOG};
  }
  // Read for every event (the interface has no per-kind list); only SYN-ACK retransmits use
  // them.
  // Only the SYN-flood policy reads counters.
  std::vector<CounterId> counters(const bpftune_event& event) const override {
    if (event.kind != TCP_BUFFER_EV_SYNACK_RETRANS) {
      return {};
    }
    return {CounterId::TCPEXT_SYNCOOKIES_FAILED,
            CounterId::TCPEXT_SYNCOOKIES_RECV,
            CounterId::TCP_PASSIVE_OPENS};
  }

  std::vector<Proposal> onEvent(const bpftune_event& event, const CurrentValues& current) override;
  void onResult(const Proposal& proposal, bool applied) override;

private:
  void updateMemoryState(const bpftune_event& event, const CurrentValues& current);
  void lowMemoryMode(const bpftune_event& event,
                     const CurrentValues& current,
                     std::vector<Proposal>& out);
  void followUpModerateRcvbuf(const bpftune_event& event,
                              const CurrentValues& current,
                              std::vector<Proposal>& out);
  std::optional<Proposal> onNearMax(const bpftune_event& event,
                                    const CurrentValues& current,
                                    TunableId tunable);
  std::optional<Proposal> latencyDecrease(const bpftune_event& event,
                                          TunableId tunable,
                                          const Values& old,
                                          double r);
  void onMemory(const bpftune_event& event,
                const CurrentValues& current,
                std::vector<Proposal>& out);
  std::optional<Proposal> bufferDecrease(const bpftune_event& event,
                                         const CurrentValues& current,
                                         TunableId tunable,
                                         const std::string& reason);
  std::string fraction() const { return "1/" + str(int64_t{1} << rate.shift()); }

  LearningRate rate;
  CorrelationTable correlations;
  MemoryState memory = MemoryState::NORMAL;
  std::set<uint64_t> moderatePending;
  tcp_buffer::LowMemoryMode lowMemory;
  tcp_buffer::SynFloodPolicy synFlood;
};

std::vector<Proposal> TcpBufferTuner::onEvent(const bpftune_event& event,
                                              const CurrentValues& current) {
  std::vector<Proposal> out;
  if (event.tuner != BPFTUNE_TUNER_TCP_BUFFER) {
    return out;
  }
  updateMemoryState(event, current);
  lowMemoryMode(event, current, out);
  followUpModerateRcvbuf(event, current, out);
  std::optional<Proposal> single;
  switch (event.kind) {
    case TCP_BUFFER_EV_RMEM_NEAR_MAX:
      single = onNearMax(event, current, TunableId::TCP_RMEM);
      break;
    case TCP_BUFFER_EV_WMEM_NEAR_MAX:
      single = onNearMax(event, current, TunableId::TCP_WMEM);
      break;
    case TCP_BUFFER_EV_MEM_PRESSURE:
    case TCP_BUFFER_EV_MEM_EXHAUSTION:
      onMemory(event, current, out);
      break;
    case TCP_BUFFER_EV_SYNACK_RETRANS:
      synFlood.onSynackRetransmit(event, current, memory, out);
      break;
    default:
      break;
  }
  if (single) {
    out.push_back(std::move(*single));
  }
  return out;
}

void TcpBufferTuner::onResult(const Proposal& proposal, bool applied) {
  lowMemory.onResult(proposal, applied);
  if (!applied) {
    return;
  }
  // Upstream never ages its sums, so one correlated growth phase keeps shrinking the max down
  // to the default. After a latency decrease, only samples taken since then count.
  if (proposal.scenario == ScenarioId::BUFFER_DECREASE_LATENCY) {
    correlations.forget(proposal.netnsCookie, proposal.tunable);
  }
  if (proposal.tunable != TunableId::TCP_RMEM) {
    return;
  }
  if (moderatePending.size() < MAX_PENDING_FOLLOW_UPS) {
    moderatePending.insert(proposal.netnsCookie);
  }
}

// Every event carries memory_allocated, so the low-memory state is re-derived from the latest
// one against the live tcp_mem: it clears as soon as usage falls below the pressure threshold
// or tcp_mem was raised past it. Without a readable tcp_mem the last state stands.
void TcpBufferTuner::updateMemoryState(const bpftune_event& event, const CurrentValues& current) {
  if (const Values* mem = current.find(TunableId::TCP_MEM, 3)) {
    memory = mem_rules::classifyMemory(rate, event.mem_allocated, *mem);
  }
}

// Every event carries memory_allocated, so every event may start or end low-memory mode; the
// MEM_NORMAL events BPF sends after low memory make sure an end is seen.
void TcpBufferTuner::lowMemoryMode(const bpftune_event& event,
                                   const CurrentValues& current,
                                   std::vector<Proposal>& out) {
  const Values* mem = current.find(TunableId::TCP_MEM, 3);
  if (mem == nullptr) {
    return;  // tcp_mem is only readable in the init netns: no memory state to act on
  }
  if (memory == MemoryState::NORMAL && !lowMemory.active()) {
    return;  // the common case
  }
  if (memory != MemoryState::NORMAL) {
    lowMemory.noteShort(event.ts_ns);
  }
  const std::string state = str(event.mem_allocated) + " TCP pages allocated, tcp_mem " +
                            str(mem->v[0]) + " " + str(mem->v[1]) + " " + str(mem->v[2]);
  if (memory == MemoryState::EXHAUSTION) {
    lowMemory.enter(event, current, state + ": near exhaustion", out);
  } else if (memory == MemoryState::NORMAL) {
    lowMemory.leave(event, current, state + ": memory is no longer short", out);
  }
}

// Follows an applied rmem change on the next event from that namespace, so moderate_rcvbuf is
// only turned on once the actuator really changed rmem, and judged against a fresh read.
void TcpBufferTuner::followUpModerateRcvbuf(const bpftune_event& event,
                                            const CurrentValues& current,
                                            std::vector<Proposal>& out) {
  if (moderatePending.erase(event.netns_cookie) == 0) {
    return;
  }
  const Values* moderate = current.find(TunableId::TCP_MODERATE_RCVBUF, 1);
  if (moderate == nullptr || moderate->v[0] == 1) {
    return;
  }
  out.push_back(Proposal{TunerId::TCP_BUFFER,
                         ScenarioId::MODERATE_RCVBUF_ENABLE,
                         event.netns_cookie,
                         TunableId::TCP_MODERATE_RCVBUF,
                         *moderate,
                         Values{1, {1, 0, 0}},
                         "tcp_rmem max was changed while tcp_moderate_rcvbuf is " +
                             str(moderate->v[0]) + "; enable it so receive buffers follow it"});
}

std::optional<Proposal> TcpBufferTuner::onNearMax(const bpftune_event& event,
                                                  const CurrentValues& current,
                                                  TunableId tunable) {
  const Values* old = current.find(tunable, 3);
  if (old == nullptr) {
    return std::nullopt;
  }
  const int64_t max = old->v[2];
  correlations.add(
      event.netns_cookie, tunable, static_cast<uint64_t>(std::max<int64_t>(max, 0)), event.srtt_us);
  // An event queued before our last change no longer describes the live limit; acting on it
  // again would compound the step.
  if (!rate.nearlyFull(event.value, max)) {
    return std::nullopt;
  }
  const double r = correlations.r(event.netns_cookie, tunable);
  if (r > Correlation::THRESHOLD) {
    return latencyDecrease(event, tunable, *old, r);
  }
  if (memory != MemoryState::NORMAL || max >= INT_MAX_VALUE) {
    return std::nullopt;
  }
  Values desired = *old;
  desired.v[2] = std::min(rate.grow(max), INT_MAX_VALUE);
  const char* buffer = tunable == TunableId::TCP_RMEM ? "sk_rcvbuf " : "sk_sndbuf ";
  return tripleProposal(event,
                        tunable,
                        ScenarioId::BUFFER_INCREASE,
                        *old,
                        desired,
                        buffer + str(event.value) + " reached " + tunableName(tunable) + " max " +
                            str(max) + " (within " + fraction() + "); raise it to " +
                            str(desired.v[2]));
}

std::optional<Proposal> TcpBufferTuner::latencyDecrease(const bpftune_event& event,
                                                        TunableId tunable,
                                                        const Values& old,
                                                        double r) {
  Values desired = old;
  desired.v[2] = rate.shrink(old.v[2]);
  if (desired.v[2] < old.v[1]) {
    return std::nullopt;
  }
  return tripleProposal(event,
                        tunable,
                        ScenarioId::BUFFER_DECREASE_LATENCY,
                        old,
                        desired,
                        tunableName(tunable) + " max " + str(old.v[2]) +
                            " correlates with srtt (r=" + formatR(r) + " over " +
                            str(correlations.samples(event.netns_cookie, tunable)) +
                            " samples); lower it to " + str(desired.v[2]));
}

void TcpBufferTuner::onMemory(const bpftune_event& event,
                              const CurrentValues& current,
                              std::vector<Proposal>& out) {
  const Values* mem = current.find(TunableId::TCP_MEM, 3);
  const int64_t free = current.freeBufferPages;
  // Without a free-memory estimate every cap would be 0 and the formulas would only shrink.
  if (mem == nullptr || free <= 0 || memory == MemoryState::NORMAL) {
    return;
  }
  const bool exhaustion = memory == MemoryState::EXHAUSTION;
  const Values desired = exhaustion ? mem_rules::exhaustionTarget(rate, *mem, free)
                                    : mem_rules::pressureTarget(rate, *mem, free);
  const std::string state = str(event.mem_allocated) + " pages allocated, within " + fraction() +
                            " of tcp_mem " + (exhaustion ? "max " : "pressure ") +
                            str(mem->v[exhaustion ? 2 : 1]);
  const std::string caps = exhaustion ? "; cap is free/4 = " + str(free / 4)
                                      : "; caps are free/16, free/8, free/4 of " + str(free);
  if (auto p = tripleProposal(event,
                              TunableId::TCP_MEM,
                              exhaustion ? ScenarioId::MEM_EXHAUSTION : ScenarioId::MEM_PRESSURE,
                              *mem,
                              desired,
                              state + caps)) {
    out.push_back(std::move(*p));
  }
  if (!exhaustion || !mem_rules::memMaxAtCap(*mem, free)) {
    return;
  }
  const std::string reason = state + " which cannot exceed free/4 = " + str(free / 4);
  for (TunableId tunable : {TunableId::TCP_RMEM, TunableId::TCP_WMEM}) {
    if (auto p = bufferDecrease(event, current, tunable, reason)) {
      out.push_back(std::move(*p));
    }
  }
}

std::optional<Proposal> TcpBufferTuner::bufferDecrease(const bpftune_event& event,
                                                       const CurrentValues& current,
                                                       TunableId tunable,
                                                       const std::string& reason) {
  const Values* old = current.find(tunable, 3);
  if (old == nullptr) {
    return std::nullopt;
  }
  Values desired = *old;
  desired.v[2] = std::max(rate.shrink(old->v[2]), old->v[1]);
  return tripleProposal(event,
                        tunable,
                        ScenarioId::BUFFER_DECREASE,
                        *old,
                        desired,
                        reason + "; lower " + tunableName(tunable) + " max " + str(old->v[2]) +
                            " to " + str(desired.v[2]));
}

}  // namespace

std::unique_ptr<Tuner> makeTcpBufferTuner(int learningRate) {
  return std::make_unique<TcpBufferTuner>(learningRate);
}

}  // namespace bpftune::tuners
