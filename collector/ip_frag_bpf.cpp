#include "ip_frag_bpf.h"

// The skeleton names struct bpftune_sample without including its header.
// clang-format off
#include "sample.h"
#include "ip_frag.skel.h"
// clang-format on
#include "tuner_bpf.h"

namespace bpftune::collector {

// kfree_skb: calls are every dropped skb in the system, collected the IP fragments among them.
Result<std::unique_ptr<BpfObject>> attachIpFragBpf(const BpfConfig& config) {
  return attachTunerBpf<ip_frag_bpf>(config, "ip_frag", {"tp_btf/kfree_skb"}, {{"kfree_skb", 1}});
}

}  // namespace bpftune::collector
