#include "plugin_tuner.h"

#include <dlfcn.h>

#include <algorithm>
#include <cstring>
#include <set>

#include "log.h"
#include "tunable_table.h"

namespace bpftune::collector {
namespace {

static_assert(static_cast<int>(tuners::CounterId::SCHED_WAIT_NS) == BPFTUNE_COUNTER_SCHED_WAIT_NS,
              "plugin.h counters follow tuners::CounterId");
static_assert(static_cast<int>(proto::TunableId::RMEM_DEFAULT) == BPFTUNE_TUNABLE_RMEM_DEFAULT,
              "plugin.h tunables follow proto::TunableId");

bool validName(const char* name) {
  if (name == nullptr) {
    return false;
  }
  size_t len = strnlen(name, BPFTUNE_PLUGIN_NAME_MAX + 1);
  return len > 0 && len <= BPFTUNE_PLUGIN_NAME_MAX && std::all_of(name, name + len, [](char c) {
           return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
         });
}

// A tunable a plugin may name: known to this build and not keyed by a remote host.
bool offeredTunable(uint32_t raw) {
  const auto* info = policy::findTunable(static_cast<proto::TunableId>(raw));
  return raw <= BPFTUNE_TUNABLE_RMEM_DEFAULT && info != nullptr && !policy::isPerHost(info->id);
}

Status validateLists(const bpftune_plugin& p) {
  if (p.n_tunables == 0 || p.n_tunables > BPFTUNE_PLUGIN_MAX_TUNABLES || p.tunables == nullptr) {
    return makeError("it declares " + std::to_string(p.n_tunables) + " tunables (1.." +
                     std::to_string(BPFTUNE_PLUGIN_MAX_TUNABLES) + ")");
  }
  std::set<uint32_t> seen;
  for (uint32_t i = 0; i < p.n_tunables; ++i) {
    if (!offeredTunable(p.tunables[i]) || !seen.insert(p.tunables[i]).second) {
      return makeError("tunable id " + std::to_string(p.tunables[i]) +
                       " is not offered to plugins (or repeated)");
    }
  }
  if (p.n_counters > BPFTUNE_PLUGIN_MAX_COUNTERS || (p.n_counters > 0 && p.counters == nullptr)) {
    return makeError("it declares " + std::to_string(p.n_counters) + " counters (at most " +
                     std::to_string(BPFTUNE_PLUGIN_MAX_COUNTERS) + ")");
  }
  for (uint32_t i = 0; i < p.n_counters; ++i) {
    if (p.counters[i] > BPFTUNE_COUNTER_SCHED_WAIT_NS) {
      return makeError("counter id " + std::to_string(p.counters[i]) + " is unknown");
    }
  }
  return Ok{};
}

Status validateStrategies(const bpftune_plugin& p) {
  if (p.n_strategies <= 1) {
    return Ok{};
  }
  if (p.n_strategies > BPFTUNE_PLUGIN_MAX_STRATEGIES || p.strategy_names == nullptr ||
      p.evaluate == nullptr || p.strategy_period_ms < BPFTUNE_PLUGIN_MIN_PERIOD_MS) {
    return makeError("its strategies are incomplete (names, evaluate, period >= " +
                     std::to_string(BPFTUNE_PLUGIN_MIN_PERIOD_MS) + " ms; at most " +
                     std::to_string(BPFTUNE_PLUGIN_MAX_STRATEGIES) + ")");
  }
  for (uint32_t i = 0; i < p.n_strategies; ++i) {
    if (!validName(p.strategy_names[i])) {
      return makeError("strategy " + std::to_string(i) + " has no valid name ([a-z0-9_]{1,32})");
    }
  }
  return Ok{};
}

}  // namespace

PluginLibrary::~PluginLibrary() {
  if (handle != nullptr) {
    ::dlclose(handle);
  }
}

Status validateDescriptor(const bpftune_plugin& p) {
  if (p.abi_version != BPFTUNE_PLUGIN_ABI_VERSION) {
    return makeError("plugin ABI version " + std::to_string(p.abi_version) + ", expected " +
                     std::to_string(BPFTUNE_PLUGIN_ABI_VERSION));
  }
  if (!validName(p.name)) {
    return makeError("the plugin's name is not [a-z0-9_]{1,32}");
  }
  if (p.tick == nullptr || p.period_ms < BPFTUNE_PLUGIN_MIN_PERIOD_MS) {
    return makeError("it needs tick() and a period of at least " +
                     std::to_string(BPFTUNE_PLUGIN_MIN_PERIOD_MS) + " ms");
  }
  if (auto lists = validateLists(p); !lists) {
    return lists;
  }
  return validateStrategies(p);
}

PluginTuner::PluginTuner(std::unique_ptr<PluginLibrary> library,
                         const bpftune_plugin& plugin,
                         std::string file)
    : library(std::move(library)),
      plugin(plugin),
      fileName(std::move(file)),
      pluginName(plugin.name) {
  for (uint32_t i = 0; i < plugin.n_tunables; ++i) {
    tunableIds.push_back(static_cast<proto::TunableId>(plugin.tunables[i]));
  }
  for (uint32_t i = 0; plugin.n_strategies > 1 && i < plugin.n_strategies; ++i) {
    strategyNames.emplace_back(plugin.strategy_names[i]);
  }
}

PluginTuner::~PluginTuner() {
  if (plugin.destroy != nullptr) {
    plugin.destroy(state);
  }
}

Result<std::unique_ptr<PluginTuner>> PluginTuner::create(std::unique_ptr<PluginLibrary> library,
                                                         const bpftune_plugin& plugin,
                                                         std::string file) {
  if (auto valid = validateDescriptor(plugin); !valid) {
    return makeError(file + ": " + valid.error().message);
  }
  std::unique_ptr<PluginTuner> tuner(new PluginTuner(std::move(library), plugin, std::move(file)));
  if (plugin.create != nullptr) {
    const char* error = nullptr;
    tuner->state = plugin.create(&error);
    if (error != nullptr) {
      // No state to destroy: create() failed.
      tuner->state = nullptr;
      return makeError(tuner->fileName + ": create() failed: " +
                       log::sanitize(std::string_view(error, strnlen(error, 256))));
    }
  }
  return tuner;
}

std::vector<tuners::CounterId> PluginTuner::counters(const bpftune_event& /*event*/) const {
  std::vector<tuners::CounterId> out;
  for (uint32_t i = 0; i < plugin.n_counters; ++i) {
    out.push_back(static_cast<tuners::CounterId>(plugin.counters[i]));
  }
  return out;
}

void PluginTuner::fillInput(const bpftune_event& event, const tuners::CurrentValues& current) {
  const uint32_t strategy = input.strategy;
  input = {};
  input.now_ns = event.ts_ns;
  input.strategy = strategy;
  for (size_t i = 0; i < tunableIds.size(); ++i) {
    const auto* info = policy::findTunable(tunableIds[i]);
    if (const tuners::Values* v = current.find(tunableIds[i], info->count)) {
      input.tunables[i].count = v->count;
      std::copy(v->v.begin(), v->v.end(), std::begin(input.tunables[i].v));
    }
  }
  for (uint32_t i = 0; i < plugin.n_counters; ++i) {
    if (auto value = current.counter(static_cast<tuners::CounterId>(plugin.counters[i]))) {
      input.counters[i] = *value;
      input.counter_valid[i] = 1;
    }
  }
}

// A proposal the collector sends on: a declared, readable tunable with its own value count.
std::optional<tuners::Proposal> PluginTuner::convert(const bpftune_plugin_proposal& out,
                                                     const bpftune_event& event,
                                                     const tuners::CurrentValues& current) const {
  auto it = std::ranges::find(tunableIds, static_cast<proto::TunableId>(out.tunable));
  if (it == tunableIds.end()) {
    log::warning("plugin " + pluginName + ": proposal for undeclared tunable id " +
                 std::to_string(out.tunable) + " dropped");
    return std::nullopt;
  }
  const auto* info = policy::findTunable(*it);
  const tuners::Values* old = current.find(*it, info->count);
  if (old == nullptr || out.new_values.count != info->count) {
    log::warning("plugin " + pluginName + ": proposal for " + std::string(info->name) +
                 " dropped (value unreadable, or not " + std::to_string(info->count) + " values)");
    return std::nullopt;
  }
  tuners::Proposal p;
  p.tuner = proto::TunerId::PLUGIN;
  p.scenario = proto::ScenarioId::PLUGIN_PROPOSAL;
  p.netnsCookie = event.netns_cookie;
  p.tunable = *it;
  p.oldValues = *old;
  p.newValues.count = info->count;
  std::copy_n(std::begin(out.new_values.v), 3, p.newValues.v.begin());
  p.why = "plugin " + pluginName + ": " +
          log::sanitize(std::string_view(out.why, strnlen(out.why, sizeof(out.why))));
  return p;
}

std::vector<tuners::Proposal> PluginTuner::onEvent(const bpftune_event& event,
                                                   const tuners::CurrentValues& current) {
  fillInput(event, current);
  std::array<bpftune_plugin_proposal, BPFTUNE_PLUGIN_MAX_PROPOSALS> out{};
  uint32_t made = plugin.tick(state, &input, out.data(), out.size());
  std::vector<tuners::Proposal> proposals;
  for (uint32_t i = 0; i < std::min<uint32_t>(made, out.size()); ++i) {
    if (auto p = convert(out.at(i), event, current)) {
      proposals.push_back(std::move(*p));
    }
  }
  return proposals;
}

void PluginTuner::onResult(const tuners::Proposal& proposal, bool applied) {
  if (plugin.result == nullptr) {
    return;
  }
  bpftune_plugin_proposal told{};
  told.tunable = static_cast<uint32_t>(proposal.tunable);
  told.new_values.count = proposal.newValues.count;
  std::copy_n(proposal.newValues.v.begin(), 3, std::begin(told.new_values.v));
  plugin.result(state, &told, applied ? 1 : 0);
}

std::chrono::milliseconds PluginTuner::strategyPeriod() const {
  return std::chrono::milliseconds(plugin.strategy_period_ms);
}

int32_t PluginTuner::evaluateStrategy(size_t index) {
  return plugin.evaluate == nullptr ? 0
                                    : plugin.evaluate(state, &input, static_cast<uint32_t>(index));
}

Result<std::unique_ptr<PluginTuner>> loadPlugin(UniqueFd fd, const std::string& file) {
  // The checked descriptor, not the name: a file renamed over it since cannot be what loads.
  // RTLD_LOCAL: one plugin's symbols never resolve another's.
  const std::string procPath = "/proc/self/fd/" + std::to_string(fd.get());
  void* handle = ::dlopen(procPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return makeError(file + ": dlopen: " + log::sanitize(why != nullptr ? why : "unknown"));
  }
  auto library = std::make_unique<PluginLibrary>(handle, std::move(fd));
  using Entry = const bpftune_plugin* (*)();
  auto entry = reinterpret_cast<Entry>(::dlsym(handle, BPFTUNE_PLUGIN_ENTRY_NAME));
  if (entry == nullptr) {
    return makeError(file + ": no " + std::string(BPFTUNE_PLUGIN_ENTRY_NAME) + " symbol");
  }
  const bpftune_plugin* plugin = entry();
  if (plugin == nullptr) {
    return makeError(file + ": " + std::string(BPFTUNE_PLUGIN_ENTRY_NAME) + " returned NULL");
  }
  return PluginTuner::create(std::move(library), *plugin, file);
}

}  // namespace bpftune::collector
