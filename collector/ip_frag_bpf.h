// The ip_frag tuner's BPF side (bpf/ip_frag.bpf.c): one tp_btf/kfree_skb program.
#pragma once

#include <memory>

#include "bpf_object.h"

namespace bpftune::collector {

// Opens, loads and attaches bpf/ip_frag.bpf.c.
Result<std::unique_ptr<BpfObject>> attachIpFragBpf(const BpfConfig& config);

}  // namespace bpftune::collector
