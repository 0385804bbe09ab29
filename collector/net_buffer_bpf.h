// Loader for bpf/net_buffer.bpf.c (kfree_skb CPU_BACKLOG drops, sampled napi_poll).
#pragma once

#include <memory>

#include "bpf_object.h"

namespace bpftune::collector {

// Opens, loads and attaches the net_buffer programs; events name the caller's own netns.
Result<std::unique_ptr<BpfObject>> attachNetBufferBpf(const BpfConfig& config);

}  // namespace bpftune::collector
