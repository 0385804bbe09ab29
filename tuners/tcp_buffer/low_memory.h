// Low-memory mode of the tcp_buffer tuner: near TCP memory exhaustion, stop caching per-route
// metrics, stop high-order page allocations and shrink the SYN backlog; when memory is normal
// again, undo exactly what entering changed. Decisions only (see tuner.h).
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "learning_rate.h"
#include "tuner.h"

namespace bpftune::tuners::tcp_buffer {

class LowMemoryMode {
public:
  static constexpr int64_t SYN_BACKLOG_FLOOR = 128;
  // A revert nobody can confirm (another namespace's value) is dropped after this many
  // refusals: the value was changed by someone else, or the namespace is gone.
  static constexpr int MAX_BLIND_REFUSALS = 8;
  // Bounds the per-namespace bookkeeping, like every per-netns table.
  static constexpr size_t MAX_NAMESPACES = 1024;
  // Memory must have been normal this long (since the last event that found it short) before
  // the mode ends. Sockets pushed over tcp_mem[2] free
  // memory within milliseconds and allocate it again: without a hold, the mode flapped in and
  // out every ~100 ms (measured), seven journaled writes a flap.
  static constexpr uint64_t LEAVE_AFTER_NS = 2'000'000'000;

  explicit LowMemoryMode(const LearningRate& rate) : rate(rate) {}

  // TCP memory is near exhaustion: the changes for the event's namespace (once per episode) and
  // for the global tunables (once). `state` says why, for the log line.
  void enter(const bpftune_event& event,
             const CurrentValues& current,
             const std::string& state,
             std::vector<Proposal>& out);
  // Every event that finds TCP memory short (pressure or exhaustion), at its time.
  void noteShort(uint64_t tsNs) { lastShortNs = std::max(lastShortNs, tsNs); }
  // TCP memory is normal: once it has been for LEAVE_AFTER_NS (event time), revert what entering
  // set, in every namespace, one policy step at a time; the values bpftune set are the expected
  // ones, so the actuator refuses a revert over somebody else's change.
  void leave(const bpftune_event& event,
             const CurrentValues& current,
             const std::string& state,
             std::vector<Proposal>& out);
  // Every result of the tuner: records what entering set, follows reverts, and forgets a change
  // that another decision of the tuner has since replaced.
  void onResult(const Proposal& proposal, bool applied);

  // In an episode, or changes of one still to undo.
  bool active() const { return !entered.empty() || !changes.empty(); }

private:
  // netns cookie, or GLOBAL for an init-only tunable (written in the init netns whatever the
  // cause).
  using Key = std::pair<uint64_t, TunableId>;
  static constexpr uint64_t GLOBAL = 0;
  struct Change {
    int64_t original = 0;  // before low-memory mode
    int64_t set = 0;       // what bpftune last wrote
    int refusals = 0;
  };

  static Key keyOf(uint64_t netnsCookie, TunableId tunable);
  void enterNamespace(const bpftune_event& event,
                      const CurrentValues& current,
                      const std::string& state,
                      std::vector<Proposal>& out);
  void enterGlobal(const bpftune_event& event,
                   const CurrentValues& current,
                   const std::string& state,
                   std::vector<Proposal>& out);
  // The live value of a recorded change if this event lets us see it: a global tunable, or one
  // of the event's own namespace.
  const Values* visible(const Key& key, const bpftune_event& event, const CurrentValues& current);
  void noteRevert(std::map<Key, Change>::iterator it, const Proposal& proposal, bool applied);

  LearningRate rate;
  std::map<Key, Change> changes;
  std::set<uint64_t> entered;  // namespaces (and GLOBAL) handled in this low-memory episode
  uint64_t lastShortNs = 0;    // time of the last event that found memory short
};

}  // namespace bpftune::tuners::tcp_buffer
