#include "tcp_conn_tuner.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <random>
#include <string>

#include "conn_sample.h"
#include "host_state.h"
#include "host_table.h"
#include "tcp_conn_status.h"
#include "tunable_table.h"

namespace bpftune::tuners {
namespace {

using proto::CongAlg;
using proto::Status;
using tcp_conn::algCost;
using tcp_conn::ConnSample;
using tcp_conn::HostState;
using tcp_conn::SampleSkip;
using tcp_conn::slotOf;

// An algorithm the host can be given, and the route value that gives it: the namespace default
// is "no route of ours" (NONE), everything else a route carrying that algorithm.
struct Arm {
  CongAlg alg = CongAlg::NONE;
  CongAlg route = CongAlg::NONE;
};

std::string algName(CongAlg alg) {
  return std::string(policy::congAlgName(static_cast<int64_t>(alg)));
}

std::string costText(int64_t cost) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", static_cast<double>(cost) / tcp_conn::COST_ONE);
  return buf;
}

std::string mbitText(int64_t bps) {
  char buf[32];
  const double mbit = static_cast<double>(bps) / 1e6;
  std::snprintf(buf, sizeof(buf), mbit < 10 ? "%.1f" : "%.0f", mbit);
  return buf;
}

std::string armText(const Arm& arm) {
  return arm.route == CongAlg::NONE ? algName(arm.alg) + " (the namespace default, no route)"
                                    : algName(arm.alg);
}

std::string hostPrefix(const HostState& host) {
  return "host " + host.host.text() + ": " + std::to_string(host.connections) + " connections, ";
}

std::vector<CongAlg> cleanCandidates(const std::vector<CongAlg>& in) {
  std::vector<CongAlg> out;
  for (CongAlg alg : in) {
    if (tcp_conn::congAlgOf(static_cast<int64_t>(alg)) != CongAlg::NONE &&
        std::find(out.begin(), out.end(), alg) == out.end()) {
      out.push_back(alg);
    }
  }
  return out;
}

TcpConnConfig clampConfig(TcpConnConfig c) {
  c.epsilon = std::isnan(c.epsilon) ? 0.0 : std::clamp(c.epsilon, 0.0, 1.0);
  c.maxHosts = std::max<size_t>(c.maxHosts, 1);
  c.minConnections = std::max<uint32_t>(c.minConnections, 1);
  c.rttFloorUs = std::max<int64_t>(c.rttFloorUs, 1);
  c.hysteresis = std::max<int64_t>(c.hysteresis, 0);
  c.maxRefusals = std::max<uint32_t>(c.maxRefusals, 1);
  c.candidates = cleanCandidates(c.candidates);
  return c;
}

class TcpConnTuner final : public Tuner {
public:
  explicit TcpConnTuner(const TcpConnConfig& config)
      : cfg(clampConfig(config)),
        scale{cfg.rttFloorUs, LearningRate(cfg.learningRate).shift()},
        hosts(cfg.maxHosts),
        rng(cfg.seed) {}

  TunerId id() const override { return TunerId::TCP_CONN; }
  std::string_view name() const override { return "tcp_conn"; }
  // Nothing to read: a route of ours is per host, and the tuner keeps its own view of it from
  // the actuator's replies (onReply); the namespace default comes with every event.
  std::vector<TunableId> tunables() const override { return {}; }
  std::vector<Proposal> onEvent(const bpftune_event& event, const CurrentValues& current) override;
  void onResult(const Proposal& proposal, bool applied) override;
  void onReply(const Proposal& proposal, Status status, const std::optional<Values>& live) override;
  std::string statusJson() const override {
    return tcp_conn::statusJson({hosts, totals, cfg.statusHosts, cfg.rttFloorUs});
  }

private:
  void countSkip(SampleSkip skip);
  // lossySample: the event's connection when it was over the loss threshold.
  std::optional<Proposal> decide(HostState& host, bool measured, const ConnSample* lossySample);
  bool mayPropose(HostState& host, uint64_t now);
  bool awaitCurrent(HostState& host, const std::vector<Arm>& options) const;
  bool usable(const HostState& host, CongAlg route, uint64_t now) const;
  std::vector<Arm> arms(const HostState& host, uint64_t now) const;
  std::optional<Arm> lossArm(const HostState& host, uint64_t now) const;
  Arm greedyArm(const HostState& host, const std::vector<Arm>& options) const;
  std::optional<Proposal> lossChoice(HostState& host, const ConnSample& sample);
  std::optional<Proposal> randomChoice(HostState& host,
                                       const std::vector<Arm>& options,
                                       const Arm& greedy,
                                       uint64_t now);
  std::string compare(const HostState& host,
                      const Arm& chosen,
                      const std::vector<Arm>& options) const;
  std::string measuredList(const HostState& host, const std::vector<Arm>& options) const;
  Proposal propose(
      HostState& host, CongAlg route, ScenarioId scenario, std::string why, uint64_t now);
  bool drawExplore() { return static_cast<double>(rng() >> 11) * 0x1.0p-53 < cfg.epsilon; }
  void refused(HostState& host, CongAlg route);

  TcpConnConfig cfg;
  tcp_conn::CostScale scale;
  tcp_conn::HostTable hosts;
  std::mt19937_64 rng;
  tcp_conn::Totals totals;
};

void TcpConnTuner::countSkip(SampleSkip skip) {
  switch (skip) {
    case SampleSkip::NONE:
      ++totals.measured;
      break;
    case SampleSkip::HOST:
      ++totals.skippedHost;
      break;
    case SampleSkip::ALGORITHM:
      ++totals.skippedAlgorithm;
      break;
    case SampleSkip::SMALL:
      ++totals.skippedSmall;
      break;
    case SampleSkip::RTT:
      ++totals.skippedRtt;
      break;
    case SampleSkip::RATE:
      ++totals.skippedRate;
      break;
  }
}

std::vector<Proposal> TcpConnTuner::onEvent(const bpftune_event& event,
                                            const CurrentValues& /*current*/) {
  if (event.tuner != BPFTUNE_TUNER_TCP_CONN) {
    return {};
  }
  if (event.kind == TCP_CONN_EV_LIVE_SWITCH) {
    ++totals.liveSwitches;  // the collector reports it to the actuator; nothing to learn
    return {};
  }
  if (event.kind != TCP_CONN_EV_CLOSED) {
    return {};
  }
  ++totals.events;
  ConnSample sample;
  const SampleSkip skip = tcp_conn::readSample(event, {cfg.minSegments}, sample);
  countSkip(skip);
  const bool measured = skip == SampleSkip::NONE;
  // A connection too lossy to deliver minSegments still counts for the loss fast path. Anything
  // else skipped takes no slot: a storm of control connections must not evict learned hosts.
  const bool isLossy = skip != SampleSkip::HOST && tcp_conn::lossy(sample, cfg.lossMinSegsOut);
  if (!measured && !isLossy) {
    return {};
  }
  HostState& host = hosts.touch(sample.netns, sample.host);
  host.lastSeenNs = std::max(host.lastSeenNs, sample.tsNs);
  host.nsDefault = sample.nsDefault;
  host.ecn = sample.ecn;
  if (measured) {
    tcp_conn::record(host, sample, scale);
  }
  if (isLossy) {
    ++host.lossyConnections;
    ++totals.lossy;
  }
  auto proposal = decide(host, measured, isLossy ? &sample : nullptr);
  if (!proposal) {
    return {};
  }
  return {std::move(*proposal)};
}

// One proposal per host at a time, and none while an administrator's route or a pause holds it.
bool TcpConnTuner::mayPropose(HostState& host, uint64_t now) {
  if (host.pending) {
    if (now - host.pendingSinceNs < cfg.outstandingTimeoutNs || now < host.pendingSinceNs) {
      return false;
    }
    host.pending = false;  // the answer was lost: ask again
    ++totals.timedOut;
  }
  return now >= host.quietUntilNs;
}

// Order of the decisions: the loss fast path (any connection count), then from minConnections
// on: untried algorithms, epsilon exploration, the greedy choice.
std::optional<Proposal> TcpConnTuner::decide(HostState& host,
                                             bool measured,
                                             const ConnSample* lossySample) {
  const uint64_t now = host.lastSeenNs;
  if (!mayPropose(host, now)) {
    return std::nullopt;
  }
  // A lossy connection never moves a host away from bbr, so learning waits for the next one.
  if (lossySample != nullptr && lossArm(host, now)) {
    return lossChoice(host, *lossySample);
  }
  if (!measured || host.connections < cfg.minConnections) {
    return std::nullopt;
  }
  const std::vector<Arm> options = arms(host, now);
  if (options.empty()) {
    return std::nullopt;
  }
  if (awaitCurrent(host, options)) {
    return std::nullopt;
  }
  for (const Arm& arm : options) {
    if (host.algs[slotOf(arm.alg)].count == 0 && !host.passedOver[slotOf(arm.alg)] &&
        arm.route != host.route) {
      return propose(host,
                     arm.route,
                     ScenarioId::CONGCTL_EXPLORE,
                     hostPrefix(host) + algName(arm.alg) + " untried (" +
                         measuredList(host, options) + ")",
                     now);
    }
  }
  const Arm greedy = greedyArm(host, options);
  if (options.size() > 1 && drawExplore()) {
    return randomChoice(host, options, greedy, now);
  }
  if (greedy.route == host.route) {
    return std::nullopt;
  }
  return propose(
      host, greedy.route, ScenarioId::CONGCTL_SELECT, compare(host, greedy, options), now);
}

// True while the host's current arm is untried and has had fewer than minConnections closed
// connections to show up in: its measurements are on their way. Past that, the connections
// run an algorithm of the applications' choosing, and the arm is passed over.
bool TcpConnTuner::awaitCurrent(HostState& host, const std::vector<Arm>& options) const {
  for (const Arm& arm : options) {
    const size_t slot = slotOf(arm.alg);
    if (arm.route != host.route || host.algs[slot].count > 0 || host.passedOver[slot]) {
      continue;
    }
    if (host.connections - host.routeSince < cfg.minConnections) {
      return true;
    }
    host.passedOver[slot] = true;
  }
  return false;
}

// A route value the tuner may propose for the host now: NONE (withdraw ours), or a candidate,
// dctcp only after ECN was negotiated; not one the actuator keeps refusing.
bool TcpConnTuner::usable(const HostState& host, CongAlg route, uint64_t now) const {
  if (route != CongAlg::NONE) {
    if (tcp_conn::congAlgOf(static_cast<int64_t>(route)) == CongAlg::NONE ||
        std::find(cfg.candidates.begin(), cfg.candidates.end(), route) == cfg.candidates.end()) {
      return false;
    }
    if (route == CongAlg::DCTCP && !host.ecn) {
      return false;
    }
  }
  const tcp_conn::Refusal& r = host.refusals[slotOf(route)];
  return r.count < cfg.maxRefusals && now >= r.untilNs;
}

// The namespace default first (ties go to it), then the candidates in the config's order.
std::vector<Arm> TcpConnTuner::arms(const HostState& host, uint64_t now) const {
  std::vector<Arm> out;
  if (host.nsDefault != CongAlg::NONE && usable(host, CongAlg::NONE, now)) {
    out.push_back({host.nsDefault, CongAlg::NONE});
  }
  for (CongAlg alg : cfg.candidates) {
    if (alg != host.nsDefault && usable(host, alg, now)) {
      out.push_back({alg, alg});
    }
  }
  return out;
}

// bbr as the namespace default (no route) or as a candidate route.
std::optional<Arm> TcpConnTuner::lossArm(const HostState& host, uint64_t now) const {
  if (host.nsDefault == CongAlg::BBR && usable(host, CongAlg::NONE, now)) {
    return Arm{CongAlg::BBR, CongAlg::NONE};
  }
  if (host.nsDefault != CongAlg::BBR && usable(host, CongAlg::BBR, now)) {
    return Arm{CongAlg::BBR, CongAlg::BBR};
  }
  return std::nullopt;
}

// The cheapest arm, except that the namespace default, and then the algorithm the host already
// has, are kept while within `hysteresis` of it: a route is only added or changed for a clear
// gain, so noise neither forces a route on a clean path nor churns one.
Arm TcpConnTuner::greedyArm(const HostState& host, const std::vector<Arm>& options) const {
  auto cost = [&](const Arm& arm) {
    return algCost(host, arm.alg, cfg.rttFloorUs);
  };
  Arm best = options.front();
  for (const Arm& arm : options) {
    if (cost(arm) < cost(best)) {
      best = arm;
    }
  }
  const int64_t bar = cost(best) + cfg.hysteresis;
  if (options.front().route == CongAlg::NONE && cost(options.front()) <= bar) {
    return options.front();
  }
  for (const Arm& arm : options) {
    if (arm.route == host.route && cost(arm) <= bar) {
      return arm;
    }
  }
  return best;
}

std::optional<Proposal> TcpConnTuner::lossChoice(HostState& host, const ConnSample& sample) {
  const Arm bbr = *lossArm(host, host.lastSeenNs);
  if (bbr.route == host.route) {
    return std::nullopt;
  }
  char pct[32];
  std::snprintf(pct,
                sizeof(pct),
                "%.2f",
                sample.segsOut > 0 ? 100.0 * static_cast<double>(sample.totalRetrans) /
                                         static_cast<double>(sample.segsOut)
                                   : 0.0);
  const std::string conn = sample.alg == CongAlg::NONE ? "a" : "a " + algName(sample.alg);
  return propose(host,
                 bbr.route,
                 ScenarioId::CONGCTL_LOSS,
                 "host " + host.host.text() + ": " + conn + " connection retransmitted " +
                     std::to_string(sample.totalRetrans) + " of " + std::to_string(sample.segsOut) +
                     " segments (" + pct + " % > 1/64): " + armText(bbr) + " for new connections",
                 host.lastSeenNs);
}

std::optional<Proposal> TcpConnTuner::randomChoice(HostState& host,
                                                   const std::vector<Arm>& options,
                                                   const Arm& greedy,
                                                   uint64_t now) {
  std::vector<Arm> others;
  for (const Arm& arm : options) {
    if (arm.route != greedy.route) {
      others.push_back(arm);
    }
  }
  const Arm pick = others[rng() % others.size()];
  if (pick.route == host.route) {
    return std::nullopt;
  }
  char eps[32];
  std::snprintf(eps, sizeof(eps), "%g", cfg.epsilon * 100);
  return propose(host,
                 pick.route,
                 ScenarioId::CONGCTL_EXPLORE,
                 hostPrefix(host) + "exploring " + armText(pick) + " at random (epsilon " + eps +
                     " %; " + algName(pick.alg) + " cost " +
                     costText(algCost(host, pick.alg, cfg.rttFloorUs)) + ", best " +
                     algName(greedy.alg) + " " +
                     costText(algCost(host, greedy.alg, cfg.rttFloorUs)) + ")",
                 now);
}

// "bbr cost 0.02 vs cubic 0.71 (rate 187 vs 50 Mbit/s)": the choice against the algorithm the
// host has now, or against the next best when that one is no option any more.
std::string TcpConnTuner::compare(const HostState& host,
                                  const Arm& chosen,
                                  const std::vector<Arm>& options) const {
  const CongAlg now = host.effectiveAlg();
  CongAlg other = CongAlg::NONE;
  if (now != CongAlg::NONE && now != chosen.alg && host.algs[slotOf(now)].count > 0) {
    other = now;
  }
  for (const Arm& arm : options) {
    if (other == CongAlg::NONE && arm.alg != chosen.alg) {
      other = arm.alg;
    }
  }
  const auto& c = host.algs[slotOf(chosen.alg)];
  std::string text = hostPrefix(host) + armText(chosen) + " cost " +
                     costText(algCost(host, chosen.alg, cfg.rttFloorUs));
  if (other == CongAlg::NONE) {
    return text + " (rate " + mbitText(c.meanRateBps) + " Mbit/s)";
  }
  const auto& o = host.algs[slotOf(other)];
  return text + " vs " + algName(other) + " " + costText(algCost(host, other, cfg.rttFloorUs)) +
         " (rate " + mbitText(c.meanRateBps) + " vs " + mbitText(o.meanRateBps) +
         " Mbit/s, min_rtt " + std::to_string(c.meanRttUs) + " vs " + std::to_string(o.meanRttUs) +
         " us)";
}

std::string TcpConnTuner::measuredList(const HostState& host,
                                       const std::vector<Arm>& options) const {
  std::string text;
  for (const Arm& arm : options) {
    const auto& stats = host.algs[slotOf(arm.alg)];
    if (stats.count > 0) {
      text += (text.empty() ? "" : ", ") + algName(arm.alg) + " cost " +
              costText(algCost(host, arm.alg, cfg.rttFloorUs)) + " from " +
              std::to_string(stats.count) + " at " + mbitText(stats.meanRateBps) + " Mbit/s";
    }
  }
  return text.empty() ? "nothing measured yet" : text;
}

Proposal TcpConnTuner::propose(
    HostState& host, CongAlg route, ScenarioId scenario, std::string why, uint64_t now) {
  switch (scenario) {
    case ScenarioId::CONGCTL_LOSS:
      ++totals.loss;
      break;
    case ScenarioId::CONGCTL_SELECT:
      ++totals.select;
      break;
    default:
      ++totals.explore;
      break;
  }
  host.pending = true;
  host.pendingRoute = route;
  host.pendingSinceNs = now;
  Proposal p;
  p.tuner = TunerId::TCP_CONN;
  p.scenario = scenario;
  p.netnsCookie = host.netns;
  p.tunable = TunableId::ROUTE_CONGCTL;
  p.oldValues = Values{1, {static_cast<int64_t>(host.route), 0, 0}};
  p.newValues = Values{1, {static_cast<int64_t>(route), 0, 0}};
  p.why = std::move(why);
  p.host = host.host;
  return p;
}

void setRoute(HostState& host, CongAlg route) {
  if (route != host.route) {
    host.route = route;
    host.routeSince = host.connections;
  }
}

void TcpConnTuner::onResult(const Proposal& proposal, bool /*applied*/) {
  if (proposal.tunable != TunableId::ROUTE_CONGCTL) {
    return;
  }
  // Answered, held back or dropped by the collector: either way no longer outstanding; what the
  // route is now comes with onReply when the actuator answered.
  if (HostState* host = hosts.find(proposal.netnsCookie, proposal.host)) {
    host->pending = false;
  }
}

// A refusal holds the route value back for the host, twice as long each time; after maxRefusals
// in a row it is no option for that host any more (an algorithm the policy or kernel refuses).
void TcpConnTuner::refused(HostState& host, CongAlg route) {
  tcp_conn::Refusal& r = host.refusals[slotOf(route)];
  ++r.count;
  const uint32_t doublings = std::min<uint32_t>(r.count - 1, 16);
  r.untilNs = std::max(host.lastSeenNs, host.pendingSinceNs) + (cfg.refusalHoldoffNs << doublings);
}

std::optional<CongAlg> routeOf(const std::optional<Values>& live) {
  if (!live || live->count < 1 || live->v[0] < 0 ||
      live->v[0] > static_cast<int64_t>(CongAlg::DCTCP)) {
    return std::nullopt;
  }
  return static_cast<CongAlg>(live->v[0]);
}

void TcpConnTuner::onReply(const Proposal& proposal,
                           Status status,
                           const std::optional<Values>& live) {
  if (proposal.tunable != TunableId::ROUTE_CONGCTL) {
    return;
  }
  const auto index = static_cast<size_t>(status);
  if (index < totals.replies.size()) {
    ++totals.replies[index];
  }
  if (status == Status::GONE) {
    hosts.forgetNetns(proposal.netnsCookie);
    return;
  }
  HostState* host = hosts.find(proposal.netnsCookie, proposal.host);
  if (host == nullptr) {
    ++totals.repliesUnknownHost;
    return;
  }
  host->pending = false;
  const CongAlg asked = tcp_conn::congAlgOf(proposal.newValues.v[0]);
  const std::optional<CongAlg> liveRoute = routeOf(live);
  const uint64_t now = std::max(host->lastSeenNs, host->pendingSinceNs);
  switch (status) {
    case Status::OK:
      setRoute(*host, liveRoute.value_or(asked));
      host->refusals[slotOf(asked)] = {};
      host->overridden = false;
      break;
    case Status::STALE:
      setRoute(*host, liveRoute.value_or(host->route));
      break;
    case Status::REJECTED:
    case Status::FAILED:
      refused(*host, asked);
      setRoute(*host, liveRoute.value_or(host->route));
      break;
    case Status::OVERRIDDEN:
      // The live value describes the administrator's route, not ours: the belief stays.
      host->overridden = true;
      host->quietUntilNs = now + cfg.overrideHoldoffNs;
      break;
    case Status::PAUSED:
      host->quietUntilNs = now + cfg.refusalHoldoffNs;
      break;
    case Status::PROPOSED:
      // Advice mode: nothing changed, so the route stays what it is and the host waits like
      // after a refusal (the actuator keeps one proposal per host and refreshes it).
      setRoute(*host, liveRoute.value_or(host->route));
      host->quietUntilNs = now + cfg.refusalHoldoffNs;
      break;
    default:
      break;
  }
}

}  // namespace

std::unique_ptr<Tuner> makeTcpConnTuner(const TcpConnConfig& config) {
  return std::make_unique<TcpConnTuner>(config);
}

}  // namespace bpftune::tuners
