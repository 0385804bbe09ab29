// Which network namespaces exist and, per namespace, whether each tuner may act there. Pure
// bookkeeping: the collector feeds it scans (tasks + nsfs mounts), BPF events and actuator
// replies; nothing here does I/O.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "bpftune.capnp.h"

namespace bpftune::tuners::netns {

// A tuner's state in one namespace, as the status file shows it.
enum class State {
  ACTIVE,
  DISABLED_BY_ADMIN,  // someone else wrote a tunable the tuner manages; until `bpftune resume`
  GONE,               // the namespace no longer exists (for every tuner)
};

std::string_view stateName(State state);

// One namespace found by a scan: held by a task (name empty) or bind-mounted (name set).
struct ScanEntry {
  uint64_t cookie = 0;
  uint32_t inum = 0;
  std::string name;  // "/run/netns/NAME" -> "NAME"; other nsfs mounts: the mount path
  bool byTask = false;
  bool byMount = false;
  int32_t pid = 0;  // a process in it (task iterator), 0: none; its /proc/<pid>/net is the netns'
};

struct ScanChanges {
  std::vector<uint64_t> appeared;  // new cookies
  std::vector<uint64_t> revived;   // were gone, are held again
  std::vector<uint64_t> gone;      // held by neither a task nor a mount, and quiet
  bool any() const { return !appeared.empty() || !revived.empty() || !gone.empty(); }
};

enum class Seen {
  KNOWN,
  APPEARED,
  REVIVED
};

struct Netns {
  uint64_t cookie = 0;
  uint32_t inum = 0;  // 0 until learned
  std::string name;
  bool gone = false;
  bool byTask = false;   // in the last scan
  bool byMount = false;  // in the last scan
  bool activeSinceScan = false;
  uint64_t goneOrder = 0;  // when it went gone (oldest gone ones are forgotten first)
  uint64_t events = 0;     // tuner events from it
  std::map<proto::TunerId, State> tuners;  // absent: ACTIVE
};

class NetnsTable {
public:
  // Bounds: the BPF map known_netns has MAX_NAMESPACES entries; gone ones are kept for the
  // status (and a possible revival) up to MAX_GONE, oldest forgotten first.
  static constexpr size_t MAX_NAMESPACES = 65536;
  static constexpr size_t MAX_GONE = 1024;

  // A full scan of what holds namespaces now. A known namespace missing from it goes gone unless
  // an event came from it since the previous scan (a socket or fd can keep a namespace alive
  // without any task or mount; its traffic proves it exists).
  ScanChanges applyScan(const std::vector<ScanEntry>& present);
  // An event from a namespace (BPF netns hook, a tuner's event, a sysctl write).
  Seen observe(uint64_t cookie, uint32_t inum);
  // The actuator answered GONE: every tuner stops there until it is seen again.
  void markGone(uint64_t cookie);

  State state(proto::TunerId tuner, uint64_t cookie) const;
  // True when the state changed. Unknown namespaces are added (the cookie came from the kernel).
  bool disable(proto::TunerId tuner, uint64_t cookie);
  // `bpftune resume` happened: every DISABLED_BY_ADMIN goes back to ACTIVE. Returns how many.
  size_t enableAll();
  bool anyDisabled() const { return disabledCount > 0; }
  void countEvent(uint64_t cookie);

  const Netns* find(uint64_t cookie) const;
  const std::map<uint64_t, Netns>& all() const { return table; }
  // Cookies forgotten (evicted) since the last call: the collector drops their caches.
  std::vector<uint64_t> takeForgotten();
  size_t present() const { return table.size() - goneCount; }
  // Bumped on every change the status shows, so it is rendered only when something changed.
  uint64_t version() const { return changes; }

private:
  Netns* insert(uint64_t cookie, uint32_t inum);
  void setGone(Netns& ns, bool gone);
  void evictGone();

  std::map<uint64_t, Netns> table;
  std::vector<uint64_t> forgotten;
  size_t goneCount = 0;
  size_t disabledCount = 0;
  uint64_t goneSeq = 0;
  uint64_t changes = 0;
};

// "/run/netns/NAME" (also /var/run/netns) -> "NAME"; any other path stays as it is.
std::string nameFromMountPoint(std::string_view mountPoint);

}  // namespace bpftune::tuners::netns
