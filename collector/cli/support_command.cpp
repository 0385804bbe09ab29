// `bpftune support`: which hooks and features work on this kernel, and why not.
#include <iostream>

#include "commands.h"
#include "support.h"

namespace bpftune::cli {

int supportCommand(const Options& options) {
  auto items = collector::probeSupport();
  size_t width = 0;
  for (const auto& item : items) {
    width = std::max(width, item.feature.size());
  }
  int working = 0;
  for (const auto& item : items) {
    working += item.works ? 1 : 0;
    std::cout << (item.works ? "  yes  " : "  no   ") << item.feature
              << std::string(width - item.feature.size() + 2, ' ') << item.detail << '\n';
  }
  std::cout << working << " of " << items.size() << " features work here\n";
  return 0;
}

}  // namespace bpftune::cli
