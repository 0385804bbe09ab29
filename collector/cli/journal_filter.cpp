#include "journal_filter.h"

#include <charconv>
#include <ctime>
#include <limits>

#include "tunable_table.h"

namespace bpftune::cli {
namespace {

constexpr int64_t NS_PER_SEC = 1000000000;

std::string_view usage() {
  return "expected an age such as 30s, 10m, 2h, 1d or 1w, @SECONDS since the epoch, or a UTC time "
         "such as 2026-01-31, 2026-01-31T08:00 or 2026-01-31T08:00:00Z";
}

Error sinceError(std::string_view text) {
  return makeError("--since: '" + std::string(text) + "': " + std::string(usage()));
}

// Digits only (no sign, no space): from_chars would accept what we then reject anyway.
std::optional<int64_t> digits(std::string_view text) {
  if (text.empty() || text.size() > 18) {
    return std::nullopt;
  }
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value < 0) {
    return std::nullopt;
  }
  return value;
}

std::optional<int64_t> unitSeconds(char unit) {
  switch (unit) {
    case 's':
      return 1;
    case 'm':
      return 60;
    case 'h':
      return 3600;
    case 'd':
      return 86400;
    case 'w':
      return 7 * 86400;
    default:
      return std::nullopt;
  }
}

std::optional<int64_t> relative(std::string_view text, int64_t nowNs) {
  if (text.starts_with('-')) {
    text.remove_prefix(1);
  }
  if (text.size() < 2) {
    return std::nullopt;
  }
  auto unit = unitSeconds(text.back());
  auto count = digits(text.substr(0, text.size() - 1));
  if (!unit || !count || *count > std::numeric_limits<int64_t>::max() / NS_PER_SEC / *unit) {
    return std::nullopt;
  }
  return nowNs - *count * *unit * NS_PER_SEC;
}

// Fixed-width fields at fixed positions: "YYYY-MM-DD[(T| )HH:MM[:SS]][Z]".
std::optional<int64_t> absolute(std::string_view text) {
  if (text.ends_with('Z')) {
    text.remove_suffix(1);
  }
  if (text.size() != 10 && text.size() != 16 && text.size() != 19) {
    return std::nullopt;
  }
  if (text[4] != '-' || text[7] != '-' ||
      (text.size() > 10 && ((text[10] != 'T' && text[10] != ' ') || text[13] != ':')) ||
      (text.size() == 19 && text[16] != ':')) {
    return std::nullopt;
  }
  auto field = [&](size_t at, size_t len) {
    return digits(text.substr(at, len));
  };
  auto year = field(0, 4);
  auto month = field(5, 2);
  auto day = field(8, 2);
  auto hour = text.size() > 10 ? field(11, 2) : std::optional<int64_t>(0);
  auto minute = text.size() > 10 ? field(14, 2) : std::optional<int64_t>(0);
  auto second = text.size() == 19 ? field(17, 2) : std::optional<int64_t>(0);
  if (!year || !month || !day || !hour || !minute || !second || *year < 1970) {
    return std::nullopt;
  }
  tm parts{};
  parts.tm_year = static_cast<int>(*year - 1900);
  parts.tm_mon = static_cast<int>(*month - 1);
  parts.tm_mday = static_cast<int>(*day);
  parts.tm_hour = static_cast<int>(*hour);
  parts.tm_min = static_cast<int>(*minute);
  parts.tm_sec = static_cast<int>(*second);
  time_t secs = timegm(&parts);
  // timegm normalizes (Feb 30 becomes Mar 2): a date that moved was not a date.
  if (parts.tm_year != *year - 1900 || parts.tm_mon != *month - 1 || parts.tm_mday != *day ||
      parts.tm_hour != *hour || parts.tm_min != *minute || parts.tm_sec != *second) {
    return std::nullopt;
  }
  return static_cast<int64_t>(secs) * NS_PER_SEC;
}

}  // namespace

Result<int64_t> parseSince(std::string_view text, int64_t nowNs) {
  if (text.starts_with('@')) {
    auto secs = digits(text.substr(1));
    if (!secs || *secs > std::numeric_limits<int64_t>::max() / NS_PER_SEC) {
      return sinceError(text);
    }
    return *secs * NS_PER_SEC;
  }
  auto found = text.find('-', 1) != std::string_view::npos ? absolute(text) : relative(text, nowNs);
  if (!found) {
    return sinceError(text);
  }
  return *found;
}

Result<proto::TunerId> parseTunerFilter(std::string_view name) {
  if (const auto* tuner = policy::findTuner(name); tuner != nullptr) {
    return *tuner;
  }
  for (auto pseudo : {proto::TunerId::ADMIN, proto::TunerId::ACTUATOR}) {
    if (policy::tunerName(pseudo) == name) {
      return pseudo;
    }
  }
  std::string known;
  for (auto tuner : policy::allTuners()) {
    known += std::string(policy::tunerName(tuner)) + ", ";
  }
  return makeError("--tuner: unknown tuner '" + std::string(name) + "' (one of " + known +
                   std::string(policy::tunerName(proto::TunerId::ADMIN)) + ", " +
                   std::string(policy::tunerName(proto::TunerId::ACTUATOR)) + ")");
}

bool JournalFilter::matches(const journal::Record& r) const {
  if (sinceNs && r.realtimeNs < *sinceNs) {
    return false;
  }
  bool start = r.kind == proto::RecordKind::START;
  if (tuner && (start || r.tuner != *tuner)) {
    return false;
  }
  if (netnsCookie &&
      (start || (r.netnsCookie != *netnsCookie && r.causeNetnsCookie != *netnsCookie))) {
    return false;
  }
  return true;
}

}  // namespace bpftune::cli
