#include "system_info.h"

#include <sys/socket.h>

#include <cerrno>
#include <charconv>
#include <fstream>
#include <sstream>

#include "cpu_mask.h"
#include "tunable_table.h"
#include "unique_fd.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

namespace bpftune::collector {
namespace {

struct ZoneSums {
  int64_t normal = 0;
  int64_t dma32 = 0;
};

// Value after `key` on a zoneinfo line such as "        high     12345".
bool fieldValue(std::string_view line, std::string_view key, int64_t& out) {
  size_t start = line.find_first_not_of(' ');
  if (start == std::string_view::npos || line.substr(start, key.size()) != key) {
    return false;
  }
  std::string_view rest = line.substr(start + key.size());
  if (rest.empty() || rest.front() != ' ') {
    return false;
  }
  size_t digits = rest.find_first_not_of(' ');
  if (digits == std::string_view::npos) {
    return false;
  }
  auto [end, ec] = std::from_chars(rest.data() + digits, rest.data() + rest.size(), out);
  return ec == std::errc();
}

// "Node 0, zone   Normal" -> "Normal" (the kernel pads the name to 8 columns).
std::string_view zoneName(std::string_view line) {
  size_t at = line.find("zone ");
  if (at == std::string_view::npos) {
    return {};
  }
  std::string_view rest = line.substr(at + 5);
  size_t start = rest.find_first_not_of(' ');
  return start == std::string_view::npos ? std::string_view{} : rest.substr(start);
}

}  // namespace

int64_t freeBufferPagesFromZoneinfo(std::string_view zoneinfo) {
  ZoneSums sums;
  int64_t* current = nullptr;
  int64_t managed = 0;
  int64_t high = 0;
  auto flush = [&] {
    if (current != nullptr && managed > high) {
      *current += managed - high;
    }
    managed = high = 0;
  };
  size_t pos = 0;
  while (pos < zoneinfo.size()) {
    size_t eol = zoneinfo.find('\n', pos);
    std::string_view line = zoneinfo.substr(pos, eol == std::string_view::npos ? eol : eol - pos);
    pos = eol == std::string_view::npos ? zoneinfo.size() : eol + 1;
    if (line.rfind("Node ", 0) == 0) {
      flush();
      current = nullptr;
      std::string_view zone = zoneName(line);
      if (zone == "Normal") {
        current = &sums.normal;
      } else if (zone == "DMA32") {
        current = &sums.dma32;
      }
      continue;
    }
    int64_t v = 0;
    if (fieldValue(line, "managed", v)) {
      managed = v;
    } else if (fieldValue(line, "high", v)) {
      high = v;
    }
  }
  flush();
  return sums.normal > 0 ? sums.normal : sums.dma32;
}

Result<int64_t> readFreeBufferPages(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return makeError("cannot open " + path, errno);
  }
  std::stringstream text;
  text << in.rdbuf();
  int64_t pages = freeBufferPagesFromZoneinfo(text.str());
  if (pages <= 0) {
    return makeError("no Normal or DMA32 zone with free pages in " + path);
  }
  return pages;
}

Result<uint64_t> homeNetnsCookie() {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return makeError("socket", errno);
  }
  uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) != 0) {
    return makeError("getsockopt(SO_NETNS_COOKIE)", errno);
  }
  return cookie;
}

Result<tuners::Values> parseSysctlValues(std::string_view text, uint8_t count) {
  tuners::Values values;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (p < end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n')) {
      ++p;
    }
    if (p == end) {
      break;
    }
    if (values.count >= 3) {
      return makeError("more than 3 values in '" + std::string(text) + "'");
    }
    int64_t v = 0;
    auto [next, ec] = std::from_chars(p, end, v);
    if (ec != std::errc()) {
      return makeError("not a number in '" + std::string(text) + "'");
    }
    values.v[values.count++] = v;
    p = next;
  }
  if (values.count != count) {
    return makeError("expected " + std::to_string(count) + " values, got '" + std::string(text) +
                     "'");
  }
  return values;
}

Result<tuners::Values> readTunable(proto::TunableId id, const std::string& procRoot) {
  const policy::TunableInfo* info = policy::findTunable(id);
  if (info == nullptr) {
    return makeError("unknown tunable id " + std::to_string(static_cast<int>(id)));
  }
  // One file, or for the neighbour thresholds one file per value (gc_thresh1..3), in order.
  std::stringstream text;
  for (const std::string& file : policy::procFiles(*info)) {
    std::string path = procRoot;
    path += "/";
    path += file;
    std::ifstream in(path);
    if (!in) {
      return makeError("cannot read " + path, errno);
    }
    text << in.rdbuf() << '\n';
  }
  if (info->kind == policy::ValueKind::CPU_MASK) {
    auto mask = policy::parseCpuMask(text.str());
    if (!mask) {
      return mask.error();
    }
    return tuners::Values{1, {*mask, 0, 0}};
  }
  return parseSysctlValues(text.str(), info->count);
}

}  // namespace bpftune::collector
