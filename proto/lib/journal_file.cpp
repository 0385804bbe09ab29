#include "journal_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <openssl/evp.h>

#include "log.h"

namespace bpftune::journal {
namespace {

struct Frame {
  uint64_t offset = 0;
  const uint8_t* payload = nullptr;
  uint32_t length = 0;
  Hash stored{};
  Result<Record> record = makeError("not decoded");
};

uint32_t loadU32(const uint8_t* p) {
  uint32_t v = 0;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

bool allZero(const uint8_t* p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] != 0) {
      return false;
    }
  }
  return true;
}

VerifyReport problemAt(Problem problem, uint64_t seq, uint64_t offset, const std::string& what) {
  VerifyReport r;
  r.ok = problem == Problem::NONE || problem == Problem::TORN_TAIL;
  r.problem = problem;
  r.seq = seq;
  r.offset = offset;
  r.message = problemName(problem) + ": " +
              (seq != 0 ? "record seq " + std::to_string(seq) + " " : "") + "at byte offset " +
              std::to_string(offset) + ": " + what;
  return r;
}

// Splits the image into frames. Stops at the first frame that cannot be a frame; that problem
// is reported only if the frames before it are all fine.
VerifyReport splitFrames(const std::vector<uint8_t>& bytes, std::vector<Frame>& frames) {
  size_t pos = 0;
  while (pos < bytes.size()) {
    const uint8_t* p = bytes.data() + pos;
    size_t remaining = bytes.size() - pos;
    if (allZero(p, remaining)) {
      return problemAt(Problem::TORN_TAIL,
                       0,
                       pos,
                       std::to_string(remaining) + " trailing zero bytes (incomplete last write)");
    }
    if (remaining < FRAME_HEADER) {
      return problemAt(Problem::TORN_TAIL,
                       0,
                       pos,
                       "incomplete frame header of " + std::to_string(remaining) + " bytes");
    }
    uint32_t magic = loadU32(p);
    uint32_t length = loadU32(p + 4);
    if (magic != FRAME_MAGIC) {
      return problemAt(Problem::GARBAGE, 0, pos, "bad frame magic (garbage in the journal)");
    }
    if (length == 0 || length > MAX_PAYLOAD || length % 8 != 0) {
      return problemAt(Problem::GARBAGE, 0, pos, "invalid frame length " + std::to_string(length));
    }
    size_t need = FRAME_HEADER + length + HASH_SIZE;
    if (remaining < need) {
      return problemAt(Problem::TORN_TAIL,
                       0,
                       pos,
                       "incomplete last frame: " + std::to_string(remaining) + " of " +
                           std::to_string(need) + " bytes");
    }
    Frame f;
    f.offset = pos;
    f.payload = p + FRAME_HEADER;
    f.length = length;
    std::memcpy(f.stored.data(), p + FRAME_HEADER + length, HASH_SIZE);
    f.record = decode(f.payload, length);
    frames.push_back(std::move(f));
    pos += need;
  }
  return VerifyReport{};
}

bool seqAppearsLater(const std::vector<Frame>& frames, size_t from, uint64_t seq) {
  for (size_t i = from; i < frames.size(); ++i) {
    if (frames[i].record.ok() && frames[i].record->seq == seq) {
      return true;
    }
  }
  return false;
}

// Which earlier chain head (zero or a previous record's hash) this frame was chained to, if any.
bool chainsToOther(const Frame& f, const std::vector<Frame>& frames, size_t index) {
  if (f.stored == chainHash(Hash{}, f.payload, f.length)) {
    return true;
  }
  for (size_t i = 0; i + 1 < index; ++i) {
    if (f.stored == chainHash(frames[i].stored, f.payload, f.length)) {
      return true;
    }
  }
  return false;
}

VerifyReport checkFrame(const std::vector<Frame>& frames,
                        size_t i,
                        const Hash& prev,
                        uint64_t expected) {
  const Frame& f = frames[i];
  if (!f.record.ok()) {
    return problemAt(Problem::GARBAGE, 0, f.offset, f.record.error().message);
  }
  uint64_t seq = f.record->seq;
  bool hashOk = f.stored == chainHash(prev, f.payload, f.length);
  // The next record's hash covers this one's stored hash: if it still chains while this
  // payload no longer matches, the payload was edited in place (its seq may be edited too, so
  // this must be decided before the seq checks, which would call it a drop or a reorder).
  bool successorVouches =
      i + 1 < frames.size() &&
      frames[i + 1].stored == chainHash(f.stored, frames[i + 1].payload, frames[i + 1].length);
  if (!hashOk && successorVouches && !chainsToOther(f, frames, i)) {
    return problemAt(Problem::EDITED,
                     expected,
                     f.offset,
                     "hash mismatch: the record's content was edited (it now reads as seq " +
                         std::to_string(seq) + ")");
  }
  if (seq < expected) {
    return problemAt(Problem::REORDERED,
                     seq,
                     f.offset,
                     "seq goes back (expected " + std::to_string(expected) + ")");
  }
  if (seq > expected) {
    if (seqAppearsLater(frames, i + 1, expected)) {
      return problemAt(Problem::REORDERED,
                       seq,
                       f.offset,
                       "found before seq " + std::to_string(expected) +
                           " (records were reordered)");
    }
    return problemAt(Problem::DROPPED,
                     seq,
                     f.offset,
                     "seq gap: expected " + std::to_string(expected) + ", so records " +
                         std::to_string(expected) + ".." + std::to_string(seq - 1) +
                         " were dropped");
  }
  if (!hashOk) {
    if (chainsToOther(f, frames, i)) {
      return problemAt(Problem::CHAIN_BROKEN,
                       seq,
                       f.offset,
                       "hash chains to a different predecessor (chain broken)");
    }
    return problemAt(Problem::EDITED,
                     seq,
                     f.offset,
                     "hash mismatch: this record, or the hash of the one before it, was edited");
  }
  return VerifyReport{};
}

Result<std::vector<uint8_t>> readAll(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd.valid()) {
    if (errno == ENOENT) {
      return std::vector<uint8_t>{};
    }
    return makeError("open " + path, errno);
  }
  std::vector<uint8_t> bytes;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof(buf));
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0) {
      return makeError("read " + path, errno);
    }
    if (n == 0) {
      return bytes;
    }
    bytes.insert(bytes.end(), buf, buf + n);
  }
}

[[noreturn]] void fatal(const std::string& what, int errnum) {
  log::error("journal: " + describe(makeError(what, errnum)) + "; stopping (fail closed)");
  _exit(EXIT_FAILURE);
}

}  // namespace

Hash sha256(const uint8_t* data, size_t size) {
  Hash out{};
  unsigned int len = 0;
  if (EVP_Digest(data, size, out.data(), &len, EVP_sha256(), nullptr) != 1 || len != HASH_SIZE) {
    throw std::runtime_error("SHA-256 failed");
  }
  return out;
}

Hash chainHash(const Hash& prev, const uint8_t* payload, size_t size) {
  std::vector<uint8_t> buf(prev.begin(), prev.end());
  buf.insert(buf.end(), payload, payload + size);
  return sha256(buf.data(), buf.size());
}

VerifyReport scan(const std::vector<uint8_t>& bytes, ReadResult& out) {
  std::vector<Frame> frames;
  VerifyReport split = splitFrames(bytes, frames);
  Hash prev{};
  for (size_t i = 0; i < frames.size(); ++i) {
    VerifyReport r = checkFrame(frames, i, prev, i + 1);
    if (r.problem != Problem::NONE) {
      r.records = i;
      return r;
    }
    out.records.push_back(StoredRecord{*frames[i].record, frames[i].offset, frames[i].stored});
    prev = frames[i].stored;
    out.validLength = frames[i].offset + FRAME_HEADER + frames[i].length + HASH_SIZE;
  }
  out.lastHash = prev;
  out.tornTailBytes = bytes.size() - out.validLength;
  split.records = frames.size();
  return split;
}

Result<ReadResult> readJournal(const std::string& path) {
  auto bytes = readAll(path);
  if (!bytes) {
    return bytes.error();
  }
  ReadResult result;
  VerifyReport report = scan(*bytes, result);
  if (!report.ok) {
    return makeError("journal " + path + ": " + report.message);
  }
  return result;
}

VerifyReport verify(const std::string& path) {
  auto bytes = readAll(path);
  if (!bytes) {
    VerifyReport r;
    r.ok = false;
    r.problem = Problem::IO;
    r.message = describe(bytes.error());
    return r;
  }
  ReadResult scanned;
  VerifyReport r = scan(*bytes, scanned);
  if (r.ok && !scanned.records.empty()) {
    r.headSeq = scanned.records.back().record.seq;
    r.headHash = scanned.lastHash;
  }
  if (r.problem == Problem::NONE) {
    r.message = "ok: " + std::to_string(r.records) + " records, chain intact";
  }
  return r;
}

std::string problemName(Problem problem) {
  switch (problem) {
    case Problem::NONE:
      return "ok";
    case Problem::EDITED:
      return "edited";
    case Problem::DROPPED:
      return "dropped";
    case Problem::REORDERED:
      return "reordered";
    case Problem::CHAIN_BROKEN:
      return "chain broken";
    case Problem::GARBAGE:
      return "garbage";
    case Problem::TORN_TAIL:
      return "torn tail";
    case Problem::IO:
      return "io error";
  }
  return "?";
}

namespace {

// A new file's directory entry is durable only once the directory is synced: without this,
// a power loss could take the first acknowledged records away together with the file.
Status syncParentDirectory(const std::string& path) {
  auto slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  UniqueFd dirFd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dirFd.valid()) {
    return makeError("open journal directory " + dir, errno);
  }
  if (::fsync(dirFd.get()) != 0) {
    fatal("fsync journal directory " + dir, errno);
  }
  return Ok{};
}

}  // namespace

Result<Writer> Writer::open(const std::string& path) {
  bool created = false;
  UniqueFd fd(
      ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (fd.valid()) {
    created = true;
  } else if (errno == EEXIST) {
    fd.reset(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW));
  }
  if (!fd.valid()) {
    return makeError("open journal " + path, errno);
  }
  if (created) {
    if (auto synced = syncParentDirectory(path); !synced) {
      return synced.error();
    }
  }
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EWOULDBLOCK) {
      return makeError("journal " + path + " is locked: another actuator is running on it");
    }
    return makeError("lock journal " + path, errno);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return makeError("journal " + path + " is not a regular file");
  }
  auto existing = readJournal(path);
  if (!existing) {
    return makeError(existing.error().message +
                     " (run `bpftune verify`; move the file aside to start a new journal)");
  }
  if (existing->tornTailBytes != 0) {
    log::warning("journal: truncating a torn tail of " + std::to_string(existing->tornTailBytes) +
                 " bytes at offset " + std::to_string(existing->validLength) +
                 " (crash during a write)");
    if (::ftruncate(fd.get(), static_cast<off_t>(existing->validLength)) != 0) {
      return makeError("truncate torn journal tail", errno);
    }
    if (::fdatasync(fd.get()) != 0) {
      fatal("fdatasync after truncation", errno);
    }
  }
  return Writer(std::move(fd), std::move(*existing));
}

Writer::Writer(UniqueFd file, ReadResult existing)
    : file(std::move(file)),
      stored(std::move(existing.records)),
      nextSeq(stored.size() + 1),
      length(existing.validLength),
      head(existing.lastHash) {}

uint64_t Writer::append(Record record) {
  record.seq = nextSeq;
  std::vector<uint8_t> payload = encode(record);
  Hash hash = chainHash(head, payload.data(), payload.size());
  std::vector<uint8_t> frame(FRAME_HEADER);
  uint32_t magic = FRAME_MAGIC;
  auto len = static_cast<uint32_t>(payload.size());
  std::memcpy(frame.data(), &magic, 4);
  std::memcpy(frame.data() + 4, &len, 4);
  frame.insert(frame.end(), payload.begin(), payload.end());
  frame.insert(frame.end(), hash.begin(), hash.end());
  // One write: O_APPEND keeps the frame contiguous; a short write is a torn tail we stop at.
  ssize_t n = ::write(file.get(), frame.data(), frame.size());
  if (n != static_cast<ssize_t>(frame.size())) {
    fatal("write journal record seq " + std::to_string(record.seq), n < 0 ? errno : EIO);
  }
  if (::fdatasync(file.get()) != 0) {
    fatal("fdatasync journal record seq " + std::to_string(record.seq), errno);
  }
  stored.push_back(StoredRecord{record, length, hash});
  length += frame.size();
  head = hash;
  if (mirror) {
    mirror(stored.back());
  }
  return nextSeq++;
}

}  // namespace bpftune::journal
