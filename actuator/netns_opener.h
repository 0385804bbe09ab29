// The netns opener: a separate process the actuator forks before it jails itself. It is the
// only part of the actuator that can enter other network namespaces (CAP_SYS_ADMIN for setns,
// CAP_SYS_PTRACE to open /proc/<pid>/ns/net, CAP_NET_ADMIN to open a namespace's sysctls for
// writing), and it parses nothing but one 8-byte cookie per datagram from its parent. For a
// cookie it enters that namespace, opens the per-namespace tunables' /proc/sys files O_RDWR,
// goes back, and hands the descriptors to the actuator by SCM_RIGHTS. The actuator (which
// parses requests) keeps CAP_NET_ADMIN alone: the kernel re-checks it at every write.
// On a second socketpair, whose other end only the privileged writer holds, the same cookie
// gets one NETLINK_ROUTE socket created in that namespace (strict checking on): a netlink socket
// keeps acting in the namespace that created it, so the writer changes routes there without
// setns. The actuator's channel never yields one: it holds CAP_NET_ADMIN and parses requests.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "jail.h"
#include "result.h"
#include "tunable_table.h"
#include "unique_fd.h"

namespace bpftune::actuator {

// The tunables the opener opens, in the order of the descriptors it sends (built once: the
// actuator looks a slot up on every write).
const std::vector<const policy::TunableInfo*>& perNetnsTunables();

struct NetnsFiles {
  uint32_t inode = 0;
  // One per perNetnsTunables() entry; invalid where the namespace lacks that file (IPv6
  // disabled there, say).
  std::vector<UniqueFd> fds;
};

class NetnsOpener {
public:
  // Forks the opener. `identity` as for the actuator (nullopt: not started as root).
  static Result<NetnsOpener> spawn(std::optional<Identity> identity);
  // An opener the helpers daemon forked: `channel` is the actuator's end, `pid` not our child.
  static NetnsOpener adopt(UniqueFd channel, pid_t pid) {
    return {std::move(channel), UniqueFd(), pid};
  }

  // ENOENT: the namespace does not exist (or nothing but sockets keeps it).
  Result<NetnsFiles> open(uint64_t cookie);
  // The privileged writer's end of its channel to the opener (requestRtnlSocket). Taken once,
  // to hand to PrivWriter::spawn; the actuator must not keep it.
  UniqueFd takeWriterChannel() { return std::move(writerChannel); }
  // The actuator's end, for the helpers daemon to hand over (this object is spent after).
  UniqueFd takeChannel() { return std::move(socket); }
  pid_t pid() const { return child; }

private:
  NetnsOpener(UniqueFd socket, UniqueFd writerChannel, pid_t child)
      : socket(std::move(socket)), writerChannel(std::move(writerChannel)), child(child) {}
  UniqueFd socket;
  UniqueFd writerChannel;
  pid_t child = -1;
};

// In the privileged writer: a NETLINK_ROUTE socket created in the namespace `cookie` names, from
// the opener over `channel`. ENOENT: the namespace does not exist; EPIPE: the opener is gone.
Result<UniqueFd> requestRtnlSocket(int channel, uint64_t cookie);

// The opener's wire format on its socketpair (both ends are ours).
struct OpenerRequest {
  uint64_t cookie = 0;
};
struct OpenerReply {
  int32_t error = 0;  // 0, or the errno why nothing was opened
  uint32_t inode = 0;
  uint32_t count = 0;    // descriptors attached
  uint32_t present = 0;  // bit i: perNetnsTunables()[i] exists and is attached, in order
};

}  // namespace bpftune::actuator
