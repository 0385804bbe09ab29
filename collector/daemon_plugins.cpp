// Plugins (include/bpftune/plugin.h) and strategies: loaded after the privilege drop, polled
// from the collector's loop, ticked on their period, their proposals sent like any tuner's.
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>

#include "daemon.h"
#include "log.h"

namespace bpftune::collector {

void Daemon::openPlugins() {
  const bool wanted =
      options.tuners.empty() || std::ranges::find(options.tuners, "plugin") != options.tuners.end();
  if (options.noPlugins || !wanted) {
    log::info("plugins: not loaded (" +
              std::string(options.noPlugins ? "--no-plugins" : "--tuners") + ")");
    return;
  }
  for (const std::string& dir : options.pluginDirs) {
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 && errno == ENOENT) {
      log::info("plugins: no directory " + log::sanitize(dir));
      continue;
    }
    auto opened = PluginDirectory::open(dir, TrustOwner{0});
    if (!opened) {
      ++pluginsRefused;
      log::warning("refusing untrusted plugin directory '" + log::sanitize(dir) +
                   "': " + describe(opened.error()));
      continue;
    }
    log::info("plugins: watching " + log::sanitize(dir));
    for (PluginChange& change : (*opened)->scan()) {
      applyPluginChange(**opened, std::move(change));
    }
    pluginDirs.push_back(std::move(*opened));
  }
}

void Daemon::pollPlugins() {
  for (auto& dir : pluginDirs) {
    for (PluginChange& change : dir->poll()) {
      applyPluginChange(*dir, std::move(change));
    }
  }
}

void Daemon::applyPluginChange(PluginDirectory& dir, PluginChange change) {
  const std::string path = log::sanitize(change.path);
  if (change.kind == PluginChange::Kind::REFUSED) {
    ++pluginsRefused;
    log::warning("refusing untrusted plugin '" + path + "': " + change.reason);
    return;
  }
  if (change.kind == PluginChange::Kind::REMOVED) {
    auto gone = std::ranges::find_if(slots, [&](const Slot& s) {
      return s.plugin != nullptr && s.plugin->file() == change.path;
    });
    if (gone != slots.end()) {
      log::notice("removed '" + path + "', fini tuner " + gone->status.name);
      slots.erase(gone);
    }
    return;
  }
  const std::string name(change.tuner->name());
  const bool taken =
      std::ranges::any_of(slots, [&](const Slot& s) { return s.status.name == name; });
  if (taken) {
    ++pluginsRefused;
    dir.forget(change.path);
    log::warning("refusing plugin '" + path + "': a tuner named " + name + " is running");
    return;
  }
  Slot slot;
  slot.plugin = change.tuner.get();
  slot.tuner = std::move(change.tuner);
  slot.tunerId = static_cast<uint32_t>(proto::TunerId::PLUGIN);
  slot.status.name = name;
  slot.status.plugin = change.path;
  slot.strategy = tuners::StrategySwitch(std::chrono::milliseconds(options.strategyPeriodMs));
  log::notice("added plugin '" + path + "': tuner " + name + ", every " +
              std::to_string(slot.plugin->period().count()) + " ms");
  slots.push_back(std::move(slot));
}

// A tick is an event like a BPF one, in the collector's own namespace: the same reading of
// values, the same routing, hold-off and actuator path.
void Daemon::tickPlugins() {
  const auto now = std::chrono::steady_clock::now();
  for (Slot& slot : slots) {
    if (slot.plugin == nullptr || now < slot.nextTick) {
      continue;
    }
    slot.nextTick = now + slot.plugin->period();
    bpftune_event tick{};
    tick.tuner = slot.tunerId;
    tick.netns_cookie = homeCookie;
    tick.ts_ns = monotonicNs();
    handleTunerEvent(slot, tick);
  }
}

void Daemon::evaluateStrategies() {
  const auto now = std::chrono::steady_clock::now();
  for (Slot& slot : slots) {
    if (auto change = slot.strategy.poll(*slot.tuner, now)) {
      ++slot.status.strategySwitches;
      log::notice(slot.status.name + ": " + change->text);
    }
  }
}

}  // namespace bpftune::collector
