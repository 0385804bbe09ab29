#include "host_address.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>

namespace bpftune {
namespace {

uint64_t loadBigEndian(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) {
    v = (v << 8) | p[i];
  }
  return v;
}

void storeBigEndian(uint64_t v, uint8_t* p) {
  for (int i = 7; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v & 0xff);
    v >>= 8;
  }
}

bool allZero(const uint8_t* begin, const uint8_t* end) {
  return std::all_of(begin, end, [](uint8_t b) { return b == 0; });
}

std::string ipv4Problem(const std::array<uint8_t, 16>& b) {
  if (!allZero(b.data() + 4, b.data() + 16)) {
    return "hostAddress: an IPv4 address has 4 bytes; bytes 4..15 must be zero";
  }
  if (allZero(b.data(), b.data() + 4)) {
    return "hostAddress: 0.0.0.0 is not a host";
  }
  if (b[0] == 127) {
    return "hostAddress: 127.0.0.0/8 is loopback";
  }
  if (b[0] >= 224) {
    return "hostAddress: 224.0.0.0/3 is multicast, reserved or broadcast";
  }
  if (b[0] == 169 && b[1] == 254) {
    return "hostAddress: 169.254.0.0/16 is link-local";
  }
  return "";
}

std::string ipv6Problem(const std::array<uint8_t, 16>& b) {
  if (allZero(b.data(), b.data() + 16)) {
    return "hostAddress: :: is not a host";
  }
  if (allZero(b.data(), b.data() + 15) && b[15] == 1) {
    return "hostAddress: ::1 is loopback";
  }
  if (b[0] == 0xff) {
    return "hostAddress: ff00::/8 is multicast";
  }
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) {
    return "hostAddress: fe80::/10 is link-local";
  }
  if (allZero(b.data(), b.data() + 10) && b[10] == 0xff && b[11] == 0xff) {
    return "hostAddress: an IPv4-mapped address is sent as IPv4 (hostFamily 2)";
  }
  return "";
}

}  // namespace

size_t HostAddress::length() const {
  return family == AF_INET ? 4 : family == AF_INET6 ? 16 : 0;
}

uint64_t HostAddress::word0() const {
  return loadBigEndian(bytes.data());
}

uint64_t HostAddress::word1() const {
  return loadBigEndian(bytes.data() + 8);
}

HostAddress HostAddress::fromWords(uint8_t family, uint64_t word0, uint64_t word1) {
  HostAddress h;
  h.family = family;
  storeBigEndian(word0, h.bytes.data());
  storeBigEndian(word1, h.bytes.data() + 8);
  return h;
}

std::string HostAddress::text() const {
  if (family == 0) {
    return "-";
  }
  if (family != AF_INET && family != AF_INET6) {
    return "family#" + std::to_string(family);
  }
  char out[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(family, bytes.data(), out, sizeof(out));
  return out;
}

std::optional<HostAddress> HostAddress::parse(std::string_view text) {
  std::string s(text);
  HostAddress h;
  if (::inet_pton(AF_INET, s.c_str(), h.bytes.data()) == 1) {
    h.family = AF_INET;
    return h;
  }
  if (::inet_pton(AF_INET6, s.c_str(), h.bytes.data()) == 1) {
    h.family = AF_INET6;
    return h;
  }
  return std::nullopt;
}

std::string hostAddressProblem(const HostAddress& host) {
  if (host.family == AF_INET) {
    return ipv4Problem(host.bytes);
  }
  if (host.family == AF_INET6) {
    return ipv6Problem(host.bytes);
  }
  return "hostFamily: " + std::to_string(host.family) + " is neither 2 (AF_INET) nor 10 (AF_INET6)";
}

}  // namespace bpftune
