// The actuator's copy of every journal record to where operators look: journald (structured
// entries through libsystemd's sd_journal_sendv) when its socket exists, else syslog (/dev/log),
// else nowhere (said once at start). Opened before the jail: afterwards it only sends, on a
// socket made here, so the seccomp filter admits sendmsg on journald's descriptor alone and the
// syslog path needs nothing new (sendto). The on-disk journal stays the record of truth; a lost
// copy is warned about, never fatal.
#pragma once

#include <sys/types.h>

#include <string>

#include "journal_file.h"
#include "unique_fd.h"

namespace bpftune::actuator {

struct AuditPaths {
  // libsystemd's socket path is compiled in; this one only decides whether journald is there.
  std::string journald = "/run/systemd/journal/socket";
  std::string syslog = "/dev/log";
};

enum class AuditTarget {
  NONE,
  JOURNALD,
  SYSLOG
};

class AuditSink {
public:
  // Picks and opens the target; announces itself there with MESSAGE_ID AUDIT_STARTED.
  static AuditSink open(const std::string& journalPath, const AuditPaths& paths = {});

  void emit(const journal::StoredRecord& stored);

  AuditTarget target() const { return kind; }
  // The descriptor libsystemd sends on (the jail admits sendmsg on it alone), or -1.
  int journaldFd() const { return journaldSocket; }
  // How many records could not be copied (each also counted, the first warned about).
  uint64_t failures() const { return failed; }

private:
  AuditSink() = default;
  void noteFailure(const std::string& what, int error);

  AuditTarget kind = AuditTarget::NONE;
  int journaldSocket = -1;  // owned by libsystemd
  UniqueFd syslogSocket;
  pid_t pid = 0;
  uint64_t failed = 0;
};

std::string targetName(AuditTarget target);

}  // namespace bpftune::actuator
