// `bpftune tunables`: what each tuner of this build may change. Compiled-in tables only: no
// privilege, no daemon.
#include <iomanip>
#include <iostream>

#include "commands.h"
#include "log.h"
#include "query_json.h"

namespace bpftune::cli {

int tunablesCommand(const Options& options) {
  // tcp_conn's factory logs the congestion control algorithms it found: not this answer.
  log::setLevel(log::Level::WARNING);
  nlohmann::json tunables = tunablesJson();
  if (options.json) {
    std::cout << tunables.dump(2) << '\n';
    return 0;
  }
  std::cout << std::left << std::setw(13) << "tuner" << std::setw(38) << "tunable" << std::setw(9)
            << "type" << std::setw(8) << "values"
            << "scope\n";
  for (const auto& [tuner, entries] : tunables.items()) {
    for (const auto& [name, info] : entries.items()) {
      std::cout << std::setw(13) << tuner << std::setw(38) << name << std::setw(9)
                << info["type"].get<std::string>() << std::setw(8) << info["num_values"].dump()
                << info["scope"].get<std::string>() << '\n';
    }
  }
  return 0;
}

}  // namespace bpftune::cli
