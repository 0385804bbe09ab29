// `bpftune status`: the collector publishes a JSON status document; this renders it. It needs
// no privilege and talks to no daemon, so it works while the pair is jailed.
#include <signal.h>
#include <sys/stat.h>
#include <time.h>

#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "commands.h"
#include "query_json.h"

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

std::string field(const nlohmann::json& node, const char* key) {
  if (!node.contains(key)) {
    return "";
  }
  const nlohmann::json& value = node[key];
  std::string text = value.is_string() ? value.get<std::string>() : value.dump();
  // The collector is not trusted to keep a terminal sane: names come from mount paths.
  for (char& c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) == 0x7f) {
      c = '?';
    }
  }
  return text;
}

// One line per namespace: with 1000 namespaces the generic rendering would be 9000 lines.
void renderNamespaces(const nlohmann::json& namespaces, std::ostream& out) {
  out << "namespaces:\n  " << std::left << std::setw(10) << "cookie" << std::setw(12) << "inode"
      << std::setw(9) << "state" << std::setw(12) << "held_by" << std::setw(8) << "events"
      << "name / tuners\n";
  for (const nlohmann::json& ns : namespaces) {
    if (!ns.is_object()) {
      continue;
    }
    std::string tuners;
    if (ns.contains("tuners") && ns["tuners"].is_object()) {
      for (auto it = ns["tuners"].begin(); it != ns["tuners"].end(); ++it) {
        tuners += " " + it.key() + "=" + (it->is_string() ? it->get<std::string>() : it->dump());
      }
    }
    std::string name = field(ns, "name");
    out << "  " << std::setw(10) << field(ns, "cookie") << std::setw(12) << field(ns, "inode")
        << std::setw(9) << field(ns, "state") << std::setw(12) << field(ns, "held_by")
        << std::setw(8) << field(ns, "events") << (name.empty() ? "-" : name) << " "
        << tuners.substr(tuners.empty() ? 0 : 1) << '\n';
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
    std::cout << statusWithUpstreamKeys(status).dump(2) << '\n';
    return 0;
  }
  if (auto warning = staleness(path, status); !warning.empty()) {
    std::cout << warning << '\n';
  }
  nlohmann::json namespaces;
  if (status.is_object() && status.contains("namespaces") && status["namespaces"].is_array()) {
    namespaces = status["namespaces"];
    status.erase("namespaces");
  }
  render(status, "", std::cout);
  if (!namespaces.is_null()) {
    renderNamespaces(namespaces, std::cout);
  }
  return 0;
}

}  // namespace bpftune::cli
