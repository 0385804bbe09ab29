#include "conn_sample.h"

#include <sys/socket.h>

#include <algorithm>

namespace bpftune::tuners::tcp_conn {
namespace {

using proto::CongAlg;

constexpr int64_t NS_ECN = 0x1;      // sysctl[2] bit 0: tp->ecn_flags & TCP_ECN_OK
constexpr int64_t NS_PASSIVE = 0x2;  // sysctl[2] bit 1: the accepting side
// tp->rtt_min starts at ~0U and stays there when no RTT was ever measured.
constexpr int64_t RTT_UNSET = 0xffffffffLL;

int64_t clampRate(double bps) {
  if (!(bps > 0)) {
    return 0;
  }
  constexpr double MAX_BPS = 1e18;  // far above any link, far below INT64_MAX
  return static_cast<int64_t>(std::min(bps, MAX_BPS));
}

}  // namespace

HostAddress eventHost(const bpftune_event& event) {
  HostAddress host;
  host.family = static_cast<uint8_t>(event.family);
  if (event.family != AF_INET && event.family != AF_INET6) {
    return host;  // hostAddressProblem names the family
  }
  const size_t length = event.family == AF_INET ? 4 : 16;
  std::copy_n(event.daddr, length, host.bytes.begin());
  return host;
}

CongAlg congAlgOf(int64_t slot) {
  switch (slot) {
    case static_cast<int64_t>(CongAlg::RENO):
    case static_cast<int64_t>(CongAlg::CUBIC):
    case static_cast<int64_t>(CongAlg::BBR):
    case static_cast<int64_t>(CongAlg::HTCP):
    case static_cast<int64_t>(CongAlg::DCTCP):
      return static_cast<CongAlg>(slot);
    default:
      return CongAlg::NONE;
  }
}

int64_t deliveryRateBps(const bpftune_event& event) {
  const int64_t bytesAcked = event.value;
  const int64_t durationUs = event.limit;
  if (bytesAcked > 0 && durationUs > 0) {
    return clampRate(static_cast<double>(bytesAcked) * 8e6 / static_cast<double>(durationUs));
  }
  const int64_t delivered = event.detail[1];
  const int64_t intervalUs = event.detail[2];
  const int64_t mss = event.detail[3];
  if (delivered <= 0 || intervalUs <= 0 || mss <= 0) {
    return 0;
  }
  return clampRate(static_cast<double>(delivered) * static_cast<double>(mss) * 8e6 /
                   static_cast<double>(intervalUs));
}

SampleSkip readSample(const bpftune_event& event, const SampleLimits& limits, ConnSample& out) {
  out = ConnSample{};
  out.netns = event.netns_cookie;
  out.host = eventHost(event);
  out.alg = congAlgOf(event.sysctl[0]);
  out.nsDefault = congAlgOf(event.sysctl[1]);
  out.ecn = (event.sysctl[2] & NS_ECN) != 0;
  out.passive = (event.sysctl[2] & NS_PASSIVE) != 0;
  out.tsNs = event.ts_ns;
  out.totalRetrans = event.ns_values[1];
  out.segsOut = event.ns_values[2];
  if (!hostAddressProblem(out.host).empty()) {
    return SampleSkip::HOST;
  }
  if (out.alg == CongAlg::NONE) {
    return SampleSkip::ALGORITHM;
  }
  const int64_t delivered = event.ns_values[0];
  const int64_t dataSegsOut = event.ns_values[3];
  if (delivered < limits.minSegments || dataSegsOut < limits.minSegments || delivered <= 0) {
    return SampleSkip::SMALL;
  }
  const int64_t rtt = event.detail[0];
  if (rtt <= 0 || rtt >= RTT_UNSET) {
    return SampleSkip::RTT;
  }
  out.minRttUs = rtt;
  out.rateBps = deliveryRateBps(event);
  if (out.rateBps <= 0) {
    return SampleSkip::RATE;
  }
  return SampleSkip::NONE;
}

bool lossy(const ConnSample& sample, int64_t minSegsOut) {
  return sample.segsOut >= std::max<int64_t>(minSegsOut, 1) &&
         sample.totalRetrans > sample.segsOut / 64;
}

}  // namespace bpftune::tuners::tcp_conn
