// A remote host as the tcp_conn tuner, the wire and the journal name it: family + 16 address
// bytes (IPv4 in bytes 0..3, the rest zero, as the kernel's skc_daddr). On the wire and in the
// journal it travels as two big-endian words, never as text.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace bpftune {

struct HostAddress {
  uint8_t family = 0;  // 0 (no host: a sysctl), AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};

  // NOLINTNEXTLINE(modernize-use-nullptr): clang-tidy 14 misreads the defaulted comparison
  auto operator<=>(const HostAddress& other) const = default;
  bool empty() const { return family == 0; }
  // 4 or 16 (0 when empty).
  size_t length() const;
  // Bytes 0..7 and 8..15 as big-endian words, and back.
  uint64_t word0() const;
  uint64_t word1() const;
  static HostAddress fromWords(uint8_t family, uint64_t word0, uint64_t word1);
  // inet_ntop form ("10.0.0.1", "fd00::1"); "-" when empty; "family#N" for an unknown family.
  std::string text() const;
  static std::optional<HostAddress> parse(std::string_view text);
};

// Why `host` is not a unicast host bpftune may install a host route for (empty: it may):
// wrong family, nonzero bytes beyond an IPv4 address, unspecified, loopback, multicast,
// broadcast, link-local, IPv4-mapped IPv6. Names the field ("hostAddress") and the rule.
std::string hostAddressProblem(const HostAddress& host);

}  // namespace bpftune
