// A tuner's loaded and attached BPF object, as the collector sees it: which programs are
// attached and the per-hook sampling counters from its .bss. Concrete classes own the skeleton.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "bpftune.capnp.h"
#include "result.h"
#include "unique_fd.h"

namespace bpftune::collector {

struct HookCounters {
  std::string name;
  uint64_t calls = 0;
  uint64_t collected = 0;
  uint32_t rate = 0;  // current N; 1 for hooks that are not sampled
};

struct EventCounters {
  uint64_t sent = 0;
  uint64_t deduped = 0;  // dropped in BPF: same key < 25 ms ago
  uint64_t lost = 0;     // ring buffer full
};

struct BpfConfig {
  int learningRate = 4;
  int ringbufFd = -1;  // the shared ring buffer every object writes to
};

// A BPF iterator that acts on sockets (tcp_conn's live switch), run by the collector on its
// clock: only while the tuner may act in the collector's namespace, with a budget of actions
// per run. Each action comes back as a ring buffer event, which the collector reports to the
// actuator for the journal.
class IteratorAction {
public:
  IteratorAction() = default;
  IteratorAction(const IteratorAction&) = delete;
  IteratorAction& operator=(const IteratorAction&) = delete;
  virtual ~IteratorAction() = default;

  virtual std::chrono::milliseconds period() const = 0;
  // The most actions one run may take (the actuator's rate limit applies to their reports).
  virtual uint32_t budgetPerRun() const = 0;
  // Runs the iterator once in the collector's own netns (an iterator sees no other). Returns
  // the number of actions taken.
  virtual Result<uint32_t> runOnce(uint32_t budget) = 0;
  // The journal-only tunable its actions are reported as (socketCongctl).
  virtual proto::TunableId reportedAs() const = 0;
  // What it does and where, for `bpftune support` and the status file.
  virtual std::string describe() const = 0;
};

class BpfObject {
public:
  BpfObject() = default;
  BpfObject(const BpfObject&) = delete;
  BpfObject& operator=(const BpfObject&) = delete;
  virtual ~BpfObject() = default;

  virtual std::vector<std::string> attachedPrograms() const = 0;
  virtual std::vector<HookCounters> hooks() const = 0;
  virtual EventCounters events() const = 0;
  // nullptr: the object only reports.
  virtual IteratorAction* iteratorAction() { return nullptr; }
};

using AttachFn = Result<std::unique_ptr<BpfObject>> (*)(const BpfConfig& config);

// The ring buffer all objects share (BPF_MAP_TYPE_RINGBUF, 256 KiB).
Result<UniqueFd> createSharedRingbuf();

// Opens, loads and attaches bpf/tcp_buffer.bpf.c.
Result<std::unique_ptr<BpfObject>> attachTcpBufferBpf(const BpfConfig& config);
// Opens, loads and attaches bpf/udp_buffer.bpf.c.
Result<std::unique_ptr<BpfObject>> attachUdpBufferBpf(const BpfConfig& config);

}  // namespace bpftune::collector
