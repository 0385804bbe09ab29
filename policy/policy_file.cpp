#include "policy_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <sstream>
#include <vector>

#include "unique_fd.h"

namespace bpftune::policy {
namespace {

constexpr size_t MAX_POLICY_BYTES = size_t{64} * 1024;

struct LineError {
  std::string message;
};

bool parseInt(std::string_view text, int64_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && !text.empty();
}

bool parseU32(std::string_view text, uint32_t& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end && !text.empty();
}

// "25%" -> 25
std::string parseStep(std::string_view value, Limits& limits) {
  if (value.empty() || value.back() != '%' ||
      !parseU32(value.substr(0, value.size() - 1), limits.stepPercent) || limits.stepPercent == 0 ||
      limits.stepPercent > 1000) {
    return "step must be a percentage 1%..1000%, got '" + std::string(value) + "'";
  }
  return {};
}

// "20/10s" -> 20 changes per 10 seconds
std::string parseRate(std::string_view value, Limits& limits) {
  std::string bad =
      "rate must look like 20/10s (count/window with s, m or h), got '" + std::string(value) + "'";
  auto slash = value.find('/');
  if (slash == std::string_view::npos || value.size() < slash + 3) {
    return bad;
  }
  std::string_view window = value.substr(slash + 1);
  uint32_t unit = window.back() == 's'   ? 1
                  : window.back() == 'm' ? 60
                  : window.back() == 'h' ? 3600
                                         : 0;
  uint32_t amount = 0;
  if (unit == 0 || !parseU32(value.substr(0, slash), limits.rateCount) ||
      !parseU32(window.substr(0, window.size() - 1), amount) || limits.rateCount == 0 ||
      amount == 0 || amount > 86400) {
    return bad;
  }
  limits.rateWindowSeconds = amount * unit;
  return {};
}

std::string parseKey(std::string_view word, Limits& limits, bool& haveMin, bool& haveMax) {
  auto eq = word.find('=');
  if (eq == std::string_view::npos) {
    return "expected key=value, got '" + std::string(word) + "'";
  }
  std::string_view key = word.substr(0, eq);
  std::string_view value = word.substr(eq + 1);
  if (key == "min") {
    haveMin = parseInt(value, limits.min);
    return haveMin ? "" : "min must be an integer, got '" + std::string(value) + "'";
  }
  if (key == "max") {
    haveMax = parseInt(value, limits.max);
    return haveMax ? "" : "max must be an integer, got '" + std::string(value) + "'";
  }
  if (key == "step") {
    return parseStep(value, limits);
  }
  if (key == "rate") {
    return parseRate(value, limits);
  }
  return "unknown key '" + std::string(key) + "' (known: min max step rate)";
}

std::string checkLimits(const TunableInfo& info, const Limits& limits, bool haveMin, bool haveMax) {
  if (!haveMin || !haveMax) {
    return std::string(info.name) + " needs both min= and max=";
  }
  if (limits.min > limits.max) {
    return "min " + std::to_string(limits.min) + " is above max " + std::to_string(limits.max);
  }
  if (limits.min < 0) {
    return "min must not be negative";
  }
  if (info.kind == ValueKind::BOOLEAN && limits.max > 1) {
    return std::string(info.name) + " is a boolean: max must be 0 or 1";
  }
  return {};
}

std::string parseLine(std::string_view line, Policy& policy) {
  std::istringstream words{std::string(line)};
  std::string name;
  words >> name;
  const TunableInfo* info = findTunable(name);
  if (info == nullptr) {
    return "unknown tunable '" + name + "'";
  }
  if (policy.find(info->id) != nullptr) {
    return std::string(info->name) + " appears twice";
  }
  Limits limits;
  bool haveMin = false;
  bool haveMax = false;
  std::string word;
  while (words >> word) {
    std::string problem = parseKey(word, limits, haveMin, haveMax);
    if (!problem.empty()) {
      return problem;
    }
  }
  std::string problem = checkLimits(*info, limits, haveMin, haveMax);
  if (problem.empty()) {
    policy.set(info->id, limits);
  }
  return problem;
}

bool printableChar(char c) {
  auto byte = static_cast<unsigned char>(c);
  return (byte >= 0x20 || c == '\t') && byte < 0x7f;
}

bool printable(std::string_view line) {
  return std::all_of(line.begin(), line.end(), printableChar);
}

}  // namespace

const Limits* Policy::find(TunableId id) const {
  auto it = limits.find(id);
  return it == limits.end() ? nullptr : &it->second;
}

Result<Policy> parsePolicy(std::string_view text) {
  Policy policy;
  size_t lineNo = 0;
  while (!text.empty()) {
    ++lineNo;
    auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (!printable(line)) {
      return makeError("policy line " + std::to_string(lineNo) + ": non-printable characters");
    }
    line = line.substr(0, line.find('#'));
    if (line.find_first_not_of(" \t\r") == std::string_view::npos) {
      continue;
    }
    std::string problem = parseLine(line, policy);
    if (!problem.empty()) {
      return makeError("policy line " + std::to_string(lineNo) + ": " + problem);
    }
  }
  return policy;
}

Result<Policy> loadPolicyFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    return makeError("policy " + path + ": cannot open (a symlink is refused)", errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) {
    return makeError("policy " + path + ": stat", errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return makeError("policy " + path + ": not a regular file");
  }
  if (st.st_uid != 0) {
    return makeError("policy " + path + ": owned by uid " + std::to_string(st.st_uid) +
                     "; it must be owned by root");
  }
  if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
    std::ostringstream mode;
    mode << std::oct << (st.st_mode & 07777);
    return makeError("policy " + path + ": writable by group or others (mode " + mode.str() +
                     "); chmod go-w it");
  }
  if (st.st_size > static_cast<off_t>(MAX_POLICY_BYTES)) {
    return makeError("policy " + path + ": larger than 64 KiB");
  }
  std::string text(static_cast<size_t>(st.st_size), '\0');
  ssize_t n = ::pread(fd.get(), text.data(), text.size(), 0);
  if (n != st.st_size) {
    return makeError("policy " + path + ": short read", n < 0 ? errno : 0);
  }
  auto policy = parsePolicy(text);
  if (!policy) {
    return makeError(path + ": " + policy.error().message);
  }
  return policy;
}

}  // namespace bpftune::policy
