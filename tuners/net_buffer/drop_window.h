// Counts CPU_BACKLOG drops in upstream's one-minute window. Every event carries the cumulative
// drop total, so each drop counts exactly once however many events were de-duplicated, and a
// decision consumes the drops it was based on: the next one needs new drops (upstream counts
// each drop twice and never resets after acting, so every further drop re-proposes growth).
#pragma once

#include <cstdint>

namespace bpftune::tuners::net_buffer {

class DropWindow {
public:
  static constexpr uint64_t WINDOW_NS = 60ULL * 1000 * 1000 * 1000;

  // total: drops since the BPF object was loaded, as of tsNs (monotonic).
  void observe(uint64_t tsNs, uint64_t total);
  // Drops counted in the current window and not yet acted on.
  uint64_t drops() const { return latest - base; }
  // Nanoseconds since the current window started (0 before the first observation).
  uint64_t age(uint64_t tsNs) const { return open && tsNs > startNs ? tsNs - startNs : 0; }
  // A decision was taken on the drops counted so far.
  void consume() { base = latest; }

private:
  bool open = false;
  uint64_t startNs = 0;
  uint64_t base = 0;    // total when the window started or was last consumed
  uint64_t latest = 0;  // total at the latest observation
};

}  // namespace bpftune::tuners::net_buffer
