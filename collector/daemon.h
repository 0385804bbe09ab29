// The collector's runtime: BPF events in, tuner decisions, requests to the actuator, one
// what-and-why log line per proposal, namespace tracking, the administrator's overrides, and
// the status file.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <bpf/libbpf.h>

#include "actuator_link.h"
#include "admin_override.h"
#include "bpf_object.h"
#include "events.h"
#include "netns_table.h"
#include "netns_watch.h"
#include "options.h"
#include "plugin_dir.h"
#include "refusal_holdoff.h"
#include "status.h"
#include "strategy.h"
#include "sysctl_watch.h"
#include "tuner.h"
#include "value_cache.h"

namespace bpftune::collector {

// CLOCK_MONOTONIC in ns, the clock of bpf_ktime_get_ns() (event timestamps).
uint64_t monotonicNs();

// One line per proposal: what changed (or was refused), why, and how long it took.
std::string describeOutcome(const tuners::Proposal& proposal,
                            const actuator::ClientReply& reply,
                            uint64_t latencyUs);
// The values a reply carries for the proposal's tunable (nullopt: none usable).
std::optional<tuners::Values> liveValues(const tuners::Proposal& proposal,
                                         const actuator::ClientReply& reply);

// One line per write by someone else to a managed tunable (all data sanitized).
struct AdminWrite {
  std::string tuner;
  std::string tunable;  // dotted name
  int32_t pid = 0;
  uint32_t uid = 0;
  std::string comm;
  std::string value;  // the text written, trimmed
  uint64_t writerNetns = 0;
  uint32_t writerInode = 0;
  std::string writerName;  // "" when the namespace has no mount name
  uint64_t stoppedNetns = 0;
  bool global = false;
};
std::string describeAdminWrite(const AdminWrite& write);

class Daemon {
public:
  // Loads and attaches every tuner's BPF object, the namespace watch and (needs CAP_NET_ADMIN)
  // the sysctl watch. Call before dropping privileges.
  static Result<std::unique_ptr<Daemon>> create(const Options& options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Discovers namespaces, then polls until `stop` becomes true; writes the final status.
  // Returns the exit code.
  int run(const std::atomic<bool>& stop);

private:
  struct Slot {
    uint32_t tunerId = 0;
    std::unique_ptr<BpfObject> bpf;
    std::unique_ptr<tuners::Tuner> tuner;
    TunerStatus status;
    std::chrono::steady_clock::time_point nextIteratorRun{};
    // Plugins (daemon_plugins.cpp): the file, and when tick() runs next. bpf is null.
    PluginTuner* plugin = nullptr;
    std::chrono::steady_clock::time_point nextTick{};
    tuners::StrategySwitch strategy;
  };

  explicit Daemon(const Options& options);
  Status attachInfrastructure(uid_t actuatorUid);
  static int onRingbufEvent(void* ctx, void* data, size_t size);
  void handleEvent(const bpftune_event& event);
  void handleTunerEvent(Slot& slot, const bpftune_event& event);
  void handleProposal(Slot& slot, const bpftune_event& event, tuners::Proposal proposal);
  void handleReply(Slot& slot,
                   const tuners::Proposal& proposal,
                   const actuator::ClientReply& reply);
  bool readCurrent(Slot& slot, const bpftune_event& event, tuners::CurrentValues& current);
  bool readHome(Slot& slot, proto::TunableId id, tuners::CurrentValues& current);
  // "/proc/self/net" at home, "/proc/<pid>/net" of a process in the namespace, "" if none known.
  std::string procNetDir(uint64_t cookie) const;
  StatusSnapshot snapshot();
  std::vector<TunableValue> currentValues() const;
  // The status file on its period, the metrics file then and after each reply; final: both now.
  void writeOutputs(bool final);
  void writeIfChanged(const std::string& path,
                      std::string text,
                      std::string& last,
                      bool& errorLogged,
                      std::optional<mode_t> mode);

  // Iterators that act in the kernel and the journaling of what they did (daemon_iterator.cpp).
  void runIterators();
  void runIterator(Slot& slot, IteratorAction& action);
  void reportLiveSwitch(Slot& slot, const bpftune_event& event);

  // Plugins and strategies (daemon_plugins.cpp). Plugins load only in run(): after the
  // privilege drop, so no plugin code ever runs as root.
  void openPlugins();
  void pollPlugins();
  void applyPluginChange(PluginDirectory& dir, PluginChange change);
  void tickPlugins();
  void evaluateStrategies();

  // Namespaces (daemon_netns.cpp).
  void discoverNamespaces();
  void pollNamespaces(bool first);
  void observeNetns(uint64_t cookie, uint32_t inum, const std::string& why);
  void netnsGone(uint64_t cookie, const std::string& why);
  std::string netnsLabel(uint64_t cookie) const;
  // Overrides and resume (daemon_netns.cpp).
  void handleSysctlWrite(const bpftune_event& event);
  void reportOverride(const Slot& slot, const bpftune_event& event, uint64_t target);
  void noteEpoch(uint64_t epoch);
  // What every reply says about the actuator: its resume epoch and whether it is advising.
  void noteReply(const actuator::ClientReply& reply);
  void pingForResume();

  Options options;
  uint64_t homeCookie = 0;
  int64_t freeBufferPages = 0;
  UniqueFd ringbufFd;
  ring_buffer* ringbuf = nullptr;
  std::vector<Slot> slots;
  std::vector<bpftune_event> pending;
  ActuatorLink actuator;
  uint64_t ringbufEvents = 0;
  uint64_t unknownTunerEvents = 0;
  std::set<proto::TunableId> unreadable;  // logged once each
  RefusalHoldoff holdoff;
  // The actuator answered PAUSED (an administrator rolled back): iterators that act wait until
  // the resume epoch changes.
  bool actuatorPaused = false;
  // The actuator runs in advice mode (every reply says so): it writes nothing, so iterators that
  // act in the kernel themselves (tcp_conn's live switch) do not run either.
  bool actuatorAdvising = false;
  std::string lastStatus;
  bool statusErrorLogged = false;
  std::string lastMetrics;
  bool metricsErrorLogged = false;
  bool metricsDirty = false;  // a reply came: write the metrics file at the end of this round
  // Per-netns tunables of other namespaces as last seen (events, replies), for the metrics and
  // the status's "values"; the home namespace is read from /proc/sys at render time.
  std::map<std::pair<proto::TunableId, uint64_t>, tuners::Values> foreignValues;
  std::chrono::steady_clock::time_point lastStatusWrite{};

  std::vector<std::unique_ptr<PluginDirectory>> pluginDirs;
  uint64_t pluginsRefused = 0;

  std::unique_ptr<NetnsWatch> netnsWatch;
  std::unique_ptr<SysctlWatch> sysctlWatch;  // null when it could not be attached
  std::string sysctlWatchState;
  tuners::netns::NetnsTable namespaces;
  tuners::netns::ValueCache values;
  tuners::netns::ResumeWatch resume;
  NetnsSummary netnsSummary;
  std::chrono::steady_clock::time_point lastScan{};
  std::map<uint64_t, int32_t> netnsPids;  // cookie -> a process in it, from the last scan
  bool scanErrorLogged = false;
  uint64_t renderedVersion = 0;
  std::string renderedNamespaces;
};

}  // namespace bpftune::collector
