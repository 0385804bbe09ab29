// The collector's runtime: BPF events in, tuner decisions, requests to the actuator, one
// what-and-why log line per proposal, and the status file.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <bpf/libbpf.h>

#include "actuator_link.h"
#include "bpf_object.h"
#include "events.h"
#include "options.h"
#include "status.h"
#include "tuner.h"

namespace bpftune::collector {

// One line per proposal: what changed (or was refused), why, and how long it took.
std::string describeOutcome(const tuners::Proposal& proposal,
                            const actuator::ClientReply& reply,
                            uint64_t latencyUs);

class Daemon {
public:
  // Loads and attaches every tuner's BPF object (needs CAP_BPF+CAP_PERFMON or root).
  static Result<std::unique_ptr<Daemon>> create(const Options& options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Polls until `stop` becomes true; writes the final status. Returns the exit code.
  int run(const std::atomic<bool>& stop);

private:
  struct Slot {
    uint32_t tunerId = 0;
    std::unique_ptr<BpfObject> bpf;
    std::unique_ptr<tuners::Tuner> tuner;
    TunerStatus status;
  };

  explicit Daemon(const Options& options);
  static int onRingbufEvent(void* ctx, void* data, size_t size);
  void handleEvent(const bpftune_event& event);
  void handleProposal(Slot& slot, const bpftune_event& event, const tuners::Proposal& proposal);
  bool readCurrent(Slot& slot, tuners::CurrentValues& current);
  StatusSnapshot snapshot() const;
  void writeStatus(bool force);

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
  std::map<uint64_t, uint64_t> foreignEvents;
  std::set<proto::TunableId> unreadable;  // logged once each
  std::string lastStatus;
  bool statusErrorLogged = false;
  std::chrono::steady_clock::time_point lastStatusWrite{};
};

}  // namespace bpftune::collector
