#include "tcp_conn_setup.h"

#include <sys/random.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <fstream>
#include <sstream>

#include "log.h"
#include "tcp_conn_tuner.h"
#include "tunable_table.h"

namespace bpftune::collector {
namespace {

std::vector<std::string> words(std::string_view text) {
  std::vector<std::string> out;
  std::istringstream in{std::string(text)};
  std::string word;
  while (in >> word) {
    out.push_back(word);
  }
  return out;
}

Result<std::string> readSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return makeError("cannot read " + path, errno);
  }
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string namesText(const std::vector<proto::CongAlg>& algs) {
  std::string out;
  for (proto::CongAlg alg : algs) {
    out += (out.empty() ? "" : " ") + std::string(policy::congAlgName(static_cast<int64_t>(alg)));
  }
  return out.empty() ? "none" : out;
}

// Exploration must not be the same sequence on every host and start; the clock stands in when
// getrandom has nothing (it never blocks here: GRND_NONBLOCK).
uint64_t explorationSeed() {
  uint64_t seed = 0;
  if (::getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == static_cast<ssize_t>(sizeof(seed))) {
    return seed;
  }
  return static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

}  // namespace

std::vector<proto::CongAlg> parseCongCandidates(std::string_view available,
                                                std::string_view allowed) {
  const std::vector<std::string> allowedNames = words(allowed);
  std::vector<proto::CongAlg> out;
  for (const std::string& name : words(available)) {
    if (std::ranges::find(allowedNames, name) == allowedNames.end()) {
      continue;
    }
    auto alg = policy::congAlgFromName(name);
    if (alg && std::ranges::find(out, *alg) == out.end()) {
      out.push_back(*alg);
    }
  }
  return out;
}

Result<std::vector<proto::CongAlg>> readCongCandidates(const std::string& procIpv4) {
  auto available = readSmallFile(procIpv4 + "/tcp_available_congestion_control");
  if (!available) {
    return available.error();
  }
  auto allowed = readSmallFile(procIpv4 + "/tcp_allowed_congestion_control");
  if (!allowed) {
    return allowed.error();
  }
  return parseCongCandidates(*available, *allowed);
}

std::unique_ptr<tuners::Tuner> makeTcpConnTunerFromHost(int learningRate) {
  tuners::TcpConnConfig config;
  config.learningRate = learningRate;
  config.seed = explorationSeed();
  auto candidates = readCongCandidates();
  if (candidates) {
    config.candidates = *candidates;
    log::info("tcp_conn: candidate algorithms (available and allowed): " +
              namesText(config.candidates));
  } else {
    log::warning("tcp_conn: " + describe(candidates.error()) +
                 "; every host keeps the namespace default");
  }
  return tuners::makeTcpConnTuner(config);
}

}  // namespace bpftune::collector
