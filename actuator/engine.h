// The actuator's decisions: validate, compare-and-set, journal INTENT, write, read back,
// journal OUTCOME. Also crash recovery and rollback. Socket handling lives in server.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "boot_state.h"
#include "journal_file.h"
#include "neigh_table_io.h"
#include "netns_sysctls.h"
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
  uint64_t resumeEpoch = 0;  // filled by the server for every reply
};

// reportOverride: someone else wrote a tunable (as the collector's sysctl hook saw it).
struct ReportedOverride {
  proto::TunerId tuner = proto::TunerId::TCP_BUFFER;
  uint64_t netnsCookie = 0;
  proto::TunableId tunable = proto::TunableId::TCP_RMEM;
  int32_t writerPid = 0;
  uint32_t writerUid = 0;
  std::string writerComm;  // raw bytes from the wire; sanitized before use
  uint8_t count = 0;
  Values values{};
};

class Engine {
public:
  // sysnetFd: /proc/sys/net of the actuator's own (init) namespace. foreign: every other
  // namespace (nullptr: none reachable). neigh, staticKeys: write the NEIGH_TABLE and STATIC_KEY
  // tunables (the privileged writer in production; nullptr: they are read-only).
  Engine(const policy::Policy& policy,
         journal::Writer& journal,
         int sysnetFd,
         uint64_t ownCookie,
         journal::BootId bootId,
         ForeignSysctls* foreign = nullptr,
         uint32_t ownInode = 0,
         NeighTableWriter* neigh = nullptr,
         StaticKeyWriter* staticKeys = nullptr);

  void recordStart(const std::vector<uint8_t>& filterDigest);
  // Resolves intents of this boot left without outcome by a crash. Returns how many.
  size_t recover();
  Answer setSysctl(const policy::SetSysctl& request, Peer peer);
  // Restores every original of this boot, newest-changed first, and pauses further changes.
  Answer rollbackAll(Peer peer);
  // Journals an override the collector saw; the key stays untouched until resume.
  Answer reportOverride(const ReportedOverride& report, Peer peer);
  // Hands control back: overridden keys of `netnsCookie` (0: all, which also lifts a rollback's
  // pause) take their live value as the new baseline.
  Answer resume(proto::TunerId tuner, uint64_t netnsCookie, Peer peer);
  bool paused() const { return isPaused; }
  uint64_t resumeEpoch() const { return state.resumeEpoch(); }

private:
  journal::Record baseRecord(proto::RecordKind kind) const;
  Answer writeJournaled(const journal::Record& intent, const policy::TunableInfo& info);
  Answer refuse(proto::Status status,
                const policy::Refusal& refusal,
                uint8_t count,
                const Values& live);
  std::string rollbackKey(const Key& key, const KeyState& state, Peer peer, bool& failed);
  Result<Values> readLive(uint64_t cookie, const policy::TunableInfo& info);
  Status writeLive(uint64_t cookie, const policy::TunableInfo& info, const Values& values);
  Status writePrivileged(uint64_t cookie, const policy::TunableInfo& info, const Values& values);
  uint32_t inodeOf(uint64_t cookie) const;
  bool isGone(uint64_t cookie, const Error& error) const;
  uint64_t journalOverride(const Key& key,
                           const ReportedOverride& report,
                           Peer peer,
                           proto::OverrideSource source,
                           const std::optional<Values>& live);
  Answer refuseOverridden(const policy::TunableInfo& info,
                          const Values& live,
                          const KeyState& known);
  Answer goneAnswer(uint64_t cookie, const Error& error);
  std::string resumeKey(const Key& key, Peer peer);

  const policy::Policy& policy;
  journal::Writer& journal;
  int sysnetFd;
  uint64_t ownCookie;
  journal::BootId bootId;
  BootState state;
  policy::RateLimiter rate;
  ForeignSysctls* foreign;
  uint32_t ownInode;
  NeighTableWriter* neigh;
  StaticKeyWriter* staticKeys;
  std::map<Key, int64_t> lastOverrideNs;  // journal at most one reported override per key per s
  bool isPaused = false;
};

}  // namespace bpftune::actuator
