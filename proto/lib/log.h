// Logging to stderr. Every entry point takes the message as data: there is no printf-style
// interface, so nothing read from the kernel, the wire or a file can become a format string.
#pragma once

#include <string_view>

namespace bpftune::log {

enum class Level {
  DEBUG,
  INFO,
  NOTICE,
  WARNING,
  ERROR
};

void setLevel(Level level);
void setPrefix(std::string_view prefix);  // e.g. "collector", "actuator"
void write(Level level, std::string_view message);

inline void debug(std::string_view m) {
  write(Level::DEBUG, m);
}
inline void info(std::string_view m) {
  write(Level::INFO, m);
}
inline void notice(std::string_view m) {
  write(Level::NOTICE, m);
}
inline void warning(std::string_view m) {
  write(Level::WARNING, m);
}
inline void error(std::string_view m) {
  write(Level::ERROR, m);
}

// Replaces control characters and non-ASCII bytes with '?' so that data from the kernel or a
// peer cannot forge log lines.
std::string sanitize(std::string_view text);

}  // namespace bpftune::log
