// The tuner interface: pure decision logic. Events and current values in, proposed requests out.
// No I/O happens here; the collector reads sysctls, talks to the actuator and logs.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpftune.capnp.h"
#include "events.h"
#include "host_address.h"

namespace bpftune::tuners {

using proto::ScenarioId;
using proto::TunableId;
using proto::TunerId;

struct Values {
  uint8_t count = 0;
  std::array<int64_t, 3> v{};
  bool operator==(const Values& other) const = default;
};

// Kernel counters a tuner may ask for (Tuner::counters(event)). Per-netns ones are read in the
// event's namespace (/proc/<pid>/net/... of a process in it); SOFTNET_* and SCHED_* are
// machine-wide. Values are cumulative, as the kernel keeps them.
enum class CounterId {
  TCPEXT_SYNCOOKIES_SENT,    // /proc/net/netstat TcpExt: SyncookiesSent
  TCPEXT_SYNCOOKIES_RECV,    // TcpExt: SyncookiesRecv (cookies that validated)
  TCPEXT_SYNCOOKIES_FAILED,  // TcpExt: SyncookiesFailed
  TCPEXT_LISTEN_DROPS,       // TcpExt: ListenDrops
  TCPEXT_REQQ_FULL_DROP,     // TcpExt: TCPReqQFullDrop
  TCP_PASSIVE_OPENS,         // /proc/net/snmp Tcp: PassiveOpens (accepted handshakes)
  IP_REASM_REQDS,            // /proc/net/snmp Ip: ReasmReqds
  IP_REASM_FAILS,            // Ip: ReasmFails
  IP6_REASM_REQDS,           // /proc/net/snmp6 Ip6ReasmReqds
  IP6_REASM_FAILS,           // Ip6ReasmFails
  UDP_IN_DATAGRAMS,          // /proc/net/snmp Udp: InDatagrams + snmp6 Udp6InDatagrams
  UDP_RCVBUF_ERRORS,         // Udp: RcvbufErrors + Udp6RcvbufErrors
  SOFTNET_DROPPED,           // /proc/net/softnet_stat column 2, summed over CPUs
  SOFTNET_TIME_SQUEEZE,      // softnet_stat column 3, summed over CPUs
  SCHED_RUN_NS,              // /proc/schedstat: time tasks ran, summed over CPUs
  SCHED_WAIT_NS,             // /proc/schedstat: time runnable tasks waited, summed over CPUs
};

// What the collector read just before calling the tuner: for its own netns from /proc/sys, for
// any other netns the values the event carries (or newer ones from an actuator reply).
struct CurrentValues {
  std::map<TunableId, Values> sysctls;
  int64_t freeBufferPages = 0;  // nr_free_buffer_pages estimate from /proc/zoneinfo
  // The counters the tuner asked for; one it cannot have (no process in the namespace, no
  // IPv6) is absent, and the tuner decides without it.
  std::map<CounterId, int64_t> counters;
  // The event's netns is the collector's own (the init netns in production).
  bool homeNetns = false;

  // The values of `id` when they were read with `count` values; nullptr otherwise.
  const Values* find(TunableId id, uint8_t count) const {
    auto it = sysctls.find(id);
    return it == sysctls.end() || it->second.count != count ? nullptr : &it->second;
  }
  // A one-value tunable's value.
  std::optional<int64_t> single(TunableId id) const {
    const Values* v = find(id, 1);
    return v == nullptr ? std::nullopt : std::optional<int64_t>(v->v[0]);
  }
  std::optional<int64_t> counter(CounterId id) const {
    auto it = counters.find(id);
    return it == counters.end() ? std::nullopt : std::optional<int64_t>(it->second);
  }
};

struct Proposal {
  TunerId tuner = TunerId::TCP_BUFFER;
  ScenarioId scenario = ScenarioId::BUFFER_INCREASE;
  uint64_t netnsCookie = 0;  // the event's netns; the collector routes global tunables home
  TunableId tunable = TunableId::TCP_RMEM;
  Values oldValues;
  Values newValues;
  std::string why;                // one sentence for the what-and-why log line
  uint64_t causeNetnsCookie = 0;  // set by routing: the event's netns when netnsCookie is home
  HostAddress host{};             // per-host tunables (routeCongctl): the remote host
};

class Tuner {
public:
  Tuner() = default;
  Tuner(const Tuner&) = delete;
  Tuner& operator=(const Tuner&) = delete;
  virtual ~Tuner() = default;

  virtual TunerId id() const = 0;
  virtual std::string_view name() const = 0;
  // Tunables the collector reads into CurrentValues before each onEvent call.
  virtual std::vector<TunableId> tunables() const = 0;
  // Counters the collector reads into CurrentValues before onEvent(event): only what deciding on
  // this event needs, because each counter file read costs a /proc read on the event path.
  virtual std::vector<CounterId> counters(const bpftune_event& /*event*/) const { return {}; }
  virtual std::vector<Proposal> onEvent(const bpftune_event& event,
                                        const CurrentValues& current) = 0;
  // Told after the actuator answered, so the tuner can follow up (e.g. moderate_rcvbuf after an
  // rmem change) on the next event. `applied` is false when the request was refused.
  virtual void onResult(const Proposal& proposal, bool applied) {}
  // Also told after the actuator answered: its status and the live values its reply carries
  // (nullopt: no usable reply), for tuners that keep their own view of a value the collector
  // cannot read (per-host routes in any namespace).
  virtual void onReply(const Proposal& proposal,
                       proto::Status status,
                       const std::optional<Values>& live) {}
  // The tuner's learned state for `bpftune status`, as one JSON value ("" when it has none).
  virtual std::string statusJson() const { return ""; }

  // Alternative detection strategies (upstream's bpftuner strategies): a tuner offering two or
  // more names is evaluated every strategyPeriod() by StrategySwitch, which makes the highest
  // evaluateStrategy() score active through useStrategy(). None by default.
  virtual std::vector<std::string> strategies() const { return {}; }
  virtual std::chrono::milliseconds strategyPeriod() const { return std::chrono::seconds(30); }
  virtual int32_t evaluateStrategy(size_t /*index*/) { return 0; }
  virtual void useStrategy(size_t /*index*/) {}
};

}  // namespace bpftune::tuners
