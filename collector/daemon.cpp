#include "daemon.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "log.h"
#include "privileges.h"
#include "system_info.h"
#include "tunable_table.h"
#include "tuner_registry.h"

namespace bpftune::collector {
namespace {

constexpr int POLL_MS = 100;
constexpr std::chrono::seconds STATUS_PERIOD{1};

uint64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

std::string valuesText(const tuners::Values& values) {
  std::string out;
  for (uint8_t i = 0; i < values.count && i < 3; ++i) {
    out += (i == 0 ? "" : " ") + std::to_string(values.v[i]);
  }
  return out;
}

}  // namespace

std::string describeOutcome(const tuners::Proposal& p,
                            const actuator::ClientReply& reply,
                            uint64_t latencyUs) {
  const policy::TunableInfo* info = policy::findTunable(p.tunable);
  std::string line = std::string(policy::tunerName(p.tuner)) + ": " +
                     std::string(policy::scenarioName(p.scenario)) + " (" +
                     std::string(policy::scenarioDescription(p.scenario)) +
                     "): " + (info != nullptr ? std::string(info->name) : std::string("?")) + " " +
                     valuesText(p.oldValues) + " -> " + valuesText(p.newValues) + " in netns " +
                     std::to_string(p.netnsCookie) + ": " + actuator::statusName(reply.status);
  if (reply.status == proto::Status::OK) {
    line += " latency_us=" + std::to_string(latencyUs);
  } else {
    line += " reason=\"" + reply.reason + "\"";
    if (!reply.field.empty()) {
      line += " field=" + reply.field + " bound=" + std::to_string(reply.bound);
    }
    if (reply.status == proto::Status::OVERRIDDEN) {
      line += "; tuner stops for this netns (value changed by someone else)";
    }
  }
  return line + "; why: " + log::sanitize(p.why);
}

Daemon::Daemon(const Options& options) : options(options), actuator(options.socketPath) {}

Daemon::~Daemon() {
  if (ringbuf != nullptr) {
    ring_buffer__free(ringbuf);
  }
}

Result<std::unique_ptr<Daemon>> Daemon::create(const Options& options) {
  std::unique_ptr<Daemon> d(new Daemon(options));
  auto cookie = homeNetnsCookie();
  if (!cookie) {
    return cookie.error();
  }
  d->homeCookie = *cookie;
  auto pages = readFreeBufferPages();
  if (!pages) {
    log::warning("free buffer pages unknown: " + describe(pages.error()));
  } else {
    d->freeBufferPages = *pages;
  }
  auto rb = createSharedRingbuf();
  if (!rb) {
    return rb.error();
  }
  d->ringbufFd = std::move(*rb);
  for (const TunerEntry& entry : tunerRegistry()) {
    BpfConfig config{options.learningRate, d->ringbufFd.get()};
    auto bpf = entry.attach(config);
    if (!bpf) {
      return makeError(std::string(entry.name) + ": " + bpf.error().message, bpf.error().errnum);
    }
    Slot slot;
    slot.bpf = std::move(*bpf);
    slot.tuner = entry.makeTuner(options.learningRate);
    slot.tunerId = static_cast<uint32_t>(slot.tuner->id());
    slot.status.name = std::string(entry.name);
    log::info(std::string(entry.name) + ": BPF programs attached");
    d->slots.push_back(std::move(slot));
  }
  d->ringbuf = ring_buffer__new(d->ringbufFd.get(), &Daemon::onRingbufEvent, d.get(), nullptr);
  if (d->ringbuf == nullptr) {
    return makeError("ring_buffer__new", errno);
  }
  return d;
}

int Daemon::onRingbufEvent(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Daemon*>(ctx);
  if (size < sizeof(bpftune_event)) {
    log::warning("short ring buffer record of " + std::to_string(size) + " bytes ignored");
    return 0;
  }
  bpftune_event event{};
  std::memcpy(&event, data, sizeof(event));
  self->pending.push_back(event);
  return 0;
}

bool Daemon::readCurrent(Slot& slot, tuners::CurrentValues& current) {
  current.freeBufferPages = freeBufferPages;
  for (proto::TunableId id : slot.tuner->tunables()) {
    auto values = readTunable(id);
    if (values) {
      current.sysctls[id] = *values;
      continue;
    }
    // Global tunables (tcp_mem) do not exist under /proc/sys/net of a child netns: the tuner
    // then decides without them (and the actuator could not write them from here anyway).
    const policy::TunableInfo* info = policy::findTunable(id);
    bool global = info != nullptr && !info->perNetns;
    if (unreadable.insert(id).second) {
      std::string text = slot.status.name + ": " + describe(values.error());
      if (global) {
        log::info(text + " (global tunable, not visible in this netns; deciding without it)");
      } else {
        log::warning(text);
      }
    }
    if (!global) {
      return false;
    }
  }
  return true;
}

void Daemon::handleEvent(const bpftune_event& event) {
  ++ringbufEvents;
  Slot* slot = nullptr;
  for (Slot& s : slots) {
    if (s.tunerId == event.tuner) {
      slot = &s;
    }
  }
  if (slot == nullptr) {
    ++unknownTunerEvents;
    return;
  }
  if (event.netns_cookie != homeCookie) {
    if (foreignEvents[event.netns_cookie]++ == 0) {
      log::info(slot->status.name + ": event from netns " + std::to_string(event.netns_cookie) +
                " " + FOREIGN_NETNS_REASON);
    }
    return;
  }
  ++slot->status.events;
  auto [state, inserted] = slot->status.netnsState.try_emplace(event.netns_cookie, STATE_ACTIVE);
  if (state->second != STATE_ACTIVE) {
    ++slot->status.skippedDisabled;
    return;
  }
  log::debug(slot->status.name + ": event kind " + std::to_string(event.kind) + " value " +
             std::to_string(event.value) + " limit " + std::to_string(event.limit) + " netns " +
             std::to_string(event.netns_cookie) + " srtt_us " + std::to_string(event.srtt_us));
  tuners::CurrentValues current;
  if (!readCurrent(*slot, current)) {
    return;
  }
  for (const tuners::Proposal& proposal : slot->tuner->onEvent(event, current)) {
    handleProposal(*slot, event, proposal);
  }
}

void Daemon::handleProposal(Slot& slot,
                            const bpftune_event& event,
                            const tuners::Proposal& proposal) {
  ++slot.status.proposals;
  auto reply = actuator.call(proposal);
  if (!reply) {
    ++slot.status.droppedDisconnected;
    slot.tuner->onResult(proposal, false);
    log::debug(slot.status.name + ": proposal dropped: " + reply.error().message);
    return;
  }
  uint64_t now = monotonicNs();
  uint64_t latencyUs = now > event.ts_ns ? (now - event.ts_ns) / 1000 : 0;
  bool applied = reply->status == proto::Status::OK;
  if (applied) {
    ++slot.status.applied;
    slot.status.latency.add(latencyUs);
  } else {
    ++slot.status.refused[actuator::statusName(reply->status)];
  }
  if (reply->status == proto::Status::OVERRIDDEN) {
    slot.status.netnsState[proposal.netnsCookie] = STATE_OVERRIDDEN;
  }
  slot.tuner->onResult(proposal, applied);
  std::string line = describeOutcome(proposal, *reply, latencyUs);
  if (applied) {
    log::notice(line);
  } else {
    log::warning(line);
  }
}

StatusSnapshot Daemon::snapshot() const {
  StatusSnapshot s;
  s.pid = ::getpid();
  s.uid = ::getuid();
  s.capEff = readCapEff();
  s.learningRate = options.learningRate;
  s.homeNetnsCookie = homeCookie;
  s.freeBufferPages = freeBufferPages;
  s.actuatorState = actuator.connected() ? "connected" : "disconnected: " + actuator.lastError();
  s.actuatorSocket = options.socketPath;
  s.actuatorConnects = actuator.reconnects();
  s.ringbufEvents = ringbufEvents;
  s.unknownTunerEvents = unknownTunerEvents;
  s.foreignNetnsEvents = foreignEvents;
  for (const Slot& slot : slots) {
    s.tuners.push_back(slot.status);
    s.objects.push_back(
        {slot.status.name, slot.bpf->attachedPrograms(), slot.bpf->hooks(), slot.bpf->events()});
  }
  return s;
}

void Daemon::writeStatus(bool force) {
  auto now = std::chrono::steady_clock::now();
  if (!force && now - lastStatusWrite < STATUS_PERIOD) {
    return;
  }
  lastStatusWrite = now;
  std::string text = renderStatusJson(snapshot());
  if (text == lastStatus) {
    return;
  }
  auto written = writeFileAtomic(options.statusPath, text);
  if (!written) {
    if (!statusErrorLogged) {
      log::error("cannot write the status file: " + describe(written.error()));
      statusErrorLogged = true;
    }
    return;
  }
  lastStatus = std::move(text);
}

int Daemon::run(const std::atomic<bool>& stop) {
  actuator.ensureConnected();
  while (!stop.load()) {
    int rc = ring_buffer__poll(ringbuf, POLL_MS);
    if (rc < 0 && rc != -EINTR) {
      log::error("ring buffer poll failed: " + std::to_string(-rc));
      return 1;
    }
    std::vector<bpftune_event> batch;
    batch.swap(pending);
    for (const bpftune_event& event : batch) {
      handleEvent(event);
    }
    actuator.ensureConnected();
    writeStatus(false);
  }
  writeStatus(true);
  return 0;
}

}  // namespace bpftune::collector
