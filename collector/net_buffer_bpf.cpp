#include "net_buffer_bpf.h"

#include "net_buffer.h"
#include "sample.h"
// After sample.h: the skeleton's .bss holds struct bpftune_sample.
#include "net_buffer.skel.h"
#include "system_info.h"
#include "tuner_bpf.h"

namespace bpftune::collector {

// kfree_skb counts only CPU_BACKLOG drops: every other reason returns before counting.
Result<std::unique_ptr<BpfObject>> attachNetBufferBpf(const BpfConfig& config) {
  static_assert(NET_BUFFER_HOOK_BACKLOG_DROP == 0 && NET_BUFFER_HOOK_NAPI_POLL == 1);
  // The tunables are machine-wide: events name the namespace the collector decides in.
  auto home = homeNetnsCookie();
  if (!home) {
    return home.error();
  }
  return attachTunerBpf<net_buffer_bpf>(config,
                                        "net_buffer",
                                        {"tp_btf/kfree_skb", "tp_btf/napi_poll"},
                                        {{"kfree_skb(CPU_BACKLOG)", 1}, {"napi_poll", 4}},
                                        [&](net_buffer_bpf& skel) -> Status {
                                          skel.rodata->bpftune_home_netns_cookie = *home;
                                          return Ok{};
                                        });
}

}  // namespace bpftune::collector
