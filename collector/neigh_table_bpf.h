// The neigh_table tuner's BPF side: raw_tp/neigh_create and tp_btf/neigh_cleanup_and_release.
#pragma once

#include "bpf_object.h"

namespace bpftune::collector {

// Opens, loads and attaches bpf/neigh_table.bpf.c, writing to the shared ring buffer.
Result<std::unique_ptr<BpfObject>> attachNeighTableBpf(const BpfConfig& config);

}  // namespace bpftune::collector
