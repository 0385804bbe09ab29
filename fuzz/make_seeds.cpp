// Writes the seed corpora in fuzz/corpus/ with the real encoders: requests built on the schema
// exactly as actuator/client.cpp builds them, and journals written by journal::Writer.
//   make_seeds <corpus dir>   (fuzz/run.sh seeds)
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <capnp/message.h>
#include <capnp/serialize.h>

#include "bpftune.capnp.h"
#include "journal_file.h"

namespace {

namespace proto = bpftune::proto;
namespace journal = bpftune::journal;
using Build = std::function<void(proto::Request::Builder)>;

void writeRequest(const std::string& path, uint64_t id, const Build& build) {
  capnp::MallocMessageBuilder message;
  auto root = message.initRoot<proto::Request>();
  root.setId(id);
  build(root);
  auto words = capnp::messageToFlatArray(message);
  auto bytes = words.asBytes();
  std::ofstream(path, std::ios::binary)
      .write(reinterpret_cast<const char*>(bytes.begin()),
             static_cast<std::streamsize>(bytes.size()));
}

using Triple = std::array<int64_t, 3>;

void fillSetSysctl(proto::Request::SetSysctl::Builder s,
                   proto::TunableId tunable,
                   const Triple& expected,
                   const Triple& next,
                   uint8_t count) {
  s.setNetnsCookie(1);
  s.setTunable(tunable);
  s.setCount(count);
  s.setExpected0(expected[0]);
  s.setExpected1(expected[1]);
  s.setExpected2(expected[2]);
  s.setNew0(next[0]);
  s.setNew1(next[1]);
  s.setNew2(next[2]);
}

void requests(const std::string& dir) {
  writeRequest(dir + "/ping", 1, [](auto r) { r.setPing(); });
  writeRequest(dir + "/rollback", 2, [](auto r) { r.setRollback(); });
  writeRequest(dir + "/set_rmem", 3, [](auto r) {
    fillSetSysctl(r.initSetSysctl(),
                  proto::TunableId::TCP_RMEM,
                  {4096, 131072, 6291456},
                  {4096, 131072, 7864320},
                  3);
  });
  writeRequest(dir + "/set_route", 4, [](auto r) {
    auto s = r.initSetSysctl();
    fillSetSysctl(s,
                  proto::TunableId::ROUTE_CONGCTL,
                  {static_cast<int64_t>(proto::CongAlg::NONE), 0, 0},
                  {static_cast<int64_t>(proto::CongAlg::BBR), 0, 0},
                  1);
    s.setTuner(proto::TunerId::TCP_CONN);
    s.setHostFamily(2);  // AF_INET, 10.0.0.2
    s.setHostAddress0(0x0200000a);
  });
  writeRequest(dir + "/override", 5, [](auto r) {
    auto o = r.initReportOverride();
    o.setTuner(proto::TunerId::TCP_BUFFER);
    o.setNetnsCookie(1);
    o.setTunable(proto::TunableId::TCP_WMEM);
    o.setWriterPid(1234);
    o.setWriterComm(0x6c7463737973);  // "sysctl"
    o.setCount(3);
    o.setValue0(4096);
    o.setValue1(16384);
    o.setValue2(4194304);
  });
  writeRequest(dir + "/resume", 6, [](auto r) { r.initResume().setNetnsCookie(0); });
  writeRequest(dir + "/live_switch", 7, [](auto r) {
    auto l = r.initReportLiveSwitch();
    l.setTuner(proto::TunerId::TCP_CONN);
    l.setNetnsCookie(1);
    l.setHostFamily(2);
    l.setHostAddress0(0x0200000a);
    l.setFromAlg(proto::CongAlg::CUBIC);
    l.setToAlg(proto::CongAlg::BBR);
    l.setLocalPort(5201);
    l.setRemotePort(40000);
  });
  writeRequest(dir + "/apply_proposal", 8, [](auto r) { r.setApplyProposal(3); });
}

journal::Record record(proto::RecordKind kind, uint64_t intentSeq) {
  journal::Record r;
  r.kind = kind;
  r.bootId[0] = 0x42;
  r.netnsCookie = 1;
  r.tunable = proto::TunableId::TCP_RMEM;
  r.count = 3;
  r.oldValues = {4096, 131072, 6291456};
  r.newValues = {4096, 131072, 7864320};
  r.actual = r.newValues;
  r.intentSeq = intentSeq;
  return r;
}

// The journal fuzzer's framed form: 'F' then [u16 length LE][payload] per record.
void writeFramed(const std::string& path, const std::vector<journal::Record>& records) {
  std::string out = "F";
  for (const auto& r : records) {
    auto payload = journal::encode(r);
    out += static_cast<char>(payload.size() & 0xff);
    out += static_cast<char>(payload.size() >> 8);
    out.append(payload.begin(), payload.end());
  }
  std::ofstream(path, std::ios::binary).write(out.data(), static_cast<std::streamsize>(out.size()));
}

void framed(const std::string& dir) {
  std::vector<journal::Record> records;
  for (auto kind : {proto::RecordKind::START,
                    proto::RecordKind::INTENT,
                    proto::RecordKind::OUTCOME,
                    proto::RecordKind::INTENT,
                    proto::RecordKind::RECOVERED,
                    proto::RecordKind::OVERRIDE,
                    proto::RecordKind::RESUME,
                    proto::RecordKind::LIVE_SWITCH,
                    proto::RecordKind::PROPOSAL}) {
    auto r = record(kind, kind == proto::RecordKind::INTENT ? 0 : records.size());
    r.seq = records.size() + 1;
    if (kind == proto::RecordKind::LIVE_SWITCH) {
      r.tunable = proto::TunableId::SOCKET_CONGCTL;
      r.host = bpftune::HostAddress::fromWords(2, 0x0200000a, 0);
    }
    records.push_back(r);
  }
  writeFramed(dir + "/framed_all_kinds", records);
  auto route = record(proto::RecordKind::INTENT, 0);
  route.seq = 1;
  route.tunable = proto::TunableId::ROUTE_CONGCTL;
  route.count = 1;
  route.oldValues = {0, 0, 0};
  route.newValues = {static_cast<int64_t>(proto::CongAlg::BBR), 0, 0};
  route.host = bpftune::HostAddress::fromWords(2, 0x0200000a, 0);
  route.route.ifname = "veth0";
  auto outcome = route;
  outcome.seq = 2;
  outcome.kind = proto::RecordKind::OUTCOME;
  outcome.intentSeq = 1;
  outcome.actual = route.newValues;
  writeFramed(dir + "/framed_route", {route, outcome});
}

// Copies the journal at `from` to `to`, cutting `cut` bytes off the end (a torn tail).
void copyCut(const std::string& from, const std::string& to, size_t cut) {
  std::ifstream in(from, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  bytes.resize(bytes.size() > cut ? bytes.size() - cut : 0);
  std::ofstream(to, std::ios::binary)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

void journals(const std::string& dir) {
  std::string scratch = dir + "/.scratch";
  std::remove(scratch.c_str());
  {
    auto writer = journal::Writer::open(scratch);
    if (!writer) {
      std::fprintf(stderr, "%s\n", writer.error().message.c_str());
      return;
    }
    writer->append(record(proto::RecordKind::START, 0));
    copyCut(scratch, dir + "/start_only", 0);
    uint64_t intent = writer->append(record(proto::RecordKind::INTENT, 0));
    copyCut(scratch, dir + "/unresolved_intent", 0);
    writer->append(record(proto::RecordKind::OUTCOME, intent));
    copyCut(scratch, dir + "/intent_outcome", 0);
    writer->append(record(proto::RecordKind::OVERRIDE, 0));
    writer->append(record(proto::RecordKind::RESUME, 0));
    uint64_t proposal = writer->append(record(proto::RecordKind::PROPOSAL, 0));
    auto apply = record(proto::RecordKind::INTENT, 0);
    apply.proposalSeq = proposal;
    writer->append(apply);
    copyCut(scratch, dir + "/mixed", 0);
    copyCut(scratch, dir + "/torn_tail", 13);
  }
  std::remove(scratch.c_str());
  framed(dir);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <fuzz/corpus dir>\n");
    return 2;
  }
  std::string corpus = argv[1];
  requests(corpus + "/request");
  journals(corpus + "/journal");
  return 0;
}
