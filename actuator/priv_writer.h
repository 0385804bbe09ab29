// The privileged writer: a separate process the actuator forks before it jails itself, for the
// two writes the jailed actuator's CAP_NET_ADMIN cannot make safely or at all:
//   - the neighbour thresholds, which only rtnetlink (RTM_SETNEIGHTBL) sets. A NETLINK_ROUTE
//     socket in the actuator would let a compromised actuator send any rtnetlink message with
//     CAP_NET_ADMIN (routes, links, addresses); here the message is built from a table index and
//     three numbers, and the actuator's filter no longer allows a netlink socket at all.
//   - net.core.high_order_alloc_disable, a static key: the kernel checks CAP_SYS_ADMIN of the
//     task that writes (proc_do_static_key), so neither the actuator nor a passed fd can do it.
// It holds CAP_NET_ADMIN + CAP_SYS_ADMIN, runs as the actuator's user (so the collector's sysctl
// hook counts its writes as bpftune's own), and reads nothing but one fixed-size WriterRequest
// per datagram, which it re-validates (validateWriterRequest) because the actuator parses
// untrusted requests and may be compromised. Like the netns opener it dies with its parent, and
// its death or a malformed reply is fatal in the actuator.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>
#include <variant>

#include "jail.h"
#include "neigh_table_io.h"
#include "result.h"
#include "sysctl_io.h"
#include "tunable_table.h"
#include "unique_fd.h"

namespace bpftune::actuator {

// The writer's wire format on its SOCK_SEQPACKET socketpair (both ends are ours).
enum class WriterOp : uint32_t {
  SET_NEIGH_THRESHOLDS = 1,          // table, values = gc_thresh1, 2, 3
  SET_HIGH_ORDER_ALLOC_DISABLE = 2,  // values[0] = 0 or 1; table and values[1..2] zero
};
enum class NeighTableIndex : uint32_t {
  ARP_CACHE = 0,
  NDISC_CACHE = 1
};

struct WriterRequest {
  uint32_t op = 0;     // a WriterOp
  uint32_t table = 0;  // a NeighTableIndex
  Values values{};
};
struct WriterReply {
  int32_t error = 0;  // 0, or the errno of the refusal or of the kernel
};
static_assert(sizeof(WriterRequest) == 32 && sizeof(WriterReply) == 4, "fixed wire format");

// A request that passed validation: exactly what the writer will do.
struct NeighThresholds {
  std::string_view table;  // "arp_cache" or "ndisc_cache"
  Values values{};         // 0 <= t1 <= t2 <= t3 <= INT_MAX
};
struct HighOrderAllocDisable {
  bool disable = false;
};
using WriterCommand = std::variant<NeighThresholds, HighOrderAllocDisable>;

// Pure: EINVAL for an unknown op or table, thresholds outside 0 <= t1 <= t2 <= t3 <= INT_MAX,
// a flag other than 0/1, or a field the op does not use that is not zero.
Result<WriterCommand> validateWriterRequest(const WriterRequest& request);

// The actuator's handle on the writer process.
class PrivWriter {
public:
  // Forks the writer. `identity` as for the actuator (nullopt: not started as root).
  static Result<PrivWriter> spawn(std::optional<Identity> identity);

  // One round trip: the writer's errno (0: done). Throws when the writer died.
  int call(const WriterRequest& request);
  pid_t pid() const { return child; }

private:
  PrivWriter(UniqueFd socket, pid_t child) : socket(std::move(socket)), child(child) {}
  UniqueFd socket;
  pid_t child = -1;
};

// The engine's NEIGH_TABLE backend in production: the thresholds go through the writer.
class WriterNeighTables final : public NeighTableWriter {
public:
  explicit WriterNeighTables(PrivWriter& writer) : writer(writer) {}
  Status write(const policy::TunableInfo& info, const Values& values) override;

private:
  PrivWriter& writer;
};

// The engine's STATIC_KEY backend in production.
class WriterStaticKeys final : public StaticKeyWriter {
public:
  explicit WriterStaticKeys(PrivWriter& writer) : writer(writer) {}
  Status write(const policy::TunableInfo& info, const Values& values) override;

private:
  PrivWriter& writer;
};

}  // namespace bpftune::actuator
