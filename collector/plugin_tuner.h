// A plugin loaded from a trusted file, adapted to the tuner interface the built-in tuners have:
// the collector reads the declared tunables and counters, calls the plugin's tick() on a
// synthetic event every period, and sends its proposals like any tuner's.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "bpftune/plugin.h"
#include "result.h"
#include "tuner.h"
#include "unique_fd.h"

namespace bpftune::collector {

// dlopen'ed library; dlclose on destruction. It keeps the descriptor it was loaded through: the
// dynamic loader matches an already loaded library by the name given to dlopen, so no other
// plugin may be loaded as the same /proc/self/fd/N while this one is.
class PluginLibrary {
public:
  PluginLibrary(void* handle, UniqueFd fd) : handle(handle), fd(std::move(fd)) {}
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;
  ~PluginLibrary();
  void* get() const { return handle; }

private:
  void* handle;
  UniqueFd fd;
};

// A descriptor the collector can use: the reason when not.
Status validateDescriptor(const bpftune_plugin& plugin);

class PluginTuner : public tuners::Tuner {
public:
  // Takes the library, creates the plugin's state. `file` is for logs.
  static Result<std::unique_ptr<PluginTuner>> create(std::unique_ptr<PluginLibrary> library,
                                                     const bpftune_plugin& plugin,
                                                     std::string file);
  ~PluginTuner() override;
  PluginTuner(const PluginTuner&) = delete;
  PluginTuner& operator=(const PluginTuner&) = delete;

  tuners::TunerId id() const override { return tuners::TunerId::PLUGIN; }
  std::string_view name() const override { return pluginName; }
  std::vector<tuners::TunableId> tunables() const override { return tunableIds; }
  std::vector<tuners::CounterId> counters(const bpftune_event& event) const override;
  std::vector<tuners::Proposal> onEvent(const bpftune_event& event,
                                        const tuners::CurrentValues& current) override;
  void onResult(const tuners::Proposal& proposal, bool applied) override;
  std::vector<std::string> strategies() const override { return strategyNames; }
  std::chrono::milliseconds strategyPeriod() const override;
  int32_t evaluateStrategy(size_t index) override;
  void useStrategy(size_t index) override { input.strategy = static_cast<uint32_t>(index); }

  std::chrono::milliseconds period() const { return std::chrono::milliseconds(plugin.period_ms); }
  const std::string& file() const { return fileName; }

private:
  PluginTuner(std::unique_ptr<PluginLibrary> library,
              const bpftune_plugin& plugin,
              std::string file);
  void fillInput(const bpftune_event& event, const tuners::CurrentValues& current);
  std::optional<tuners::Proposal> convert(const bpftune_plugin_proposal& out,
                                          const bpftune_event& event,
                                          const tuners::CurrentValues& current) const;

  std::unique_ptr<PluginLibrary> library;
  const bpftune_plugin& plugin;
  std::string fileName;
  std::string pluginName;
  std::vector<tuners::TunableId> tunableIds;
  std::vector<std::string> strategyNames;
  void* state = nullptr;
  bpftune_plugin_input input{};  // the last one tick() saw; evaluate() sees it too
};

// Loads the plugin file open on `fd` (already trust-checked) through /proc/self/fd, so the
// library mapped is the file checked. `file` names it in logs and errors.
Result<std::unique_ptr<PluginTuner>> loadPlugin(UniqueFd fd, const std::string& file);

}  // namespace bpftune::collector
