// libFuzzer target: a journal file with arbitrary bytes, as the actuator and `bpftune verify`
// find it after a crash or an edit. readJournal and verify must agree; the boot state and the
// advice ledger (the recovery decisions) take whatever records it yields; each record renders as
// text and JSON; and Writer::open (truncating a torn tail) must leave a journal that reads back
// whole with one more record appended.
//
// Two input forms. Raw: the file's bytes as they are (the frame layer, hashes included). Framed:
// 'F' then [u16 length LE][payload]...; the target frames each payload with a correct chain
// hash, so mutations reach the record decoder and the recovery logic instead of dying at the
// first hash mismatch.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "boot_state.h"
#include "journal_advice.h"
#include "journal_file.h"
#include "log.h"

namespace {

namespace journal = bpftune::journal;

// One scratch directory per fuzzing process (libFuzzer -fork/-jobs run several), removed when
// libFuzzer exits normally (after a crash it stays, beside the crash input).
// Plain arrays, written once at start-up: the exit handler runs after the function-local statics
// are destroyed (a std::string here was a use-after-free that ASan caught).
char scratchDir[4096];   // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)
char scratchFile[4096];  // NOLINT(cppcoreguidelines-avoid-non-const-global-variables)

void removeScratch() {
  ::unlink(scratchFile);
  ::rmdir(scratchDir);
}

const std::string& journalPath() {
  static const std::string JOURNAL_PATH = [] {
    // tmpfs by default: the writer fdatasyncs every append.
    const char* base = std::getenv("TMPDIR");
    std::string dir = std::string(base != nullptr ? base : "/dev/shm") + "/bpftune-fuzz-XXXXXX";
    if (::mkdtemp(dir.data()) == nullptr) {
      std::abort();
    }
    bpftune::log::setLevel(bpftune::log::Level::ERROR);  // torn-tail warnings on every input
    std::string file = dir + "/journal";
    if (file.size() >= sizeof(scratchFile)) {
      std::abort();
    }
    std::memcpy(scratchDir, dir.c_str(), dir.size() + 1);
    std::memcpy(scratchFile, file.c_str(), file.size() + 1);
    std::atexit(removeScratch);
    return file;
  }();
  return JOURNAL_PATH;
}

void writeFile(const uint8_t* data, size_t size) {
  int fd = ::open(journalPath().c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || ::write(fd, data, size) != static_cast<ssize_t>(size) || ::close(fd) != 0) {
    std::abort();  // the scratch file system, not a finding
  }
}

constexpr uint8_t FRAMED = 'F';

void put32(std::vector<uint8_t>& out, uint32_t value) {
  for (int i = 0; i < 4; ++i) {
    out.push_back(static_cast<uint8_t>(value >> (8 * i)));
  }
}

// The framed form as a journal image with an intact hash chain.
std::vector<uint8_t> frame(const uint8_t* data, size_t size) {
  std::vector<uint8_t> out;
  journal::Hash prev{};
  size_t at = 1;
  while (at + 2 <= size) {
    size_t length = data[at] | (static_cast<size_t>(data[at + 1]) << 8);
    at += 2;
    length = std::min(length, size - at);
    put32(out, journal::FRAME_MAGIC);
    put32(out, static_cast<uint32_t>(length));
    out.insert(out.end(), data + at, data + at + length);
    prev = journal::chainHash(prev, data + at, length);
    out.insert(out.end(), prev.begin(), prev.end());
    at += length;
  }
  return out;
}

// The recovery logic over what the reader yielded, as the actuator runs it at start.
void replay(const journal::ReadResult& read) {
  journal::BootId boot{};
  if (!read.records.empty()) {
    boot = read.records.back().record.bootId;
  }
  bpftune::actuator::BootState state(boot);
  journal::Advice advice(boot);
  for (const auto& stored : read.records) {
    state.apply(stored.record);
    advice.apply(stored.record);
    (void)journal::toText(stored.record);
    (void)journal::toJson(stored.record);
    (void)advice.find(stored.record.seq);
  }
  (void)state.keysNewestFirst();
  (void)state.liveHostRoutes();
  (void)state.unresolved();
  (void)advice.open();
}

// Recovery at start: open (truncating a torn tail), append, read back whole.
void reopenAndAppend(const journal::ReadResult& before) {
  auto writer = journal::Writer::open(journalPath());
  if (!writer) {
    std::abort();  // readJournal accepted it, so the writer must
  }
  journal::Record record;
  record.kind = bpftune::proto::RecordKind::START;
  writer->append(record);
  auto after = journal::readJournal(journalPath());
  if (!after || after->tornTailBytes != 0 || after->records.size() != before.records.size() + 1) {
    std::abort();  // the chain did not continue
  }
}

}  // namespace

// The name libFuzzer calls.
extern "C" int LLVMFuzzerTestOneInput(  // NOLINT(readability-identifier-naming)
    const uint8_t* data,
    size_t size) {
  if (size > 0 && data[0] == FRAMED) {
    auto image = frame(data, size);
    writeFile(image.data(), image.size());
  } else {
    writeFile(data, size);
  }
  auto read = journal::readJournal(journalPath());
  auto report = journal::verify(journalPath());
  if (static_cast<bool>(read) != report.ok) {
    std::abort();  // the actuator and `bpftune verify` disagree about the same bytes
  }
  if (!read) {
    return 0;
  }
  if (report.records != read->records.size()) {
    std::abort();
  }
  replay(*read);
  reopenAndAppend(*read);
  return 0;
}
