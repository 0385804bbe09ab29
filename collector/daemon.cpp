#include "daemon.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "live_switch.h"
#include "log.h"
#include "metrics.h"
#include "privileges.h"
#include "proc_counters.h"
#include "system_info.h"
#include "tunable_table.h"
#include "tuner_registry.h"

namespace bpftune::collector {
namespace {

constexpr int POLL_MS = 100;
constexpr std::chrono::seconds STATUS_PERIOD{1};

std::string valuesText(const tuners::Values& values, const policy::TunableInfo* info) {
  const bool alg = info != nullptr && info->kind == policy::ValueKind::CONG_ALG;
  std::string out;
  for (uint8_t i = 0; i < values.count && i < 3; ++i) {
    out += (i == 0 ? "" : " ") +
           (alg ? std::string(policy::congAlgName(values.v[i])) : std::to_string(values.v[i]));
  }
  return out;
}

}  // namespace

uint64_t monotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

std::optional<tuners::Values> liveValues(const tuners::Proposal& proposal,
                                         const actuator::ClientReply& reply) {
  if (reply.count != proposal.newValues.count || reply.status == proto::Status::GONE ||
      reply.status == proto::Status::FAILED) {
    return std::nullopt;
  }
  return tuners::Values{reply.count, {reply.values[0], reply.values[1], reply.values[2]}};
}

std::string describeOutcome(const tuners::Proposal& p,
                            const actuator::ClientReply& reply,
                            uint64_t latencyUs) {
  const policy::TunableInfo* info = policy::findTunable(p.tunable);
  std::string line =
      std::string(policy::tunerName(p.tuner)) + ": " +
      std::string(policy::scenarioName(p.scenario)) + " (" +
      std::string(policy::scenarioDescription(p.scenario)) +
      "): " + (info != nullptr ? std::string(info->name) : std::string("?")) +
      (p.host.empty() ? std::string() : " for host " + p.host.text()) + " " +
      valuesText(p.oldValues, info) + " -> " + valuesText(p.newValues, info) + " in netns " +
      std::to_string(p.netnsCookie) +
      (p.causeNetnsCookie != 0 ? " (global; for netns " + std::to_string(p.causeNetnsCookie) + ")"
                               : std::string()) +
      ": " + actuator::statusName(reply.status);
  if (reply.status == proto::Status::OK) {
    line += " latency_us=" + std::to_string(latencyUs);
  } else if (reply.status == proto::Status::PROPOSED) {
    line += " id=" + std::to_string(reply.journalSeq) + " reason=\"" + reply.reason + "\"";
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

namespace {

// The actuator's uid, resolved while /etc/passwd is certainly readable (before the drop). An
// unknown user means no actuator can be running as it: every write is then someone else's.
uid_t actuatorUid(const std::string& user) {
  errno = 0;
  const passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) {
    log::warning("actuator user '" + log::sanitize(user) +
                 "' does not exist; every watched sysctl write counts as an override");
    return static_cast<uid_t>(-1);
  }
  return pw->pw_uid;
}

}  // namespace

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
    if (!options.tuners.empty() &&
        std::ranges::find(options.tuners, entry.name) == options.tuners.end()) {
      log::info(std::string(entry.name) + ": not started (--tuners)");
      continue;
    }
    BpfConfig config{options.learningRate, d->ringbufFd.get()};
    auto bpf = entry.attach(config);
    if (!bpf) {
      return makeError(std::string(entry.name) + ": " + bpf.error().message, bpf.error().errnum);
    }
    Slot slot;
    slot.strategy = tuners::StrategySwitch(std::chrono::milliseconds(options.strategyPeriodMs));
    slot.bpf = std::move(*bpf);
    slot.tuner = entry.makeTuner(options.learningRate);
    slot.tunerId = static_cast<uint32_t>(slot.tuner->id());
    slot.status.name = std::string(entry.name);
    log::info(std::string(entry.name) + ": BPF programs attached");
    if (const IteratorAction* action = slot.bpf->iteratorAction()) {
      slot.status.hasIterator = true;
      slot.status.iterator.what = action->describe();
      log::info(std::string(entry.name) + ": iterator " + action->describe());
    }
    d->slots.push_back(std::move(slot));
  }
  if (auto infra = d->attachInfrastructure(actuatorUid(options.actuatorUser)); !infra) {
    return infra.error();
  }
  d->ringbuf = ring_buffer__new(d->ringbufFd.get(), &Daemon::onRingbufEvent, d.get(), nullptr);
  if (d->ringbuf == nullptr) {
    return makeError("ring_buffer__new", errno);
  }
  return d;
}

// The namespace watch is required (without it no namespace is known). The sysctl watch is not:
// without CAP_NET_ADMIN the actuator's compare-and-set still catches every override, only later.
Status Daemon::attachInfrastructure(uid_t actuatorUid) {
  auto watch = NetnsWatch::attach(ringbufFd.get());
  if (!watch) {
    return makeError("netns watch: " + watch.error().message, watch.error().errnum);
  }
  netnsWatch = std::move(*watch);
  log::info("netns: BPF programs attached (tp_btf/sys_exit, iter/task)");
  auto sysctl = SysctlWatch::attach(ringbufFd.get(), actuatorUid);
  if (!sysctl) {
    sysctlWatchState = "unavailable: " + describe(sysctl.error());
    log::warning("sysctl watch " + sysctlWatchState +
                 "; overrides are caught by the actuator's compare-and-set only");
    return Ok{};
  }
  sysctlWatch = std::move(*sysctl);
  sysctlWatchState = "attached to " + sysctlWatch->cgroupPath();
  log::info("sysctl watch: cgroup/sysctl " + sysctlWatchState + "; ignoring writes by uid " +
            std::to_string(actuatorUid));
  return Ok{};
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

// The home namespace's values from /proc/sys. False when a per-netns tunable exists but is
// unreadable.
bool Daemon::readHome(Slot& slot, proto::TunableId id, tuners::CurrentValues& current) {
  auto read = readTunable(id);
  if (read) {
    current.sysctls[id] = *read;
    return true;
  }
  // Global tunables (tcp_mem) do not exist under /proc/sys/net of a child netns: the tuner
  // then decides without them (and the actuator could not write them from here anyway). Nor
  // does a per-netns one the kernel lacks (ip6frag_high_thresh with IPv6 disabled at boot):
  // the tuner's other tunables (ipfrag_high_thresh) must still be tuned.
  const policy::TunableInfo* info = policy::findTunable(id);
  bool global = info != nullptr && !info->perNetns;
  bool missing = read.error().errnum == ENOENT;
  if (unreadable.insert(id).second) {
    std::string text = slot.status.name + ": " + describe(read.error());
    if (global) {
      log::info(text + " (global tunable, not visible in this netns; deciding without it)");
    } else if (missing) {
      log::info(text + " (not in this kernel; deciding without it)");
    } else {
      log::warning(text);
    }
  }
  return global || missing;
}

// /proc/sys follows the reader's namespace, so only the home namespace is read there; another
// namespace's per-netns values come from the event (or a newer actuator reply).
std::string Daemon::procNetDir(uint64_t cookie) const {
  if (cookie == homeCookie) {
    return "/proc/self/net";
  }
  auto it = netnsPids.find(cookie);
  return it == netnsPids.end() ? std::string() : "/proc/" + std::to_string(it->second) + "/net";
}

bool Daemon::readCurrent(Slot& slot, const bpftune_event& event, tuners::CurrentValues& current) {
  current.freeBufferPages = freeBufferPages;
  const bool home = event.netns_cookie == homeCookie;
  current.homeNetns = home;
  if (auto wanted = slot.tuner->counters(event); !wanted.empty()) {
    current.counters = readCounters(wanted, procNetDir(event.netns_cookie));
  }
  for (proto::TunableId id : slot.tuner->tunables()) {
    // A per-host tunable (a route per remote host) has no /proc/sys file and no value in the
    // event: the tuner keeps its own view, corrected by the actuator's replies (onReply).
    if (policy::isPerHost(id)) {
      continue;
    }
    const policy::TunableInfo* info = policy::findTunable(id);
    if (home || info == nullptr || !info->perNetns) {
      if (!readHome(slot, id, current)) {
        return false;
      }
      continue;
    }
    auto fromEvent = tuners::netns::valuesFromEvent(event, id);
    if (!fromEvent) {
      return false;
    }
    current.sysctls[id] = values.pick(event.netns_cookie, id, *fromEvent, event.ts_ns);
    foreignValues[{id, event.netns_cookie}] = current.sysctls[id];
  }
  return true;
}

void Daemon::handleEvent(const bpftune_event& event) {
  ++ringbufEvents;
  if (event.tuner == BPFTUNE_INFRA) {
    if (event.kind == INFRA_EV_NETNS_SEEN) {
      std::string comm(event.comm, strnlen(event.comm, sizeof(event.comm)));
      observeNetns(event.netns_cookie,
                   event.netns_inum,
                   "entered by pid " + std::to_string(event.pid) + " (" + log::sanitize(comm) +
                       ")");
    } else if (event.kind == INFRA_EV_SYSCTL_WRITE) {
      handleSysctlWrite(event);
    } else {
      ++unknownTunerEvents;
    }
    return;
  }
  for (Slot& slot : slots) {
    // Plugins load no BPF: no ring buffer event is theirs.
    if (slot.bpf != nullptr && slot.tunerId == event.tuner) {
      handleTunerEvent(slot, event);
      return;
    }
  }
  ++unknownTunerEvents;
}

void Daemon::handleTunerEvent(Slot& slot, const bpftune_event& event) {
  ++slot.status.events;
  observeNetns(event.netns_cookie, event.netns_inum, "seen in " + slot.status.name + " events");
  namespaces.countEvent(event.netns_cookie);
  // Done in the kernel already: journaled whatever the tuner's state, then the tuner learns.
  if (isLiveSwitch(event)) {
    reportLiveSwitch(slot, event);
  }
  auto tunerId = static_cast<proto::TunerId>(event.tuner);
  if (namespaces.state(tunerId, event.netns_cookie) != tuners::netns::State::ACTIVE) {
    ++slot.status.skippedDisabled;
    return;
  }
  log::debug(slot.status.name + ": event kind " + std::to_string(event.kind) + " value " +
             std::to_string(event.value) + " limit " + std::to_string(event.limit) + " netns " +
             std::to_string(event.netns_cookie) + " srtt_us " + std::to_string(event.srtt_us));
  tuners::CurrentValues current;
  if (!readCurrent(slot, event, current)) {
    return;
  }
  for (tuners::Proposal& proposal : slot.tuner->onEvent(event, current)) {
    handleProposal(slot, event, std::move(proposal));
  }
}

void Daemon::handleProposal(Slot& slot, const bpftune_event& event, tuners::Proposal proposal) {
  const policy::TunableInfo* info = policy::findTunable(proposal.tunable);
  if (info == nullptr) {
    slot.tuner->onResult(proposal, false);
    return;
  }
  // A per-host tunable lives in the event's namespace, for one host: never routed home.
  if (!policy::isPerHost(proposal.tunable)) {
    tuners::netns::routeProposal(proposal, *info, homeCookie);
  }
  // A global tunable goes home: the tuner may be stopped there even if active in the event's.
  if (namespaces.state(proposal.tuner, proposal.netnsCookie) != tuners::netns::State::ACTIVE) {
    ++slot.status.skippedDisabled;
    slot.tuner->onResult(proposal, false);
    return;
  }
  if (holdoff.held(
          proposal.tuner, proposal.netnsCookie, proposal.tunable, monotonicNs(), proposal.host)) {
    ++slot.status.heldBack;
    slot.tuner->onResult(proposal, false);
    return;
  }
  ++slot.status.proposals;
  const uint64_t sentNs = monotonicNs();
  auto reply = actuator.call(proposal);
  if (!reply) {
    ++slot.status.droppedDisconnected;
    slot.tuner->onResult(proposal, false);
    log::debug(slot.status.name + ": proposal dropped: " + reply.error().message);
    return;
  }
  uint64_t now = monotonicNs();
  uint64_t latencyUs = now > event.ts_ns ? (now - event.ts_ns) / 1000 : 0;
  slot.status.roundTrip.observe((now - sentNs) / 1000);
  metricsDirty = true;
  bool applied = reply->status == proto::Status::OK;
  if (applied) {
    ++slot.status.applied;
    slot.status.latency.add(latencyUs);
    slot.status.changeLatency.observe(latencyUs);
    ++slot.status.appliedByScenario[std::string(policy::scenarioName(proposal.scenario))];
    holdoff.applied(proposal.tuner, proposal.netnsCookie, proposal.tunable, proposal.host);
  } else {
    ++slot.status.refused[actuator::statusName(reply->status)];
    if (reply->status != proto::Status::PROPOSED) {  // a proposal is not a refusal
      ++slot.status.refusedBy[refusalKey(
          actuator::statusName(reply->status), reply->field, reply->reason)];
    }
    // A proposal (advice mode) waits like a refusal: the same event would only meet the same
    // open proposal again until an administrator applies it.
    if (reply->status == proto::Status::REJECTED || reply->status == proto::Status::FAILED ||
        reply->status == proto::Status::PROPOSED) {
      holdoff.rejected(proposal.tuner, proposal.netnsCookie, proposal.tunable, now, proposal.host);
    }
  }
  slot.tuner->onResult(proposal, applied);
  slot.tuner->onReply(proposal, reply->status, liveValues(proposal, *reply));
  std::string line = describeOutcome(proposal, *reply, latencyUs);
  if (applied || reply->status == proto::Status::PROPOSED) {
    log::notice(line);
  } else {
    log::warning(line);
  }
  handleReply(slot, proposal, *reply);
}

// What a reply teaches beyond applied/refused: live values, overrides, vanished namespaces and
// the resume epoch.
void Daemon::handleReply(Slot& slot,
                         const tuners::Proposal& proposal,
                         const actuator::ClientReply& reply) {
  const uint64_t target = proposal.netnsCookie;
  // The value cache holds one value per (netns, tunable): a per-host value is the tuner's.
  if (!policy::isPerHost(proposal.tunable)) {
    std::optional<tuners::Values> live = liveValues(proposal, reply);
    if (!live && reply.status == proto::Status::OK) {
      live = proposal.newValues;
    }
    if (live) {
      values.learn(target, proposal.tunable, *live, monotonicNs());
      if (target != homeCookie && reply.status != proto::Status::GONE) {
        foreignValues[{proposal.tunable, target}] = *live;
      }
    }
  }
  if (reply.status == proto::Status::PAUSED) {
    actuatorPaused = true;
  }
  // An administrator's host route wins for that host only: the tuner leaves the host alone
  // (onReply); the tuner stays active for every other host of the namespace.
  if (reply.status == proto::Status::OVERRIDDEN && !policy::isPerHost(proposal.tunable)) {
    namespaces.disable(proposal.tuner, target);
  } else if (reply.status == proto::Status::GONE) {
    netnsGone(target, "the actuator found it gone (" + slot.status.name + ")");
  }
  noteReply(reply);
}

StatusSnapshot Daemon::snapshot() {
  StatusSnapshot s;
  s.pid = ::getpid();
  s.uid = ::getuid();
  s.capEff = readCapEff();
  s.learningRate = options.learningRate;
  s.homeNetnsCookie = homeCookie;
  s.freeBufferPages = freeBufferPages;
  s.actuatorState = actuator.connected()
                        ? (actuatorAdvising ? "connected (advice mode)" : "connected")
                        : "disconnected: " + actuator.lastError();
  s.actuatorSocket = options.socketPath;
  s.actuatorConnects = actuator.reconnects();
  s.ringbufEvents = ringbufEvents;
  s.unknownTunerEvents = unknownTunerEvents;
  for (const auto& dir : pluginDirs) {
    s.pluginDirs.push_back(dir->path());
  }
  s.pluginsRefused = pluginsRefused;
  std::vector<std::pair<proto::TunerId, std::string>> tunerNames;
  for (const Slot& slot : slots) {
    auto id = static_cast<proto::TunerId>(slot.tunerId);
    tunerNames.emplace_back(id, slot.status.name);
    TunerStatus status = slot.status;
    status.stateJson = slot.tuner->statusJson();
    for (const auto& [cookie, ns] : namespaces.all()) {
      if (ns.events > 0 || ns.tuners.contains(id)) {
        status.netnsState[cookie] =
            std::string(tuners::netns::stateName(namespaces.state(id, cookie)));
      }
    }
    if (!slot.tuner->strategies().empty()) {
      status.strategy = slot.tuner->strategies().at(slot.strategy.active());
    }
    s.tuners.push_back(std::move(status));
    if (slot.bpf == nullptr) {
      continue;
    }
    s.objects.push_back(
        {slot.status.name, slot.bpf->attachedPrograms(), slot.bpf->hooks(), slot.bpf->events()});
  }
  for (const BpfObject* infra : {static_cast<const BpfObject*>(netnsWatch.get()),
                                 static_cast<const BpfObject*>(sysctlWatch.get())}) {
    if (infra != nullptr) {
      s.objects.push_back({infra == netnsWatch.get() ? "netns" : "sysctl_watch",
                           infra->attachedPrograms(),
                           infra->hooks(),
                           infra->events()});
    }
  }
  s.netns = netnsSummary;
  s.netns.present = namespaces.present();
  s.netns.gone = namespaces.all().size() - namespaces.present();
  s.netns.sysctlWatch = sysctlWatchState;
  // 1000 namespaces are ~150 KB of JSON: rendered again only when the table changed.
  if (renderedNamespaces.empty() || renderedVersion != namespaces.version()) {
    renderedNamespaces = renderNamespacesJson(namespaces, tunerNames);
    renderedVersion = namespaces.version();
  }
  s.namespacesJson = renderedNamespaces;
  s.values = currentValues();
  return s;
}

// Numeric tunables only: a per-host route's algorithm has no /proc/sys value and one series per
// remote host would be unbounded.
std::vector<TunableValue> Daemon::currentValues() const {
  std::vector<TunableValue> out;
  for (const Slot& slot : slots) {
    for (proto::TunableId id : slot.tuner->tunables()) {
      const policy::TunableInfo* info = policy::findTunable(id);
      if (info == nullptr || policy::isPerHost(id) || info->kind == policy::ValueKind::CONG_ALG) {
        continue;
      }
      auto add = [&](uint64_t cookie, const tuners::Values& v) {
        out.push_back(
            {slot.status.name,
             std::string(info->name),
             cookie,
             std::vector<int64_t>(v.v.begin(), v.v.begin() + std::min<size_t>(v.count, 3))});
      };
      if (auto home = readTunable(id)) {
        add(homeCookie, *home);
      }
      for (auto it = foreignValues.lower_bound({id, 0});
           it != foreignValues.end() && it->first.first == id;
           ++it) {
        add(it->first.second, it->second);
      }
    }
  }
  return out;
}

void Daemon::writeOutputs(bool final) {
  auto now = std::chrono::steady_clock::now();
  const bool statusDue = final || now - lastStatusWrite >= STATUS_PERIOD;
  const bool metricsDue = !options.metricsPath.empty() && (statusDue || metricsDirty);
  if (!statusDue && !metricsDue) {
    return;
  }
  StatusSnapshot s = snapshot();
  if (statusDue) {
    lastStatusWrite = now;
    writeIfChanged(options.statusPath, renderStatusJson(s), lastStatus, statusErrorLogged, {});
  }
  if (metricsDue) {
    metricsDirty = false;
    // node_exporter runs as its own user: the file is world-readable whatever the umask (it
    // holds nothing the status file does not).
    writeIfChanged(options.metricsPath, renderPrometheus(s), lastMetrics, metricsErrorLogged, 0644);
  }
}

void Daemon::writeIfChanged(const std::string& path,
                            std::string text,
                            std::string& last,
                            bool& errorLogged,
                            std::optional<mode_t> mode) {
  if (text == last) {
    return;
  }
  auto written = writeFileAtomic(path, text, mode);
  if (!written) {
    if (!errorLogged) {
      log::error("cannot write " + log::sanitize(path) + ": " + describe(written.error()));
      errorLogged = true;
    }
    return;
  }
  last = std::move(text);
}

int Daemon::run(const std::atomic<bool>& stop) {
  actuator.ensureConnected();
  discoverNamespaces();
  openPlugins();
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
    runIterators();
    pollPlugins();
    tickPlugins();
    evaluateStrategies();
    pollNamespaces(false);
    pingForResume();
    writeOutputs(false);
  }
  writeOutputs(true);
  return 0;
}

}  // namespace bpftune::collector
