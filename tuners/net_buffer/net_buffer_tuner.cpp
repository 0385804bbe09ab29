#include "net_buffer_tuner.h"

#include <algorithm>
#include <optional>
#include <string>

#include "change_limits.h"
#include "correlation.h"
#include "drop_window.h"
#include "learning_rate.h"
#include "net_buffer.h"

namespace bpftune::tuners {
namespace {

using net_buffer::BUDGET_USECS_MAX;
using net_buffer::DropWindow;
using net_buffer::MIN_CHANGE_INTERVAL_NS;

// sysctl values are C ints: the kernel rejects anything above.
constexpr int64_t INT_MAX_VALUE = 2147483647;
// flow_limit_cpu_bitmap travels as a signed 64-bit value bounded by the policy at INT64_MAX:
// CPU 63's bit cannot be expressed, so CPUs 0..62 are eligible.
constexpr int64_t CPU_BITS = INT64_MAX;
// Upstream: grow the backlog when a minute's drops reach 1/32 of it.
constexpr int BACKLOG_DROP_SHIFT = 5;

std::string str(int64_t v) {
  return std::to_string(v);
}

// "0,3" for bits 0 and 3.
std::string cpuList(int64_t mask) {
  std::string out;
  for (int cpu = 0; cpu < 63; ++cpu) {
    if ((mask >> cpu & 1) != 0) {
      out += (out.empty() ? "" : ",") + str(cpu);
    }
  }
  return out;
}

std::string deviceText(const bpftune_event& event) {
  const size_t len = std::find(event.dev, event.dev + sizeof(event.dev), '\0') - event.dev;
  return len == 0 ? std::string() : " (last on " + std::string(event.dev, len) + ")";
}

Proposal change(uint64_t netnsCookie,
                ScenarioId scenario,
                TunableId tunable,
                int64_t old,
                int64_t next,
                std::string why) {
  return Proposal{TunerId::NET_BUFFER,
                  scenario,
                  netnsCookie,
                  tunable,
                  Values{1, {old, 0, 0}},
                  Values{1, {next, 0, 0}},
                  std::move(why)};
}

// Pacing per tunable family: true when the last change is at least MIN_CHANGE_INTERVAL_NS old.
class Pacer {
public:
  bool ready(uint64_t nowNs) const {
    return !last || nowNs < *last || nowNs - *last >= MIN_CHANGE_INTERVAL_NS;
  }
  void mark(uint64_t nowNs) { last = nowNs; }

private:
  std::optional<uint64_t> last;
};

class NetBufferTuner final : public Tuner {
public:
  explicit NetBufferTuner(int learningRate) : rate(learningRate) {}

  TunerId id() const override { return TunerId::NET_BUFFER; }
  std::string_view name() const override { return "net_buffer"; }
  std::vector<TunableId> tunables() const override {
    return {TunableId::NETDEV_MAX_BACKLOG,
            TunableId::FLOW_LIMIT_CPU_BITMAP,
            TunableId::NETDEV_BUDGET,
            TunableId::NETDEV_BUDGET_USECS};
  }
  // Only the budget decision reads counters.
  std::vector<CounterId> counters(const bpftune_event& event) const override {
    if (event.kind != NET_BUFFER_EV_BUDGET_EXHAUSTED) {
      return {};
    }
    return {CounterId::SOFTNET_TIME_SQUEEZE, CounterId::SCHED_RUN_NS, CounterId::SCHED_WAIT_NS};
  }

  std::vector<Proposal> onEvent(const bpftune_event& event, const CurrentValues& current) override;

private:
  std::vector<Proposal> onBacklogDrop(const bpftune_event& event, const CurrentValues& current);
  std::optional<Proposal> flowLimitChange(const bpftune_event& event,
                                          const CurrentValues& current,
                                          uint64_t cookie) const;
  std::vector<Proposal> onBudgetExhausted(const bpftune_event& event, const CurrentValues& current);
  bool squeezed(const bpftune_event& event, std::optional<int64_t> squeeze);
  void sampleSchedulerWait(const CurrentValues& current, int64_t budget);
  std::vector<Proposal> budgetIncrease(const bpftune_event& event,
                                       int64_t budget,
                                       std::optional<int64_t> usecs) const;
  std::vector<Proposal> budgetDecrease(const bpftune_event& event,
                                       int64_t budget,
                                       std::optional<int64_t> usecs);
  // grow(v), at least +1 (grow() is a no-op below 1/step), within the actuator's 25 % step.
  int64_t growStep(int64_t v) const {
    return std::min(clampStep(v, std::max(rate.grow(v), v + 1)), INT_MAX_VALUE);
  }

  LearningRate rate;
  // netdev_max_backlog and flow_limit_cpu_bitmap
  DropWindow drops;
  Pacer backlogPacer;
  // netdev_budget and netdev_budget_usecs
  Pacer budgetPacer;
  std::optional<int64_t> squeezeBase;  // softnet time_squeeze total at the last decision
  std::optional<int64_t> lastRunNs;    // scheduler counters at the last decision
  std::optional<int64_t> lastWaitNs;
  Correlation waitCorrelation;  // (netdev_budget, wait per mille of run) per decision
  // Where the tuner found the budgets: a decrease undoes growth, never goes below them.
  std::optional<int64_t> budgetFloor;
  std::optional<int64_t> usecsFloor;
};

std::vector<Proposal> NetBufferTuner::onEvent(const bpftune_event& event,
                                              const CurrentValues& current) {
  if (event.tuner != BPFTUNE_TUNER_NET_BUFFER) {
    return {};
  }
  switch (event.kind) {
    case NET_BUFFER_EV_BACKLOG_DROP:
      return onBacklogDrop(event, current);
    case NET_BUFFER_EV_BUDGET_EXHAUSTED:
      return onBudgetExhausted(event, current);
    default:
      return {};
  }
}

std::vector<Proposal> NetBufferTuner::onBacklogDrop(const bpftune_event& event,
                                                    const CurrentValues& current) {
  drops.observe(event.ts_ns, static_cast<uint64_t>(event.detail[NET_BUFFER_DROP_TOTAL]));
  const std::optional<int64_t> backlog = current.single(TunableId::NETDEV_MAX_BACKLOG);
  if (!backlog || *backlog < 0) {
    return {};
  }
  const auto threshold =
      static_cast<uint64_t>(std::max<int64_t>(1, *backlog >> BACKLOG_DROP_SHIFT));
  if (drops.drops() < threshold || !backlogPacer.ready(event.ts_ns)) {
    return {};
  }
  const uint64_t counted = drops.drops();
  const uint64_t seconds = drops.age(event.ts_ns) / 1000000000;
  drops.consume();
  backlogPacer.mark(event.ts_ns);
  // The tunables are global (the collector routes the change home); the namespace of the
  // dropping device is the cause the journal records.
  const auto devNetns = static_cast<uint64_t>(event.detail[NET_BUFFER_DROP_DEV_NETNS]);
  const uint64_t cookie = devNetns != 0 ? devNetns : event.netns_cookie;
  std::vector<Proposal> out;
  const int64_t next = growStep(*backlog);
  if (next != *backlog) {
    out.push_back(change(cookie,
                         ScenarioId::NETDEV_BACKLOG_INCREASE,
                         TunableId::NETDEV_MAX_BACKLOG,
                         *backlog,
                         next,
                         str(static_cast<int64_t>(counted)) + " CPU backlog drops in " +
                             str(static_cast<int64_t>(seconds)) + " s reached 1/32 of " +
                             "netdev_max_backlog " + str(*backlog) + deviceText(event)));
  }
  if (auto flow = flowLimitChange(event, current, cookie)) {
    out.push_back(std::move(*flow));
  }
  return out;
}

// The dropping CPUs' bits, added to the bitmap as it is (bits someone else set stay set).
std::optional<Proposal> NetBufferTuner::flowLimitChange(const bpftune_event& event,
                                                        const CurrentValues& current,
                                                        uint64_t cookie) const {
  const std::optional<int64_t> bitmap = current.single(TunableId::FLOW_LIMIT_CPU_BITMAP);
  const int64_t dropping = event.detail[NET_BUFFER_DROP_CPUS] & CPU_BITS;
  if (!bitmap || *bitmap < 0 || (*bitmap | dropping) == *bitmap) {
    return std::nullopt;
  }
  const int64_t added = dropping & ~*bitmap;
  return change(cookie,
                ScenarioId::FLOW_LIMIT_CPU_SET,
                TunableId::FLOW_LIMIT_CPU_BITMAP,
                *bitmap,
                *bitmap | dropping,
                "CPU(s) " + cpuList(added) +
                    " dropped packets at a full backlog; limit the biggest flows there");
}

std::vector<Proposal> NetBufferTuner::onBudgetExhausted(const bpftune_event& event,
                                                        const CurrentValues& current) {
  const std::optional<int64_t> squeeze = current.counter(CounterId::SOFTNET_TIME_SQUEEZE);
  const std::optional<int64_t> budget = current.single(TunableId::NETDEV_BUDGET);
  if (!budget || *budget <= 0 || !squeezed(event, squeeze) || !budgetPacer.ready(event.ts_ns)) {
    return {};
  }
  std::optional<int64_t> usecs = current.single(TunableId::NETDEV_BUDGET_USECS);
  if (usecs && *usecs <= 0) {
    usecs.reset();
  }
  budgetFloor = budgetFloor.value_or(*budget);
  if (usecs) {
    usecsFloor = usecsFloor.value_or(*usecs);
  }
  budgetPacer.mark(event.ts_ns);
  squeezeBase = squeeze;
  sampleSchedulerWait(current, *budget);
  if (waitCorrelation.r() > Correlation::THRESHOLD) {
    return budgetDecrease(event, *budget, usecs);
  }
  return budgetIncrease(event, *budget, usecs);
}

// The budget ran out: softnet's time_squeeze total grew since the last decision, or the BPF
// program saw this CPU's own counter grow. A poll that merely used its NAPI weight is not
// enough: that is the device's per-poll quota, not netdev_budget.
bool NetBufferTuner::squeezed(const bpftune_event& event, std::optional<int64_t> squeeze) {
  const bool seenInKernel = (event.detail[NET_BUFFER_NAPI_WHY] & NET_BUFFER_WHY_SQUEEZE) != 0;
  const bool grewInTotal = squeeze && squeezeBase && *squeeze > *squeezeBase;
  if (!squeezeBase) {
    squeezeBase = squeeze;
  }
  return seenInKernel || grewInTotal;
}

// One sample per decision: the budget that was in force and how long runnable tasks waited
// per unit of run time since the previous decision (per mille).
void NetBufferTuner::sampleSchedulerWait(const CurrentValues& current, int64_t budget) {
  const std::optional<int64_t> run = current.counter(CounterId::SCHED_RUN_NS);
  const std::optional<int64_t> wait = current.counter(CounterId::SCHED_WAIT_NS);
  if (run && wait && lastRunNs && lastWaitNs && *run > *lastRunNs && *wait >= *lastWaitNs) {
    const int64_t ratio = (*wait - *lastWaitNs) * 1000 / (*run - *lastRunNs);
    waitCorrelation.add(static_cast<uint64_t>(budget), static_cast<uint64_t>(ratio));
  }
  lastRunNs = run;
  lastWaitNs = wait;
}

std::vector<Proposal> NetBufferTuner::budgetIncrease(const bpftune_event& event,
                                                     int64_t budget,
                                                     std::optional<int64_t> usecs) const {
  // At the time ceiling, more packets per run cannot help: upstream stops there too.
  if (usecs && *usecs >= BUDGET_USECS_MAX) {
    return {};
  }
  const std::string why = "NAPI polls ran out of budget (softnet time_squeeze grew" +
                          deviceText(event) + "); netdev_budget " + str(budget);
  std::vector<Proposal> out;
  out.push_back(change(event.netns_cookie,
                       ScenarioId::NETDEV_BUDGET_INCREASE,
                       TunableId::NETDEV_BUDGET,
                       budget,
                       growStep(budget),
                       why));
  if (usecs) {
    out.push_back(change(event.netns_cookie,
                         ScenarioId::NETDEV_BUDGET_INCREASE,
                         TunableId::NETDEV_BUDGET_USECS,
                         *usecs,
                         std::min(growStep(*usecs), BUDGET_USECS_MAX),
                         why + ", netdev_budget_usecs " + str(*usecs)));
  }
  return out;
}

// Growth went with tasks waiting longer: give time back, down to where the tuner found the
// budgets. The series restarts, so one correlated phase does not shrink at every later event.
std::vector<Proposal> NetBufferTuner::budgetDecrease(const bpftune_event& event,
                                                     int64_t budget,
                                                     std::optional<int64_t> usecs) {
  const std::string why = "netdev_budget growth correlates with the scheduler wait/run ratio (r=" +
                          str(static_cast<int64_t>(waitCorrelation.r() * 100)) + "%)";
  waitCorrelation.reset();
  std::vector<Proposal> out;
  const int64_t nextBudget = std::max(rate.shrink(budget), std::min(budget, *budgetFloor));
  if (nextBudget != budget) {
    out.push_back(change(event.netns_cookie,
                         ScenarioId::NETDEV_BUDGET_DECREASE,
                         TunableId::NETDEV_BUDGET,
                         budget,
                         nextBudget,
                         why));
  }
  if (usecs && usecsFloor) {
    const int64_t nextUsecs = std::max(rate.shrink(*usecs), std::min(*usecs, *usecsFloor));
    if (nextUsecs != *usecs) {
      out.push_back(change(event.netns_cookie,
                           ScenarioId::NETDEV_BUDGET_DECREASE,
                           TunableId::NETDEV_BUDGET_USECS,
                           *usecs,
                           nextUsecs,
                           why));
    }
  }
  return out;
}

}  // namespace

std::unique_ptr<Tuner> makeNetBufferTuner(int learningRate) {
  return std::make_unique<NetBufferTuner>(learningRate);
}

}  // namespace bpftune::tuners
