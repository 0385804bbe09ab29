#include "audit_sink.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

// Without it every entry would also carry CODE_FILE/CODE_LINE/CODE_FUNC of this file: noise, and
// the build's paths.
#define SD_JOURNAL_SUPPRESS_LOCATION
#include <systemd/sd-journal.h>

#include "audit_entry.h"
#include "log.h"

namespace bpftune::actuator {
namespace {

bool isSocket(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

bool isUnixDatagram(int fd) {
  int domain = 0;
  int type = 0;
  socklen_t len = sizeof(domain);
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) {
    return false;
  }
  len = sizeof(type);
  return ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 && domain == AF_UNIX &&
         type == SOCK_DGRAM;
}

// libsystemd keeps its socket private. socket(2) returns the lowest free descriptor and nothing
// else runs here, so the descriptor a probe socket gets and gives back is the one libsystemd's
// first send creates; checked afterwards, so a wrong guess is an error, not a silent hole.
Result<int> primeJournald(const std::string& journalPath) {
  int expected = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (expected < 0) {
    return makeError("socket", errno);
  }
  ::close(expected);
  auto fields = startedFields(journalPath, "journald");
  auto iov = toIovecs(fields);
  // 0 also when journald's socket is gone (libsystemd stays quiet then): checked just before.
  int rc = sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
  if (rc < 0) {
    return makeError("sd_journal_sendv", -rc);
  }
  if (!isUnixDatagram(expected)) {
    return makeError("libsystemd's journal socket is not descriptor " + std::to_string(expected));
  }
  return expected;
}

Result<UniqueFd> connectSyslog(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof(addr.sun_path)) {
    return makeError("syslog socket path too long: " + path);
  }
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) {
    return makeError("socket", errno);
  }
  // Connected now, because the jail forbids connect(); a restarted syslog daemon binds a new
  // socket we can no longer reach, which shows as failures (warned), not as a crash.
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    return makeError("connect " + path, errno);
  }
  return fd;
}

}  // namespace

std::string targetName(AuditTarget target) {
  switch (target) {
    case AuditTarget::JOURNALD:
      return "journald";
    case AuditTarget::SYSLOG:
      return "syslog";
    case AuditTarget::NONE:
      break;
  }
  return "none";
}

AuditSink AuditSink::open(const std::string& journalPath, const AuditPaths& paths) {
  AuditSink sink;
  sink.pid = ::getpid();
  if (isSocket(paths.journald)) {
    auto fd = primeJournald(journalPath);
    if (fd) {
      sink.kind = AuditTarget::JOURNALD;
      sink.journaldSocket = *fd;
      log::info("audit trail: every journal record also goes to journald");
      return sink;
    }
    log::warning("audit trail: journald at " + paths.journald +
                 " unusable: " + describe(fd.error()) + "; trying syslog");
  }
  auto fd = connectSyslog(paths.syslog);
  if (!fd) {
    log::warning("audit trail: neither journald (" + paths.journald + ") nor syslog (" +
                 describe(fd.error()) + "): records stay in the journal file only");
    return sink;
  }
  sink.kind = AuditTarget::SYSLOG;
  sink.syslogSocket = std::move(*fd);
  log::info("audit trail: every journal record also goes to syslog at " + paths.syslog);
  return sink;
}

void AuditSink::emit(const journal::StoredRecord& stored) {
  if (kind == AuditTarget::JOURNALD) {
    auto fields = journalFields(stored);
    auto iov = toIovecs(fields);
    // A journald that went away reads as success (libsystemd's choice): it cannot be told apart.
    int rc = sd_journal_sendv(iov.data(), static_cast<int>(iov.size()));
    if (rc < 0) {
      noteFailure("journald", -rc);
    }
  } else if (kind == AuditTarget::SYSLOG) {
    std::string datagram = syslogDatagram(stored, pid);
    ssize_t n = ::send(syslogSocket.get(), datagram.data(), datagram.size(), MSG_NOSIGNAL);
    if (n != static_cast<ssize_t>(datagram.size())) {
      noteFailure("syslog", n < 0 ? errno : EMSGSIZE);
    }
  }
}

void AuditSink::noteFailure(const std::string& what, int error) {
  if (failed++ == 0) {
    log::warning("audit trail: could not copy a journal record (" +
                 describe(makeError(what, error)) +
                 "); the journal file has it. Later failures are counted");
  }
}

}  // namespace bpftune::actuator
