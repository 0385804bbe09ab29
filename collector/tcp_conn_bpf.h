// Loader for bpf/tcp_conn.bpf.c: inet_sock_set_state reports every closed connection that sent
// data, and (when bbr is a candidate) the iter/tcp live switch the collector runs on its clock.
#pragma once

#include <memory>

#include "bpf_object.h"

namespace bpftune::collector {

// Opens, loads and attaches the tcp_conn programs. The iterator is loaded only when bbr is
// available and allowed (readCongCandidates): it switches to nothing else.
Result<std::unique_ptr<BpfObject>> attachTcpConnBpf(const BpfConfig& config);

}  // namespace bpftune::collector
