// The journal file: append-only frames [u32 magic][u32 length][payload][SHA-256(prev || payload)],
// prev of the first frame = 32 zero bytes. The hash chain makes edits, drops and reordering
// visible to `verify`; a frame cut short by a crash at the end is a torn tail, not tampering.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "journal_record.h"
#include "result.h"
#include "unique_fd.h"

namespace bpftune::journal {

constexpr uint32_t FRAME_MAGIC = 0x4a555442;  // "BTUJ" little endian
constexpr size_t FRAME_HEADER = 8;
constexpr size_t HASH_SIZE = 32;
constexpr uint32_t MAX_PAYLOAD = 16 * 1024;

using Hash = std::array<uint8_t, HASH_SIZE>;

Hash sha256(const uint8_t* data, size_t size);
Hash chainHash(const Hash& prev, const uint8_t* payload, size_t size);

struct StoredRecord {
  Record record;
  uint64_t offset = 0;  // byte offset of the frame
  Hash hash{};
};

struct ReadResult {
  std::vector<StoredRecord> records;
  uint64_t validLength = 0;    // bytes up to the end of the last whole frame
  uint64_t tornTailBytes = 0;  // bytes after it (an incomplete frame left by a crash)
  Hash lastHash{};             // chain head (zeros when empty)
};

enum class Problem {
  NONE,
  EDITED,
  DROPPED,
  REORDERED,
  CHAIN_BROKEN,
  GARBAGE,
  TORN_TAIL,
  IO
};

struct VerifyReport {
  bool ok = true;  // false for any problem except a torn tail
  Problem problem = Problem::NONE;
  uint64_t seq = 0;      // record concerned (0 when unknown)
  uint64_t offset = 0;   // byte offset of the frame concerned
  uint64_t records = 0;  // whole records checked before the problem
  std::string message;   // names the record (seq, offset) and what is wrong
  // Chain head when ok (after a torn tail: the last whole record); 0 and zeros when empty.
  uint64_t headSeq = 0;
  Hash headHash{};
};

// Checks frames, seq order and the hash chain of an in-memory journal image. Stops at the
// first problem. Used by both readJournal and verify so they cannot disagree.
VerifyReport scan(const std::vector<uint8_t>& bytes, ReadResult& out);

// Reads and checks the whole journal. A torn tail is reported in tornTailBytes; any other
// problem is an Error carrying the verify message. A missing file reads as empty.
Result<ReadResult> readJournal(const std::string& path);

// Verification for `bpftune verify`: ok, or the first problem.
VerifyReport verify(const std::string& path);

// The actuator's writer. Holds an exclusive flock for its lifetime. Every append is written and
// fdatasync'ed; any write or sync error terminates the process (never continue after a failed
// sync: the page cache may have dropped the data, see PostgreSQL's fsync incident).
class Writer {
public:
  // Opens (creating 0600), locks, reads, truncates a torn tail (logged) and continues the chain.
  static Result<Writer> open(const std::string& path);

  uint64_t append(Record record);  // sets seq, returns it
  // Called with each record once it is durable, e.g. to copy it to journald; never before the
  // fdatasync, so nothing reaches an operator's log that the journal could lose.
  void setMirror(std::function<void(const StoredRecord&)> mirror) {
    this->mirror = std::move(mirror);
  }
  const std::vector<StoredRecord>& records() const { return stored; }
  int fd() const { return file.get(); }

private:
  Writer(UniqueFd file, ReadResult existing);
  UniqueFd file;
  std::vector<StoredRecord> stored;
  uint64_t nextSeq = 1;
  uint64_t length = 0;
  Hash head{};
  std::function<void(const StoredRecord&)> mirror;
};

std::string problemName(Problem problem);

}  // namespace bpftune::journal
