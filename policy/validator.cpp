#include "validator.h"

namespace bpftune::policy {
namespace {

constexpr int64_t NS_PER_SECOND = 1000000000;

std::string idText(unsigned raw) {
  return std::to_string(raw);
}

Refusal refuse(std::string field, int64_t bound, std::string reason) {
  return Refusal{std::move(field), bound, std::move(reason)};
}

std::optional<Refusal> checkIdentity(const SetSysctl& r) {
  if (r.tuner == proto::TunerId::ADMIN || r.tuner == proto::TunerId::ACTUATOR) {
    return refuse("tuner",
                  0,
                  "tuner: " + std::string(tunerName(r.tuner)) +
                      " is reserved for the actuator itself");
  }
  if (!isTuner(r.tuner)) {
    return refuse("tuner", 0, "tuner: unknown id " + idText(static_cast<unsigned>(r.tuner)));
  }
  if (scenarioName(r.scenario) == "unknown") {
    return refuse(
        "scenario", 0, "scenario: unknown id " + idText(static_cast<unsigned>(r.scenario)));
  }
  const proto::TunerId owner = scenarioTuner(r.scenario);
  if (owner == proto::TunerId::ADMIN || owner == proto::TunerId::ACTUATOR) {
    return refuse("scenario",
                  0,
                  "scenario: " + std::string(scenarioName(r.scenario)) +
                      " is reserved for the actuator itself");
  }
  if (owner != r.tuner) {
    return refuse("scenario",
                  0,
                  "scenario: " + std::string(scenarioName(r.scenario)) + " belongs to tuner " +
                      std::string(tunerName(owner)) + ", not " + std::string(tunerName(r.tuner)));
  }
  return std::nullopt;
}

std::optional<Refusal> checkBounds(const Limits& limits,
                                   const TunableInfo& info,
                                   const SetSysctl& r) {
  for (uint8_t i = 0; i < info.count; ++i) {
    std::string field = "new" + std::to_string(i);
    int64_t v = r.newValues[i];
    if (v < limits.min) {
      return refuse(field,
                    limits.min,
                    field + ": " + std::to_string(v) + " is below min " +
                        std::to_string(limits.min) + " for " + std::string(info.name));
    }
    if (v > limits.max) {
      return refuse(field,
                    limits.max,
                    field + ": " + std::to_string(v) + " exceeds max " +
                        std::to_string(limits.max) + " for " + std::string(info.name));
    }
  }
  return std::nullopt;
}

std::optional<Refusal> checkOrder(const TunableInfo& info, const SetSysctl& r) {
  if (isDiscrete(info.kind)) {
    return std::nullopt;
  }
  for (uint8_t i = 1; i < info.count; ++i) {
    if (r.newValues[i] < r.newValues[i - 1]) {
      std::string field = "new" + std::to_string(i);
      std::string why = field + ": " + std::to_string(r.newValues[i]) + " is below new" +
                        std::to_string(i - 1) + " " + std::to_string(r.newValues[i - 1]) + "; ";
      why += info.name;
      why += " values must be ordered (new0 <= new1 <= new2)";
      return refuse(field, r.newValues[i - 1], std::move(why));
    }
  }
  return std::nullopt;
}

// A per-host tunable needs a sane unicast host; every other tunable takes none (hostFamily 0,
// no address bytes). socketCongctl is never written: live switches are only reported.
std::optional<Refusal> checkHost(const TunableInfo& info, const SetSysctl& r) {
  if (info.backend == Backend::JOURNAL_ONLY) {
    return refuse("tunable",
                  0,
                  "tunable: " + std::string(info.name) +
                      " is journal only (reportLiveSwitch); nothing writes it");
  }
  if (!isPerHost(info.id)) {
    const HostAddress none;
    if (r.host != none) {
      return refuse("hostFamily",
                    0,
                    "hostFamily: " + std::string(info.name) +
                        " is not per host; hostFamily and hostAddress must be 0");
    }
    return std::nullopt;
  }
  if (r.host.family == 0) {
    return refuse("hostFamily",
                  0,
                  "hostFamily: " + std::string(info.name) +
                      " is per host; 2 (AF_INET) or 10 (AF_INET6) is required");
  }
  std::string problem = hostAddressProblem(r.host);
  if (!problem.empty()) {
    return refuse(problem.substr(0, problem.find(':')), 0, problem);
  }
  return std::nullopt;
}

// An algorithm value must name one: bounds alone would let a policy with a wider max through.
std::optional<Refusal> checkAlgorithm(const TunableInfo& info, const SetSysctl& r) {
  if (info.kind != ValueKind::CONG_ALG) {
    return std::nullopt;
  }
  const int64_t alg = r.newValues[0];
  if (alg != static_cast<int64_t>(proto::CongAlg::NONE) &&
      !congAlgFromName(congAlgName(alg)).has_value()) {
    return refuse("new0",
                  0,
                  "new0: " + std::to_string(alg) + " is not a congestion control algorithm of " +
                      std::string(info.name) + " (CongAlg 0..5)");
  }
  return std::nullopt;
}

__int128 magnitude(__int128 v) {
  return v < 0 ? -v : v;
}

}  // namespace

std::optional<Refusal> checkRequest(const Policy& policy,
                                    const SetSysctl& r,
                                    uint64_t ownNetnsCookie) {
  const TunableInfo* info = findTunable(r.tunable);
  if (info == nullptr) {
    return refuse("tunable", 0, "tunable: unknown id " + idText(static_cast<unsigned>(r.tunable)));
  }
  if (auto refusal = checkIdentity(r)) {
    return refusal;
  }
  if (r.netnsCookie == 0) {
    return refuse("netnsCookie", 0, "netnsCookie: 0 names no network namespace");
  }
  if (!info->perNetns && r.netnsCookie != ownNetnsCookie) {
    return refuse(
        "netnsCookie",
        static_cast<int64_t>(ownNetnsCookie),
        "netnsCookie: " + std::string(info->name) + " exists only in the init namespace (cookie " +
            std::to_string(ownNetnsCookie) + "); request named " + std::to_string(r.netnsCookie));
  }
  if (r.count != info->count) {
    return refuse("count",
                  info->count,
                  "count: " + std::to_string(r.count) + " does not match " +
                      std::string(info->name) + ", which has " + std::to_string(info->count) +
                      " value(s)");
  }
  if (auto refusal = checkHost(*info, r)) {
    return refusal;
  }
  if (auto refusal = checkAlgorithm(*info, r)) {
    return refusal;
  }
  const Limits* limits = policy.find(r.tunable);
  if (limits == nullptr) {
    return refuse("tunable",
                  0,
                  "tunable: " + std::string(info->name) +
                      " is not in the policy file, so it may not be written (allowlist)");
  }
  if (auto refusal = checkBounds(*limits, *info, r)) {
    return refusal;
  }
  return checkOrder(*info, r);
}

std::optional<Refusal> checkStep(const Limits& limits,
                                 const TunableInfo& info,
                                 const Values& live,
                                 const Values& next) {
  if (isDiscrete(info.kind)) {
    return std::nullopt;
  }
  for (uint8_t i = 0; i < info.count; ++i) {
    if (next[i] == live[i]) {
      continue;
    }
    __int128 allowed = magnitude(live[i]) * limits.stepPercent / 100;
    if (allowed < 1) {
      allowed = 1;
    }
    __int128 delta = magnitude(static_cast<__int128>(next[i]) - live[i]);
    if (delta > allowed) {
      std::string field = "new" + std::to_string(i);
      __int128 bound = next[i] > live[i] ? live[i] + allowed : live[i] - allowed;
      return refuse(field,
                    static_cast<int64_t>(bound),
                    "step: " + field + " " + std::to_string(live[i]) + " -> " +
                        std::to_string(next[i]) + " moves more than " +
                        std::to_string(limits.stepPercent) + "% of the live value (bound " +
                        std::to_string(static_cast<int64_t>(bound)) + ") for " +
                        std::string(info.name));
    }
  }
  return std::nullopt;
}

void RateLimiter::expire(const Key& key, int64_t windowNs, int64_t nowNs) {
  auto& times = accepted[key];
  while (!times.empty() && times.front() <= nowNs - windowNs) {
    times.pop_front();
  }
}

std::optional<Refusal> RateLimiter::check(const Limits& limits,
                                          const TunableInfo& info,
                                          int64_t nowNs,
                                          uint64_t netns) {
  int64_t windowNs = static_cast<int64_t>(limits.rateWindowSeconds) * NS_PER_SECOND;
  Key key{netns, info.id};
  expire(key, windowNs, nowNs);
  size_t inWindow = accepted[key].size();
  if (inWindow >= limits.rateCount) {
    return refuse("tunable",
                  limits.rateCount,
                  "rate: " + std::to_string(inWindow + 1) + " changes to " +
                      std::string(info.name) + " within " +
                      std::to_string(limits.rateWindowSeconds) + "s exceeds " +
                      std::to_string(limits.rateCount));
  }
  return std::nullopt;
}

void RateLimiter::record(TunableId id, int64_t nowNs, uint64_t netns) {
  accepted[{netns, id}].push_back(nowNs);
}

std::string valuesText(const Values& values, uint8_t count) {
  std::string out;
  for (uint8_t i = 0; i < count && i < values.size(); ++i) {
    out += (i == 0 ? "" : " ") + std::to_string(values[i]);
  }
  return out;
}

}  // namespace bpftune::policy
