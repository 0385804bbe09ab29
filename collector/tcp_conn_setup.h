// What the tcp_conn tuner needs from the host at start: the congestion control algorithms it
// may choose from, read once from /proc/sys, and the tuner built from them.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bpftune.capnp.h"
#include "result.h"
#include "tuner.h"

namespace bpftune::collector {

// The algorithms in both lists (space separated, as the kernel prints them), in the order of
// `available`, as proto::CongAlg. A name outside the enum (vegas, a module's) is left out: the
// wire and the journal cannot carry it.
std::vector<proto::CongAlg> parseCongCandidates(std::string_view available,
                                                std::string_view allowed);

// tcp_available_congestion_control ∩ tcp_allowed_congestion_control of the collector's netns.
// An algorithm the administrator did not allow to unprivileged sockets is not ours to choose,
// although a route or bpf_setsockopt could set it.
Result<std::vector<proto::CongAlg>> readCongCandidates(
    const std::string& procIpv4 = "/proc/sys/net/ipv4");

// The registry's factory: reads the candidates (none when unreadable: the tuner then keeps
// every host on the namespace default) and builds tuners::makeTcpConnTuner.
std::unique_ptr<tuners::Tuner> makeTcpConnTunerFromHost(int learningRate);

}  // namespace bpftune::collector
