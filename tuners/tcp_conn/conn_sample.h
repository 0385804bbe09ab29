// One closed connection's measurements, read from a TCP_CONN_EV_CLOSED event (slot contract in
// bpf/tcp_conn.bpf.c), and the tests that decide whether it says anything about its algorithm.
#pragma once

#include <cstdint>

#include "bpftune.capnp.h"
#include "events.h"
#include "host_address.h"

namespace bpftune::tuners::tcp_conn {

// Why an event taught the tuner nothing; NONE when it is a measurement.
enum class SampleSkip {
  NONE,
  HOST,       // no unicast host a route could name (loopback, link-local, bad family ...)
  ALGORITHM,  // the connection's algorithm is outside CongAlg
  SMALL,      // fewer than minSegments delivered or sent: a control connection, a listener
  RTT,        // no min_rtt (0 or ~0U: never measured)
  RATE,       // neither bytes_acked/duration nor a last rate sample
};

struct ConnSample {
  uint64_t netns = 0;
  HostAddress host;
  proto::CongAlg alg = proto::CongAlg::NONE;        // NONE when outside the enum
  proto::CongAlg nsDefault = proto::CongAlg::NONE;  // NONE when outside the enum
  bool ecn = false;                                 // the connection negotiated ECN
  bool passive = false;
  uint64_t tsNs = 0;
  int64_t minRttUs = 0;
  int64_t rateBps = 0;  // bit/s: the connection's average goodput, else its last rate sample
  int64_t totalRetrans = 0;
  int64_t segsOut = 0;
};

struct SampleLimits {
  int64_t minSegments = 0;
};

// The remote host of a tcp_conn event (any kind): AF_INET reads daddr[0..3] only.
HostAddress eventHost(const bpftune_event& event);

// CongAlg of an event slot; NONE for anything outside the enum (0, or a newer producer's value).
proto::CongAlg congAlgOf(int64_t slot);

// Fills `out` from a TCP_CONN_EV_CLOSED event. The identity fields (netns, host, algorithms,
// flags, loss counters) are filled even when the measurement is skipped, so the loss fast path
// can still act on a connection too lossy to deliver minSegments.
SampleSkip readSample(const bpftune_event& event, const SampleLimits& limits, ConnSample& out);

// The connection's delivery rate in bit/s (0: none): bytes_acked over the ESTABLISHED-to-CLOSE
// duration when both are known, else rate_delivered * mss / rate_interval_us (the last sample).
int64_t deliveryRateBps(const bpftune_event& event);

// total_retrans > segs_out / 64, with at least minSegsOut segments sent (upstream's test).
bool lossy(const ConnSample& sample, int64_t minSegsOut);

}  // namespace bpftune::tuners::tcp_conn
