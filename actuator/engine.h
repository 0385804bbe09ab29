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
#include "host_routes.h"
#include "journal_advice.h"
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
  bool advising = false;     // filled by the server for every reply
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

// A REJECTED answer naming the field and the bound.
Answer rejected(std::string field, int64_t bound, std::string reason);

// Values as logs and replies show them: numbers, or for an algorithm its name.
std::string valueText(const policy::TunableInfo& info, const Values& values);
// " for 10.0.0.2" for a per-host key; empty for a sysctl.
std::string hostSuffix(const Key& key);

// reportLiveSwitch: the collector's iterator switched a live connection's congestion control.
struct ReportedLiveSwitch {
  proto::TunerId tuner = proto::TunerId::TCP_CONN;
  uint64_t netnsCookie = 0;
  HostAddress host;
  int64_t fromAlg = 0;  // CongAlg values as sent (checked against the enum)
  int64_t toAlg = 0;
  journal::LiveSocket socket;
};

// How the engine reaches what it does not write itself (nullptr: not reachable, or read-only).
struct Backends {
  ForeignSysctls* foreign = nullptr;      // sysctls of every other namespace
  NeighTableWriter* neigh = nullptr;      // NEIGH_TABLE tunables (the privileged writer)
  StaticKeyWriter* staticKeys = nullptr;  // STATIC_KEY tunables (the privileged writer)
  HostRoutes* routes = nullptr;           // HOST_ROUTE tunables (the privileged writer)
};

// routeFollow (Engine::followRoutes): the server calls it this often; one call makes at most
// this many writer lookups (the other routes wait for the next call, round robin); a route whose
// follow failed is tried again after a delay that doubles from the minimum to the maximum.
constexpr int64_t FOLLOW_INTERVAL_NS = 2'000'000'000;
constexpr size_t FOLLOW_LOOKUPS_PER_TICK = 64;
constexpr int64_t FOLLOW_BACKOFF_MIN_NS = 10'000'000'000;
constexpr int64_t FOLLOW_BACKOFF_MAX_NS = 640'000'000'000;

class Engine {
public:
  // sysnetFd: /proc/sys/net of the actuator's own (init) namespace.
  Engine(const policy::Policy& policy,
         journal::Writer& journal,
         int sysnetFd,
         uint64_t ownCookie,
         journal::BootId bootId,
         uint32_t ownInode = 0,
         Backends backends = {});

  void recordStart(const std::vector<uint8_t>& filterDigest);
  // Resolves intents of this boot left without outcome by a crash. Returns how many.
  size_t recover();
  Answer setSysctl(const policy::SetSysctl& request, Peer peer);
  // Restores every original of this boot, newest-changed first, and pauses further changes.
  Answer rollbackAll(Peer peer);
  // Journals an override the collector saw; the key stays untouched until resume.
  Answer reportOverride(const ReportedOverride& report, Peer peer);
  // Journals a live switch (socketCongctl) after validation and the policy's rate; writes
  // nothing.
  Answer reportLiveSwitch(const ReportedLiveSwitch& report, Peer peer);
  // Hands control back: overridden keys of `netnsCookie` (0: all, which also lifts a rollback's
  // pause) take their live value as the new baseline.
  Answer resume(proto::TunerId tuner, uint64_t netnsCookie, Peer peer);
  // bpftune's host routes copy the covering route's nexthop when written; an administrator may
  // move or remove that route later. For each live route of bpftune's (BootState::liveHostRoutes),
  // at most `lookups` per call, round robin: a changed nexthop (table, gateway, device, preferred
  // source, onlink) is copied (same algorithm), and without a unicast single-nexthop covering
  // route bpftune's is deleted, both journaled (tuner actuator, scenario routeFollow). Nothing
  // while paused; a key someone else changed, or a host an administrator's host route covers, is
  // left alone; a failing key backs off and is logged once. Returns the routes rewritten or
  // deleted.
  size_t followRoutes(int64_t nowNs, size_t lookups = FOLLOW_LOOKUPS_PER_TICK);
  // Applies an open proposal of this boot (advice mode) as a setSysctl from `peer` carrying the
  // proposal's values (expected = its `from`), through every check and the journal; refuses an
  // unknown, applied or superseded id, and answers STALE when the live value left its `from`.
  Answer applyProposal(uint64_t proposalSeq, Peer peer);
  // Advice mode: a request that passes every check is journaled as a proposal, not written. One
  // open proposal per key: the same request again is answered with it, a different one
  // replaces it.
  void setAdvise(bool on) { advise = on; }
  bool advising() const { return advise; }
  // The actuator's own uid after its identity switch: the requester of routeFollow records.
  void setOwnUid(uid_t uid) { ownUid = uid; }
  bool paused() const { return isPaused; }
  uint64_t resumeEpoch() const { return state.resumeEpoch(); }

private:
  journal::Record baseRecord(proto::RecordKind kind) const;
  Answer writeJournaled(const journal::Record& intent, const policy::TunableInfo& info);
  // The last step of a valid request: written (and for `bpftune apply` tied to its proposal) or,
  // in advice mode, journaled as a proposal.
  Answer commit(journal::Record intent, const policy::TunableInfo& info);
  Answer propose(journal::Record proposal, const policy::TunableInfo& info);
  Answer proposedAnswer(const journal::Record& proposal,
                        const policy::TunableInfo& info,
                        const std::string& how) const;
  // Advice mode's rate: the open proposal answers a repeated request; a new proposal counts
  // against its own limiter (nothing was written, so the write rate stays free for apply).
  std::optional<Answer> checkProposalRate(const policy::SetSysctl& request,
                                          const policy::TunableInfo& info,
                                          const Values& live);
  Answer refuse(proto::Status status,
                const policy::Refusal& refusal,
                uint8_t count,
                const Values& live);
  std::string rollbackKey(const Key& key, const KeyState& state, Peer peer, bool& failed);
  std::string rollbackRoute(const Key& key, const KeyState& state, Peer peer, bool& failed);
  Result<Values> readLive(uint64_t cookie, const policy::TunableInfo& info);
  // A key's live value: a sysctl's, or for routeCongctl the algorithm on bpftune's route.
  Result<Values> readLive(const Key& key, const policy::TunableInfo& info);
  Result<RouteLookup> lookupRoute(uint64_t cookie, const HostAddress& host);
  Status writeLive(uint64_t cookie, const policy::TunableInfo& info, const Values& values);
  // What an intent says: the sysctl write, or bpftune's route put or deleted.
  Status writeIntent(const journal::Record& intent, const policy::TunableInfo& info);
  Status writePrivileged(uint64_t cookie, const policy::TunableInfo& info, const Values& values);
  uint32_t inodeOf(uint64_t cookie) const;
  bool isGone(uint64_t cookie, const Error& error) const;
  uint64_t journalOverride(const Key& key,
                           const ReportedOverride& report,
                           Peer peer,
                           proto::OverrideSource source,
                           const std::optional<Values>& live,
                           const journal::RouteNexthop& route = {});
  Answer refuseOverridden(const Key& key,
                          const policy::TunableInfo& info,
                          const Values& live,
                          const KeyState& known);
  Answer goneAnswer(uint64_t cookie, const Error& error);
  Answer readFailed(uint64_t cookie, const Error& error);
  std::string resumeKey(const Key& key, Peer peer);
  // The steps every setSysctl shares once the live value is known: someone else's change
  // (override), the requester's stale view, nothing to do (unless `rewrite`: the same value is
  // written again). nullopt: go on.
  std::optional<Answer> checkLive(const policy::SetSysctl& request,
                                  const Key& key,
                                  const policy::TunableInfo& info,
                                  const Values& live,
                                  Peer peer,
                                  bool rewrite = false);
  std::optional<Answer> checkRate(const policy::SetSysctl& request,
                                  const policy::TunableInfo& info,
                                  const Values& live);
  journal::Record intentFor(const policy::SetSysctl& request,
                            const policy::TunableInfo& info,
                            const Values& live,
                            Peer peer) const;
  Answer setHostRoute(const policy::SetSysctl& request, const policy::TunableInfo& info, Peer peer);
  // Why `alg` may not be put on a route: not in net.ipv4.tcp_allowed_congestion_control.
  std::optional<policy::Refusal> checkAllowedAlg(int64_t alg);
  Answer overriddenByAdminRoute(const policy::SetSysctl& request,
                                const Key& key,
                                const RouteLookup& route,
                                Peer peer);
  std::optional<Answer> checkLiveSwitch(const ReportedLiveSwitch& report);
  struct Cause {
    proto::TunerId tuner;
    proto::ScenarioId scenario;
  };
  journal::Record hostRouteIntent(
      const Key& key, const RouteLookup& route, int64_t alg, Cause cause, Peer peer) const;
  enum class Followed {
    UNCHANGED,
    CHANGED,
    LEFT_ALONE,
    FAILED,
    GONE
  };
  Followed followRoute(const Key& key, std::string& why);
  Answer followWrite(const Key& key,
                     const RouteLookup& route,
                     int64_t alg,
                     const std::string& cause);
  void followFailed(const Key& key, int64_t nowNs, const std::string& why);
  void followSucceeded(const Key& key);

  const policy::Policy& policy;
  journal::Writer& journal;
  int sysnetFd;
  uint64_t ownCookie;
  journal::BootId bootId;
  BootState state;
  policy::RateLimiter rate;
  // Live switches journaled although outside the policy: bounded too, so a collector that keeps
  // switching against the policy cannot grow the journal without end.
  policy::RateLimiter outsidePolicy;
  uint32_t ownInode;
  ForeignSysctls* foreign;
  NeighTableWriter* neigh;
  StaticKeyWriter* staticKeys;
  HostRoutes* routes;
  std::map<Key, int64_t> lastOverrideNs;  // journal at most one reported override per key per s
  bool isPaused = false;
  bool advise = false;
  uint64_t applying = 0;  // seq of the proposal applyProposal is applying (0: none)
  journal::Advice advice;
  policy::RateLimiter proposalRate;
  struct FollowBackoff {
    int64_t notBeforeNs = 0;
    int64_t delayNs = 0;
  };
  std::map<Key, FollowBackoff> followBackoff;  // keys whose last follow failed
  std::optional<Key> followCursor;             // the last key followRoutes looked up
  uid_t ownUid = 0;
};

}  // namespace bpftune::actuator
