#include "log.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <string>

namespace bpftune::log {
namespace {

std::atomic<Level>& currentLevel() {
  static std::atomic<Level> level{Level::INFO};
  return level;
}
std::string& prefixStorage() {
  static std::string prefix = "bpftune";
  return prefix;
}

const char* levelName(Level level) {
  switch (level) {
    case Level::DEBUG:
      return "debug";
    case Level::INFO:
      return "info";
    case Level::NOTICE:
      return "notice";
    case Level::WARNING:
      return "warning";
    case Level::ERROR:
      return "error";
  }
  return "?";
}

}  // namespace

void setLevel(Level level) {
  currentLevel() = level;
}
void setPrefix(std::string_view prefix) {
  prefixStorage() = std::string(prefix);
}

void write(Level level, std::string_view message) {
  if (level < currentLevel().load()) {
    return;
  }
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  tm parts{};
  gmtime_r(&now.tv_sec, &parts);
  char stamp[32];
  strftime(stamp, sizeof(stamp), "%H:%M:%S", &parts);
  std::string line;
  line.reserve(message.size() + 64);
  line += stamp;
  line += ' ';
  line += prefixStorage();
  line += '[';
  line += std::to_string(getpid());
  line += "] ";
  line += levelName(level);
  line += ": ";
  line += message;
  line += '\n';
  // One write per line keeps lines from the two daemons whole on a shared stderr.
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

std::string sanitize(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) {
      c = '?';
    }
  }
  return out;
}

}  // namespace bpftune::log
