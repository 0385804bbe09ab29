#include "drop_window.h"

namespace bpftune::tuners::net_buffer {

void DropWindow::observe(uint64_t tsNs, uint64_t total) {
  if (total < latest) {
    // Totals only grow; a smaller one starts a new series (a reloaded BPF object).
    *this = DropWindow();
  }
  if (!open || tsNs < startNs || tsNs - startNs >= WINDOW_NS) {
    // Drops since the previous observation belong to the new window: they came after it.
    open = true;
    startNs = tsNs;
    base = latest;
  }
  latest = total;
}

}  // namespace bpftune::tuners::net_buffer
