#include "journal_record.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>

#include <capnp/message.h>
#include <capnp/serialize.h>
#include <kj/exception.h>

#include "log.h"
#include "tunable_table.h"
#include "unique_fd.h"

namespace bpftune::journal {
namespace {

// A record is about 40 words; anything much larger is not ours.
constexpr uint64_t TRAVERSAL_LIMIT_WORDS = 1024;
constexpr size_t DIGEST_MAX = 64;
constexpr size_t COMM_MAX = 16;
constexpr size_t IFNAME_MAX = 16;

std::string sourceName(proto::OverrideSource source) {
  switch (source) {
    case proto::OverrideSource::NONE:
      return "none";
    case proto::OverrideSource::SYSCTL_HOOK:
      return "sysctlHook";
    case proto::OverrideSource::COMPARE_AND_SET:
      return "compareAndSet";
  }
  return "source#" + std::to_string(static_cast<unsigned>(source));
}

// Quotes a sanitized comm for JSON: sanitize() leaves printable ASCII, so only " and \ remain.
std::string jsonEscaped(const std::string& text) {
  std::string out;
  for (char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  return out;
}

void setValues(proto::JournalRecord::Builder& b, const Record& r) {
  b.setOld0(r.oldValues[0]);
  b.setOld1(r.oldValues[1]);
  b.setOld2(r.oldValues[2]);
  b.setNew0(r.newValues[0]);
  b.setNew1(r.newValues[1]);
  b.setNew2(r.newValues[2]);
  b.setActual0(r.actual[0]);
  b.setActual1(r.actual[1]);
  b.setActual2(r.actual[2]);
}

void setHost(proto::JournalRecord::Builder& b, const Record& r) {
  b.setHostFamily(r.host.family);
  b.setHostAddress0(r.host.word0());
  b.setHostAddress1(r.host.word1());
  b.setRouteTable(r.route.table);
  b.setRouteGateway0(r.route.gateway.word0());
  b.setRouteGateway1(r.route.gateway.word1());
  b.setRouteOif(r.route.oif);
  if (!r.route.ifname.empty()) {
    b.setRouteIfname(log::sanitize(r.route.ifname.substr(0, IFNAME_MAX)));
  }
  b.setRoutePrefsrc0(r.route.prefsrc.word0());
  b.setRoutePrefsrc1(r.route.prefsrc.word1());
  b.setRouteCoveringLen(r.route.coveringLen);
  b.setSocketLocalPort(r.socket.localPort);
  b.setSocketRemotePort(r.socket.remotePort);
  b.setSocketRetransmits(r.socket.retransmits);
  b.setSocketSegsOut(r.socket.segsOut);
}

// A gateway or source address has the host's family; all-zero words mean "none".
HostAddress addressOrNone(uint8_t family, uint64_t word0, uint64_t word1) {
  return word0 == 0 && word1 == 0 ? HostAddress{} : HostAddress::fromWords(family, word0, word1);
}

Status getHost(proto::JournalRecord::Reader& in, Record& r) {
  r.host =
      in.getHostFamily() == 0
          ? HostAddress{}
          : HostAddress::fromWords(in.getHostFamily(), in.getHostAddress0(), in.getHostAddress1());
  r.route.table = in.getRouteTable();
  r.route.gateway = addressOrNone(r.host.family, in.getRouteGateway0(), in.getRouteGateway1());
  r.route.oif = in.getRouteOif();
  auto ifname = in.getRouteIfname();
  if (ifname.size() > IFNAME_MAX) {
    return makeError("routeIfname longer than 16 bytes");
  }
  r.route.ifname = log::sanitize(std::string_view(ifname.cStr(), ifname.size()));
  r.route.prefsrc = addressOrNone(r.host.family, in.getRoutePrefsrc0(), in.getRoutePrefsrc1());
  r.route.coveringLen = in.getRouteCoveringLen();
  r.socket = {in.getSocketLocalPort(),
              in.getSocketRemotePort(),
              in.getSocketRetransmits(),
              in.getSocketSegsOut()};
  return Ok{};
}

bool hasScenario(proto::RecordKind kind) {
  return kind != proto::RecordKind::OVERRIDE && kind != proto::RecordKind::RESUME;
}

bool isCongctl(proto::TunableId id) {
  return id == proto::TunableId::ROUTE_CONGCTL || id == proto::TunableId::SOCKET_CONGCTL;
}

// routeCongctl/socketCongctl values are algorithms: " host=... table=... via=... dev=..." for
// the text line.
std::string hostText(const Record& r) {
  if (r.host.empty()) {
    return "";
  }
  std::string out = " host=" + r.host.text();
  if (r.tunable == proto::TunableId::ROUTE_CONGCTL && r.route.table != 0) {
    out += " table=" + std::to_string(r.route.table) +
           " via=" + (r.route.gateway.empty() ? "onlink" : r.route.gateway.text()) +
           " dev=" + r.route.ifname + "(" + std::to_string(r.route.oif) + ")";
    if (!r.route.prefsrc.empty()) {
      out += " src=" + r.route.prefsrc.text();
    }
    out += " covering=/" + std::to_string(r.route.coveringLen);
  }
  if (r.tunable == proto::TunableId::SOCKET_CONGCTL) {
    out += " lport=" + std::to_string(r.socket.localPort) +
           " rport=" + std::to_string(r.socket.remotePort) +
           " retrans=" + std::to_string(r.socket.retransmits) +
           " segs_out=" + std::to_string(r.socket.segsOut);
  }
  return out;
}

void getValues(proto::JournalRecord::Reader& in, Record& r) {
  r.oldValues = {in.getOld0(), in.getOld1(), in.getOld2()};
  r.newValues = {in.getNew0(), in.getNew1(), in.getNew2()};
  r.actual = {in.getActual0(), in.getActual1(), in.getActual2()};
}

std::string kindName(proto::RecordKind kind) {
  switch (kind) {
    case proto::RecordKind::INTENT:
      return "intent";
    case proto::RecordKind::OUTCOME:
      return "outcome";
    case proto::RecordKind::RECOVERED:
      return "recovered";
    case proto::RecordKind::START:
      return "start";
    case proto::RecordKind::OVERRIDE:
      return "override";
    case proto::RecordKind::RESUME:
      return "resume";
    case proto::RecordKind::PROPOSAL:
      return "proposal";
    case proto::RecordKind::LIVE_SWITCH:
      return "liveSwitch";
  }
  return "kind#" + std::to_string(static_cast<unsigned>(kind));
}

std::string resultName(proto::OutcomeResult result) {
  switch (result) {
    case proto::OutcomeResult::APPLIED:
      return "applied";
    case proto::OutcomeResult::NOT_APPLIED:
      return "notApplied";
    case proto::OutcomeResult::WRITE_FAILED:
      return "writeFailed";
    case proto::OutcomeResult::MISMATCH:
      return "mismatch";
    case proto::OutcomeResult::NETNS_GONE:
      return "netnsGone";
  }
  return "result#" + std::to_string(static_cast<unsigned>(result));
}

std::string tunableText(proto::TunableId id) {
  const auto* info = policy::findTunable(id);
  return info != nullptr ? std::string(info->name)
                         : "tunable#" + std::to_string(static_cast<unsigned>(id));
}

std::string valuesText(const Values& v, uint8_t count) {
  std::string out;
  for (uint8_t i = 0; i < count && i < v.size(); ++i) {
    out += (i == 0 ? "" : " ") + std::to_string(v[i]);
  }
  return out;
}

// Algorithms by name for the congctl tunables, numbers for everything else.
std::string valuesText(const Record& r, const Values& v) {
  if (isCongctl(r.tunable) && r.count == 1) {
    return std::string(policy::congAlgName(v[0]));
  }
  return valuesText(v, r.count);
}

std::string valuesJson(const Values& v, uint8_t count) {
  std::string out = "[";
  for (uint8_t i = 0; i < count && i < v.size(); ++i) {
    out += (i == 0 ? "" : ",") + std::to_string(v[i]);
  }
  return out + "]";
}

std::string timeText(int64_t realtimeNs) {
  time_t secs = realtimeNs / 1000000000;
  tm parts{};
  gmtime_r(&secs, &parts);
  char stamp[40];
  strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &parts);
  return stamp;
}

int64_t clockNs(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Builds one flat JSON object. Keys and text values are our own names and digits: nothing needs
// escaping.
class JsonObject {
public:
  // A value written as is: a number or an array of numbers.
  void number(std::string_view key, std::string_view value) {
    addKey(key);
    out += value;
  }
  // A value written as a JSON string.
  void text(std::string_view key, std::string_view value) {
    addKey(key);
    out += '"';
    out += value;
    out += '"';
  }
  std::string finish() {
    out += '}';
    return std::move(out);
  }

private:
  void addKey(std::string_view key) {
    if (out.size() > 1) {
      out += ',';
    }
    out += '"';
    out += key;
    out += '"';
    out += ':';
  }

  std::string out = "{";
};

void hostJson(JsonObject& j, const Record& r) {
  if (r.host.empty()) {
    return;
  }
  j.text("host", r.host.text());
  if (isCongctl(r.tunable) && r.count == 1) {
    j.text("oldAlg", policy::congAlgName(r.oldValues[0]));
    j.text("newAlg", policy::congAlgName(r.newValues[0]));
  }
  if (r.tunable == proto::TunableId::ROUTE_CONGCTL && r.route.table != 0) {
    j.number("routeTable", std::to_string(r.route.table));
    j.text("routeGateway", r.route.gateway.empty() ? "" : r.route.gateway.text());
    j.number("routeOif", std::to_string(r.route.oif));
    j.text("routeIfname", jsonEscaped(r.route.ifname));
    j.text("routePrefsrc", r.route.prefsrc.empty() ? "" : r.route.prefsrc.text());
    j.number("routeCoveringLen", std::to_string(r.route.coveringLen));
  }
  if (r.tunable == proto::TunableId::SOCKET_CONGCTL) {
    j.number("localPort", std::to_string(r.socket.localPort));
    j.number("remotePort", std::to_string(r.socket.remotePort));
    j.number("retransmits", std::to_string(r.socket.retransmits));
    j.number("segsOut", std::to_string(r.socket.segsOut));
  }
}

}  // namespace

std::string recordKindName(proto::RecordKind kind) {
  return kindName(kind);
}
std::string outcomeName(proto::OutcomeResult result) {
  return resultName(result);
}
std::string tunableName(proto::TunableId id) {
  return tunableText(id);
}
std::string recordValuesText(const Record& record, const Values& values) {
  return valuesText(record, values);
}
bool recordHasScenario(proto::RecordKind kind) {
  return hasScenario(kind);
}

std::vector<uint8_t> encode(const Record& r) {
  capnp::MallocMessageBuilder message;
  auto b = message.initRoot<proto::JournalRecord>();
  b.setSeq(r.seq);
  b.setKind(r.kind);
  b.setRealtimeNs(r.realtimeNs);
  b.setMonotonicNs(r.monotonicNs);
  b.setBootId(kj::arrayPtr(r.bootId.data(), r.bootId.size()));
  b.setTuner(r.tuner);
  b.setScenario(r.scenario);
  b.setNetnsCookie(r.netnsCookie);
  b.setTunable(r.tunable);
  b.setCount(r.count);
  setValues(b, r);
  b.setRequesterPid(r.requesterPid);
  b.setRequesterUid(r.requesterUid);
  b.setIntentSeq(r.intentSeq);
  b.setResult(r.result);
  b.setError(r.error);
  b.setActuatorPid(r.actuatorPid);
  if (!r.filterDigest.empty()) {
    b.setFilterDigest(kj::arrayPtr(r.filterDigest.data(), r.filterDigest.size()));
  }
  b.setCauseNetnsCookie(r.causeNetnsCookie);
  b.setNetnsInode(r.netnsInode);
  b.setWriterPid(r.writerPid);
  b.setWriterUid(r.writerUid);
  if (!r.writerComm.empty()) {
    b.setWriterComm(log::sanitize(r.writerComm.substr(0, COMM_MAX)));
  }
  b.setOverrideSource(r.overrideSource);
  setHost(b, r);
  b.setProposalSeq(r.proposalSeq);
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  return {bytes.begin(), bytes.end()};
}

Result<Record> decode(const uint8_t* data, size_t size) {
  if (size == 0 || size % sizeof(capnp::word) != 0) {
    return makeError("payload size " + std::to_string(size) + " is not a whole number of words");
  }
  std::vector<capnp::word> words(size / sizeof(capnp::word));
  std::memcpy(words.data(), data, size);
  try {
    capnp::ReaderOptions options;
    options.traversalLimitInWords = TRAVERSAL_LIMIT_WORDS;
    options.nestingLimit = 4;
    capnp::FlatArrayMessageReader reader(kj::arrayPtr(words.data(), words.size()), options);
    auto in = reader.getRoot<proto::JournalRecord>();
    Record r;
    r.seq = in.getSeq();
    r.kind = in.getKind();
    r.realtimeNs = in.getRealtimeNs();
    r.monotonicNs = in.getMonotonicNs();
    auto boot = in.getBootId();
    if (boot.size() != r.bootId.size()) {
      return makeError("bootId has " + std::to_string(boot.size()) + " bytes, expected 16");
    }
    std::memcpy(r.bootId.data(), boot.begin(), boot.size());
    r.tuner = in.getTuner();
    r.scenario = in.getScenario();
    r.netnsCookie = in.getNetnsCookie();
    r.tunable = in.getTunable();
    r.count = in.getCount();
    getValues(in, r);
    r.requesterPid = in.getRequesterPid();
    r.requesterUid = in.getRequesterUid();
    r.intentSeq = in.getIntentSeq();
    r.result = in.getResult();
    r.error = in.getError();
    r.actuatorPid = in.getActuatorPid();
    auto digest = in.getFilterDigest();
    if (digest.size() > DIGEST_MAX) {
      return makeError("filterDigest too long");
    }
    r.filterDigest.assign(digest.begin(), digest.end());
    r.causeNetnsCookie = in.getCauseNetnsCookie();
    r.netnsInode = in.getNetnsInode();
    r.writerPid = in.getWriterPid();
    r.writerUid = in.getWriterUid();
    auto comm = in.getWriterComm();
    if (comm.size() > COMM_MAX) {
      return makeError("writerComm longer than 16 bytes");
    }
    r.writerComm = log::sanitize(std::string_view(comm.cStr(), comm.size()));
    r.overrideSource = in.getOverrideSource();
    r.proposalSeq = in.getProposalSeq();
    if (auto hostRead = getHost(in, r); !hostRead) {
      return hostRead.error();
    }
    return r;
  } catch (const kj::Exception& e) {
    return makeError("payload does not decode: " + log::sanitize(e.getDescription().cStr()));
  }
}

std::string toText(const Record& r) {
  std::string line =
      timeText(r.realtimeNs) + " seq=" + std::to_string(r.seq) + " " + kindName(r.kind);
  if (r.kind == proto::RecordKind::START) {
    return line + " boot=" + bootIdText(r.bootId) + " pid=" + std::to_string(r.actuatorPid) +
           " filter=" + hex(r.filterDigest.data(), r.filterDigest.size());
  }
  line += " tuner=" + std::string(policy::tunerName(r.tuner));
  // Overrides and resumes are an administrator's acts, not a tuner's scenario.
  if (hasScenario(r.kind)) {
    line += " scenario=\"" + std::string(policy::scenarioName(r.scenario)) + "\"";
  }
  line += " netns=" + std::to_string(r.netnsCookie);
  if (r.netnsInode != 0) {
    line += " netns_inode=" + std::to_string(r.netnsInode);
  }
  if (r.causeNetnsCookie != 0 && r.causeNetnsCookie != r.netnsCookie) {
    line += " cause_netns=" + std::to_string(r.causeNetnsCookie);
  }
  line += " " + tunableText(r.tunable) + hostText(r);
  if (r.kind == proto::RecordKind::OVERRIDE) {
    line += " written=" + valuesText(r, r.newValues) + " actual=" + valuesText(r, r.actual) +
            " source=" + sourceName(r.overrideSource) +
            " writer=uid:" + std::to_string(r.writerUid) + ",pid:" + std::to_string(r.writerPid) +
            ",comm:\"" + r.writerComm + "\"";
    return line + " requester=uid:" + std::to_string(r.requesterUid) +
           ",pid:" + std::to_string(r.requesterPid);
  }
  if (r.kind == proto::RecordKind::RESUME) {
    return line + " baseline=" + valuesText(r, r.actual) +
           " requester=uid:" + std::to_string(r.requesterUid) +
           ",pid:" + std::to_string(r.requesterPid);
  }
  line += " " + valuesText(r, r.oldValues) + " -> " + valuesText(r, r.newValues);
  if (r.proposalSeq != 0) {
    line += " proposal=" + std::to_string(r.proposalSeq);
  }
  if (r.kind != proto::RecordKind::INTENT && r.kind != proto::RecordKind::LIVE_SWITCH &&
      r.kind != proto::RecordKind::PROPOSAL) {
    line += " intent=" + std::to_string(r.intentSeq) + " result=" + resultName(r.result);
    line += " actual=" + valuesText(r, r.actual);
    if (r.error != 0) {
      line += " error=" + std::to_string(r.error);
    }
  }
  if (r.kind == proto::RecordKind::LIVE_SWITCH && r.error != 0) {
    line += " outside-policy error=" + std::to_string(r.error);  // it happened all the same
  }
  return line + " requester=uid:" + std::to_string(r.requesterUid) +
         ",pid:" + std::to_string(r.requesterPid);
}

// Only the fields that mean something for the record's kind, so a consumer never reads an
// intent's zero-filled "result" or "actual" as data.
std::string toJson(const Record& r) {
  JsonObject j;
  j.number("seq", std::to_string(r.seq));
  j.text("kind", kindName(r.kind));
  j.text("time", timeText(r.realtimeNs));
  j.number("realtimeNs", std::to_string(r.realtimeNs));
  j.number("monotonicNs", std::to_string(r.monotonicNs));
  j.text("bootId", bootIdText(r.bootId));
  if (r.kind == proto::RecordKind::START) {
    j.number("actuatorPid", std::to_string(r.actuatorPid));
    j.text("filterDigest", hex(r.filterDigest.data(), r.filterDigest.size()));
    return j.finish();
  }
  j.text("tuner", policy::tunerName(r.tuner));
  if (hasScenario(r.kind)) {
    j.text("scenario", policy::scenarioName(r.scenario));
  }
  j.number("netnsCookie", std::to_string(r.netnsCookie));
  j.number("netnsInode", std::to_string(r.netnsInode));
  j.number("causeNetnsCookie",
           std::to_string(r.causeNetnsCookie != 0 ? r.causeNetnsCookie : r.netnsCookie));
  j.text("tunable", tunableText(r.tunable));
  hostJson(j, r);
  if (r.kind == proto::RecordKind::OVERRIDE) {
    j.text("source", sourceName(r.overrideSource));
    j.number("writerPid", std::to_string(r.writerPid));
    j.number("writerUid", std::to_string(r.writerUid));
    j.text("writerComm", jsonEscaped(r.writerComm));
  }
  j.number("count", std::to_string(r.count));
  j.number("old", valuesJson(r.oldValues, r.count));
  j.number("new", valuesJson(r.newValues, r.count));
  j.number("requesterPid", std::to_string(r.requesterPid));
  j.number("requesterUid", std::to_string(r.requesterUid));
  if (r.kind == proto::RecordKind::OVERRIDE || r.kind == proto::RecordKind::RESUME) {
    j.number("actual", valuesJson(r.actual, r.count));
    return j.finish();
  }
  if (r.proposalSeq != 0) {
    j.number("proposalSeq", std::to_string(r.proposalSeq));
  }
  if (r.kind == proto::RecordKind::LIVE_SWITCH) {
    if (r.error != 0) {
      j.number("error", std::to_string(r.error));  // outside the policy (EPERM, ERANGE, EBUSY)
    }
    return j.finish();
  }
  if (r.kind != proto::RecordKind::INTENT && r.kind != proto::RecordKind::PROPOSAL) {
    j.number("intentSeq", std::to_string(r.intentSeq));
    j.text("result", resultName(r.result));
    j.number("error", std::to_string(r.error));
    j.number("actual", valuesJson(r.actual, r.count));
  }
  return j.finish();
}

std::string hex(const uint8_t* data, size_t size) {
  static constexpr char DIGITS[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += DIGITS[data[i] >> 4];
    out += DIGITS[data[i] & 0xf];
  }
  return out;
}

std::string bootIdText(const BootId& id) {
  return hex(id.data(), id.size());
}

Result<BootId> parseBootId(const std::string& text) {
  BootId id{};
  size_t n = 0;
  for (size_t i = 0; i < text.size() && text[i] != '\n'; ++i) {
    if (text[i] == '-') {
      continue;
    }
    int digit = std::isxdigit(static_cast<unsigned char>(text[i])) != 0
                    ? (std::isdigit(static_cast<unsigned char>(text[i])) != 0
                           ? text[i] - '0'
                           : (std::tolower(static_cast<unsigned char>(text[i])) - 'a' + 10))
                    : -1;
    if (digit < 0 || n >= 32) {
      return makeError("boot_id is not a UUID");
    }
    id[n / 2] = static_cast<uint8_t>(id[n / 2] | (digit << (n % 2 == 0 ? 4 : 0)));
    ++n;
  }
  if (n != 32) {
    return makeError("boot_id is not a UUID");
  }
  return id;
}

Result<BootId> readBootId() {
  UniqueFd fd(::open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) {
    return makeError("open /proc/sys/kernel/random/boot_id", errno);
  }
  char buf[64] = {};
  ssize_t n = ::read(fd.get(), buf, sizeof(buf) - 1);
  if (n <= 0) {
    return makeError("read /proc/sys/kernel/random/boot_id", n < 0 ? errno : 0);
  }
  return parseBootId(std::string(buf, static_cast<size_t>(n)));
}

int64_t realtimeNow() {
  return clockNs(CLOCK_REALTIME);
}
int64_t monotonicNow() {
  return clockNs(CLOCK_MONOTONIC);
}

}  // namespace bpftune::journal
