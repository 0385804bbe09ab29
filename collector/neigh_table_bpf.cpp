#include "neigh_table_bpf.h"

#include "neigh_table_event.h"
#include "sample.h"
// After sample.h: the skeleton's .bss holds struct bpftune_sample.
#include "neigh_table.skel.h"
#include "tuner_bpf.h"

namespace bpftune::collector {

// Every call is looked at (none is sampled); neigh_create_failed counts the creates the kernel
// refused because the table was full.
Result<std::unique_ptr<BpfObject>> attachNeighTableBpf(const BpfConfig& config) {
  static_assert(NEIGH_TABLE_HOOK_CREATE == 0 && NEIGH_TABLE_HOOK_CREATE_FAILED == 1 &&
                NEIGH_TABLE_HOOK_CLEANUP == 2);
  return attachTunerBpf<neigh_table_bpf>(
      config,
      "neigh_table",
      {"raw_tp/neigh_create", "tp_btf/neigh_cleanup_and_release"},
      {{"neigh_create", 1}, {"neigh_create_failed", 1}, {"neigh_cleanup_and_release", 1}});
}

}  // namespace bpftune::collector
