#include "neigh_table_io.h"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "unique_fd.h"

namespace bpftune::actuator {
namespace {

constexpr int64_t INT_MAX_VALUE = 2147483647;
// The kernel's tables are "arp_cache" and "ndisc_cache"; anything longer is not a table name.
constexpr size_t MAX_TABLE_NAME = 32;
// rtnetlink answers in the sender's context, so the acknowledgement is queued before sendto
// returns; the wait only guards against a kernel that does otherwise.
constexpr int ACK_TIMEOUT_MS = 1000;
constexpr int MAX_READS = 8;
// The acknowledgement echoes the request (~80 bytes): far below this.
constexpr size_t REPLY_BYTES = 8192;

void appendAttr(std::vector<uint8_t>& buf, uint16_t type, const void* data, size_t len) {
  nlattr attr{};
  attr.nla_len = static_cast<uint16_t>(NLA_HDRLEN + len);
  attr.nla_type = type;
  const size_t at = buf.size();
  buf.resize(at + NLA_ALIGN(NLA_HDRLEN + len), 0);
  std::memcpy(buf.data() + at, &attr, sizeof(attr));
  std::memcpy(buf.data() + at + NLA_HDRLEN, data, len);
}

Status checkRequest(std::string_view table, const Values& values) {
  if (table.empty() || table.size() >= MAX_TABLE_NAME ||
      table.find('\0') != std::string_view::npos) {
    return makeError("neighbour table name '" + std::string(table) + "' is not a table", EINVAL);
  }
  for (int64_t v : values) {
    if (v < 0 || v > INT_MAX_VALUE) {
      return makeError("neighbour threshold " + std::to_string(v) + " is outside 0..INT_MAX",
                       ERANGE);
    }
  }
  return Ok{};
}

// Reads until the kernel's acknowledgement of `seq` arrives (or the wait gives up).
Status awaitAck(int fd, uint32_t seq) {
  alignas(nlmsghdr) std::array<uint8_t, REPLY_BYTES> buf{};
  for (int read = 0; read < MAX_READS; ++read) {
    pollfd ready{fd, POLLIN, 0};
    int rc = ::poll(&ready, 1, ACK_TIMEOUT_MS);
    if (rc < 0 && errno == EINTR) {
      continue;
    }
    if (rc < 0) {
      return makeError("poll the rtnetlink socket", errno);
    }
    if (rc == 0) {
      return makeError("no RTM_SETNEIGHTBL acknowledgement within 1 s", ETIMEDOUT);
    }
    sockaddr_nl from{};
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_name = &from;
    msg.msg_namelen = sizeof(from);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = ::recvmsg(fd, &msg, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      continue;
    }
    if (n < 0) {
      return makeError("recvmsg on the rtnetlink socket", errno);
    }
    // Another process of this namespace may send to our port; only the kernel (port 0) answers.
    if (from.nl_pid != 0) {
      continue;
    }
    Status ack = parseAck(std::span<const uint8_t>(buf.data(), static_cast<size_t>(n)), seq);
    if (ack || ack.error().errnum != ENOMSG) {
      return ack;
    }
  }
  return makeError("no RTM_SETNEIGHTBL acknowledgement", ETIMEDOUT);
}

}  // namespace

Result<std::vector<uint8_t>> buildSetNeighTable(std::string_view table,
                                                const Values& values,
                                                uint32_t seq) {
  if (auto ok = checkRequest(table, values); !ok) {
    return ok.error();
  }
  std::vector<uint8_t> buf(NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(ndtmsg)), 0);
  // AF_UNSPEC: the kernel matches the table by NDTA_NAME alone.
  ndtmsg header{};
  header.ndtm_family = AF_UNSPEC;
  std::memcpy(buf.data() + NLMSG_HDRLEN, &header, sizeof(header));
  const std::string name(table);
  appendAttr(buf, NDTA_NAME, name.c_str(), name.size() + 1);
  constexpr std::array<uint16_t, 3> THRESH = {NDTA_THRESH1, NDTA_THRESH2, NDTA_THRESH3};
  for (size_t i = 0; i < THRESH.size(); ++i) {
    const auto v = static_cast<uint32_t>(values[i]);
    appendAttr(buf, THRESH[i], &v, sizeof(v));
  }
  nlmsghdr hdr{};
  hdr.nlmsg_len = static_cast<uint32_t>(buf.size());
  hdr.nlmsg_type = RTM_SETNEIGHTBL;
  hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  hdr.nlmsg_seq = seq;
  std::memcpy(buf.data(), &hdr, sizeof(hdr));
  return buf;
}

Status parseAck(std::span<const uint8_t> reply, uint32_t seq) {
  size_t off = 0;
  while (reply.size() - off >= sizeof(nlmsghdr)) {
    nlmsghdr hdr{};
    std::memcpy(&hdr, reply.data() + off, sizeof(hdr));
    if (hdr.nlmsg_len < sizeof(nlmsghdr) || hdr.nlmsg_len > reply.size() - off) {
      return makeError("malformed rtnetlink reply", EBADMSG);
    }
    if (hdr.nlmsg_type == NLMSG_ERROR && hdr.nlmsg_seq == seq) {
      if (hdr.nlmsg_len < NLMSG_HDRLEN + sizeof(nlmsgerr)) {
        return makeError("truncated rtnetlink acknowledgement", EBADMSG);
      }
      nlmsgerr err{};
      std::memcpy(&err, reply.data() + off + NLMSG_HDRLEN, sizeof(err));
      if (err.error == 0) {
        return Ok{};
      }
      // A negative errno; anything else is not one.
      const int errnum = err.error < 0 && err.error > -4096 ? -err.error : EPROTO;
      return makeError("the kernel refused RTM_SETNEIGHTBL", errnum);
    }
    off += NLMSG_ALIGN(hdr.nlmsg_len);
    if (off > reply.size()) {
      break;
    }
  }
  return makeError("no acknowledgement of request " + std::to_string(seq), ENOMSG);
}

Status sendSetNeighTable(std::string_view table, const Values& values, uint32_t seq) {
  auto request = buildSetNeighTable(table, values, seq);
  if (!request) {
    return request.error();
  }
  UniqueFd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd.valid()) {
    return makeError("socket(AF_NETLINK, NETLINK_ROUTE)", errno);
  }
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent = ::sendto(fd.get(),
                          request->data(),
                          request->size(),
                          0,
                          reinterpret_cast<const sockaddr*>(&kernel),
                          sizeof(kernel));
  if (sent < 0) {
    return makeError("send RTM_SETNEIGHTBL for " + std::string(table), errno);
  }
  if (static_cast<size_t>(sent) != request->size()) {
    return makeError("short send of RTM_SETNEIGHTBL", EIO);
  }
  auto ack = awaitAck(fd.get(), seq);
  if (!ack) {
    return makeError(std::string(table) + ": " + ack.error().message, ack.error().errnum);
  }
  return Ok{};
}

}  // namespace bpftune::actuator
