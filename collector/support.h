// What works on this kernel and for this process: the `bpftune support` report. Every probe
// loads (and detaches again) a tiny program; nothing stays attached.
#pragma once

#include <string>
#include <vector>

namespace bpftune::collector {

struct SupportItem {
  std::string feature;  // e.g. "tp_btf attach"
  bool works = false;
  std::string detail;  // what was seen, or why it does not work
};

// Needs CAP_BPF+CAP_PERFMON (or root) for the BPF probes; without them those items say so.
std::vector<SupportItem> probeSupport();

}  // namespace bpftune::collector
