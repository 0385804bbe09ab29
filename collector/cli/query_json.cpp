#include "query_json.h"

#include <string>

#include "tunable_table.h"
#include "tuner_registry.h"

namespace bpftune::cli {
namespace {

const char* kindName(policy::ValueKind kind) {
  switch (kind) {
    case policy::ValueKind::BYTES_TRIPLE:
      return "bytes_triple";
    case policy::ValueKind::PAGES_TRIPLE:
      return "pages_triple";
    case policy::ValueKind::COUNT_TRIPLE:
      return "count_triple";
    case policy::ValueKind::BOOLEAN:
      return "boolean";
    case policy::ValueKind::INTEGER:
      return "integer";
    case policy::ValueKind::CHOICE:
      return "choice";
    case policy::ValueKind::CPU_MASK:
      return "cpu_mask";
    case policy::ValueKind::CONG_ALG:
      return "congestion_control";
  }
  return "unknown";
}

const char* scopeName(const policy::TunableInfo& info) {
  if (policy::isPerHost(info.id)) {
    return "host";
  }
  return info.perNetns ? "netns" : "global";
}

// The home namespace's entries of the document's "values", upstream-shaped.
nlohmann::json homeValues(const nlohmann::json& status) {
  nlohmann::json out = nlohmann::json::object();
  if (!status.contains("values") || !status["values"].is_array() ||
      !status.contains("home_netns_cookie")) {
    return out;
  }
  const nlohmann::json& home = status["home_netns_cookie"];
  for (const nlohmann::json& v : status["values"]) {
    if (!v.is_object() || !v.contains("netns") || v["netns"] != home || !v.contains("tuner") ||
        !v["tuner"].is_string() || !v.contains("tunable") || !v["tunable"].is_string() ||
        !v.contains("values") || !v["values"].is_array() || v["values"].empty()) {
      continue;
    }
    const nlohmann::json& values = v["values"];
    out[v["tuner"].get<std::string>()][v["tunable"].get<std::string>()] =
        values.size() == 1 ? values[0] : values;
  }
  return out;
}

}  // namespace

nlohmann::json statusWithUpstreamKeys(const nlohmann::json& status) {
  if (!status.is_object()) {
    return status;
  }
  nlohmann::json out = status;
  const nlohmann::json home = homeValues(status);
  for (const auto& [tuner, values] : home.items()) {
    if (!out.contains(tuner)) {
      out[tuner] = values;
    }
  }
  return out;
}

nlohmann::json tunablesJson() {
  nlohmann::json out = nlohmann::json::object();
  for (const collector::TunerEntry& entry : collector::tunerRegistry()) {
    nlohmann::json tunables = nlohmann::json::object();
    // The tuner object is pure decision code: building one reads nothing and starts nothing.
    for (proto::TunableId id : entry.makeTuner(4)->tunables()) {
      const policy::TunableInfo* info = policy::findTunable(id);
      if (info == nullptr) {
        continue;
      }
      tunables[std::string(info->name)] = {
          {"type", info->kind == policy::ValueKind::CONG_ALG ? "string" : "integer"},
          {"num_values", info->count},
          {"kind", kindName(info->kind)},
          {"scope", scopeName(*info)}};
    }
    out[std::string(entry.name)] = std::move(tunables);
  }
  return out;
}

}  // namespace bpftune::cli
