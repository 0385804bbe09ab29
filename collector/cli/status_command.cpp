// `bpftune status`: the collector publishes a JSON status document; this renders it. It needs
// no privilege and talks to no daemon, so it works while the pair is jailed.
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"

namespace bpftune::cli {
namespace {

void render(const nlohmann::json& node, const std::string& indent, std::ostream& out) {
  for (auto it = node.begin(); it != node.end(); ++it) {
    std::string key = node.is_object() ? it.key() : "-";
    if (it->is_structured() && !it->empty()) {
      out << indent << key << ":\n";
      render(*it, indent + "  ", out);
    } else if (it->is_string()) {
      out << indent << key << ": " << it->get<std::string>() << '\n';
    } else {
      out << indent << key << ": " << it->dump() << '\n';
    }
  }
}

// Liveness is judged from the document's own pid and the file's age, never trusted blindly.
std::string staleness(const std::string& path, const nlohmann::json& status) {
  struct stat info {};
  if (stat(path.c_str(), &info) == 0) {
    long age = static_cast<long>(time(nullptr) - info.st_mtime);
    if (age > 5) {
      return "warning: the status is " + std::to_string(age) + " s old";
    }
  }
  if (status.contains("pid") && status["pid"].is_number_integer()) {
    int pid = status["pid"].get<int>();
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
      return "warning: the collector (pid " + std::to_string(pid) + ") is not running";
    }
  }
  return {};
}

}  // namespace

int statusCommand(const Options& options) {
  const std::string path = options.paths.statusFile();
  std::ifstream file(path);
  if (!file) {
    std::cerr << "bpftune: no status at " << path
              << ": the collector is not running (start it with `bpftune run`)\n";
    return 3;
  }
  std::stringstream text;
  text << file.rdbuf();
  nlohmann::json status = nlohmann::json::parse(text.str(), nullptr, false);
  if (status.is_discarded()) {
    std::cerr << "bpftune: " << path << " is not valid JSON\n";
    return 1;
  }
  if (options.json) {
    std::cout << status.dump(2) << '\n';
    return 0;
  }
  if (auto warning = staleness(path, status); !warning.empty()) {
    std::cout << warning << '\n';
  }
  render(status, "", std::cout);
  return 0;
}

}  // namespace bpftune::cli
