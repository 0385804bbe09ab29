// The actuator's decisions: validate, compare-and-set, journal INTENT, write, read back,
// journal OUTCOME. Also crash recovery and rollback. Socket handling lives in server.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "boot_state.h"
#include "journal_file.h"
#include "policy_file.h"
#include "validator.h"

namespace bpftune::actuator {

struct Peer {
  uid_t uid = 0;
  pid_t pid = 0;
};

// Everything a Reply carries.
struct Answer {
  proto::Status status = proto::Status::OK;
  std::string field;
  int64_t bound = 0;
  std::string reason;
  uint8_t count = 0;
  Values values{};
  uint64_t journalSeq = 0;
  int32_t error = 0;
};

class Engine {
public:
  Engine(const policy::Policy& policy,
         journal::Writer& journal,
         int sysnetFd,
         uint64_t ownCookie,
         journal::BootId bootId);

  void recordStart(const std::vector<uint8_t>& filterDigest);
  // Resolves intents of this boot left without outcome by a crash. Returns how many.
  size_t recover();
  Answer setSysctl(const policy::SetSysctl& request, Peer peer);
  // Restores every original of this boot, newest-changed first, and pauses further changes.
  Answer rollbackAll(Peer peer);
  bool paused() const { return isPaused; }

private:
  journal::Record baseRecord(proto::RecordKind kind) const;
  Answer writeJournaled(const journal::Record& intent, const policy::TunableInfo& info);
  Answer refuse(proto::Status status,
                const policy::Refusal& refusal,
                uint8_t count,
                const Values& live);
  std::string rollbackKey(const Key& key, const KeyState& state, Peer peer, bool& failed);

  const policy::Policy& policy;
  journal::Writer& journal;
  int sysnetFd;
  uint64_t ownCookie;
  journal::BootId bootId;
  BootState state;
  policy::RateLimiter rate;
  bool isPaused = false;
};

}  // namespace bpftune::actuator
