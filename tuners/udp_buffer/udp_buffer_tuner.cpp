#include "udp_buffer_tuner.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>

#include "change_limits.h"
#include "learning_rate.h"
#include "mem_rules.h"

namespace bpftune::tuners {
namespace {

using mem_rules::MemoryState;

// The policy's ceiling for rmem_max and rmem_default (256 MiB): the actuator refuses more, so
// the tuner never asks.
constexpr int64_t RMEM_CEILING = 268435456;

std::string str(int64_t v) {
  return std::to_string(v);
}

bool isUsableMem(const Values& v) {
  return v.count == 3 && v.v[0] > 0 && v.v[0] <= v.v[1] && v.v[1] <= v.v[2];
}

// udp_mem is global, so the kernel's view in the event is the live one unless we changed it
// since: the value read just now wins, the event's stands in when it could not be read.
Values udpMem(const bpftune_event& event, const CurrentValues& current) {
  if (const Values* read = current.find(TunableId::UDP_MEM, 3)) {
    return *read;
  }
  return Values{3, {event.sysctl[0], event.sysctl[1], event.sysctl[2]}};
}

// UDP sockets have no memory-pressure flag: above udp_mem[0] the kernel already refuses
// datagrams to every socket holding udp_rmem_min or more, so that counts as pressure too.
MemoryState udpMemoryState(const LearningRate& rate, int64_t allocated, const Values& mem) {
  const MemoryState state = mem_rules::classifyMemory(rate, allocated, mem);
  if (state == MemoryState::NORMAL && allocated > mem.v[0]) {
    return MemoryState::PRESSURE;
  }
  return state;
}

// What the socket's namespace has dropped so far, for the log line; empty when unreadable.
std::string dropCounters(const CurrentValues& current) {
  auto errors = current.counters.find(CounterId::UDP_RCVBUF_ERRORS);
  auto datagrams = current.counters.find(CounterId::UDP_IN_DATAGRAMS);
  if (errors == current.counters.end() || datagrams == current.counters.end()) {
    return {};
  }
  return "; its netns counts " + str(errors->second) + " RcvbufErrors, " + str(datagrams->second) +
         " InDatagrams";
}

class UdpBufferTuner final : public Tuner {
public:
  explicit UdpBufferTuner(int learningRate) : rate(learningRate) {}

  TunerId id() const override { return TunerId::UDP_BUFFER; }
  std::string_view name() const override { return "udp_buffer"; }
  std::vector<TunableId> tunables() const override {
    return {TunableId::UDP_MEM, TunableId::RMEM_MAX, TunableId::RMEM_DEFAULT};
  }
  // The drop counters explain receive-buffer drops; the memory decision does not read them.
  std::vector<CounterId> counters(const bpftune_event& event) const override {
    if (event.kind == UDP_BUFFER_EV_MEM) {
      return {};
    }
    return {CounterId::UDP_IN_DATAGRAMS, CounterId::UDP_RCVBUF_ERRORS};
  }

  std::vector<Proposal> onEvent(const bpftune_event& event, const CurrentValues& current) override;

private:
  std::optional<Proposal> onMemory(const bpftune_event& event, const CurrentValues& current) const;
  std::optional<Proposal> onUnlockedDrop(const bpftune_event& event,
                                         const CurrentValues& current) const;
  std::optional<Proposal> onLockedDrop(const bpftune_event& event,
                                       const CurrentValues& current) const;
  std::optional<Proposal> growRmemMax(const bpftune_event& event,
                                      const Values& max,
                                      const std::string& cause) const;
  bool memoryShort(const bpftune_event& event, const CurrentValues& current) const;
  std::string fraction() const { return "1/" + str(int64_t{1} << rate.shift()); }

  LearningRate rate;
};

// Shapes a change to the actuator's policy; nullopt when nothing would change.
std::optional<Proposal> makeProposal(const bpftune_event& event,
                                     TunableId tunable,
                                     ScenarioId scenario,
                                     const Values& old,
                                     const Values& desired,
                                     std::string why) {
  const Values next = limitTriple(old, desired);
  if (next == old || !fitsPolicy(old, next)) {
    return std::nullopt;
  }
  return Proposal{
      TunerId::UDP_BUFFER, scenario, event.netns_cookie, tunable, old, next, std::move(why)};
}

std::vector<Proposal> UdpBufferTuner::onEvent(const bpftune_event& event,
                                              const CurrentValues& current) {
  std::optional<Proposal> out;
  if (event.tuner == BPFTUNE_TUNER_UDP_BUFFER) {
    switch (event.kind) {
      case UDP_BUFFER_EV_MEM:
        out = onMemory(event, current);
        break;
      case UDP_BUFFER_EV_RCVBUF_DROP:
        out = onUnlockedDrop(event, current);
        break;
      case UDP_BUFFER_EV_RCVBUF_DROP_LOCKED:
        out = onLockedDrop(event, current);
        break;
      default:
        break;
    }
  }
  // A refused request is not repeated on every event: the collector holds it back
  // (collector/refusal_holdoff.h), for every tuner alike.
  if (!out) {
    return {};
  }
  return {std::move(*out)};
}

// udp_mem is global: an event from any namespace may move it (the collector routes the request
// to the init netns and journals the cause). Under exhaustion only [2] moves, so [0] and [1]
// keep their live values; upstream wrote "0 0 X" there when they were above its caps.
std::optional<Proposal> UdpBufferTuner::onMemory(const bpftune_event& event,
                                                 const CurrentValues& current) const {
  const Values mem = udpMem(event, current);
  const int64_t free = current.freeBufferPages;
  // Without a free-memory estimate every cap would be 0 and the formulas would only shrink.
  if (!isUsableMem(mem) || free <= 0) {
    return std::nullopt;
  }
  const int64_t allocated = event.value;
  const MemoryState state = udpMemoryState(rate, allocated, mem);
  if (state == MemoryState::NORMAL) {
    return std::nullopt;  // queued before udp_mem was raised past it
  }
  const bool exhaustion = state == MemoryState::EXHAUSTION;
  const Values desired = exhaustion ? mem_rules::exhaustionTarget(rate, mem, free)
                                    : mem_rules::pressureTarget(rate, mem, free);
  std::string why = str(allocated) + " UDP pages allocated, ";
  if (exhaustion) {
    why += "within " + fraction() + " of udp_mem max " + str(mem.v[2]) +
           ": datagrams are refused; cap is free/4 = " + str(free / 4);
  } else {
    why += "above udp_mem low " + str(mem.v[0]) +
           ": sockets holding udp_rmem_min or more are refused; caps are free/16, free/8, "
           "free/4 of " +
           str(free);
  }
  auto p = makeProposal(event,
                        TunableId::UDP_MEM,
                        exhaustion ? ScenarioId::UDP_MEM_EXHAUSTION : ScenarioId::UDP_MEM_PRESSURE,
                        mem,
                        desired,
                        std::move(why));
  if (p && !isUsableMem(p->newValues)) {
    return std::nullopt;
  }
  return p;
}

// Bigger per-socket buffers would only queue more while UDP memory itself is short.
bool UdpBufferTuner::memoryShort(const bpftune_event& event, const CurrentValues& current) const {
  const Values mem = udpMem(event, current);
  return !isUsableMem(mem) || udpMemoryState(rate, event.mem_allocated, mem) != MemoryState::NORMAL;
}

// A socket that never set SO_RCVBUF got rmem_default at creation and keeps it (UDP does not
// auto-size), so a drop at a buffer near rmem_default says the default is too small. The
// default stays within rmem_max: when it has reached the max, the max moves first. The sysctls
// are global (a child netns shows them read-only, live, and its sockets are sized by them), so
// a container's socket counts like any other.
std::optional<Proposal> UdpBufferTuner::onUnlockedDrop(const bpftune_event& event,
                                                       const CurrentValues& current) const {
  const Values* max = current.find(TunableId::RMEM_MAX, 1);
  const Values* def = current.find(TunableId::RMEM_DEFAULT, 1);
  if (max == nullptr || def == nullptr || memoryShort(event, current)) {
    return std::nullopt;
  }
  const int64_t rcvbuf = event.value;
  // A socket created under a smaller default, or an event queued before our last change.
  if (!rate.nearlyFull(rcvbuf, def->v[0])) {
    return std::nullopt;
  }
  const std::string cause = "a socket (port " + str(event.detail[2]) +
                            ") without SO_RCVBUF dropped datagrams at sk_rcvbuf " + str(rcvbuf) +
                            " (within " + fraction() + " of rmem_default " + str(def->v[0]) + ")" +
                            dropCounters(current);
  const int64_t target = std::min({rate.grow(def->v[0]), max->v[0], RMEM_CEILING});
  if (target <= def->v[0]) {
    return growRmemMax(event, *max, cause + "; rmem_default has reached rmem_max");
  }
  return makeProposal(event,
                      TunableId::RMEM_DEFAULT,
                      ScenarioId::UDP_BUFFER_INCREASE,
                      *def,
                      Values{1, {target, 0, 0}},
                      cause + "; raise rmem_default to " + str(target));
}

// SO_RCVBUF stores min(request, rmem_max) * 2. A buffer of exactly twice rmem_max is a request
// the max cut short; any other size is what the application asked for, and a bigger max would
// not change it. Either way such a socket never moves rmem_default: it does not use it.
std::optional<Proposal> UdpBufferTuner::onLockedDrop(const bpftune_event& event,
                                                     const CurrentValues& current) const {
  const Values* max = current.find(TunableId::RMEM_MAX, 1);
  if (max == nullptr || memoryShort(event, current) || event.value != 2 * max->v[0]) {
    return std::nullopt;
  }
  return growRmemMax(event,
                     *max,
                     "a socket (port " + str(event.detail[2]) +
                         ") whose SO_RCVBUF request rmem_max " + str(max->v[0]) +
                         " cut to sk_rcvbuf " + str(event.value) + " dropped datagrams" +
                         dropCounters(current));
}

std::optional<Proposal> UdpBufferTuner::growRmemMax(const bpftune_event& event,
                                                    const Values& max,
                                                    const std::string& cause) const {
  const int64_t next = std::min(rate.grow(max.v[0]), RMEM_CEILING);
  if (next <= max.v[0]) {
    return std::nullopt;
  }
  return makeProposal(event,
                      TunableId::RMEM_MAX,
                      ScenarioId::UDP_BUFFER_INCREASE,
                      max,
                      Values{1, {next, 0, 0}},
                      cause + "; raise rmem_max to " + str(next));
}

}  // namespace

std::unique_ptr<Tuner> makeUdpBufferTuner(int learningRate) {
  return std::make_unique<UdpBufferTuner>(learningRate);
}

}  // namespace bpftune::tuners
