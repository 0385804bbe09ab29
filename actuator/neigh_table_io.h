// Writing a neighbour table's gc_thresh1/2/3: one rtnetlink RTM_SETNEIGHTBL with NDTA_NAME and
// NDTA_THRESH1..3, acknowledged by the kernel. The kernel accepts NDTA_THRESH* only from the init
// netns (elsewhere ENOENT), so the actuator writes from its own namespace and nowhere else.
// The message is sent by the privileged writer (priv_writer.h), never by the jailed actuator,
// which holds no netlink socket. Hand-built rather than libnl's rtnl_neightbl_change, which sets
// thresh2 twice (upstream's documented bug) and would need more syscalls (bind, getsockname,
// setsockopt) in the writer's jail.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "result.h"
#include "sysctl_io.h"
#include "tunable_table.h"

namespace bpftune::actuator {

// The engine talks to this interface; production uses WriterNeighTables (the privileged writer),
// unit tests a fake.
class NeighTableWriter {
public:
  NeighTableWriter() = default;
  NeighTableWriter(const NeighTableWriter&) = delete;
  NeighTableWriter& operator=(const NeighTableWriter&) = delete;
  virtual ~NeighTableWriter() = default;

  // info.neighTable names the table; values are gc_thresh1, 2, 3.
  virtual Status write(const policy::TunableInfo& info, const Values& values) = 0;
};

// One RTM_SETNEIGHTBL round trip on its own NETLINK_ROUTE socket (socket, sendto, poll, recvmsg,
// close: what the writer's jail allows), closed by RAII on every path. Runs in the privileged
// writer; the kernel's errno on refusal.
Status sendSetNeighTable(std::string_view table, const Values& values, uint32_t seq);

// The request as sent; exposed for unit tests. Refuses values outside 0..INT_MAX (the kernel
// stores thresholds as int) and table names that do not fit an attribute.
Result<std::vector<uint8_t>> buildSetNeighTable(std::string_view table,
                                                const Values& values,
                                                uint32_t seq);

// Ok for the NLMSG_ERROR acknowledgement of `seq` carrying 0; the kernel's errno otherwise.
// ENOMSG when `reply` holds no acknowledgement of `seq` (a later recv may).
Status parseAck(std::span<const uint8_t> reply, uint32_t seq);

}  // namespace bpftune::actuator
