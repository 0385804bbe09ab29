// One plugin directory: the plugins in it at start, and the ones added, replaced or removed
// while the collector runs (inotify, polled from the collector's loop; no thread).
#pragma once

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "plugin_trust.h"
#include "plugin_tuner.h"
#include "result.h"
#include "unique_fd.h"

namespace bpftune::collector {

struct PluginChange {
  enum class Kind {
    ADDED,
    REMOVED,
    REFUSED
  };
  Kind kind = Kind::ADDED;
  std::string path;                    // directory + "/" + file name
  std::unique_ptr<PluginTuner> tuner;  // ADDED
  std::string reason;                  // REFUSED
};

class PluginDirectory {
public:
  // Starts watching `dir` (it must exist and pass the trust checks now; they are repeated for
  // every load, so a directory made writable later refuses what is added after).
  static Result<std::unique_ptr<PluginDirectory>> open(const std::string& dir, TrustOwner owner);

  // Every plugin file present now, loaded or refused, in name order.
  std::vector<PluginChange> scan();
  // What changed since the last call. A replaced file comes as REMOVED then ADDED.
  std::vector<PluginChange> poll();
  // The collector refused to run a loaded plugin (a duplicate name): it counts as not loaded.
  void forget(const std::string& path);

  const std::string& path() const { return dir; }
  int fd() const { return inotify.get(); }

private:
  PluginDirectory(std::string dir, TrustOwner owner, UniqueFd inotify)
      : dir(std::move(dir)), owner(owner), inotify(std::move(inotify)) {}
  PluginChange load(const std::string& name);
  void removed(const std::string& name, std::vector<PluginChange>& out);

  std::string dir;
  TrustOwner owner;
  UniqueFd inotify;
  std::set<std::string> loaded;  // file names handed out as ADDED and not REMOVED since
};

// `bpftune-collector --check-plugin PATH`: the trust checks and the load the collector would do,
// and a one-line description of what loaded ("plugin NAME: every N ms; tunables ...").
Result<std::string> checkPluginFile(const std::string& path, TrustOwner owner);

}  // namespace bpftune::collector
