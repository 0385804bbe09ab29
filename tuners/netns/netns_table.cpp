#include "netns_table.h"

#include <algorithm>
#include <set>

namespace bpftune::tuners::netns {
namespace {

constexpr std::string_view RUN_NETNS[] = {"/run/netns/", "/var/run/netns/"};

// A /run/netns name beats a mount path, and the first name found stays (no flapping between two
// mounts of one namespace).
bool betterName(const std::string& current, const std::string& candidate) {
  if (candidate.empty() || candidate == current) {
    return false;
  }
  return current.empty() ||
         (current.find('/') != std::string::npos && candidate.find('/') == std::string::npos);
}

}  // namespace

std::string_view stateName(State state) {
  switch (state) {
    case State::ACTIVE:
      return "active";
    case State::DISABLED_BY_ADMIN:
      // Starts with "disabled" like the state it replaces (scripts match the prefix).
      return "disabled: changed by the administrator";
    case State::GONE:
      return "gone";
  }
  return "unknown";
}

std::string nameFromMountPoint(std::string_view mountPoint) {
  for (std::string_view prefix : RUN_NETNS) {
    if (mountPoint.size() > prefix.size() && mountPoint.substr(0, prefix.size()) == prefix &&
        mountPoint.find('/', prefix.size()) == std::string_view::npos) {
      return std::string(mountPoint.substr(prefix.size()));
    }
  }
  return std::string(mountPoint);
}

Netns* NetnsTable::insert(uint64_t cookie, uint32_t inum) {
  if (table.size() >= MAX_NAMESPACES) {
    evictGone();
    if (table.size() >= MAX_NAMESPACES) {
      return nullptr;
    }
  }
  Netns& ns = table[cookie];
  ns.cookie = cookie;
  ns.inum = inum;
  ++changes;
  return &ns;
}

void NetnsTable::setGone(Netns& ns, bool gone) {
  if (ns.gone == gone) {
    return;
  }
  ns.gone = gone;
  ++changes;
  if (gone) {
    ++goneCount;
    ns.goneOrder = ++goneSeq;
  } else {
    --goneCount;
  }
}

// Forgets the oldest gone namespaces beyond MAX_GONE (cookies are never reused, so a forgotten
// one that shows up again is simply new).
void NetnsTable::evictGone() {
  while (goneCount > MAX_GONE || (goneCount > 0 && table.size() >= MAX_NAMESPACES)) {
    auto oldest = table.end();
    for (auto it = table.begin(); it != table.end(); ++it) {
      if (it->second.gone &&
          (oldest == table.end() || it->second.goneOrder < oldest->second.goneOrder)) {
        oldest = it;
      }
    }
    if (oldest == table.end()) {
      return;
    }
    for (const auto& [tuner, state] : oldest->second.tuners) {
      disabledCount -= state == State::DISABLED_BY_ADMIN ? 1 : 0;
    }
    forgotten.push_back(oldest->first);
    table.erase(oldest);
    --goneCount;
    ++changes;
  }
}

ScanChanges NetnsTable::applyScan(const std::vector<ScanEntry>& present) {
  ScanChanges out;
  std::set<uint64_t> held;
  for (const ScanEntry& entry : present) {
    auto it = table.find(entry.cookie);
    Netns* ns = nullptr;
    bool wasHeld = false;
    if (it == table.end()) {
      ns = insert(entry.cookie, entry.inum);
      if (ns == nullptr) {
        continue;
      }
      out.appeared.push_back(entry.cookie);
    } else {
      ns = &it->second;
      wasHeld = held.contains(entry.cookie) || ns->byTask || ns->byMount;
    }
    if (held.insert(entry.cookie).second) {
      // First entry of this scan for the namespace: the holders are rebuilt from scratch.
      ns->byTask = false;
      ns->byMount = false;
    }
    // Transition only: a GONE reply for a namespace the scans keep seeing is not undone every
    // 2 s (a later event still revives it).
    if (ns->gone && !wasHeld) {
      setGone(*ns, false);
      out.revived.push_back(entry.cookie);
    }
    if (ns->inum == 0) {
      ns->inum = entry.inum;
    }
    if (betterName(ns->name, entry.name)) {
      ns->name = entry.name;
      ++changes;
    }
    ns->byTask = ns->byTask || entry.byTask;
    ns->byMount = ns->byMount || entry.byMount;
    ns->activeSinceScan = false;
  }
  for (auto& [cookie, ns] : table) {
    if (held.contains(cookie)) {
      continue;
    }
    bool wasHeld = ns.byTask || ns.byMount;
    ns.byTask = ns.byMount = false;
    if (wasHeld) {
      ++changes;
    }
    if (!ns.gone && !ns.activeSinceScan) {
      setGone(ns, true);
      out.gone.push_back(cookie);
    }
    ns.activeSinceScan = false;
  }
  evictGone();
  return out;
}

Seen NetnsTable::observe(uint64_t cookie, uint32_t inum) {
  auto it = table.find(cookie);
  if (it == table.end()) {
    Netns* ns = insert(cookie, inum);
    if (ns != nullptr) {
      ns->activeSinceScan = true;
    }
    return ns != nullptr ? Seen::APPEARED : Seen::KNOWN;
  }
  Netns& ns = it->second;
  ns.activeSinceScan = true;
  if (ns.inum == 0 && inum != 0) {
    ns.inum = inum;
    ++changes;
  }
  if (ns.gone) {
    setGone(ns, false);
    return Seen::REVIVED;
  }
  return Seen::KNOWN;
}

void NetnsTable::markGone(uint64_t cookie) {
  auto it = table.find(cookie);
  if (it != table.end()) {
    it->second.activeSinceScan = false;
    setGone(it->second, true);
    evictGone();
  }
}

State NetnsTable::state(proto::TunerId tuner, uint64_t cookie) const {
  const Netns* ns = find(cookie);
  if (ns == nullptr) {
    return State::ACTIVE;
  }
  if (ns->gone) {
    return State::GONE;
  }
  auto it = ns->tuners.find(tuner);
  return it == ns->tuners.end() ? State::ACTIVE : it->second;
}

bool NetnsTable::disable(proto::TunerId tuner, uint64_t cookie) {
  auto it = table.find(cookie);
  Netns* ns = it != table.end() ? &it->second : insert(cookie, 0);
  if (ns == nullptr) {
    return false;
  }
  State& state = ns->tuners[tuner];
  if (state == State::DISABLED_BY_ADMIN) {
    return false;
  }
  state = State::DISABLED_BY_ADMIN;
  ++disabledCount;
  ++changes;
  return true;
}

size_t NetnsTable::enableAll() {
  size_t enabled = 0;
  for (auto& [cookie, ns] : table) {
    for (auto& [tuner, state] : ns.tuners) {
      if (state == State::DISABLED_BY_ADMIN) {
        state = State::ACTIVE;
        ++enabled;
      }
    }
  }
  disabledCount = 0;
  changes += enabled;
  return enabled;
}

void NetnsTable::countEvent(uint64_t cookie) {
  auto it = table.find(cookie);
  if (it != table.end()) {
    ++it->second.events;
    ++changes;
  }
}

const Netns* NetnsTable::find(uint64_t cookie) const {
  auto it = table.find(cookie);
  return it == table.end() ? nullptr : &it->second;
}

std::vector<uint64_t> NetnsTable::takeForgotten() {
  std::vector<uint64_t> out;
  out.swap(forgotten);
  return out;
}

}  // namespace bpftune::tuners::netns
