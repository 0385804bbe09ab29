#include "neigh_table_io.h"

#include <linux/neighbour.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "route_io.h"
#include "unique_fd.h"

namespace bpftune::actuator {
namespace {

constexpr int64_t INT_MAX_VALUE = 2147483647;
// The kernel's tables are "arp_cache" and "ndisc_cache"; anything longer is not a table name.
constexpr size_t MAX_TABLE_NAME = 32;

// RTM_SETNEIGHTBL is answered by its acknowledgement alone.
Status ignoreAnswers(uint16_t /*type*/, std::span<const uint8_t> /*message*/) {
  return Ok{};
}

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
  auto finished = consumeReply(reply, seq, ignoreAnswers);
  if (!finished) {
    return finished.error();
  }
  if (!*finished) {
    return makeError("no acknowledgement of request " + std::to_string(seq), ENOMSG);
  }
  return Ok{};
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
  Status ack = transact(fd.get(), *request, seq, ignoreAnswers);
  if (!ack) {
    return makeError(std::string(table) + ": " + ack.error().message, ack.error().errnum);
  }
  return Ok{};
}

}  // namespace bpftune::actuator
